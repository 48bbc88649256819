//! `evolve`: the fold of one event into the state (`State::apply`). `apply` matches each event
//! once and hands its helper exactly that event's data (organisations, awards, credentials, the
//! programme, keys and the registry's address, applications, staff); tokens and webhooks leave the
//! state as it is. Events come from the log, which only holds what `decide` accepted, so an
//! event about something unknown is ignored rather than trusted to be well formed.

use std::sync::Arc;

use chrono::NaiveDate;

use super::events::{AwardSource, Cycle, DecisionOutcome, Event};
use super::staff::{StaffAdded, StaffMember};
use super::state::{
    Application, Award, AwardChange, Decision, HistoryEntry, IssuedCredential, Organisation,
    ProgrammeChange, ProgrammePhase, SigningKey, Standing, State,
};
use super::types::{
    CertificateNumber, Name, OdsCode, OrganisationId, OrganisationKind, Reason, Region,
};

impl State {
    /// `evolve`: applies the event recorded at `position`. The one place events are routed:
    /// each arm hands its event's fields to the helper of its area below.
    pub fn apply(&mut self, position: u64, event: &Event) {
        self.size = position + 1;
        match event {
            Event::OrganisationRegistered {
                organisation_id,
                name,
                ods_code,
                region,
                kind,
            } => self.organisation_registered(
                position,
                *organisation_id,
                name,
                ods_code,
                *region,
                *kind,
            ),
            Event::OrganisationAmended {
                organisation_id,
                name,
                ods_code,
                region,
                ..
            } => self.amend_organisation(position, *organisation_id, name, ods_code, region),
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
            } => {
                let issuer_name = self.share(issuer_name);
                let scheme = self.share(scheme);
                self.award_issued(
                    position,
                    *source,
                    Award {
                        certificate_number: certificate_number.clone(),
                        organisation_id: *organisation_id,
                        organisation_name: organisation_name.clone(),
                        ods_code: ods_code.clone(),
                        region: *region,
                        level: *level,
                        awarded_on: *awarded_on,
                        valid_until: *valid_until,
                        issuer_name,
                        scheme,
                        framework_version: framework_version.clone(),
                        standing: Standing::Active,
                        expiry_recorded: false,
                        credentials: Vec::new(),
                        history: Vec::new(),
                        last_position: position,
                    },
                )
            }
            Event::AwardSuspended {
                certificate_number,
                reason,
                effective_on,
                ..
            } => self.award_suspended(position, certificate_number, *effective_on, reason),
            Event::AwardReinstated {
                certificate_number,
                effective_on,
                reason,
                ..
            } => self.award_reinstated(position, certificate_number, *effective_on, reason),
            Event::AwardRevoked {
                certificate_number,
                reason,
                effective_on,
                ..
            } => self.award_revoked(position, certificate_number, *effective_on, reason),
            Event::AwardSuperseded {
                certificate_number,
                superseded_by,
                effective_on,
                ..
            } => self.award_superseded(position, certificate_number, *effective_on, superseded_by),
            Event::AwardAmended {
                certificate_number,
                organisation_name: name,
                reason,
                effective_on,
                ..
            } => self.award_amended(position, certificate_number, *effective_on, name, reason),
            Event::AwardExpired {
                certificate_number,
                expired_on,
                ..
            } => self.award_expired(position, certificate_number, *expired_on),
            // A private note changes nothing public: not even the award's version.
            Event::AwardNoteRecorded { .. } => {}
            Event::CredentialIssued {
                certificate_number,
                key_id,
                status_list_index,
                credential,
                ..
            } => {
                let credential = IssuedCredential {
                    position,
                    key_id: self.share(key_id),
                    status_list_index: status_list_index.clone(),
                    issuer_url: credential.issuer_url().map(|url| self.share(url)),
                };
                self.credential_issued(certificate_number, credential)
            }
            Event::CycleScheduled(cycle) => self.cycle_scheduled(position, cycle),
            Event::ProgrammePaused {
                effective_from,
                reason,
            } => self.change_programme(position, ProgrammePhase::Paused, *effective_from, reason),
            Event::ProgrammeResumed {
                effective_from,
                reason,
            } => self.change_programme(position, ProgrammePhase::Running, *effective_from, reason),
            Event::ProgrammeSunset {
                effective_from,
                reason,
            } => self.change_programme(position, ProgrammePhase::Sunset, *effective_from, reason),
            Event::SigningKeyAdded {
                key_id,
                public_key_multibase,
            } => self.key_added(key_id, public_key_multibase),
            Event::SigningKeyRetired { key_id, retired_at } => self.key_retired(key_id, retired_at),
            Event::SigningKeyRevoked {
                key_id,
                compromised_since,
                ..
            } => self.key_revoked(key_id, compromised_since),
            Event::RegistryAddressRecorded { public_url, .. } => {
                self.public_url = Some(public_url.clone());
            }
            Event::DropInAttended {
                organisation_id,
                attended_on,
            } => self.drop_in_attended(*organisation_id, *attended_on),
            Event::ApplicationSubmitted {
                application_id,
                organisation_id,
                cycle_id,
                level_sought,
                submitted_on,
                framework_version,
                manifest,
            } => self.application_submitted(Application {
                application_id: application_id.clone(),
                organisation_id: *organisation_id,
                cycle_id: cycle_id.clone(),
                level_sought: *level_sought,
                submitted_on: *submitted_on,
                framework_version: framework_version.clone(),
                manifest: manifest.clone(),
                decision: None,
                last_position: position,
            }),
            Event::ApplicationDecided {
                application_id,
                outcome,
                feedback,
                decided_on,
                ..
            } => self.application_decided(position, application_id, outcome, feedback, *decided_on),
            // Tokens and webhook subscriptions live in the store's own tables, never in the
            // state.
            Event::ApiTokenCreated { .. }
            | Event::ApiTokenRevoked { .. }
            | Event::WebhookSubscribed { .. }
            | Event::WebhookSecretRotated { .. }
            | Event::WebhookReplayed { .. }
            | Event::WebhookDeleted { .. } => {}
            Event::StaffAdded(added) => self.staff_added(position, added),
            Event::StaffRoleChanged(changed) => {
                if let Some(member) = self.staff.get_mut(&changed.staff_id) {
                    member.role = changed.role;
                }
            }
            Event::StaffRemoved(removed) => {
                self.staff.remove(&removed.staff_id);
            }
        }
    }
}

