//! The rules a command can break, as `DomainError`, and the one table of their stable machine
//! codes and kinds. The HTTP layer maps a kind to a status (`http::error`); nothing else decides
//! a code, so a code is written once, here.

use chrono::NaiveDate;

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

/// What kind of refusal an error is, which the HTTP layer maps to a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    Conflict,
    Precondition,
    Rule,
}

impl DomainError {
    /// The one table: each rule's stable machine code and its kind.
    fn entry(&self) -> (&'static str, ErrorKind) {
        use ErrorKind::{Conflict, NotFound, Precondition, Rule};
        match self {
            DomainError::OrganisationNotFound(_) => ("organisation_not_found", NotFound),
            DomainError::AwardNotFound(_) => ("award_not_found", NotFound),
            DomainError::OrganisationExists(_) => ("organisation_exists", Conflict),
            DomainError::OdsCodeTaken(_) => ("ods_code_taken", Conflict),
            DomainError::CertificateNumberTaken(_) => ("certificate_number_taken", Conflict),
            DomainError::ProgrammePaused { .. } => ("programme_paused", Rule),
            DomainError::ProgrammeSunset { .. } => ("programme_sunset", Rule),
            DomainError::AwardDateInFuture { .. } => ("award_date_in_future", Rule),
            DomainError::NotNewerThanCurrent { .. } => ("not_newer_than_current_award", Rule),
            DomainError::VersionMismatch { .. } => ("version_mismatch", Precondition),
            DomainError::InvalidTransition { .. } => ("invalid_transition", Conflict),
            DomainError::AwardExpired { .. } => ("award_expired", Rule),
            DomainError::ExpiryNotDue { .. } => ("expiry_not_due", Rule),
            DomainError::ExpiryAlreadyRecorded(_) => ("expiry_already_recorded", Conflict),
            DomainError::NothingToAmend => ("nothing_to_amend", Rule),
            DomainError::ProgrammeAlreadyInPhase(_) => ("programme_already_in_phase", Conflict),
            DomainError::ProgrammeEnded => ("programme_ended", Conflict),
            DomainError::ProgrammeChangeOutOfOrder { .. } => {
                ("programme_change_out_of_order", Rule)
            }
            DomainError::CycleDatesOutOfOrder(_) => ("cycle_dates_out_of_order", Rule),
            DomainError::CycleInvalid => ("cycle_invalid", Rule),
            DomainError::KeyIdTaken(_) => ("key_id_taken", Conflict),
            DomainError::KeyNotFound(_) => ("key_not_found", NotFound),
            DomainError::RegistryAddressDiffers { .. } => ("registry_address_differs", Conflict),
            DomainError::RegistryAddressUnchanged(_) => ("registry_address_unchanged", Conflict),
            DomainError::RegistryAddressNotRecorded => ("registry_address_not_recorded", Rule),
            DomainError::KeyNotActive { .. } => ("key_not_active", Conflict),
            DomainError::CycleNotFound(_) => ("cycle_not_found", NotFound),
            DomainError::CycleNotOpen { .. } => ("cycle_not_open", Rule),
            DomainError::DropInRequired { .. } => ("drop_in_required", Rule),
            DomainError::DropInInFuture(_) => ("drop_in_in_future", Rule),
            DomainError::ApplicationAlreadyOpen(_) => ("application_already_open", Conflict),
            DomainError::ApplicationAlreadyInCycle(_) => ("application_already_in_cycle", Conflict),
            DomainError::EvidenceRulesFailed { .. } => ("evidence_rules_failed", Rule),
            DomainError::ApplicationNotFound(_) => ("application_not_found", NotFound),
            DomainError::ApplicationAlreadyDecided(_) => ("application_already_decided", Conflict),
            DomainError::OutsideDecisionWindow { .. } => ("outside_decision_window", Rule),
            DomainError::LevelAboveSought { .. } => ("level_above_sought", Rule),
            DomainError::LevelAboveEligible { .. } => ("level_above_eligible", Rule),
            DomainError::FeedbackRequired(_) => ("feedback_required", Rule),
            DomainError::IssuerNameInvalid(_) => ("issuer_name_invalid", Rule),
            DomainError::IssuerWrongForDate { .. } => ("issuer_wrong_for_date", Rule),
            DomainError::FrameworkVersionInvalid(_) => ("framework_version_invalid", Rule),
            DomainError::DateOutOfRange { .. } => ("date_out_of_range", Rule),
        }
    }

    /// The stable machine code of the rule.
    pub fn code(&self) -> &'static str {
        self.entry().0
    }

    /// What kind of refusal this is, which the HTTP layer maps to a status.
    pub fn kind(&self) -> ErrorKind {
        self.entry().1
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
