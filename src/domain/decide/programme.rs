//! The rules for the programme: its cycles, and pausing, resuming and sunsetting it, each change
//! in date order.

use chrono::NaiveDate;

use crate::domain::DomainError;
use crate::domain::command::ProgrammeCommand;
use crate::domain::events::{Cycle, Event};
use crate::domain::state::{ProgrammePhase, State};
use crate::domain::types::{Lines, printable_text};

use super::refuse_if_not_running;

pub(super) fn decide(state: &State, command: ProgrammeCommand) -> Result<Vec<Event>, DomainError> {
    match command {
        ProgrammeCommand::ScheduleCycle(cycle) => {
            check_cycle(&cycle)?;
            refuse_if_not_running(state, cycle.submissions_open_on)?;
            refuse_if_not_running(state, cycle.decisions_until)?;
            Ok(vec![Event::CycleScheduled(cycle)])
        }
        ProgrammeCommand::Pause {
            effective_from,
            reason,
        } => {
            let phase = programme_change_allowed(state, effective_from)?;
            if phase == ProgrammePhase::Paused {
                return Err(DomainError::ProgrammeAlreadyInPhase("paused"));
            }
            Ok(vec![Event::ProgrammePaused {
                effective_from,
                reason,
            }])
        }
        ProgrammeCommand::Resume {
            effective_from,
            reason,
        } => {
            let phase = programme_change_allowed(state, effective_from)?;
            if phase == ProgrammePhase::Running {
                return Err(DomainError::ProgrammeAlreadyInPhase("running"));
            }
            Ok(vec![Event::ProgrammeResumed {
                effective_from,
                reason,
            }])
        }
        ProgrammeCommand::Sunset {
            effective_from,
            reason,
        } => {
            programme_change_allowed(state, effective_from)?;
            Ok(vec![Event::ProgrammeSunset {
                effective_from,
                reason,
            }])
        }
    }
}

/// The programme's latest phase, if a change taking effect on `effective_from` may follow it.
fn programme_change_allowed(
    state: &State,
    effective_from: NaiveDate,
) -> Result<ProgrammePhase, DomainError> {
    let Some(last) = state.programme.last_change() else {
        return Ok(ProgrammePhase::Running);
    };
    if last.phase == ProgrammePhase::Sunset {
        return Err(DomainError::ProgrammeEnded);
    }
    if effective_from < last.effective_from {
        return Err(DomainError::ProgrammeChangeOutOfOrder {
            last: last.effective_from,
            effective_from,
        });
    }
    Ok(last.phase)
}

fn check_cycle(cycle: &Cycle) -> Result<(), DomainError> {
    let id_ok = (1..=64).contains(&cycle.cycle_id.len())
        && cycle
            .cycle_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_/".contains(c));
    // The name is checked as it is stored: no trimming, so no line break at either end.
    let name_ok =
        !cycle.name.trim().is_empty() && printable_text(&cycle.name, 1, 200, Lines::One).is_ok();
    if !id_ok || !name_ok {
        return Err(DomainError::CycleInvalid);
    }
    let ordered = [
        (
            cycle.submissions_open_on <= cycle.submission_deadline,
            "submissions must open on or before the deadline",
        ),
        (
            cycle.submission_deadline <= cycle.review_from,
            "review must start on or after the submission deadline",
        ),
        (
            cycle.review_from <= cycle.review_until,
            "review must start on or before it ends",
        ),
        (
            cycle.review_until <= cycle.decisions_until,
            "decisions must end on or after review ends",
        ),
        (
            cycle.decisions_from <= cycle.decisions_until,
            "decisions must start on or before they end",
        ),
        (
            cycle.review_from <= cycle.decisions_from,
            "decisions must start on or after review starts",
        ),
    ];
    match ordered.into_iter().find(|(ok, _)| !ok) {
        Some((_, rule)) => Err(DomainError::CycleDatesOutOfOrder(rule)),
        None => Ok(()),
    }
}
