//! The rules for awards: issuing (the two-year rule, the pause, the issuer named for the date),
//! suspending, reinstating, revoking, amending, and recording an expiry.

use crate::domain::events::Event;
use crate::domain::state::{Award, Standing, State};
use crate::domain::types::{CertificateNumber, SCHEME, expiry_of, issuer_name_on, valid_until_of};
use crate::domain::{Command, DomainError};

use super::{Context, refuse_if_not_running};

pub(super) fn decide(
    state: &State,
    command: Command,
    ctx: &Context,
) -> Result<Vec<Event>, DomainError> {
    match command {
        Command::IssueAward {
            certificate_number,
            organisation_id,
            level,
            awarded_on,
            issuer_name,
            framework_version,
            source,
        } => {
            let org = state
                .organisations
                .get(&organisation_id)
                .ok_or(DomainError::OrganisationNotFound(organisation_id))?;
            if state.awards.contains_key(&certificate_number) {
                return Err(DomainError::CertificateNumberTaken(certificate_number));
            }
            if awarded_on > ctx.today {
                return Err(DomainError::AwardDateInFuture {
                    awarded_on,
                    today: ctx.today,
                });
            }
            refuse_if_not_running(state, awarded_on)?;
            let mut events = Vec::with_capacity(2);
            if let Some(current) = state.current_award(organisation_id) {
                if current.awarded_on >= awarded_on {
                    return Err(DomainError::NotNewerThanCurrent {
                        current: current.certificate_number.clone(),
                        current_awarded_on: current.awarded_on,
                        awarded_on,
                    });
                }
                if current.expires_on() > awarded_on {
                    events.push(Event::AwardSuperseded {
                        certificate_number: current.certificate_number.clone(),
                        organisation_id,
                        superseded_by: certificate_number.clone(),
                        effective_on: awarded_on,
                    });
                }
            }
            events.insert(
                0,
                Event::AwardIssued {
                    certificate_number,
                    organisation_id,
                    organisation_name: org.name.clone(),
                    ods_code: org.ods_code.clone(),
                    region: org.region,
                    level,
                    awarded_on,
                    valid_until: valid_until_of(awarded_on),
                    issuer_name: issuer_name
                        .unwrap_or_else(|| issuer_name_on(awarded_on).to_owned()),
                    scheme: SCHEME.to_owned(),
                    framework_version,
                    source,
                },
            );
            Ok(events)
        }
        Command::SuspendAward {
            certificate_number,
            reason,
            expected,
        } => {
            let award = live_award(state, &certificate_number, expected, ctx, "suspending")?;
            if award.standing != Standing::Active {
                return Err(transition(award, "suspension"));
            }
            Ok(vec![Event::AwardSuspended {
                certificate_number,
                organisation_id: award.organisation_id,
                reason,
                effective_on: ctx.today,
            }])
        }
        Command::ReinstateAward {
            certificate_number,
            expected,
        } => {
            let award = live_award(state, &certificate_number, expected, ctx, "reinstating")?;
            if award.standing != Standing::Suspended {
                return Err(transition(award, "reinstatement"));
            }
            Ok(vec![Event::AwardReinstated {
                certificate_number,
                organisation_id: award.organisation_id,
                effective_on: ctx.today,
            }])
        }
        Command::RevokeAward {
            certificate_number,
            reason,
            expected,
        } => {
            let award = find_award(state, &certificate_number, expected)?;
            if !matches!(award.standing, Standing::Active | Standing::Suspended) {
                return Err(transition(award, "revocation"));
            }
            Ok(vec![Event::AwardRevoked {
                certificate_number,
                organisation_id: award.organisation_id,
                reason,
                effective_on: ctx.today,
            }])
        }
        Command::AmendAward {
            certificate_number,
            organisation_name,
            reason,
            expected,
        } => {
            let award = find_award(state, &certificate_number, expected)?;
            if award.organisation_name == organisation_name {
                return Err(DomainError::NothingToAmend);
            }
            Ok(vec![Event::AwardAmended {
                certificate_number,
                organisation_id: award.organisation_id,
                organisation_name,
                reason,
            }])
        }
        Command::RecordExpiry { certificate_number } => {
            let award = find_award(state, &certificate_number, None)?;
            if award.expiry_recorded {
                return Err(DomainError::ExpiryAlreadyRecorded(certificate_number));
            }
            if !matches!(award.standing, Standing::Active | Standing::Suspended) {
                return Err(transition(award, "recording an expiry"));
            }
            let expires_on = award.expires_on();
            if expires_on > ctx.today {
                return Err(DomainError::ExpiryNotDue {
                    number: certificate_number,
                    expires_on,
                });
            }
            Ok(vec![Event::AwardExpired {
                certificate_number,
                organisation_id: award.organisation_id,
                expired_on: expires_on,
            }])
        }
        other => unreachable!("`decide` dispatches only award commands here, not {other:?}"),
    }
}

fn find_award<'a>(
    state: &'a State,
    number: &CertificateNumber,
    expected: Option<u64>,
) -> Result<&'a Award, DomainError> {
    let award = state
        .awards
        .get(number)
        .ok_or_else(|| DomainError::AwardNotFound(number.clone()))?;
    match expected {
        Some(expected) if expected != award.last_position => Err(DomainError::VersionMismatch {
            expected,
            actual: award.last_position,
        }),
        _ => Ok(award),
    }
}

/// An award that has not yet expired (suspending or reinstating an expired award means nothing).
fn live_award<'a>(
    state: &'a State,
    number: &CertificateNumber,
    expected: Option<u64>,
    ctx: &Context,
    action: &'static str,
) -> Result<&'a Award, DomainError> {
    let award = find_award(state, number, expected)?;
    if matches!(award.standing, Standing::Active | Standing::Suspended)
        && expiry_of(award.awarded_on) <= ctx.today
    {
        return Err(DomainError::AwardExpired {
            number: number.clone(),
            expired_on: award.expires_on(),
            action,
        });
    }
    Ok(award)
}

fn transition(award: &Award, action: &'static str) -> DomainError {
    DomainError::InvalidTransition {
        number: award.certificate_number.clone(),
        standing: award.standing.as_str(),
        action,
    }
}
