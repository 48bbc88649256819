//! The state the events fold into: organisations, awards with their histories, the programme,
//! keys and applications, and the read helpers over them. The fold itself (`State::apply`) is
//! `evolve.rs`'s. Applying the same events in the same order always gives the same state.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use chrono::NaiveDate;
use serde::Serialize;

use super::applications::Manifest;
use super::events::{AwardSource, Cycle, DecisionOutcome};
use super::staff::{StaffId, StaffMember};
use super::types::{
    CertificateNumber, Level, Name, OdsCode, OrganisationId, OrganisationKind, PublicUrl, Reason,
    Region, expiry_of,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Organisation {
    pub id: OrganisationId,
    pub name: Name,
    pub(crate) ods_code: Option<OdsCode>,
    pub region: Region,
    pub(crate) kind: OrganisationKind,
    /// Every award the organisation has held, oldest first.
    pub(crate) awards: Vec<CertificateNumber>,
    pub(crate) last_position: u64,
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
    pub(crate) fn as_str(self) -> &'static str {
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
pub(crate) enum AwardChange {
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
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<Reason>,
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
        /// The day of the amendment (`None` only until the service dates an amendment recorded
        /// before amendments carried their day).
        #[serde(skip_serializing_if = "Option::is_none")]
        on: Option<NaiveDate>,
        organisation_name: Name,
        reason: Reason,
    },
    Expired {
        on: NaiveDate,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    pub(crate) position: u64,
    #[serde(flatten)]
    pub(crate) change: AwardChange,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Award {
    pub certificate_number: CertificateNumber,
    pub(crate) organisation_id: OrganisationId,
    pub organisation_name: Name,
    pub(crate) ods_code: Option<OdsCode>,
    pub(crate) region: Region,
    pub(crate) level: Level,
    pub(crate) awarded_on: NaiveDate,
    pub valid_until: NaiveDate,
    /// Shared with every award that names the same issuer (`State::share`).
    pub issuer_name: Arc<str>,
    /// Shared with every award of the same scheme (`State::share`).
    pub(crate) scheme: Arc<str>,
    pub(crate) framework_version: Option<String>,
    pub standing: Standing,
    pub(crate) expiry_recorded: bool,
    pub history: Vec<HistoryEntry>,
    /// Every credential signed for the award, oldest first; the last is current.
    pub credentials: Vec<IssuedCredential>,
    /// The log position of the award's latest event: its version, and its HTTP `ETag`.
    pub last_position: u64,
}

impl Award {
    /// The status list entry of the award's current credential, once one is issued.
    pub fn status_list_index(&self) -> Option<&str> {
        self.credentials
            .last()
            .map(|c| c.status_list_index.as_str())
    }

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
pub(crate) struct ProgrammeChange {
    pub(crate) phase: ProgrammePhase,
    pub(crate) effective_from: NaiveDate,
    pub(crate) reason: Reason,
    pub(crate) position: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Programme {
    /// Pauses, resumptions and the sunset, in the order they take effect.
    pub(crate) changes: Vec<ProgrammeChange>,
    pub cycles: Vec<Cycle>,
}

/// The programme's state on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ProgrammeState {
    pub(crate) phase: ProgrammePhase,
    /// When the current phase began (absent while running from the start).
    pub(crate) since: Option<NaiveDate>,
    pub(crate) reason: Option<Reason>,
}

impl Programme {
    pub(crate) fn state_on(&self, date: NaiveDate) -> ProgrammeState {
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

    pub(crate) fn last_change(&self) -> Option<&ProgrammeChange> {
        self.changes.last()
    }

    /// The changes recorded to take effect after `date` (a pause, resumption or end announced
    /// ahead), soonest first.
    pub(crate) fn scheduled_after(
        &self,
        date: NaiveDate,
    ) -> impl Iterator<Item = &ProgrammeChange> {
        self.changes.iter().filter(move |c| c.effective_from > date)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SigningKey {
    pub key_id: String,
    pub public_key_multibase: String,
    pub(crate) retired_at: Option<String>,
    pub(crate) revoked_since: Option<String>,
}

impl SigningKey {
    pub(crate) fn status(&self) -> &'static str {
        match (&self.revoked_since, &self.retired_at) {
            (Some(_), _) => "revoked",
            (None, Some(_)) => "retired",
            (None, None) => "active",
        }
    }
}

/// A credential signed for an award: where it is in the log and what the registry needs of it
/// without its text. The signed text stays in the log, read when asked for
/// (`Registry::credential_text`), so memory does not grow by a credential's 2.5 kB an award.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssuedCredential {
    /// The log position of its `CredentialIssued` entry, which holds its text.
    pub position: u64,
    /// Shared with every credential signed with the same key (`State::share`).
    pub key_id: Arc<str>,
    /// Its entry in the revocation status list (a reinstatement's credential has a new one).
    pub(crate) status_list_index: String,
    /// The address it names as its issuer's (`issuer.url`), shared by every credential that
    /// names the same one.
    pub(crate) issuer_url: Option<Arc<str>>,
}

/// An application and, once made, its decision. Private: never on a public route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Application {
    pub(crate) application_id: String,
    pub(crate) organisation_id: OrganisationId,
    pub(crate) cycle_id: String,
    pub(crate) level_sought: Level,
    pub(crate) submitted_on: NaiveDate,
    pub(crate) framework_version: String,
    pub(crate) manifest: Manifest,
    pub(crate) decision: Option<Decision>,
    pub(crate) last_position: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Decision {
    pub(crate) outcome: DecisionOutcome,
    pub(crate) feedback: String,
    pub(crate) decided_on: NaiveDate,
}

/// Everything the log says, folded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    pub organisations: BTreeMap<OrganisationId, Organisation>,
    /// Shared, so that a read hands out the award without copying it; the fold copies one only
    /// when a reader still holds it (`Arc::make_mut`).
    pub awards: BTreeMap<CertificateNumber, Arc<Award>>,
    pub programme: Programme,
    /// Every cycle as it was scheduled, with the log position that scheduled it (a cycle
    /// scheduled again appears again): the public announcements the feeds list.
    pub(crate) cycles_scheduled: Vec<(u64, Cycle)>,
    pub(crate) keys: Vec<SigningKey>,
    /// Drop-in sessions attended, by organisation (private).
    pub(crate) drop_ins: BTreeMap<OrganisationId, Vec<NaiveDate>>,
    /// Applications by id (private).
    pub(crate) applications: BTreeMap<String, Application>,
    /// The people allowed into the console, by id (private).
    pub staff: BTreeMap<StaffId, StaffMember>,
    /// The base URL the registry is reached at, once recorded: what every process signs for.
    pub public_url: Option<PublicUrl>,
    /// One copy of each text that many awards or credentials repeat (an issuer's name and
    /// address, a scheme, a key id): what `share` hands out.
    shared: HashSet<Arc<str>>,
    /// How many events have been applied (the next position).
    pub size: u64,
    /// The organisations by ODS code: an index of `organisations`, kept by
    /// `insert_organisation` and `set_ods_code`, so a look-up by code scans nothing.
    by_ods: BTreeMap<OdsCode, BTreeSet<OrganisationId>>,
}

impl State {
    /// The one copy of `text` the state keeps, made on first use: an issuer's name, a scheme or
    /// a key id is the same for thousands of awards, and held once.
    pub(crate) fn share(&mut self, text: &str) -> Arc<str> {
        match self.shared.get(text) {
            Some(kept) => kept.clone(),
            None => {
                let kept: Arc<str> = Arc::from(text);
                self.shared.insert(kept.clone());
                kept
            }
        }
    }

    /// The organisation's current award: its newest one that has been neither revoked nor
    /// superseded.
    pub fn current_award(&self, organisation: OrganisationId) -> Option<&Award> {
        let org = self.organisations.get(&organisation)?;
        org.awards
            .iter()
            .rev()
            .filter_map(|n| self.awards.get(n).map(|a| &**a))
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
        let first = self.by_ods.get(ods)?.first()?;
        self.organisations.get(first)
    }

    /// Adds (or replaces) an organisation, keeping the index by ODS code.
    pub(crate) fn insert_organisation(&mut self, organisation: Organisation) {
        if let Some(code) = &organisation.ods_code {
            self.by_ods
                .entry(code.clone())
                .or_default()
                .insert(organisation.id);
        }
        if let Some(old) = self.organisations.insert(organisation.id, organisation)
            && let Some(code) = old.ods_code
        {
            let id = old.id;
            if self.organisations[&id].ods_code.as_ref() != Some(&code) {
                self.unindex_ods(&code, id);
            }
        }
    }

    /// Gives an organisation a new ODS code, keeping the index by code.
    pub(crate) fn set_ods_code(&mut self, id: OrganisationId, code: OdsCode) {
        let Some(org) = self.organisations.get_mut(&id) else {
            return;
        };
        if let Some(old) = org.ods_code.replace(code.clone()) {
            self.unindex_ods(&old, id);
        }
        self.by_ods.entry(code).or_default().insert(id);
    }

    fn unindex_ods(&mut self, code: &OdsCode, id: OrganisationId) {
        if let Some(ids) = self.by_ods.get_mut(code) {
            ids.remove(&id);
            if ids.is_empty() {
                self.by_ods.remove(code);
            }
        }
    }
}
