//! `evolve`: the fold of one event into the state (`State::apply`). This file dispatches by area
//! to one function each (organisations, awards, credentials, the programme, keys and the
//! registry's address, applications); tokens and webhooks leave the state as it is. Events come
//! from the log, which only holds what `decide` accepted, so an event about something unknown
//! is ignored rather than trusted to be well formed.

use chrono::NaiveDate;

use super::events::Event;
use super::state::{
    Application, Award, AwardChange, Decision, HistoryEntry, IssuedCredential, Organisation,
    ProgrammeChange, ProgrammePhase, SigningKey, Standing, State,
};
use super::types::{CertificateNumber, Reason};

impl State {
    /// `evolve`: applies the event recorded at `position`.
    pub fn apply(&mut self, position: u64, event: &Event) {
        self.size = position + 1;
        match event {
            Event::OrganisationRegistered { .. } | Event::OrganisationAmended { .. } => {
                organisations(self, position, event)
            }
            Event::AwardIssued { .. } => award_issued(self, position, event),
            Event::AwardSuspended { .. }
            | Event::AwardReinstated { .. }
            | Event::AwardRevoked { .. }
            | Event::AwardSuperseded { .. }
            | Event::AwardAmended { .. }
            | Event::AwardExpired { .. } => award_changed(self, position, event),
            // A private note changes nothing public: not even the award's version.
            Event::AwardNoteRecorded { .. } => {}
            Event::CredentialIssued { .. } => credential_issued(self, position, event),
            Event::CycleScheduled(_)
            | Event::ProgrammePaused { .. }
            | Event::ProgrammeResumed { .. }
            | Event::ProgrammeSunset { .. } => programme(self, position, event),
            Event::SigningKeyAdded { .. }
            | Event::SigningKeyRetired { .. }
            | Event::SigningKeyRevoked { .. }
            | Event::RegistryAddressRecorded { .. } => keys(self, event),
            Event::DropInAttended { .. }
            | Event::ApplicationSubmitted { .. }
            | Event::ApplicationDecided { .. } => applications(self, position, event),
            // Tokens and webhook subscriptions live in the store's own tables, never in the
            // state.
            Event::ApiTokenCreated { .. }
            | Event::ApiTokenRevoked { .. }
            | Event::WebhookSubscribed { .. }
            | Event::WebhookSecretRotated { .. }
            | Event::WebhookReplayed { .. }
            | Event::WebhookDeleted { .. } => {}
        }
    }
}

fn organisations(state: &mut State, position: u64, event: &Event) {
    match event {
        Event::OrganisationRegistered {
            organisation_id,
            name,
            ods_code,
            region,
            kind,
        } => {
            state.insert_organisation(Organisation {
                id: *organisation_id,
                name: name.clone(),
                ods_code: ods_code.clone(),
                region: *region,
                kind: *kind,
                awards: Vec::new(),
                last_position: position,
            });
        }
        Event::OrganisationAmended {
            organisation_id,
            name,
            ods_code,
            region,
            ..
        } => {
            if let Some(ods) = ods_code {
                state.set_ods_code(*organisation_id, ods.clone());
            }
            if let Some(org) = state.organisations.get_mut(organisation_id) {
                if let Some(name) = name {
                    org.name = name.clone();
                }
                if let Some(region) = region {
                    org.region = *region;
                }
                org.last_position = position;
            }
        }
        other => unreachable!("`apply` dispatches only organisation events here, not {other:?}"),
    }
}

fn award_issued(state: &mut State, position: u64, event: &Event) {
    let Event::AwardIssued {
        certificate_number,
        organisation_id,
        organisation_name,
        ods_code,
        region,
        level,
        awarded_on,
        valid_until,
        issuer_name,
        scheme,
        framework_version,
        source,
    } = event
    else {
        unreachable!("`apply` dispatches only an award issued here, not {event:?}")
    };
    if let Some(org) = state.organisations.get_mut(organisation_id) {
        org.awards.push(certificate_number.clone());
        org.last_position = position;
    }
    state.awards.insert(
        certificate_number.clone(),
        std::sync::Arc::new(Award {
            certificate_number: certificate_number.clone(),
            organisation_id: *organisation_id,
            organisation_name: organisation_name.clone(),
            ods_code: ods_code.clone(),
            region: *region,
            level: *level,
            awarded_on: *awarded_on,
            valid_until: *valid_until,
            issuer_name: issuer_name.clone(),
            scheme: scheme.clone(),
            framework_version: framework_version.clone(),
            standing: Standing::Active,
            expiry_recorded: false,
            credentials: Vec::new(),
            status_list_index: None,
            history: vec![HistoryEntry {
                position,
                change: AwardChange::Issued {
                    on: *awarded_on,
                    source: *source,
                },
            }],
            last_position: position,
        }),
    );
}

