//! `decide`: the rules. Given the state, a command and the context (today's UK date), it returns
//! the events that record the command, or the rule the command breaks. No clock, no randomness,
//! no I/O: new ids arrive inside the command.

use chrono::NaiveDate;

use super::applications::{DROP_IN_WINDOW_DAYS, Framework, Manifest, eligibility};
use super::events::{AwardSource, Cycle, Event, Outcome};
use super::events::{PROGRAMME_STREAM, organisation_stream};
use super::state::{Award, ProgrammePhase, Standing, State};
use super::types::{
    CertificateNumber, Level, Lines, Name, OdsCode, OrganisationId, OrganisationKind, PublicUrl,
    Reason, Region, SCHEME, date_in_range, expiry_of, issuer_name_on, long_date, printable_text,
    valid_until_of,
};

/// What `decide` needs from outside: the day it is in the UK.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    pub today: NaiveDate,
}

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
    SuspendAward {
        certificate_number: CertificateNumber,
        reason: Reason,
        expected: Option<u64>,
    },
    ReinstateAward {
        certificate_number: CertificateNumber,
        expected: Option<u64>,
    },
    RevokeAward {
        certificate_number: CertificateNumber,
        reason: Reason,
        expected: Option<u64>,
    },
    AmendAward {
        certificate_number: CertificateNumber,
        organisation_name: Name,
        reason: Reason,
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

/// A rule the command breaks, in words a person understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("no organisation has the id {0}")]
    OrganisationNotFound(OrganisationId),
    #[error("no award has the certificate number {0}")]
    AwardNotFound(CertificateNumber),
    #[error("an organisation with the id {0} is already registered")]
    OrganisationExists(OrganisationId),
    #[error("the ODS code {0} already belongs to another organisation in the register")]
    OdsCodeTaken(OdsCode),
    #[error("the certificate number {0} is already in use")]
    CertificateNumberTaken(CertificateNumber),
    #[error(
        "the programme is paused from {}: no award can be made, and no cycle scheduled, on or after that date until it resumes; existing awards remain valid until their expiry date",
        long_date(*since)
    )]
    ProgrammePaused { since: NaiveDate },
    #[error(
        "the programme ended on {}: no award can be made on or after that date",
        long_date(*since)
    )]
    ProgrammeSunset { since: NaiveDate },
    #[error(
        "an award cannot be dated in the future: {} is after today ({})",
        long_date(*awarded_on),
        long_date(*today)
    )]
    AwardDateInFuture {
        awarded_on: NaiveDate,
        today: NaiveDate,
    },
    #[error(
        "the organisation's current award {current} is dated {}, which is not before {}: a new award must be newer than the one it replaces",
        long_date(*current_awarded_on),
        long_date(*awarded_on)
    )]
    NotNewerThanCurrent {
        current: CertificateNumber,
        current_awarded_on: NaiveDate,
        awarded_on: NaiveDate,
    },
    #[error(
        "the award was changed since you read it: expected version {expected}, it is now {actual}; read it again and retry"
    )]
    VersionMismatch { expected: u64, actual: u64 },
    #[error("award {number} is {standing}: {action} is not possible")]
    InvalidTransition {
        number: CertificateNumber,
        standing: &'static str,
        action: &'static str,
    },
    #[error("award {number} expired on {}: {action} an expired award changes nothing", long_date(*expired_on))]
    AwardExpired {
        number: CertificateNumber,
        expired_on: NaiveDate,
        action: &'static str,
    },
    #[error("award {number} does not expire until {}; its expiry cannot be recorded yet", long_date(*expires_on))]
    ExpiryNotDue {
        number: CertificateNumber,
        expires_on: NaiveDate,
    },
    #[error("the expiry of award {0} is already recorded")]
    ExpiryAlreadyRecorded(CertificateNumber),
    #[error("the amendment changes nothing")]
    NothingToAmend,
    #[error("the programme is already {0}")]
    ProgrammeAlreadyInPhase(&'static str),
    #[error("the programme has ended for good; it cannot be paused or resumed")]
    ProgrammeEnded,
    #[error(
        "a programme change must take effect on or after the last one ({}), not {}",
        long_date(*last),
        long_date(*effective_from)
    )]
    ProgrammeChangeOutOfOrder {
        last: NaiveDate,
        effective_from: NaiveDate,
    },
    #[error("the cycle's dates are out of order: {0}")]
    CycleDatesOutOfOrder(&'static str),
    #[error(
        "a cycle id is 1 to 64 letters, digits, '-', '_' or '/'; a name is 1 to 200 printable characters"
    )]
    CycleInvalid,
    #[error("a key with the id {0} already exists: key ids are never reused")]
    KeyIdTaken(String),
    #[error("no cycle has the id {0:?}")]
    CycleNotFound(String),
    #[error(
        "cycle {cycle} takes applications from {} to {} (its deadline); today is {}",
        long_date(*opens),
        long_date(*deadline),
        long_date(*today)
    )]
    CycleNotOpen {
        cycle: String,
        opens: NaiveDate,
        deadline: NaiveDate,
        today: NaiveDate,
    },
    #[error("{}", drop_in_message(*last, *today))]
    DropInRequired {
        last: Option<NaiveDate>,
        today: NaiveDate,
    },
    #[error("a drop-in session cannot be recorded in the future ({})", long_date(*.0))]
    DropInInFuture(NaiveDate),
    #[error("the organisation already has an open application ({0}): one application at a time")]
    ApplicationAlreadyOpen(String),
    #[error("the organisation already applied in cycle {0}: one application per cycle")]
    ApplicationAlreadyInCycle(String),
    #[error("the evidence does not meet {} rule(s) for {}: {}", failures.len(), level.title(), failures.iter().map(|(_, m)| m.as_str()).collect::<Vec<_>>().join("; "))]
    EvidenceRulesFailed {
        level: Level,
        failures: Vec<(String, String)>,
    },
    #[error("no application has the id {0}")]
    ApplicationNotFound(String),
    #[error("application {0} is already decided")]
    ApplicationAlreadyDecided(String),
    #[error(
        "decisions in cycle {cycle} are made from {} to {}; today is {}",
        long_date(*from),
        long_date(*until),
        long_date(*today)
    )]
    OutsideDecisionWindow {
        cycle: String,
        from: NaiveDate,
        until: NaiveDate,
        today: NaiveDate,
    },
    #[error("the application sought {sought}; an award cannot be at a higher level ({level})", sought = sought.as_str(), level = level.as_str())]
    LevelAboveSought { level: Level, sought: Level },
    #[error("the evidence supports {}; an award cannot be at {}", highest.map_or("no level".to_owned(), |l| l.as_str().to_owned()), level.as_str())]
    LevelAboveEligible {
        level: Level,
        highest: Option<Level>,
    },
    #[error("a decision needs written feedback: {0}")]
    FeedbackRequired(String),
    #[error("the issuer's name is {0}")]
    IssuerNameInvalid(String),
    #[error(
        "an award dated {} was made by {expected}, not {given:?}: Health Education England became part of NHS England on 1 April 2023 (leave the issuer empty to name it from the date)",
        long_date(*awarded_on)
    )]
    IssuerWrongForDate {
        given: String,
        expected: &'static str,
        awarded_on: NaiveDate,
    },
    #[error(
        "a framework version is 1 to 40 letters, digits, '.', '-' or '_' (such as sample-1); {0:?} is not"
    )]
    FrameworkVersionInvalid(String),
    #[error(
        "{field} must be between {} and {}; {date} is not",
        super::types::EARLIEST_DATE,
        super::types::LATEST_DATE
    )]
    DateOutOfRange {
        field: &'static str,
        date: NaiveDate,
    },
    #[error("no signing key has the id {0}")]
    KeyNotFound(String),
    #[error(
        "this registry is recorded as reached at {recorded} (its credentials, did:web and log origin name it), not {given}; to move it, change the address on purpose ('wexqs address set {given} --reason ...')"
    )]
    RegistryAddressDiffers {
        recorded: PublicUrl,
        given: PublicUrl,
    },
    #[error("the registry's address is already {0}")]
    RegistryAddressUnchanged(PublicUrl),
    #[error("the registry has no address recorded yet: the first 'wexqs serve' records one")]
    RegistryAddressNotRecorded,
    #[error("the key {key_id} is already {status}")]
    KeyNotActive {
        key_id: String,
        status: &'static str,
    },
}

