//! `evolve`: the fold of one event into the state (`State::apply`). `apply` matches each event
//! once and hands its helper exactly that event's data (organisations, awards, credentials, the
//! programme, keys and the registry's address, applications); tokens and webhooks leave the
//! state as it is. Events come from the log, which only holds what `decide` accepted, so an
//! event about something unknown is ignored rather than trusted to be well formed.

use std::sync::Arc;

use chrono::NaiveDate;

use super::events::Event;
use super::state::{
    Application, Award, AwardChange, Decision, HistoryEntry, IssuedCredential, Organisation,
    ProgrammeChange, ProgrammePhase, SigningKey, Standing, State,
};
use super::types::{CertificateNumber, Name, OdsCode, OrganisationId, Reason, Region};

impl State {
    /// `evolve`: applies the event recorded at `position`.
    pub fn apply(&mut self, position: u64, event: &Event) {
        self.size = position + 1;
        match event {
            Event::OrganisationRegistered {
                organisation_id,
                name,
                ods_code,
                region,
                kind,
            } => self.insert_organisation(Organisation {
                id: *organisation_id,
                name: name.clone(),
                ods_code: ods_code.clone(),
                region: *region,
                kind: *kind,
                awards: Vec::new(),
                last_position: position,
            }),
            Event::OrganisationAmended {
                organisation_id,
                name,
                ods_code,
                region,
                ..
            } => amend_organisation(self, *organisation_id, position, name, ods_code, region),
            Event::AwardIssued {
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
            } => award_issued(
                self,
                Award {
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
                },
            ),
            Event::AwardSuspended {
                certificate_number,
                reason,
                effective_on,
                ..
            } => {
                let change = AwardChange::Suspended {
                    on: *effective_on,
                    reason: reason.clone(),
                };
                change_award(self, certificate_number, position, change);
            }
            Event::AwardReinstated {
                certificate_number,
                effective_on,
                reason,
                ..
            } => {
                let change = AwardChange::Reinstated {
                    on: *effective_on,
                    reason: reason.clone(),
                };
                change_award(self, certificate_number, position, change);
            }
            Event::AwardRevoked {
                certificate_number,
                reason,
                effective_on,
                ..
            } => {
                let change = AwardChange::Revoked {
                    on: *effective_on,
                    reason: reason.clone(),
                };
                change_award(self, certificate_number, position, change);
            }
            Event::AwardSuperseded {
                certificate_number,
                superseded_by,
                effective_on,
                ..
            } => {
                let change = AwardChange::Superseded {
                    on: *effective_on,
                    by: superseded_by.clone(),
                };
                change_award(self, certificate_number, position, change);
            }
            Event::AwardAmended {
                certificate_number,
                organisation_name,
                reason,
                effective_on,
                ..
            } => {
                let change = AwardChange::Amended {
                    on: *effective_on,
                    organisation_name: organisation_name.clone(),
                    reason: reason.clone(),
                };
                change_award(self, certificate_number, position, change);
            }
            Event::AwardExpired {
                certificate_number,
                expired_on,
                ..
            } => {
                let change = AwardChange::Expired { on: *expired_on };
                change_award(self, certificate_number, position, change);
            }
            // A private note changes nothing public: not even the award's version.
            Event::AwardNoteRecorded { .. } => {}
            Event::CredentialIssued {
                certificate_number,
                key_id,
                status_list_index,
                credential,
                ..
            } => credential_issued(
                self,
                certificate_number,
                IssuedCredential {
                    position,
                    key_id: key_id.clone(),
                    status_list_index: status_list_index.clone(),
                    credential: credential.clone(),
                },
            ),
            Event::CycleScheduled(cycle) => {
                self.cycles_scheduled.push((position, cycle.clone()));
                let cycles = &mut self.programme.cycles;
                cycles.retain(|c| c.cycle_id != cycle.cycle_id);
                cycles.push(cycle.clone());
                cycles.sort_by_key(|c| (c.submissions_open_on, c.cycle_id.clone()));
            }
            Event::ProgrammePaused {
                effective_from,
                reason,
            } => change_programme(
                self,
                ProgrammePhase::Paused,
                *effective_from,
                reason,
                position,
            ),
            Event::ProgrammeResumed {
                effective_from,
                reason,
            } => change_programme(
                self,
                ProgrammePhase::Running,
                *effective_from,
                reason,
                position,
            ),
            Event::ProgrammeSunset {
                effective_from,
                reason,
            } => change_programme(
                self,
                ProgrammePhase::Sunset,
                *effective_from,
                reason,
                position,
            ),
            Event::SigningKeyAdded {
                key_id,
                public_key_multibase,
            } => self.keys.push(SigningKey {
                key_id: key_id.clone(),
                public_key_multibase: public_key_multibase.clone(),
                retired_at: None,
                revoked_since: None,
            }),
            Event::SigningKeyRetired { key_id, retired_at } => {
                if let Some(k) = self.keys.iter_mut().find(|k| k.key_id == *key_id) {
                    k.retired_at = Some(retired_at.clone());
                }
            }
            Event::SigningKeyRevoked {
                key_id,
                compromised_since,
                ..
            } => {
                if let Some(k) = self.keys.iter_mut().find(|k| k.key_id == *key_id) {
                    k.revoked_since = Some(compromised_since.clone());
                }
            }
            Event::RegistryAddressRecorded { public_url, .. } => {
                self.public_url = Some(public_url.clone());
            }
            Event::DropInAttended {
                organisation_id,
                attended_on,
            } => {
                let days = self.drop_ins.entry(*organisation_id).or_default();
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
                self.applications.insert(
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
                if let Some(a) = self.applications.get_mut(application_id) {
                    a.decision = Some(Decision {
                        outcome: outcome.clone(),
                        feedback: feedback.clone(),
                        decided_on: *decided_on,
                    });
                    a.last_position = position;
                }
            }
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

/// The fields an amendment names change; the others stay.
fn amend_organisation(
    state: &mut State,
    organisation_id: OrganisationId,
    position: u64,
    name: &Option<Name>,
    ods_code: &Option<OdsCode>,
    region: &Option<Region>,
) {
    if let Some(ods) = ods_code {
        state.set_ods_code(organisation_id, ods.clone());
    }
    if let Some(org) = state.organisations.get_mut(&organisation_id) {
        if let Some(name) = name {
            org.name = name.clone();
        }
        if let Some(region) = region {
            org.region = *region;
        }
        org.last_position = position;
    }
}

/// A new award, added to its organisation's.
fn award_issued(state: &mut State, award: Award) {
    if let Some(org) = state.organisations.get_mut(&award.organisation_id) {
        org.awards.push(award.certificate_number.clone());
        org.last_position = award.last_position;
    }
    state
        .awards
        .insert(award.certificate_number.clone(), Arc::new(award));
}

/// A change in an issued award's life: its standing (suspended, reinstated, revoked,
/// superseded), an amendment of its name, or its expiry recorded; the change joins its history.
fn change_award(state: &mut State, number: &CertificateNumber, position: u64, change: AwardChange) {
    let Some(award) = state.awards.get_mut(number).map(Arc::make_mut) else {
        return;
    };
    match &change {
        AwardChange::Suspended { .. } => award.standing = Standing::Suspended,
        AwardChange::Reinstated { .. } => award.standing = Standing::Active,
        AwardChange::Revoked { .. } => award.standing = Standing::Revoked,
        AwardChange::Superseded { .. } => award.standing = Standing::Superseded,
        AwardChange::Amended {
            organisation_name, ..
        } => award.organisation_name = organisation_name.clone(),
        AwardChange::Expired { .. } => award.expiry_recorded = true,
        AwardChange::Issued { .. } => {}
    }
    award.history.push(HistoryEntry { position, change });
    award.last_position = position;
    if let Some(org) = state.organisations.get_mut(&award.organisation_id) {
        org.last_position = position;
    }
}

/// A signed credential, added to its award's.
fn credential_issued(state: &mut State, number: &CertificateNumber, credential: IssuedCredential) {
    if let Some(award) = state.awards.get_mut(number).map(Arc::make_mut) {
        award.status_list_index = Some(credential.status_list_index.clone());
        award.last_position = credential.position;
        award.credentials.push(credential);
    }
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
