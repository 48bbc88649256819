//! `Command`: what someone asks the registry to do, one variant per area, each holding that
//! area's own command type, already made of valid value types; and the streams a command's
//! decision reads, which the store checks at append time. `decide` routes a command once, by its
//! area, and each area's rules match only their own commands: the compiler checks the pairing.

use chrono::NaiveDate;

use crate::domain::applications::Manifest;
use crate::domain::events::{
    AwardSource, Cycle, KEYS_STREAM, PROGRAMME_STREAM, REGISTRY_STREAM, organisation_stream,
};
use crate::domain::framework::Framework;
use crate::domain::staff::{STAFF_STREAM, StaffAdded, StaffId, StaffRole};
use crate::domain::state::{ProgrammePhase, State};
use crate::domain::types::{
    CertificateNumber, Level, Name, OdsCode, OrganisationId, OrganisationKind, PrivateNote,
    PublicUrl, Reason, Region,
};

#[derive(Debug, Clone)]
pub enum Command {
    Organisation(OrganisationCommand),
    Award(AwardCommand),
    Programme(ProgrammeCommand),
    Key(KeyCommand),
    Address(AddressCommand),
    Application(ApplicationCommand),
    Staff(StaffCommand),
}

/// Keeping the staff list: who may sign in to the console, and with which role.
#[derive(Debug, Clone)]
pub enum StaffCommand {
    Add(StaffAdded),
    SetRole { staff_id: StaffId, role: StaffRole },
    Remove { staff_id: StaffId },
}

/// Registering and amending organisations.
#[derive(Debug, Clone)]
pub enum OrganisationCommand {
    Register {
        organisation_id: OrganisationId,
        name: Name,
        ods_code: Option<OdsCode>,
        region: Region,
        kind: OrganisationKind,
    },
    Amend {
        organisation_id: OrganisationId,
        name: Option<Name>,
        ods_code: Option<OdsCode>,
        region: Option<Region>,
        reason: Reason,
    },
}

/// Issuing an award and changing it afterwards. A change of an award's standing or name
/// carries a public `reason` (shown in its history for good) and, apart from it, an optional
/// `private_note` (a private event); `expected` is the award's version the caller saw.
#[derive(Debug, Clone)]
pub enum AwardCommand {
    Issue(IssueAward),
    Suspend {
        certificate_number: CertificateNumber,
        reason: Reason,
        private_note: Option<PrivateNote>,
        expected: Option<u64>,
    },
    Reinstate {
        certificate_number: CertificateNumber,
        reason: Option<Reason>,
        private_note: Option<PrivateNote>,
        expected: Option<u64>,
    },
    Revoke {
        certificate_number: CertificateNumber,
        reason: Reason,
        private_note: Option<PrivateNote>,
        expected: Option<u64>,
    },
    Amend {
        certificate_number: CertificateNumber,
        organisation_name: Name,
        reason: Reason,
        private_note: Option<PrivateNote>,
        expected: Option<u64>,
    },
    RecordExpiry {
        certificate_number: CertificateNumber,
    },
}

/// A new award, as asked for (the rules that issue it take it whole).
#[derive(Debug, Clone)]
pub struct IssueAward {
    pub certificate_number: CertificateNumber,
    pub organisation_id: OrganisationId,
    pub level: Level,
    pub awarded_on: NaiveDate,
    /// The issuer's name as it was on the award date; derived from the date when absent.
    pub issuer_name: Option<String>,
    pub framework_version: Option<String>,
    pub source: AwardSource,
}

/// The programme's calendar: its cycles, and pausing, resuming and sunsetting it.
#[derive(Debug, Clone)]
pub enum ProgrammeCommand {
    ScheduleCycle(Cycle),
    Pause {
        effective_from: NaiveDate,
        reason: Reason,
    },
    Resume {
        effective_from: NaiveDate,
        reason: Reason,
    },
    Sunset {
        effective_from: NaiveDate,
        reason: Reason,
    },
}