/// Staff: the allow-list of people who sign in to the console.
impl State {
    fn staff_added(&mut self, position: u64, added: &StaffAdded) {
        self.staff.insert(
            added.staff_id.clone(),
            StaffMember {
                staff_id: added.staff_id.clone(),
                issuer: added.issuer.clone(),
                subject: added.subject.clone(),
                name: added.name.clone(),
                email: added.email.clone(),
                role: added.role,
                added_at: position,
            },
        );
    }
}

/// Organisations: a registration, and the fields an amendment names.
impl State {
    fn organisation_registered(
        &mut self,
        position: u64,
        id: OrganisationId,
        name: &Name,
        ods_code: &Option<OdsCode>,
        region: Region,
        kind: OrganisationKind,
    ) {
        self.insert_organisation(Organisation {
            id,
            name: name.clone(),
            ods_code: ods_code.clone(),
            region,
            kind,
            awards: Vec::new(),
            last_position: position,
        });
    }

    /// The fields an amendment names change; the others stay.
    fn amend_organisation(
        &mut self,
        position: u64,
        organisation_id: OrganisationId,
        name: &Option<Name>,
        ods_code: &Option<OdsCode>,
        region: &Option<Region>,
    ) {
        if let Some(ods) = ods_code {
            self.set_ods_code(organisation_id, ods.clone());
        }
        if let Some(org) = self.organisations.get_mut(&organisation_id) {
            if let Some(name) = name {
                org.name = name.clone();
            }
            if let Some(region) = region {
                org.region = *region;
            }
            org.last_position = position;
        }
    }
}

/// Awards: an issue, each change in an award's life, and its credentials.
impl State {
    /// A new award (its history starts with its issue), added to its organisation's.
    fn award_issued(&mut self, position: u64, source: AwardSource, mut award: Award) {
        // Most awards have one line of history, one credential, and their organisation one
        // award: each of these lists grows by one at a time, not by four (about 60 MB at
        // 100,000 awards).
        award.history.reserve_exact(1);
        award.history.push(HistoryEntry {
            position,
            change: AwardChange::Issued {
                on: award.awarded_on,
                source,
            },
        });
        if let Some(org) = self.organisations.get_mut(&award.organisation_id) {
            org.awards.reserve_exact(1);
            org.awards.push(award.certificate_number.clone());
            org.last_position = award.last_position;
        }
        self.awards
            .insert(award.certificate_number.clone(), Arc::new(award));
    }

    fn award_suspended(
        &mut self,
        position: u64,
        number: &CertificateNumber,
        on: NaiveDate,
        reason: &Reason,
    ) {
        let reason = reason.clone();
        self.change_award(position, number, AwardChange::Suspended { on, reason });
    }

    fn award_reinstated(
        &mut self,
        position: u64,
        number: &CertificateNumber,
        on: NaiveDate,
        reason: &Option<Reason>,
    ) {
        let reason = reason.clone();
        self.change_award(position, number, AwardChange::Reinstated { on, reason });
    }