impl DomainError {
    /// The stable machine code of the rule.
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::OrganisationNotFound(_) => "organisation_not_found",
            DomainError::AwardNotFound(_) => "award_not_found",
            DomainError::OrganisationExists(_) => "organisation_exists",
            DomainError::OdsCodeTaken(_) => "ods_code_taken",
            DomainError::CertificateNumberTaken(_) => "certificate_number_taken",
            DomainError::ProgrammePaused { .. } => "programme_paused",
            DomainError::ProgrammeSunset { .. } => "programme_sunset",
            DomainError::AwardDateInFuture { .. } => "award_date_in_future",
            DomainError::NotNewerThanCurrent { .. } => "not_newer_than_current_award",
            DomainError::VersionMismatch { .. } => "version_mismatch",
            DomainError::InvalidTransition { .. } => "invalid_transition",
            DomainError::AwardExpired { .. } => "award_expired",
            DomainError::ExpiryNotDue { .. } => "expiry_not_due",
            DomainError::ExpiryAlreadyRecorded(_) => "expiry_already_recorded",
            DomainError::NothingToAmend => "nothing_to_amend",
            DomainError::ProgrammeAlreadyInPhase(_) => "programme_already_in_phase",
            DomainError::ProgrammeEnded => "programme_ended",
            DomainError::ProgrammeChangeOutOfOrder { .. } => "programme_change_out_of_order",
            DomainError::CycleDatesOutOfOrder(_) => "cycle_dates_out_of_order",
            DomainError::CycleInvalid => "cycle_invalid",
            DomainError::KeyIdTaken(_) => "key_id_taken",
            DomainError::KeyNotFound(_) => "key_not_found",
            DomainError::RegistryAddressDiffers { .. } => "registry_address_differs",
            DomainError::RegistryAddressUnchanged(_) => "registry_address_unchanged",
            DomainError::RegistryAddressNotRecorded => "registry_address_not_recorded",
            DomainError::KeyNotActive { .. } => "key_not_active",
            DomainError::CycleNotFound(_) => "cycle_not_found",
            DomainError::CycleNotOpen { .. } => "cycle_not_open",
            DomainError::DropInRequired { .. } => "drop_in_required",
            DomainError::DropInInFuture(_) => "drop_in_in_future",
            DomainError::ApplicationAlreadyOpen(_) => "application_already_open",
            DomainError::ApplicationAlreadyInCycle(_) => "application_already_in_cycle",
            DomainError::EvidenceRulesFailed { .. } => "evidence_rules_failed",
            DomainError::ApplicationNotFound(_) => "application_not_found",
            DomainError::ApplicationAlreadyDecided(_) => "application_already_decided",
            DomainError::OutsideDecisionWindow { .. } => "outside_decision_window",
            DomainError::LevelAboveSought { .. } => "level_above_sought",
            DomainError::LevelAboveEligible { .. } => "level_above_eligible",
            DomainError::FeedbackRequired(_) => "feedback_required",
            DomainError::IssuerNameInvalid(_) => "issuer_name_invalid",
            DomainError::IssuerWrongForDate { .. } => "issuer_wrong_for_date",
            DomainError::FrameworkVersionInvalid(_) => "framework_version_invalid",
            DomainError::DateOutOfRange { .. } => "date_out_of_range",
        }
    }

    /// What kind of refusal this is, which the HTTP layer maps to a status.
    pub fn kind(&self) -> ErrorKind {
        match self {
            DomainError::OrganisationNotFound(_)
            | DomainError::AwardNotFound(_)
            | DomainError::KeyNotFound(_)
            | DomainError::CycleNotFound(_)
            | DomainError::ApplicationNotFound(_) => ErrorKind::NotFound,
            DomainError::VersionMismatch { .. } => ErrorKind::Precondition,
            DomainError::OrganisationExists(_)
            | DomainError::OdsCodeTaken(_)
            | DomainError::CertificateNumberTaken(_)
            | DomainError::InvalidTransition { .. }
            | DomainError::ExpiryAlreadyRecorded(_)
            | DomainError::ProgrammeAlreadyInPhase(_)
            | DomainError::ProgrammeEnded
            | DomainError::KeyIdTaken(_)
            | DomainError::KeyNotActive { .. }
            | DomainError::ApplicationAlreadyOpen(_)
            | DomainError::ApplicationAlreadyInCycle(_)
            | DomainError::ApplicationAlreadyDecided(_)
            | DomainError::RegistryAddressDiffers { .. }
            | DomainError::RegistryAddressUnchanged(_) => ErrorKind::Conflict,
            _ => ErrorKind::Rule,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    Conflict,
    Precondition,
    Rule,
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
        | Command::RevokeSigningKey { .. } => vec![super::events::KEYS_STREAM.to_owned()],
        Command::RecordRegistryAddress { .. } | Command::ChangeRegistryAddress { .. } => {
            vec![super::events::REGISTRY_STREAM.to_owned()]
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

pub fn decide(state: &State, command: Command, ctx: &Context) -> Result<Vec<Event>, DomainError> {
    check_inputs(&command)?;
    match command {
        Command::RegisterOrganisation {
            organisation_id,
            name,
            ods_code,
            region,
            kind,
        } => {
            if state.organisations.contains_key(&organisation_id) {
                return Err(DomainError::OrganisationExists(organisation_id));
            }
            if let Some(ods) = &ods_code
                && state.organisation_by_ods(ods).is_some()
            {
                return Err(DomainError::OdsCodeTaken(ods.clone()));
            }
            Ok(vec![Event::OrganisationRegistered {
                organisation_id,
                name,
                ods_code,
                region,
                kind,
            }])
        }
        Command::AmendOrganisation {
            organisation_id,
            name,
            ods_code,
            region,
            reason,
        } => {
            let org = state
                .organisations
                .get(&organisation_id)
                .ok_or(DomainError::OrganisationNotFound(organisation_id))?;
            if let Some(ods) = &ods_code
                && let Some(other) = state.organisation_by_ods(ods)
                && other.id != organisation_id
            {
                return Err(DomainError::OdsCodeTaken(ods.clone()));
            }
            let name = name.filter(|n| *n != org.name);
            let ods_code = ods_code.filter(|c| Some(c) != org.ods_code.as_ref());
            let region = region.filter(|r| *r != org.region);
            if name.is_none() && ods_code.is_none() && region.is_none() {
                return Err(DomainError::NothingToAmend);
            }
            Ok(vec![Event::OrganisationAmended {
                organisation_id,
                name,
                ods_code,
                region,
                reason,
            }])
        }
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
        Command::ScheduleCycle(cycle) => {
            check_cycle(&cycle)?;
            refuse_if_not_running(state, cycle.submissions_open_on)?;
            refuse_if_not_running(state, cycle.decisions_until)?;
            Ok(vec![Event::CycleScheduled(cycle)])
        }
        Command::PauseProgramme {
            effective_from,
            reason,
        } => {
            let phase = programme_change_allowed(state, effective_from)?;
            if phase == ProgrammePhase::Paused {
                return Err(DomainError::ProgrammeAlreadyInPhase("paused"));
            }
            Ok(vec![Event::ProgrammePaused {
                effective_from,
                reason,
            }])
        }
        Command::ResumeProgramme {
            effective_from,
            reason,
        } => {
            let phase = programme_change_allowed(state, effective_from)?;
            if phase == ProgrammePhase::Running {
                return Err(DomainError::ProgrammeAlreadyInPhase("running"));
            }
            Ok(vec![Event::ProgrammeResumed {
                effective_from,
                reason,
            }])
        }
        Command::SunsetProgramme {
            effective_from,
            reason,
        } => {
            programme_change_allowed(state, effective_from)?;
            Ok(vec![Event::ProgrammeSunset {
                effective_from,
                reason,
            }])
        }
        Command::AddSigningKey {
            key_id,
            public_key_multibase,
        } => {
            if state.keys.iter().any(|k| k.key_id == key_id) {
                return Err(DomainError::KeyIdTaken(key_id));
            }
            Ok(vec![Event::SigningKeyAdded {
                key_id,
                public_key_multibase,
            }])
        }
        Command::RecordRegistryAddress { public_url } => match &state.public_url {
            None => Ok(vec![Event::RegistryAddressRecorded {
                public_url,
                previous: None,
                reason: None,
            }]),
            Some(recorded) if *recorded == public_url => Ok(Vec::new()),
            Some(recorded) => Err(DomainError::RegistryAddressDiffers {
                recorded: recorded.clone(),
                given: public_url,
            }),
        },
        Command::ChangeRegistryAddress { public_url, reason } => match &state.public_url {
            None => Err(DomainError::RegistryAddressNotRecorded),
            Some(recorded) if *recorded == public_url => {
                Err(DomainError::RegistryAddressUnchanged(public_url))
            }
            Some(recorded) => Ok(vec![Event::RegistryAddressRecorded {
                public_url,
                previous: Some(recorded.clone()),
                reason: Some(reason),
            }]),
        },
        Command::RecordDropIn {
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
        Command::SubmitApplication {
            application_id,
            organisation_id,
            cycle_id,
            level_sought,
            manifest,
            framework,
        } => submit(
            state,
            ctx,
            application_id,
            organisation_id,
            cycle_id,
            level_sought,
            manifest,
            &framework,
        ),
        Command::DecideApplication {
            application_id,
            award,
            certificate_number,
            feedback,
            framework,
        } => decide_application(
            state,
            ctx,
            application_id,
            award,
            certificate_number,
            feedback,
            &framework,
        ),
        Command::RetireSigningKey { key_id, at } => {
            let key = state
                .keys
                .iter()
                .find(|k| k.key_id == key_id)
                .ok_or_else(|| DomainError::KeyNotFound(key_id.clone()))?;
            if key.status() != "active" {
                return Err(DomainError::KeyNotActive {
                    key_id,
                    status: key.status(),
                });
            }
            Ok(vec![Event::SigningKeyRetired {
                key_id,
                retired_at: at,
            }])
        }
        Command::RevokeSigningKey {
            key_id,
            compromised_since,
            reason,
        } => {
            let key = state
                .keys
                .iter()
                .find(|k| k.key_id == key_id)
                .ok_or_else(|| DomainError::KeyNotFound(key_id.clone()))?;
            if key.revoked_since.is_some() {
                return Err(DomainError::KeyNotActive {
                    key_id,
                    status: "revoked",
                });
            }
            Ok(vec![Event::SigningKeyRevoked {
                key_id,
                compromised_since,
                reason,
            }])
        }
    }
}

/// No award is made, and no cycle runs, on a day the programme is paused or after its sunset.
/// The checks every command's free text and dates pass before any rule is looked at: texts
/// that are not already value types, and every date within the registry's bounds.
fn check_inputs(command: &Command) -> Result<(), DomainError> {
    let in_range = |field: &'static str, date: NaiveDate| {
        date_in_range(date)
            .map(|_| ())
            .map_err(|_| DomainError::DateOutOfRange { field, date })
    };
    match command {
        Command::IssueAward {
            awarded_on,
            issuer_name,
            framework_version,
            ..
        } => {
            in_range("the award date", *awarded_on)?;
            if let Some(issuer) = issuer_name {
                printable_text(issuer, 2, 200, Lines::One)
                    .map_err(DomainError::IssuerNameInvalid)?;
                issuer_fits_date(issuer, *awarded_on)?;
            }
            if let Some(version) = framework_version {
                let ok = (1..=40).contains(&version.len())
                    && version
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c));
                if !ok {
                    return Err(DomainError::FrameworkVersionInvalid(version.clone()));
                }
            }
            Ok(())
        }
        Command::PauseProgramme { effective_from, .. }
        | Command::ResumeProgramme { effective_from, .. }
        | Command::SunsetProgramme { effective_from, .. } => {
            in_range("the date it takes effect", *effective_from)
        }
        Command::RecordDropIn { attended_on, .. } => in_range("the drop-in date", *attended_on),
        Command::ScheduleCycle(cycle) => [
            cycle.submissions_open_on,
            cycle.submission_deadline,
            cycle.review_from,
            cycle.review_until,
            cycle.decisions_from,
            cycle.decisions_until,
        ]
        .into_iter()
        .try_for_each(|d| in_range("a cycle's date", d)),
        _ => Ok(()),
    }
}

fn refuse_if_not_running(state: &State, date: NaiveDate) -> Result<(), DomainError> {
    let on = state.programme.state_on(date);
    let since = on.since.unwrap_or(date);
    match on.phase {
        ProgrammePhase::Running => Ok(()),
        ProgrammePhase::Paused => Err(DomainError::ProgrammePaused { since }),
        ProgrammePhase::Sunset => Err(DomainError::ProgrammeSunset { since }),
    }
}

/// The programme's latest phase, if a change taking effect on `effective_from` may follow it.
fn programme_change_allowed(
    state: &State,
    effective_from: NaiveDate,
) -> Result<ProgrammePhase, DomainError> {
    let Some(last) = state.programme.last_change() else {
        return Ok(ProgrammePhase::Running);
    };
    if last.phase == ProgrammePhase::Sunset {
        return Err(DomainError::ProgrammeEnded);
    }
    if effective_from < last.effective_from {
        return Err(DomainError::ProgrammeChangeOutOfOrder {
            last: last.effective_from,
            effective_from,
        });
    }
    Ok(last.phase)
}

/// An issuer named for the wrong side of 1 April 2023, when Health Education England became
/// part of NHS England, is refused: a certificate names the body that made the award.
fn issuer_fits_date(issuer: &str, awarded_on: NaiveDate) -> Result<(), DomainError> {
    let named = issuer.to_lowercase();
    let expected = issuer_name_on(awarded_on);
    let other = if expected == "NHS England" {
        "health education england"
    } else {
        "nhs england"
    };
    if named.contains(other) {
        return Err(DomainError::IssuerWrongForDate {
            given: issuer.to_owned(),
            expected,
            awarded_on,
        });
    }
    Ok(())
}

fn check_cycle(cycle: &Cycle) -> Result<(), DomainError> {
    let id_ok = (1..=64).contains(&cycle.cycle_id.len())
        && cycle
            .cycle_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_/".contains(c));
    if !id_ok || printable_text(cycle.name.trim(), 1, 200, Lines::One).is_err() {
        return Err(DomainError::CycleInvalid);
    }
    let ordered = [
        (
            cycle.submissions_open_on <= cycle.submission_deadline,
            "submissions must open on or before the deadline",
        ),
        (
            cycle.submission_deadline <= cycle.review_from,
            "review must start on or after the submission deadline",
        ),
        (
            cycle.review_from <= cycle.review_until,
            "review must start on or before it ends",
        ),
        (
            cycle.review_until <= cycle.decisions_until,
            "decisions must end on or after review ends",
        ),
        (
            cycle.decisions_from <= cycle.decisions_until,
            "decisions must start on or before they end",
        ),
        (
            cycle.review_from <= cycle.decisions_from,
            "decisions must start on or after review starts",
        ),
    ];
    match ordered.into_iter().find(|(ok, _)| !ok) {
        Some((_, rule)) => Err(DomainError::CycleDatesOutOfOrder(rule)),
        None => Ok(()),
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

fn drop_in_message(last: Option<NaiveDate>, today: NaiveDate) -> String {
    let earliest = today - chrono::Duration::days(DROP_IN_WINDOW_DAYS);
    match last {
        Some(d) => format!(
            "an application needs a drop-in session attended within the {DROP_IN_WINDOW_DAYS} days before it (on or after {}); the organisation's last was on {}",
            long_date(earliest),
            long_date(d)
        ),
        None => format!(
            "an application needs a drop-in session attended within the {DROP_IN_WINDOW_DAYS} days before it (on or after {}); the organisation has attended none",
            long_date(earliest)
        ),
    }
}

#[allow(clippy::too_many_arguments)]
fn submit(
    state: &State,
    ctx: &Context,
    application_id: String,
    organisation_id: OrganisationId,
    cycle_id: String,
    level_sought: Level,
    manifest: Manifest,
    framework: &Framework,
) -> Result<Vec<Event>, DomainError> {
    if !state.organisations.contains_key(&organisation_id) {
        return Err(DomainError::OrganisationNotFound(organisation_id));
    }
    let today = ctx.today;
    refuse_if_not_running(state, today)?;
    let cycle = state
        .programme
        .cycles
        .iter()
        .find(|c| c.cycle_id == cycle_id)
        .ok_or_else(|| DomainError::CycleNotFound(cycle_id.clone()))?;
    if today < cycle.submissions_open_on || today > cycle.submission_deadline {
        return Err(DomainError::CycleNotOpen {
            cycle: cycle.name.clone(),
            opens: cycle.submissions_open_on,
            deadline: cycle.submission_deadline,
            today,
        });
    }
    let attended = state.drop_ins.get(&organisation_id);
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
    let theirs = state
        .applications
        .values()
        .filter(|a| a.organisation_id == organisation_id);
    for a in theirs {
        if a.decision.is_none() {
            return Err(DomainError::ApplicationAlreadyOpen(
                a.application_id.clone(),
            ));
        }
        if a.cycle_id == cycle_id {
            return Err(DomainError::ApplicationAlreadyInCycle(cycle.name.clone()));
        }
    }
    let checked = eligibility(framework, &manifest, today);
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

fn decide_application(
    state: &State,
    ctx: &Context,
    application_id: String,
    award: Option<Level>,
    certificate_number: CertificateNumber,
    feedback: String,
    framework: &Framework,
) -> Result<Vec<Event>, DomainError> {
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
            outcome: Outcome::NotAwarded,
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
    let highest = eligibility(framework, &application.manifest, application.submitted_on).highest;
    if highest.is_none_or(|h| level > h) {
        return Err(DomainError::LevelAboveEligible { level, highest });
    }
    let mut events = vec![Event::ApplicationDecided {
        application_id,
        organisation_id,
        outcome: Outcome::Awarded {
            level,
            certificate_number: certificate_number.clone(),
        },
        feedback,
        decided_on: ctx.today,
    }];
    events.extend(decide(
        state,
        Command::IssueAward {
            certificate_number,
            organisation_id,
            level,
            awarded_on: ctx.today,
            issuer_name: None,
            framework_version: Some(application.framework_version.clone()),
            source: AwardSource::Issued,
        },
        ctx,
    )?);
    Ok(events)
}