/// The registry's signing keys.
#[derive(Debug, Clone)]
pub enum KeyCommand {
    Add {
        key_id: String,
        public_key_multibase: String,
    },
    Retire {
        key_id: String,
        at: String,
    },
    Revoke {
        key_id: String,
        compromised_since: String,
        reason: Reason,
    },
}

/// The registry's public address.
#[derive(Debug, Clone)]
pub enum AddressCommand {
    /// Records the address when none is recorded yet; the same address again changes nothing,
    /// another is refused (changing it is `Change`).
    Record { public_url: PublicUrl },
    /// Moves the registry to another public address, on purpose and saying why.
    Change {
        public_url: PublicUrl,
        reason: Reason,
    },
}

/// Drop-in sessions, applications and their decisions.
#[derive(Debug, Clone)]
pub enum ApplicationCommand {
    RecordDropIn {
        organisation_id: OrganisationId,
        attended_on: NaiveDate,
    },
    Submit(SubmitApplication),
    Decide(DecideApplication),
}

/// An application with its evidence, against a cycle and the framework.
#[derive(Debug, Clone)]
pub struct SubmitApplication {
    pub application_id: String,
    pub organisation_id: OrganisationId,
    pub cycle_id: String,
    pub level_sought: Level,
    pub manifest: Manifest,
    pub framework: Framework,
}

/// A reviewer's decision on an application.
#[derive(Debug, Clone)]
pub struct DecideApplication {
    pub application_id: String,
    /// `Some(level)` to award at that level, `None` not to award.
    pub award: Option<Level>,
    /// The new award's number, when awarding.
    pub certificate_number: CertificateNumber,
    pub feedback: String,
    pub framework: Framework,
}

impl Command {
    /// The command that moves the programme into `phase` from a day.
    pub(crate) fn change_programme(
        phase: ProgrammePhase,
        effective_from: NaiveDate,
        reason: Reason,
    ) -> Command {
        Command::Programme(match phase {
            ProgrammePhase::Paused => ProgrammeCommand::Pause {
                effective_from,
                reason,
            },
            ProgrammePhase::Running => ProgrammeCommand::Resume {
                effective_from,
                reason,
            },
            ProgrammePhase::Sunset => ProgrammeCommand::Sunset {
                effective_from,
                reason,
            },
        })
    }
}

/// The streams a command's decision read beyond those its events are written to: the store
/// checks they are unchanged at append time, so a decision is never made on a stale rule.
pub(crate) fn streams_read(command: &Command, state: &State) -> Vec<String> {
    let organisation_of_award = |number: &CertificateNumber| {
        state
            .awards
            .get(number)
            .map(|a| vec![organisation_stream(a.organisation_id)])
            .unwrap_or_default()
    };
    match command {
        Command::Organisation(_) => Vec::new(),
        Command::Award(command) => match command {
            AwardCommand::Issue(issue) => vec![
                PROGRAMME_STREAM.to_owned(),
                organisation_stream(issue.organisation_id),
            ],
            AwardCommand::Suspend {
                certificate_number, ..
            }
            | AwardCommand::Reinstate {
                certificate_number, ..
            }
            | AwardCommand::Revoke {
                certificate_number, ..
            }
            | AwardCommand::Amend {
                certificate_number, ..
            }
            | AwardCommand::RecordExpiry { certificate_number } => {
                organisation_of_award(certificate_number)
            }
        },
        Command::Programme(_) => vec![PROGRAMME_STREAM.to_owned()],
        Command::Key(_) => vec![KEYS_STREAM.to_owned()],
        Command::Address(_) => vec![REGISTRY_STREAM.to_owned()],
        Command::Staff(_) => vec![STAFF_STREAM.to_owned()],
        Command::Application(command) => match command {
            ApplicationCommand::RecordDropIn { .. } => Vec::new(),
            ApplicationCommand::Submit(submit) => vec![
                PROGRAMME_STREAM.to_owned(),
                organisation_stream(submit.organisation_id),
            ],
            ApplicationCommand::Decide(decision) => {
                let mut streams = vec![PROGRAMME_STREAM.to_owned()];
                if let Some(a) = state.applications.get(&decision.application_id) {
                    streams.push(organisation_stream(a.organisation_id));
                }
                streams
            }
        },
    }
}
