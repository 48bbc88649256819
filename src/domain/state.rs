//! The state the events fold into (`evolve`): organisations, awards with their histories, and the
//! programme. Applying the same events in the same order always gives the same state.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use super::applications::Manifest;
use super::events::{AwardSource, Cycle, Event, Outcome};
use super::types::{
    CertificateNumber, Level, Name, OdsCode, OrganisationId, OrganisationKind, PublicUrl, Reason,
    Region, expiry_of,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Organisation {
    pub id: OrganisationId,
    pub name: Name,
    pub ods_code: Option<OdsCode>,
    pub region: Region,
    pub kind: OrganisationKind,
    /// Every award the organisation has held, oldest first.
    pub awards: Vec<CertificateNumber>,
    pub last_position: u64,
}

/// The standing an award is in according to its events (not yet to a date: see `verdict`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    Active,
    Suspended,
    Revoked,
    Superseded,
}

impl Standing {
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Active => "active",
            Standing::Suspended => "suspended",
            Standing::Revoked => "revoked",
            Standing::Superseded => "superseded",
        }
    }
}

/// One change in an award's life, as shown in its public history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum AwardChange {
    Issued {
        on: NaiveDate,
        source: AwardSource,
    },
    Suspended {
        on: NaiveDate,
        reason: Reason,
    },
    Reinstated {
        on: NaiveDate,
    },
    Revoked {
        on: NaiveDate,
        reason: Reason,
    },
    Superseded {
        on: NaiveDate,
        by: CertificateNumber,
    },
    Amended {
        organisation_name: Name,
        reason: Reason,
    },
    Expired {
        on: NaiveDate,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    pub position: u64,
    #[serde(flatten)]
    pub change: AwardChange,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Award {
    pub certificate_number: CertificateNumber,
    pub organisation_id: OrganisationId,
    pub organisation_name: Name,
    pub ods_code: Option<OdsCode>,
    pub region: Region,
    pub level: Level,
    pub awarded_on: NaiveDate,
    pub valid_until: NaiveDate,
    pub issuer_name: String,
    pub scheme: String,
    pub framework_version: Option<String>,
    pub standing: Standing,
    pub expiry_recorded: bool,
    pub history: Vec<HistoryEntry>,
    /// Every credential signed for the award, oldest first; the last is current.
    pub credentials: Vec<IssuedCredential>,
    /// The award's entry in the revocation status list, once a credential is issued.
    pub status_list_index: Option<String>,
    /// The log position of the award's latest event: its version, and its HTTP `ETag`.
    pub last_position: u64,
}

impl Award {
    /// The first day the award is no longer valid.
    pub fn expires_on(&self) -> NaiveDate {
        expiry_of(self.awarded_on)
    }
}

/// A change of the programme's state, effective from the start of a UK calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgrammePhase {
    Running,
    Paused,
    Sunset,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProgrammeChange {
    pub phase: ProgrammePhase,
    pub effective_from: NaiveDate,
    pub reason: Reason,
    pub position: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Programme {
    /// Pauses, resumptions and the sunset, in the order they take effect.
    pub changes: Vec<ProgrammeChange>,
    pub cycles: Vec<Cycle>,
}

/// The programme's state on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProgrammeState {
    pub phase: ProgrammePhase,
    /// When the current phase began (absent while running from the start).
    pub since: Option<NaiveDate>,
    pub reason: Option<Reason>,
}

impl Programme {
    pub fn state_on(&self, date: NaiveDate) -> ProgrammeState {
        self.changes
            .iter()
            .rev()
            .find(|c| c.effective_from <= date)
            .map(|c| ProgrammeState {
                phase: c.phase,
                since: Some(c.effective_from),
                reason: Some(c.reason.clone()),
            })
            .unwrap_or(ProgrammeState {
                phase: ProgrammePhase::Running,
                since: None,
                reason: None,
            })
    }

    pub fn last_change(&self) -> Option<&ProgrammeChange> {
        self.changes.last()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SigningKey {
    pub key_id: String,
    pub public_key_multibase: String,
    pub retired_at: Option<String>,
    pub revoked_since: Option<String>,
}

impl SigningKey {
    pub fn status(&self) -> &'static str {
        match (&self.revoked_since, &self.retired_at) {
            (Some(_), _) => "revoked",
            (None, Some(_)) => "retired",
            (None, None) => "active",
        }
    }
}

/// A credential signed for an award, kept as it was signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssuedCredential {
    pub position: u64,
    pub key_id: String,
    pub credential: serde_json::Value,
}

/// An application and, once made, its decision. Private: never on a public route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Application {
    pub application_id: String,
    pub organisation_id: OrganisationId,
    pub cycle_id: String,
    pub level_sought: Level,
    pub submitted_on: NaiveDate,
    pub framework_version: String,
    pub manifest: Manifest,
    pub decision: Option<Decision>,
    pub last_position: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub outcome: Outcome,
    pub feedback: String,
    pub decided_on: NaiveDate,
}

/// Everything the log says, folded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    pub organisations: BTreeMap<OrganisationId, Organisation>,
    pub awards: BTreeMap<CertificateNumber, Award>,
    pub programme: Programme,
    pub keys: Vec<SigningKey>,
    /// Drop-in sessions attended, by organisation (private).
    pub drop_ins: BTreeMap<OrganisationId, Vec<NaiveDate>>,
    /// Applications by id (private).
    pub applications: BTreeMap<String, Application>,
    /// The base URL the registry is reached at, once recorded: what every process signs for.
    pub public_url: Option<PublicUrl>,
    /// How many events have been applied (the next position).
    pub size: u64,
}

