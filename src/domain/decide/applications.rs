//! The rules for applications: drop-in sessions, submitting an application against the
//! framework and a cycle, and deciding one (an award issued through the award rules).

use chrono::NaiveDate;

use crate::domain::applications::{DROP_IN_WINDOW_DAYS, eligibility};
use crate::domain::command::{
    ApplicationCommand, AwardCommand, DecideApplication, IssueAward, SubmitApplication,
};
use crate::domain::events::{AwardSource, DecisionOutcome, Event};
use crate::domain::state::State;
use crate::domain::types::{Lines, OrganisationId, printable_text};
use crate::domain::{Command, Cycle, DomainError};

use super::{Context, refuse_if_not_running};

pub(super) fn decide(
    state: &State,
    command: ApplicationCommand,
    ctx: &Context,
) -> Result<Vec<Event>, DomainError> {
    match command {
        ApplicationCommand::RecordDropIn {
            organisation_id,
            attended_on,
        } => {
            if !state.organisations.contains_key(&organisation_id) {
                return Err(DomainError::OrganisationNotFound(organisation_id));
            }
            if attended_on > ctx.today {
                return Err(DomainError::DropInInFuture(attended_on));
            }
            Ok(vec![Event::DropInAttended {
                organisation_id,
                attended_on,
            }])
        }
        ApplicationCommand::Submit(application) => submit(state, ctx, application),
        ApplicationCommand::Decide(decision) => decide_application(state, ctx, decision),
    }
}

fn submit(
    state: &State,
    ctx: &Context,
    application: SubmitApplication,
) -> Result<Vec<Event>, DomainError> {
    let SubmitApplication {
        application_id,
        organisation_id,
        cycle_id,
        level_sought,
        manifest,
        framework,
    } = application;
    if !state.organisations.contains_key(&organisation_id) {
        return Err(DomainError::OrganisationNotFound(organisation_id));
    }
    let today = ctx.today;
    refuse_if_not_running(state, today)?;
    let cycle = open_cycle(state, &cycle_id, today)?;
    refuse_without_recent_drop_in(state, &organisation_id, today)?;
    refuse_if_applied(state, &organisation_id, cycle)?;
    let checked = eligibility(&framework, &manifest, today);
    let at_level = checked
        .at(level_sought)
        .expect("eligibility covers every level");
    if !at_level.eligible {
        return Err(DomainError::EvidenceRulesFailed {
            level: level_sought,
            failures: at_level
                .rules
                .iter()
                .filter(|r| !r.passed && !r.warning)
                .map(|r| (r.code.clone(), r.message.clone()))
                .collect(),
        });
    }
    Ok(vec![Event::ApplicationSubmitted {
        application_id,
        organisation_id,
        cycle_id,
        level_sought,
        submitted_on: today,
        framework_version: framework.version.clone(),
        manifest,
    }])
}

/// The cycle `cycle_id`, if it takes submissions `today`.
fn open_cycle<'s>(
    state: &'s State,
    cycle_id: &str,
    today: NaiveDate,
) -> Result<&'s Cycle, DomainError> {
    let cycle = state
        .programme
        .cycles
        .iter()
        .find(|c| c.cycle_id == cycle_id)
        .ok_or_else(|| DomainError::CycleNotFound(cycle_id.to_owned()))?;
    if today < cycle.submissions_open_on || today > cycle.submission_deadline {
        return Err(DomainError::CycleNotOpen {
            cycle: cycle.name.clone(),
            opens: cycle.submissions_open_on,
            deadline: cycle.submission_deadline,
            today,
        });
    }
    Ok(cycle)
}

/// Refuses an organisation that has not been to a drop-in session within the window.
fn refuse_without_recent_drop_in(
    state: &State,
    organisation_id: &OrganisationId,
    today: NaiveDate,
) -> Result<(), DomainError> {
    let attended = state.drop_ins.get(organisation_id);
    let recent = attended.is_some_and(|days| {
        days.iter()
            .any(|d| *d <= today && (today - *d).num_days() <= DROP_IN_WINDOW_DAYS)
    });
    if !recent {
        return Err(DomainError::DropInRequired {
            last: attended.and_then(|d| d.iter().filter(|d| **d <= today).max().copied()),
            today,
        });
    }
    Ok(())
}

/// Refuses an organisation with an application still undecided, or one already made in
/// `cycle`.
fn refuse_if_applied(
    state: &State,
    organisation_id: &OrganisationId,
    cycle: &Cycle,
) -> Result<(), DomainError> {
    let theirs = state
        .applications
        .values()
        .filter(|a| a.organisation_id == *organisation_id);
    for a in theirs {
        if a.decision.is_none() {
            return Err(DomainError::ApplicationAlreadyOpen(
                a.application_id.clone(),
            ));
        }
        if a.cycle_id == cycle.cycle_id {
            return Err(DomainError::ApplicationAlreadyInCycle(cycle.name.clone()));
        }
    }
    Ok(())
}

fn decide_application(
    state: &State,
    ctx: &Context,
    decision: DecideApplication,
) -> Result<Vec<Event>, DomainError> {
    let DecideApplication {
        application_id,
        award,
        certificate_number,
        feedback,
        framework,
    } = decision;
    let application = state
        .applications
        .get(&application_id)
        .ok_or_else(|| DomainError::ApplicationNotFound(application_id.clone()))?;
    if application.decision.is_some() {
        return Err(DomainError::ApplicationAlreadyDecided(application_id));
    }
    let feedback = feedback.trim().to_owned();
    printable_text(&feedback, 3, 5000, Lines::Many).map_err(DomainError::FeedbackRequired)?;
    let cycle = state
        .programme
        .cycles
        .iter()
        .find(|c| c.cycle_id == application.cycle_id)
        .ok_or_else(|| DomainError::CycleNotFound(application.cycle_id.clone()))?;
    if ctx.today < cycle.decisions_from || ctx.today > cycle.decisions_until {
        return Err(DomainError::OutsideDecisionWindow {
            cycle: cycle.name.clone(),
            from: cycle.decisions_from,
            until: cycle.decisions_until,
            today: ctx.today,
        });
    }
    let organisation_id = application.organisation_id;
    let Some(level) = award else {
        return Ok(vec![Event::ApplicationDecided {
            application_id,
            organisation_id,
            outcome: DecisionOutcome::NotAwarded,
            feedback,
            decided_on: ctx.today,
        }]);
    };
    if level > application.level_sought {
        return Err(DomainError::LevelAboveSought {
            level,
            sought: application.level_sought,
        });
    }
    let highest = eligibility(&framework, &application.manifest, application.submitted_on).highest;
    if highest.is_none_or(|h| level > h) {
        return Err(DomainError::LevelAboveEligible { level, highest });
    }
    let mut events = vec![Event::ApplicationDecided {
        application_id,
        organisation_id,
        outcome: DecisionOutcome::Awarded {
            level,
            certificate_number: certificate_number.clone(),
        },
        feedback,
        decided_on: ctx.today,
    }];
    events.extend(super::decide(
        state,
        Command::Award(AwardCommand::Issue(IssueAward {
            certificate_number,
            organisation_id,
            level,
            awarded_on: ctx.today,
            issuer_name: None,
            framework_version: Some(application.framework_version.clone()),
            source: AwardSource::Issued,
        })),
        ctx,
    )?);
    Ok(events)
}
