//! `Command`: what someone asks the registry to do, one variant per request, each already made
//! of valid value types; and the streams a command's decision reads, which the store checks at
//! append time.

use chrono::NaiveDate;

use crate::domain::applications::Manifest;
use crate::domain::events::{AwardSource, Cycle, PROGRAMME_STREAM, organisation_stream};
use crate::domain::framework::Framework;
use crate::domain::state::{ProgrammePhase, State};
use crate::domain::types::{
    CertificateNumber, Level, Name, OdsCode, OrganisationId, OrganisationKind, PrivateNote,
    PublicUrl, Reason, Region,
};

#[derive(Debug, Clone)]
pub enum Command {
    RegisterOrganisation {
        organisation_id: OrganisationId,
        name: Name,
        ods_code: Option<OdsCode>,
        region: Region,
        kind: OrganisationKind,
    },
    AmendOrganisation {
        organisation_id: OrganisationId,
        name: Option<Name>,
        ods_code: Option<OdsCode>,
        region: Option<Region>,
        reason: Reason,
    },
    IssueAward {
        certificate_number: CertificateNumber,
        organisation_id: OrganisationId,
        level: Level,
        awarded_on: NaiveDate,
        /// The issuer's name as it was on the award date; derived from the date when absent.
        issuer_name: Option<String>,
        framework_version: Option<String>,
        source: AwardSource,
    },
    /// A change of an award's standing or name carries a public `reason` (shown in its history
    /// for good) and, apart from it, an optional `private_note` (a private event).
    SuspendAward {
        certificate_number: CertificateNumber,
        reason: Reason,
        private_note: Option<PrivateNote>,
        expected: Option<u64>,
    },
    ReinstateAward {
        certificate_number: CertificateNumber,
        reason: Option<Reason>,
        private_note: Option<PrivateNote>,
        expected: Option<u64>,
    },
    RevokeAward {
        certificate_number: CertificateNumber,
        reason: Reason,
        private_note: Option<PrivateNote>,
        expected: Option<u64>,
    },
    AmendAward {
        certificate_number: CertificateNumber,
        organisation_name: Name,
        reason: Reason,
        private_note: Option<PrivateNote>,
        expected: Option<u64>,
    },
    RecordExpiry {
        certificate_number: CertificateNumber,
    },
    ScheduleCycle(Cycle),
    PauseProgramme {
        effective_from: NaiveDate,
        reason: Reason,
    },
    ResumeProgramme {
        effective_from: NaiveDate,
        reason: Reason,
    },
    SunsetProgramme {
        effective_from: NaiveDate,
        reason: Reason,
    },
    AddSigningKey {
        key_id: String,
        public_key_multibase: String,
    },
    RetireSigningKey {
        key_id: String,
        at: String,
    },
    RevokeSigningKey {
        key_id: String,
        compromised_since: String,
        reason: Reason,
    },
    RecordDropIn {
        organisation_id: OrganisationId,
        attended_on: NaiveDate,
    },
    SubmitApplication {
        application_id: String,
        organisation_id: OrganisationId,
        cycle_id: String,
        level_sought: Level,
        manifest: Manifest,
        framework: Framework,
    },
    /// Records the registry's public address when none is recorded yet; the same address again
    /// changes nothing, another is refused (changing it is `ChangeRegistryAddress`).
    RecordRegistryAddress {
        public_url: PublicUrl,
    },
    /// Moves the registry to another public address, on purpose and saying why.
    ChangeRegistryAddress {
        public_url: PublicUrl,
        reason: Reason,
    },
    DecideApplication {
        application_id: String,
        /// `Some(level)` to award at that level, `None` not to award.
        award: Option<Level>,
        /// The new award's number, when awarding.
        certificate_number: CertificateNumber,
        feedback: String,
        framework: Framework,
    },
}

impl Command {
    /// The command that moves the programme into `phase` from a day.
    pub fn change_programme(
        phase: ProgrammePhase,
        effective_from: NaiveDate,
        reason: Reason,
    ) -> Command {
        match phase {
            ProgrammePhase::Paused => Command::PauseProgramme {
                effective_from,
                reason,
            },
            ProgrammePhase::Running => Command::ResumeProgramme {
                effective_from,
                reason,
            },
            ProgrammePhase::Sunset => Command::SunsetProgramme {
                effective_from,
                reason,
            },
        }
    }
}

/// The streams a command's decision read beyond those its events are written to: the store
/// checks they are unchanged at append time, so a decision is never made on a stale rule.
pub fn streams_read(command: &Command, state: &State) -> Vec<String> {
    match command {
        Command::IssueAward {
            organisation_id, ..
        } => vec![
            PROGRAMME_STREAM.to_owned(),
            organisation_stream(*organisation_id),
        ],
        Command::SuspendAward {
            certificate_number, ..
        }
        | Command::ReinstateAward {
            certificate_number, ..
        }
        | Command::RevokeAward {
            certificate_number, ..
        }
        | Command::AmendAward {
            certificate_number, ..
        }
        | Command::RecordExpiry { certificate_number } => state
            .awards
            .get(certificate_number)
            .map(|a| vec![organisation_stream(a.organisation_id)])
            .unwrap_or_default(),
        Command::RegisterOrganisation { .. } | Command::AmendOrganisation { .. } => Vec::new(),
        Command::ScheduleCycle(_)
        | Command::PauseProgramme { .. }
        | Command::ResumeProgramme { .. }
        | Command::SunsetProgramme { .. } => vec![PROGRAMME_STREAM.to_owned()],
        Command::AddSigningKey { .. }
        | Command::RetireSigningKey { .. }
        | Command::RevokeSigningKey { .. } => vec![crate::domain::events::KEYS_STREAM.to_owned()],
        Command::RecordRegistryAddress { .. } | Command::ChangeRegistryAddress { .. } => {
            vec![crate::domain::events::REGISTRY_STREAM.to_owned()]
        }
        Command::RecordDropIn { .. } => Vec::new(),
        Command::SubmitApplication {
            organisation_id, ..
        } => vec![
            PROGRAMME_STREAM.to_owned(),
            organisation_stream(*organisation_id),
        ],
        Command::DecideApplication { application_id, .. } => {
            let mut streams = vec![PROGRAMME_STREAM.to_owned()];
            if let Some(a) = state.applications.get(application_id) {
                streams.push(organisation_stream(a.organisation_id));
            }
            streams
        }
    }
}
