//! The rules a command can break, as `DomainError`, and the one table naming each rule's stable
//! code (`crate::error_codes` holds every code with its kind and words; the HTTP layer maps a
//! kind to a status in `http::error`).

use chrono::NaiveDate;

pub(crate) use crate::error_codes::ErrorCode;

use crate::domain::applications::DROP_IN_WINDOW_DAYS;
use crate::domain::types::{
    CertificateNumber, Level, OdsCode, OrganisationId, PublicUrl, long_date,
};

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
    WhilePaused { since: NaiveDate },
    #[error(
        "the programme ended on {}: no award can be made on or after that date",
        long_date(*since)
    )]
    AfterSunset { since: NaiveDate },
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
    AwardHasExpired {
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
    #[error("no member of staff has the id {0}")]
    StaffNotFound(String),
    #[error("that identity is already on the staff list, as {name}")]
    StaffAlreadyListed { name: String },
    #[error("the staff id {0} is already in use")]
    StaffIdTaken(String),
    #[error("{name} is already {role}")]
    StaffRoleUnchanged { name: String, role: &'static str },
    #[error(
        "{name} is the last admin: add another admin first, so that someone can still manage the staff list"
    )]
    LastAdmin { name: String },
}

impl DomainError {
    /// The one table of the domain's refusals: each rule's stable code (whose kind and words
    /// are in `error_codes`).
    pub(crate) fn error_code(&self) -> ErrorCode {
        use ErrorCode::*;
        match self {
            DomainError::OrganisationNotFound(_) => OrganisationNotFound,
            DomainError::AwardNotFound(_) => AwardNotFound,
            DomainError::OrganisationExists(_) => OrganisationExists,
            DomainError::OdsCodeTaken(_) => OdsCodeTaken,
            DomainError::CertificateNumberTaken(_) => CertificateNumberTaken,
            DomainError::WhilePaused { .. } => WhilePaused,
            DomainError::AfterSunset { .. } => AfterSunset,
            DomainError::AwardDateInFuture { .. } => AwardDateInFuture,
            DomainError::NotNewerThanCurrent { .. } => NotNewerThanCurrentAward,
            DomainError::VersionMismatch { .. } => VersionMismatch,
            DomainError::InvalidTransition { .. } => InvalidTransition,
            DomainError::AwardHasExpired { .. } => AwardHasExpired,
            DomainError::ExpiryNotDue { .. } => ExpiryNotDue,
            DomainError::ExpiryAlreadyRecorded(_) => ExpiryAlreadyRecorded,
            DomainError::NothingToAmend => NothingToAmend,
            DomainError::ProgrammeAlreadyInPhase(_) => ProgrammeAlreadyInPhase,
            DomainError::ProgrammeEnded => ProgrammeEnded,
            DomainError::ProgrammeChangeOutOfOrder { .. } => ProgrammeChangeOutOfOrder,
            DomainError::CycleDatesOutOfOrder(_) => CycleDatesOutOfOrder,
            DomainError::CycleInvalid => CycleInvalid,
            DomainError::KeyIdTaken(_) => KeyIdTaken,
            DomainError::KeyNotFound(_) => KeyNotFound,
            DomainError::RegistryAddressDiffers { .. } => RegistryAddressDiffers,
            DomainError::RegistryAddressUnchanged(_) => RegistryAddressUnchanged,
            DomainError::RegistryAddressNotRecorded => RegistryAddressNotRecorded,
            DomainError::KeyNotActive { .. } => KeyNotActive,
            DomainError::CycleNotFound(_) => CycleNotFound,
            DomainError::CycleNotOpen { .. } => CycleNotOpen,
            DomainError::DropInRequired { .. } => DropInRequired,
            DomainError::DropInInFuture(_) => DropInInFuture,
            DomainError::ApplicationAlreadyOpen(_) => ApplicationAlreadyOpen,
            DomainError::ApplicationAlreadyInCycle(_) => ApplicationAlreadyInCycle,
            DomainError::EvidenceRulesFailed { .. } => EvidenceRulesFailed,
            DomainError::ApplicationNotFound(_) => ApplicationNotFound,
            DomainError::ApplicationAlreadyDecided(_) => ApplicationAlreadyDecided,
            DomainError::OutsideDecisionWindow { .. } => OutsideDecisionWindow,
            DomainError::LevelAboveSought { .. } => LevelAboveSought,
            DomainError::LevelAboveEligible { .. } => LevelAboveEligible,
            DomainError::FeedbackRequired(_) => FeedbackRequired,
            DomainError::IssuerNameInvalid(_) => IssuerNameInvalid,
            DomainError::IssuerWrongForDate { .. } => IssuerWrongForDate,
            DomainError::FrameworkVersionInvalid(_) => FrameworkVersionInvalid,
            DomainError::DateOutOfRange { .. } => DateOutOfRange,
            DomainError::StaffNotFound(_) => StaffNotFound,
            DomainError::StaffAlreadyListed { .. } => StaffAlreadyListed,
            DomainError::StaffIdTaken(_) => StaffIdTaken,
            DomainError::StaffRoleUnchanged { .. } => StaffRoleUnchanged,
            DomainError::LastAdmin { .. } => LastAdmin,
        }
    }

    /// The stable machine code of the rule.
    pub fn code(&self) -> &'static str {
        self.error_code().as_str()
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