impl State {
    /// The organisation's current award: its newest one that has been neither revoked nor
    /// superseded.
    pub fn current_award(&self, organisation: OrganisationId) -> Option<&Award> {
        let org = self.organisations.get(&organisation)?;
        org.awards
            .iter()
            .rev()
            .filter_map(|n| self.awards.get(n))
            .find(|a| matches!(a.standing, Standing::Active | Standing::Suspended))
    }

    /// The key new signatures are made with: the newest that is neither retired nor revoked.
    pub fn active_key(&self) -> Option<&SigningKey> {
        self.keys
            .iter()
            .rev()
            .find(|k| k.retired_at.is_none() && k.revoked_since.is_none())
    }

    pub fn organisation_by_ods(&self, ods: &OdsCode) -> Option<&Organisation> {
        self.organisations
            .values()
            .find(|o| o.ods_code.as_ref() == Some(ods))
    }

    /// `evolve`: applies the event recorded at `position`. Events come from the log, which only
    /// holds what `decide` accepted, so an event about something unknown is ignored rather than
    /// trusted to be well formed.
    pub fn apply(&mut self, position: u64, event: &Event) {
        self.size = position + 1;
        match event {
            Event::OrganisationRegistered {
                organisation_id,
                name,
                ods_code,
                region,
                kind,
            } => {
                self.organisations.insert(
                    *organisation_id,
                    Organisation {
                        id: *organisation_id,
                        name: name.clone(),
                        ods_code: ods_code.clone(),
                        region: *region,
                        kind: *kind,
                        awards: Vec::new(),
                        last_position: position,
                    },
                );
            }
            Event::OrganisationAmended {
                organisation_id,
                name,
                ods_code,
                region,
                ..
            } => {
                if let Some(org) = self.organisations.get_mut(organisation_id) {
                    if let Some(name) = name {
                        org.name = name.clone();
                    }
                    if let Some(ods) = ods_code {
                        org.ods_code = Some(ods.clone());
                    }
                    if let Some(region) = region {
                        org.region = *region;
                    }
                    org.last_position = position;
                }
            }
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
                if let Some(org) = self.organisations.get_mut(organisation_id) {
                    org.awards.push(certificate_number.clone());
                    org.last_position = position;
                }
                self.awards.insert(
                    certificate_number.clone(),
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
                );
            }
            Event::AwardSuspended {
                certificate_number,
                reason,
                effective_on,
                ..
            } => self.change_award(
                certificate_number,
                position,
                Some(Standing::Suspended),
                AwardChange::Suspended {
                    on: *effective_on,
                    reason: reason.clone(),
                },
            ),
            Event::AwardReinstated {
                certificate_number,
                effective_on,
                ..
            } => self.change_award(
                certificate_number,
                position,
                Some(Standing::Active),
                AwardChange::Reinstated { on: *effective_on },
            ),
            Event::AwardRevoked {
                certificate_number,
                reason,
                effective_on,
                ..
            } => self.change_award(
                certificate_number,
                position,
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
            } => self.change_award(
                certificate_number,
                position,
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
                ..
            } => {
                if let Some(award) = self.awards.get_mut(certificate_number) {
                    award.organisation_name = organisation_name.clone();
                }
                self.change_award(
                    certificate_number,
                    position,
                    None,
                    AwardChange::Amended {
                        organisation_name: organisation_name.clone(),
                        reason: reason.clone(),
                    },
                )
            }
            Event::AwardExpired {
                certificate_number,
                expired_on,
                ..
            } => {
                if let Some(award) = self.awards.get_mut(certificate_number) {
                    award.expiry_recorded = true;
                }
                self.change_award(
                    certificate_number,
                    position,
                    None,
                    AwardChange::Expired { on: *expired_on },
                )
            }
            Event::CycleScheduled(cycle) => {
                self.programme
                    .cycles
                    .retain(|c| c.cycle_id != cycle.cycle_id);
                self.programme.cycles.push(cycle.clone());
                self.programme
                    .cycles
                    .sort_by_key(|c| (c.submissions_open_on, c.cycle_id.clone()));
            }
            Event::ProgrammePaused {
                effective_from,
                reason,
            } => self.change_programme(ProgrammePhase::Paused, *effective_from, reason, position),
            Event::ProgrammeResumed {
                effective_from,
                reason,
            } => self.change_programme(ProgrammePhase::Running, *effective_from, reason, position),
            Event::ProgrammeSunset {
                effective_from,
                reason,
            } => self.change_programme(ProgrammePhase::Sunset, *effective_from, reason, position),
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
            Event::CredentialIssued {
                certificate_number,
                key_id,
                status_list_index,
                credential,
                ..
            } => {
                if let Some(award) = self.awards.get_mut(certificate_number) {
                    award.credentials.push(IssuedCredential {
                        position,
                        key_id: key_id.clone(),
                        credential: credential.clone(),
                    });
                    award.status_list_index = Some(status_list_index.clone());
                    award.last_position = position;
                }
            }
            Event::ApiTokenCreated { .. } | Event::ApiTokenRevoked { .. } => {}
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
        }
    }

    fn change_award(
        &mut self,
        number: &CertificateNumber,
        position: u64,
        standing: Option<Standing>,
        change: AwardChange,
    ) {
        let Some(award) = self.awards.get_mut(number) else {
            return;
        };
        if let Some(standing) = standing {
            award.standing = standing;
        }
        award.history.push(HistoryEntry { position, change });
        award.last_position = position;
        if let Some(org) = self.organisations.get_mut(&award.organisation_id) {
            org.last_position = position;
        }
    }

    fn change_programme(
        &mut self,
        phase: ProgrammePhase,
        effective_from: NaiveDate,
        reason: &Reason,
        position: u64,
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