    fn award_revoked(
        &mut self,
        position: u64,
        number: &CertificateNumber,
        on: NaiveDate,
        reason: &Reason,
    ) {
        let reason = reason.clone();
        self.change_award(position, number, AwardChange::Revoked { on, reason });
    }

    fn award_superseded(
        &mut self,
        position: u64,
        number: &CertificateNumber,
        on: NaiveDate,
        by: &CertificateNumber,
    ) {
        let by = by.clone();
        self.change_award(position, number, AwardChange::Superseded { on, by });
    }

    fn award_amended(
        &mut self,
        position: u64,
        number: &CertificateNumber,
        on: Option<NaiveDate>,
        organisation_name: &Name,
        reason: &Reason,
    ) {
        let change = AwardChange::Amended {
            on,
            organisation_name: organisation_name.clone(),
            reason: reason.clone(),
        };
        self.change_award(position, number, change);
    }

    fn award_expired(&mut self, position: u64, number: &CertificateNumber, on: NaiveDate) {
        self.change_award(position, number, AwardChange::Expired { on });
    }

    /// A change in an issued award's life: its standing (suspended, reinstated, revoked,
    /// superseded), an amendment of its name, or its expiry recorded; the change joins its
    /// history.
    fn change_award(&mut self, position: u64, number: &CertificateNumber, change: AwardChange) {
        let Some(award) = self.awards.get_mut(number).map(Arc::make_mut) else {
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
        award.history.reserve_exact(1);
        award.history.push(HistoryEntry { position, change });
        award.last_position = position;
        if let Some(org) = self.organisations.get_mut(&award.organisation_id) {
            org.last_position = position;
        }
    }

    /// A signed credential, added to its award's.
    fn credential_issued(&mut self, number: &CertificateNumber, credential: IssuedCredential) {
        if let Some(award) = self.awards.get_mut(number).map(Arc::make_mut) {
            award.last_position = credential.position;
            award.credentials.reserve_exact(1);
            award.credentials.push(credential);
        }
    }
}

/// The programme: its cycles and its phases.
impl State {
    /// A cycle scheduled, or rescheduled (it replaces the one with its id).
    fn cycle_scheduled(&mut self, position: u64, cycle: &Cycle) {
        self.cycles_scheduled.push((position, cycle.clone()));
        let cycles = &mut self.programme.cycles;
        cycles.retain(|c| c.cycle_id != cycle.cycle_id);
        cycles.push(cycle.clone());
        cycles.sort_by_key(|c| (c.submissions_open_on, c.cycle_id.clone()));
    }

    fn change_programme(
        &mut self,
        position: u64,
        phase: ProgrammePhase,
        effective_from: NaiveDate,
        reason: &Reason,
    ) {
        self.programme.changes.push(ProgrammeChange {
            phase,
            effective_from,
            reason: reason.clone(),
            position,
        });
        self.programme.changes.sort_by_key(|c| c.effective_from);
    }
}

/// The signing keys.
impl State {
    fn key_added(&mut self, key_id: &str, public_key_multibase: &str) {
        self.keys.push(SigningKey {
            key_id: key_id.to_owned(),
            public_key_multibase: public_key_multibase.to_owned(),
            retired_at: None,
            revoked_since: None,
        });
    }

    fn key_retired(&mut self, key_id: &str, retired_at: &str) {
        if let Some(k) = self.keys.iter_mut().find(|k| k.key_id == key_id) {
            k.retired_at = Some(retired_at.to_owned());
        }
    }

    fn key_revoked(&mut self, key_id: &str, compromised_since: &str) {
        if let Some(k) = self.keys.iter_mut().find(|k| k.key_id == key_id) {
            k.revoked_since = Some(compromised_since.to_owned());
        }
    }
}

/// Applications: drop-in sessions, submissions and decisions.
impl State {
    fn drop_in_attended(&mut self, organisation_id: OrganisationId, attended_on: NaiveDate) {
        let days = self.drop_ins.entry(organisation_id).or_default();
        days.push(attended_on);
        days.sort();
    }

    fn application_submitted(&mut self, application: Application) {
        self.applications
            .insert(application.application_id.clone(), application);
    }

    fn application_decided(
        &mut self,
        position: u64,
        application_id: &str,
        outcome: &DecisionOutcome,
        feedback: &str,
        decided_on: NaiveDate,
    ) {
        if let Some(a) = self.applications.get_mut(application_id) {
            a.decision = Some(Decision {
                outcome: outcome.clone(),
                feedback: feedback.to_owned(),
                decided_on,
            });
            a.last_position = position;
        }
    }
}
