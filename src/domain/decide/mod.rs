//! `decide`: the rules. Given the state, a command and the context (today's UK date), it returns
//! the events that record the command, or the rule the command breaks. No clock, no randomness,
//! no I/O: new ids arrive inside the command.
//!
//! This file checks every command's inputs and routes it, once, by its area: each area's rules
//! (`organisations`, `awards`, `programme`, `keys`, `applications`, `staff`) take only that area's own
//! command type.

mod applications;
mod awards;
mod keys;
mod organisations;
mod programme;
mod staff;

use chrono::NaiveDate;

use crate::domain::state::{ProgrammePhase, State};
use crate::domain::types::{Lines, date_in_range, issuer_name_on, printable_text};

pub(crate) use crate::domain::command::Command;
use crate::domain::command::{ApplicationCommand, AwardCommand, ProgrammeCommand};
pub(crate) use crate::domain::error::DomainError;
use crate::domain::events::Event;

/// What `decide` needs from outside: the day it is in the UK.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    pub today: NaiveDate,
}

pub fn decide(state: &State, command: Command, ctx: &Context) -> Result<Vec<Event>, DomainError> {
    check_inputs(&command)?;
    match command {
        Command::Organisation(command) => organisations::decide(state, command),
        Command::Award(command) => awards::decide(state, command, ctx),
        Command::Programme(command) => programme::decide(state, command),
        Command::Key(command) => keys::decide_key(state, command),
        Command::Address(command) => keys::decide_address(state, command),
        Command::Application(command) => applications::decide(state, command, ctx),
        Command::Staff(command) => staff::decide(state, command),
    }
}

/// The checks every command's free text and dates pass before any rule is looked at: texts
/// that are not already value types, and every date within the registry's bounds.
fn check_inputs(command: &Command) -> Result<(), DomainError> {
    let in_range = |field: &'static str, date: NaiveDate| {
        date_in_range(date)
            .map(|_| ())
            .map_err(|_| DomainError::DateOutOfRange { field, date })
    };
    match command {
        Command::Award(AwardCommand::Issue(issue)) => {
            in_range("the award date", issue.awarded_on)?;
            if let Some(issuer) = &issue.issuer_name {
                printable_text(issuer, 2, 200, Lines::One)
                    .map_err(DomainError::IssuerNameInvalid)?;
                issuer_fits_date(issuer, issue.awarded_on)?;
            }
            if let Some(version) = &issue.framework_version {
                let ok = (1..=40).contains(&version.len())
                    && version
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c));
                if !ok {
                    return Err(DomainError::FrameworkVersionInvalid(version.clone()));
                }
            }
            Ok(())
        }
        Command::Programme(
            ProgrammeCommand::Pause { effective_from, .. }
            | ProgrammeCommand::Resume { effective_from, .. }
            | ProgrammeCommand::Sunset { effective_from, .. },
        ) => in_range("the date it takes effect", *effective_from),
        Command::Application(ApplicationCommand::RecordDropIn { attended_on, .. }) => {
            in_range("the drop-in date", *attended_on)
        }
        Command::Programme(ProgrammeCommand::ScheduleCycle(cycle)) => [
            cycle.submissions_open_on,
            cycle.submission_deadline,
            cycle.review_from,
            cycle.review_until,
            cycle.decisions_from,
            cycle.decisions_until,
        ]
        .into_iter()
        .try_for_each(|d| in_range("a cycle's date", d)),
        _ => Ok(()),
    }
}

/// No award is made, and no cycle runs, on a day the programme is paused or after its sunset.
fn refuse_if_not_running(state: &State, date: NaiveDate) -> Result<(), DomainError> {
    let on = state.programme.state_on(date);
    let since = on.since.unwrap_or(date);
    match on.phase {
        ProgrammePhase::Running => Ok(()),
        ProgrammePhase::Paused => Err(DomainError::WhilePaused { since }),
        ProgrammePhase::Sunset => Err(DomainError::AfterSunset { since }),
    }
}

/// An issuer named for the wrong side of 1 April 2023, when Health Education England became
/// part of NHS England, is refused: a certificate names the body that made the award.
fn issuer_fits_date(issuer: &str, awarded_on: NaiveDate) -> Result<(), DomainError> {
    let named = issuer.to_lowercase();
    let expected = issuer_name_on(awarded_on);
    let other = if expected == "NHS England" {
        "health education england"
    } else {
        "nhs england"
    };
    if named.contains(other) {
        return Err(DomainError::IssuerWrongForDate {
            given: issuer.to_owned(),
            expected,
            awarded_on,
        });
    }
    Ok(())
}