/// A change in an issued award's life: its standing (suspended, reinstated, revoked,
/// superseded), an amendment of its name, or its expiry recorded.
fn award_changed(state: &mut State, position: u64, event: &Event) {
    match event {
        Event::AwardAmended {
            certificate_number,
            organisation_name,
            ..
        } => {
            if let Some(award) = state
                .awards
                .get_mut(certificate_number)
                .map(std::sync::Arc::make_mut)
            {
                award.organisation_name = organisation_name.clone();
            }
        }
        Event::AwardExpired {
            certificate_number, ..
        } => {
            if let Some(award) = state
                .awards
                .get_mut(certificate_number)
                .map(std::sync::Arc::make_mut)
            {
                award.expiry_recorded = true;
            }
        }
        _ => {}
    }
    let (number, standing, change) = award_change(event);
    change_award(state, number, position, standing, change);
}

/// The award an event changes, the standing it leaves the award in (when it changes it) and
/// the entry it adds to the award's history.
fn award_change(event: &Event) -> (&CertificateNumber, Option<Standing>, AwardChange) {
    match event {
        Event::AwardSuspended {
            certificate_number,
            reason,
            effective_on,
            ..
        } => (
            certificate_number,
            Some(Standing::Suspended),
            AwardChange::Suspended {
                on: *effective_on,
                reason: reason.clone(),
            },
        ),
        Event::AwardReinstated {
            certificate_number,
            effective_on,
            reason,
            ..
        } => (
            certificate_number,
            Some(Standing::Active),
            AwardChange::Reinstated {
                on: *effective_on,
                reason: reason.clone(),
            },
        ),
        Event::AwardRevoked {
            certificate_number,
            reason,
            effective_on,
            ..
        } => (
            certificate_number,
            Some(Standing::Revoked),
            AwardChange::Revoked {
                on: *effective_on,
                reason: reason.clone(),
            },
        ),
        Event::AwardSuperseded {
            certificate_number,
            superseded_by,
            effective_on,
            ..
        } => (
            certificate_number,
            Some(Standing::Superseded),
            AwardChange::Superseded {
                on: *effective_on,
                by: superseded_by.clone(),
            },
        ),
        Event::AwardAmended {
            certificate_number,
            organisation_name,
            reason,
            effective_on,
            ..
        } => (
            certificate_number,
            None,
            AwardChange::Amended {
                on: *effective_on,
                organisation_name: organisation_name.clone(),
                reason: reason.clone(),
            },
        ),
        Event::AwardExpired {
            certificate_number,
            expired_on,
            ..
        } => (
            certificate_number,
            None,
            AwardChange::Expired { on: *expired_on },
        ),
        other => unreachable!("`apply` dispatches only an award's changes here, not {other:?}"),
    }
}

fn change_award(
    state: &mut State,
    number: &CertificateNumber,
    position: u64,
    standing: Option<Standing>,
    change: AwardChange,
) {
    let Some(award) = state.awards.get_mut(number).map(std::sync::Arc::make_mut) else {
        return;
    };
    if let Some(standing) = standing {
        award.standing = standing;
    }
    award.history.push(HistoryEntry { position, change });
    award.last_position = position;
    if let Some(org) = state.organisations.get_mut(&award.organisation_id) {
        org.last_position = position;
    }
}

fn credential_issued(state: &mut State, position: u64, event: &Event) {
    let Event::CredentialIssued {
        certificate_number,
        key_id,
        status_list_index,
        credential,
        ..
    } = event
    else {
        unreachable!("`apply` dispatches only a credential issued here, not {event:?}")
    };
    if let Some(award) = state
        .awards
        .get_mut(certificate_number)
        .map(std::sync::Arc::make_mut)
    {
        award.credentials.push(IssuedCredential {
            position,
            key_id: key_id.clone(),
            status_list_index: status_list_index.clone(),
            credential: credential.clone(),
        });
        award.status_list_index = Some(status_list_index.clone());
        award.last_position = position;
    }
}

