//! The rules for awards: issuing (the two-year rule, the pause, the issuer named for the date),
//! suspending, reinstating, revoking, amending, and recording an expiry.

use chrono::NaiveDate;

use crate::domain::DomainError;
use crate::domain::command::{AwardCommand, IssueAward};
use crate::domain::events::Event;
use crate::domain::state::{Award, Standing, State};
use crate::domain::types::{
    CertificateNumber, Name, OrganisationId, PrivateNote, Reason, SCHEME, expiry_of,
    issuer_name_on, valid_until_of,
};

use super::{Context, refuse_if_not_running};

pub(super) fn decide(
    state: &State,
    command: AwardCommand,
    ctx: &Context,
) -> Result<Vec<Event>, DomainError> {
    match command {
        AwardCommand::Issue(award) => issue(state, award, ctx),
        AwardCommand::Suspend {
            certificate_number,
            reason,
            private_note,
            expected,
        } => with_note(
            suspend(state, certificate_number, reason, expected, ctx)?,
            private_note,
        ),
        AwardCommand::Reinstate {
            certificate_number,
            reason,
            private_note,
            expected,
        } => with_note(
            reinstate(state, certificate_number, reason, expected, ctx)?,
            private_note,
        ),
        AwardCommand::Revoke {
            certificate_number,
            reason,
            private_note,
            expected,
        } => with_note(
            revoke(state, certificate_number, reason, expected, ctx)?,
            private_note,
        ),
        AwardCommand::Amend {
            certificate_number,
            organisation_name,
            reason,
            private_note,
            expected,
        } => with_note(
            amend(
                state,
                certificate_number,
                Amendment {
                    organisation_name,
                    reason,
                },
                expected,
                ctx,
            )?,
            private_note,
        ),
        AwardCommand::RecordExpiry { certificate_number } => {
            record_expiry(state, certificate_number, ctx)
        }
    }
}

/// Issues an award: the organisation is registered, the number unused, the date not in the
/// future nor in a pause, and newer than the organisation's current award, which it supersedes
/// while that one is still in date.
fn issue(state: &State, award: IssueAward, ctx: &Context) -> Result<Vec<Event>, DomainError> {
    let IssueAward {
        certificate_number,
        organisation_id,
        level,
        awarded_on,
        issuer_name,
        framework_version,
        source,
    } = award;
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
    let superseded = supersession(state, organisation_id, &certificate_number, awarded_on)?;
    let issued = Event::AwardIssued {
        certificate_number,
        organisation_id,
        organisation_name: org.name.clone(),
        ods_code: org.ods_code.clone(),
        region: org.region,
        level,
        awarded_on,
        valid_until: valid_until_of(awarded_on),
        issuer_name: issuer_name.unwrap_or_else(|| issuer_name_on(awarded_on).to_owned()),
        scheme: SCHEME.to_owned(),
        framework_version,
        source,
    };
    Ok(std::iter::once(issued).chain(superseded).collect())
}

/// The supersession of the organisation's current award by a new one dated `awarded_on`, if the
/// current one is still in date then; refused if the current one is not older.
fn supersession(
    state: &State,
    organisation_id: OrganisationId,
    new_number: &CertificateNumber,
    awarded_on: NaiveDate,
) -> Result<Option<Event>, DomainError> {
    let Some(current) = state.current_award(organisation_id) else {
        return Ok(None);
    };
    if current.awarded_on >= awarded_on {
        return Err(DomainError::NotNewerThanCurrent {
            current: current.certificate_number.clone(),
            current_awarded_on: current.awarded_on,
            awarded_on,
        });
    }
    Ok(
        (current.expires_on() > awarded_on).then(|| Event::AwardSuperseded {
            certificate_number: current.certificate_number.clone(),
            organisation_id,
            superseded_by: new_number.clone(),
            effective_on: awarded_on,
        }),
    )
}

fn suspend(
    state: &State,
    certificate_number: CertificateNumber,
    reason: Reason,
    expected: Option<u64>,
    ctx: &Context,
) -> Result<Vec<Event>, DomainError> {
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

/// The change's public event, then the private note (if any) as its own private event about the
/// same award, in the same append: the note never enters the public event's bytes.
fn with_note(mut events: Vec<Event>, note: Option<PrivateNote>) -> Result<Vec<Event>, DomainError> {
    let noted = note.and_then(|note| {
        events.first().and_then(|e| match e {
            Event::AwardSuspended {
                certificate_number,
                organisation_id,
                ..
            }
            | Event::AwardReinstated {
                certificate_number,
                organisation_id,
                ..
            }
            | Event::AwardRevoked {
                certificate_number,
                organisation_id,
                ..
            }
            | Event::AwardAmended {
                certificate_number,
                organisation_id,
                ..
            } => Some(Event::AwardNoteRecorded {
                certificate_number: certificate_number.clone(),
                organisation_id: *organisation_id,
                note,
            }),
            _ => None,
        })
    });
    events.extend(noted);
    Ok(events)
}

fn reinstate(
    state: &State,
    certificate_number: CertificateNumber,
    reason: Option<Reason>,
    expected: Option<u64>,
    ctx: &Context,
) -> Result<Vec<Event>, DomainError> {
    let award = live_award(state, &certificate_number, expected, ctx, "reinstating")?;
    if award.standing != Standing::Suspended {
        return Err(transition(award, "reinstatement"));
    }
    Ok(vec![Event::AwardReinstated {
        certificate_number,
        organisation_id: award.organisation_id,
        effective_on: ctx.today,
        reason,
    }])
}

fn revoke(
    state: &State,
    certificate_number: CertificateNumber,
    reason: Reason,
    expected: Option<u64>,
    ctx: &Context,
) -> Result<Vec<Event>, DomainError> {
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

/// What an amendment changes, and why (public).
struct Amendment {
    organisation_name: Name,
    reason: Reason,
}

/// Corrects the name on a current award (valid or suspended). A revoked or superseded award is
/// refused, as is one past its expiry: its record is history, kept as it stood when it stopped
/// being current, and correcting it would sign a fresh credential for an award that is not
/// current.
fn amend(
    state: &State,
    certificate_number: CertificateNumber,
    amendment: Amendment,
    expected: Option<u64>,
    ctx: &Context,
) -> Result<Vec<Event>, DomainError> {
    let award = live_award(state, &certificate_number, expected, ctx, "amending")?;
    if !matches!(award.standing, Standing::Active | Standing::Suspended) {
        return Err(transition(award, "amendment"));
    }
    if award.organisation_name == amendment.organisation_name {
        return Err(DomainError::NothingToAmend);
    }
    Ok(vec![Event::AwardAmended {
        certificate_number,
        organisation_id: award.organisation_id,
        organisation_name: amendment.organisation_name,
        reason: amendment.reason,
        effective_on: Some(ctx.today),
    }])
}

fn record_expiry(
    state: &State,
    certificate_number: CertificateNumber,
    ctx: &Context,
) -> Result<Vec<Event>, DomainError> {
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
        return Err(DomainError::AwardHasExpired {
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