fn programme(state: &mut State, position: u64, event: &Event) {
    let (phase, effective_from, reason) = match event {
        Event::CycleScheduled(cycle) => {
            state.cycles_scheduled.push((position, cycle.clone()));
            let cycles = &mut state.programme.cycles;
            cycles.retain(|c| c.cycle_id != cycle.cycle_id);
            cycles.push(cycle.clone());
            cycles.sort_by_key(|c| (c.submissions_open_on, c.cycle_id.clone()));
            return;
        }
        Event::ProgrammePaused {
            effective_from,
            reason,
        } => (ProgrammePhase::Paused, effective_from, reason),
        Event::ProgrammeResumed {
            effective_from,
            reason,
        } => (ProgrammePhase::Running, effective_from, reason),
        Event::ProgrammeSunset {
            effective_from,
            reason,
        } => (ProgrammePhase::Sunset, effective_from, reason),
        other => unreachable!("`apply` dispatches only programme events here, not {other:?}"),
    };
    change_programme(state, phase, *effective_from, reason, position);
}

fn change_programme(
    state: &mut State,
    phase: ProgrammePhase,
    effective_from: NaiveDate,
    reason: &Reason,
    position: u64,
) {
    state.programme.changes.push(ProgrammeChange {
        phase,
        effective_from,
        reason: reason.clone(),
        position,
    });
    state.programme.changes.sort_by_key(|c| c.effective_from);
}

/// The signing keys and the address the registry signs for.
fn keys(state: &mut State, event: &Event) {
    match event {
        Event::SigningKeyAdded {
            key_id,
            public_key_multibase,
        } => state.keys.push(SigningKey {
            key_id: key_id.clone(),
            public_key_multibase: public_key_multibase.clone(),
            retired_at: None,
            revoked_since: None,
        }),
        Event::SigningKeyRetired { key_id, retired_at } => {
            if let Some(k) = state.keys.iter_mut().find(|k| k.key_id == *key_id) {
                k.retired_at = Some(retired_at.clone());
            }
        }
        Event::SigningKeyRevoked {
            key_id,
            compromised_since,
            ..
        } => {
            if let Some(k) = state.keys.iter_mut().find(|k| k.key_id == *key_id) {
                k.revoked_since = Some(compromised_since.clone());
            }
        }
        Event::RegistryAddressRecorded { public_url, .. } => {
            state.public_url = Some(public_url.clone());
        }
        other => unreachable!("`apply` dispatches only key and address events here, not {other:?}"),
    }
}

/// Drop-in sessions, applications and their decisions (all private).
fn applications(state: &mut State, position: u64, event: &Event) {
    match event {
        Event::DropInAttended {
            organisation_id,
            attended_on,
        } => {
            let days = state.drop_ins.entry(*organisation_id).or_default();
            days.push(*attended_on);
            days.sort();
        }
        Event::ApplicationSubmitted {
            application_id,
            organisation_id,
            cycle_id,
            level_sought,
            submitted_on,
            framework_version,
            manifest,
        } => {
            state.applications.insert(
                application_id.clone(),
                Application {
                    application_id: application_id.clone(),
                    organisation_id: *organisation_id,
                    cycle_id: cycle_id.clone(),
                    level_sought: *level_sought,
                    submitted_on: *submitted_on,
                    framework_version: framework_version.clone(),
                    manifest: manifest.clone(),
                    decision: None,
                    last_position: position,
                },
            );
        }
        Event::ApplicationDecided {
            application_id,
            outcome,
            feedback,
            decided_on,
            ..
        } => {
            if let Some(a) = state.applications.get_mut(application_id) {
                a.decision = Some(Decision {
                    outcome: outcome.clone(),
                    feedback: feedback.clone(),
                    decided_on: *decided_on,
                });
                a.last_position = position;
            }
        }
        other => unreachable!("`apply` dispatches only application events here, not {other:?}"),
    }
}
