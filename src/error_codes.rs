//! Every error code the registry can answer with, in one table: the stable machine code, its kind
//! (which `http::error` maps to an HTTP status, once) and the rule in words. Errors are raised by
//! naming an `ErrorCode`, never by writing its string, so this table is the whole list; the
//! OpenAPI document lists the same codes (a test holds the two together).

use std::fmt;

/// What kind of refusal an error is: the HTTP layer maps each kind to one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request, or a value in it, is malformed (400).
    Invalid,
    /// No valid token was presented (401).
    Unauthenticated,
    /// The token's role may not do this (403).
    Forbidden,
    /// The thing asked for does not exist (404).
    NotFound,
    /// The thing asked for is no longer served, for good or for now (410).
    Gone,
    /// The route does not take that method (405).
    MethodNotAllowed,
    /// The request did not arrive in time (408).
    Timeout,
    /// The change conflicts with the current state (409).
    Conflict,
    /// The request's precondition (`If-Match`) does not hold (412).
    Precondition,
    /// The change must state the version it read (`If-Match`), and did not (428).
    PreconditionRequired,
    /// The body is larger than the registry reads (413).
    TooLarge,
    /// The body is of a type the route does not read (415).
    UnsupportedMediaType,
    /// A rule of the programme refuses it (422).
    Rule,
    /// Too many requests from one address (429).
    RateLimited,
    /// The request's head is larger than the server reads (431).
    HeadersTooLarge,
    /// Something went wrong inside (500).
    Internal,
    /// The route does not offer what was asked of it (501).
    NotImplemented,
    /// Something the answer needs is not there just now (503).
    Unavailable,
}

macro_rules! error_codes {
    ($( $variant:ident = $code:literal, $kind:ident, $rule:literal; )*) => {
        /// A stable machine code: the `code` of every problem+json answer, of an import's row
        /// errors and of the CLI's refusals.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode { $( $variant ),* }

        impl ErrorCode {
            /// Every code, in the table's order.
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode::$variant ),* ];

            /// The code as the API writes it.
            pub fn as_str(self) -> &'static str {
                match self { $( ErrorCode::$variant => $code ),* }
            }

            /// What kind of refusal it is (the HTTP status it is answered with).
            pub fn kind(self) -> ErrorKind {
                match self { $( ErrorCode::$variant => ErrorKind::$kind ),* }
            }

            /// The rule, in words: what the code says went wrong.
            pub fn rule(self) -> &'static str {
                match self { $( ErrorCode::$variant => $rule ),* }
            }
        }
    };
}

error_codes! {
    // The request and the values in it (400).
    BadRequest = "bad_request", Invalid, "the request is not valid HTTP, or is malformed in a way no route reads";
    BodyMalformed = "body_malformed", Invalid, "the body is not the JSON (or CSV) the route takes";
    BodyUnreadable = "body_unreadable", Invalid, "the body could not be read to its end";
    QueryInvalid = "query_invalid", Invalid, "the query string does not fit the route's parameters";
    QueryTooLong = "query_too_long", Invalid, "a search is at most 200 characters";
    QueryWithoutLetters = "query_without_letters", Invalid, "a search has at least one letter or digit";
    PathInvalid = "path_invalid", Invalid, "a path segment does not fit the route";
    PageInvalid = "page_invalid", Invalid, "page counts from 1; per_page is 1 to 100";
    LimitInvalid = "limit_invalid", Invalid, "a page of the log, the event feed or an admin list is 1 to 1,000 entries";
    PositionOutOfRange = "position_out_of_range", Invalid, "a log position or cursor is 0 to 2^63-1";
    ProofOutOfRange = "proof_out_of_range", Invalid, "a proof is asked for within the log's size";
    DateInvalid = "date_invalid", Invalid, "a date is written YYYY-MM-DD";
    StatusInvalid = "status_invalid", Invalid, "a status filter is one of the statuses an award can have";
    AwardFilterInvalid = "award_filter_invalid", Invalid, "an organisations' award filter is none, current or any";
    ApplicationStateInvalid = "application_state_invalid", Invalid, "an application's state is awaiting_decision, awarded or not_awarded";
    StyleInvalid = "style_invalid", Invalid, "a badge's style is flat or large";
    IdempotencyKeyInvalid = "idempotency_key_invalid", Invalid, "an Idempotency-Key is 1 to 255 visible ASCII characters";
    IfMatchInvalid = "if_match_invalid", Invalid, "If-Match takes the award's ETag as the registry sent it";
    DecisionInvalid = "decision_invalid", Invalid, "a decision is awarded (with a level) or not_awarded (without one)";
    LevelRequired = "level_required", Invalid, "an award needs a level";
    CredentialUnreadable = "credential_unreadable", Invalid, "a presented credential cannot be read out of its wrapping";
    CertificateNumberMalformed = "certificate_number_malformed", Invalid, "a certificate number has 16 letters and digits, like FDXE-J5BM-RRNV-PEDM";
    CertificateNumberCheckFailed = "certificate_number_check_failed", Invalid, "a certificate number's last character does not match the others";
    LevelInvalid = "level_invalid", Invalid, "a level is bronze, silver or gold (in a path, another is not found)";
    RegionInvalid = "region_invalid", Invalid, "a region is one of the seven NHS England regions";
    OdsCodeInvalid = "ods_code_invalid", Invalid, "an ODS code is 3 to 10 letters and digits";
    NameInvalid = "name_invalid", Invalid, "a name is 2 to 200 printable characters";
    ReasonInvalid = "reason_invalid", Invalid, "a reason is 3 to 2,000 printable characters, saying why";
    PrivateNoteInvalid = "private_note_invalid", Invalid, "a private note is 1 to 4,000 printable characters";
    PublicUrlInvalid = "public_url_invalid", Invalid, "a public URL is http:// or https://, a host, an optional port and path";
    OrganisationIdInvalid = "organisation_id_invalid", Invalid, "an organisation id is a UUID";
    TokenNameInvalid = "token_name_invalid", Invalid, "a token's name is 1 to 100 characters saying whose it is";
    TokenNotFound = "token_not_found", Invalid, "no active token has that id";
    StaffRoleInvalid = "staff_role_invalid", Invalid, "a member of staff's role is admin or reviewer";
    StaffIdInvalid = "staff_id_invalid", Invalid, "a member of staff's id is 12 lower-case hexadecimal digits";
    IssuerInvalid = "issuer_invalid", Invalid, "an identity provider's issuer is an https:// URL (http:// only on a loopback address)";
    SubjectInvalid = "subject_invalid", Invalid, "a subject is 1 to 255 printable ASCII characters, the identity provider's id for a person";
    SignInRefused = "sign_in_refused", Invalid, "a console sign-in is finished once, within ten minutes, by the identity provider it began at, with a code and ID token that hold";
    EmailInvalid = "email_invalid", Invalid, "an e-mail address is name@domain, with no spaces, at most 254 characters";
    CsvMalformed = "csv_malformed", Invalid, "an import's CSV header cannot be read (a row of an import's errors)";
    RowMalformed = "row_malformed", Invalid, "an import's row does not have the columns it needs (a row of an import's errors)";
    WebhookUrlInvalid = "webhook_url_invalid", Invalid, "a webhook's url is an absolute https:// URL with a host, at most 2,000 characters";
    WebhookEventTypesInvalid = "webhook_event_types_invalid", Invalid, "a webhook subscribes to 1 or more of the public event types, each named once";
    KindInvalid = "kind_invalid", Invalid, "an organisation's kind is one of the kinds the registry knows (a row of an import's errors)";

    // Who is asking (401, 403).
    Unauthenticated = "unauthenticated", Unauthenticated, "an admin route needs a bearer token made by 'wexqs tokens create'";
    Forbidden = "forbidden", Forbidden, "the token's role may not do this";

    // What is asked for (404, 405).
    RouteNotFound = "route_not_found", NotFound, "there is no such route";
    AwardNotFound = "award_not_found", NotFound, "no award has that certificate number";
    OrganisationNotFound = "organisation_not_found", NotFound, "no organisation has that id";
    ApplicationNotFound = "application_not_found", NotFound, "no application has that id";
    CycleNotFound = "cycle_not_found", NotFound, "no cycle has that id";
    KeyNotFound = "key_not_found", NotFound, "no signing key has that id";
    CredentialNotIssued = "credential_not_issued", NotFound, "the award has no signed credential yet";
    StatusListNotFound = "status_list_not_found", NotFound, "the registry keeps one status list, under its own id";
    OembedUrlUnknown = "oembed_url_unknown", NotFound, "an oEmbed url is the verification page of an award here";
    WebhookNotFound = "webhook_not_found", NotFound, "no webhook subscription has that id";
    StaffNotFound = "staff_not_found", NotFound, "no member of staff has that id";
    MethodNotAllowed = "method_not_allowed", MethodNotAllowed, "the route does not take that method";
    AwardNotCurrent = "award_not_current", Gone, "an award's logo and calendar are served only while it is valid";

    // How the request arrived (408, 413, 415, 429, 431).
    RequestTimeout = "request_timeout", Timeout, "the request's head did not arrive in time";
    BodyTimeout = "body_timeout", Timeout, "the request's body did not arrive in time after its head";
    BodyTooLarge = "body_too_large", TooLarge, "the body is larger than the route reads";
    CredentialTooLarge = "credential_too_large", TooLarge, "a presented credential's JSON is over 512 KiB out of its wrapping";
    UnsupportedMediaType = "unsupported_media_type", UnsupportedMediaType, "a presented credential is JSON, PNG or SVG";
    RateLimited = "rate_limited", RateLimited, "too many requests from this address";
    HeadersTooLarge = "headers_too_large", HeadersTooLarge, "the request's head is larger than the server reads";

    // The state of the register (409, 412, 428).
    ConcurrentChange = "concurrent_change", Conflict, "someone else changed the same record at the same moment";
    OrganisationExists = "organisation_exists", Conflict, "an organisation with that id is already registered";
    OdsCodeTaken = "ods_code_taken", Conflict, "the ODS code belongs to another organisation in the register";
    CertificateNumberTaken = "certificate_number_taken", Conflict, "the certificate number is already in use";
    InvalidTransition = "invalid_transition", Conflict, "the award's standing does not allow the change";
    ExpiryAlreadyRecorded = "expiry_already_recorded", Conflict, "the award's expiry is already recorded";
    ProgrammeAlreadyInPhase = "programme_already_in_phase", Conflict, "the programme is already paused, or already running";
    ProgrammeEnded = "programme_ended", Conflict, "the programme has ended for good; it cannot be paused or resumed";
    KeyIdTaken = "key_id_taken", Conflict, "key ids are never reused";
    KeyNotActive = "key_not_active", Conflict, "the key is already retired or revoked";
    RegistryAddressDiffers = "registry_address_differs", Conflict, "the registry is recorded as reached at another address";
    RegistryAddressUnchanged = "registry_address_unchanged", Conflict, "the registry's address is already that one";
    ApplicationAlreadyOpen = "application_already_open", Conflict, "an organisation has one open application at a time";
    ApplicationAlreadyInCycle = "application_already_in_cycle", Conflict, "an organisation applies once per cycle";
    ApplicationAlreadyDecided = "application_already_decided", Conflict, "the application is already decided";
    StaffAlreadyListed = "staff_already_listed", Conflict, "a person is on the staff list once for each identity";
    StaffIdTaken = "staff_id_taken", Conflict, "staff ids are never reused";
    StaffRoleUnchanged = "staff_role_unchanged", Conflict, "the member of staff already has that role";
    LastAdmin = "last_admin", Conflict, "the staff list always keeps an admin: the last one can be neither removed nor made a reviewer";
    StatusListFull = "status_list_full", Conflict, "every index of the status list is in use, so no more credentials can be signed";
    VersionMismatch = "version_mismatch", Precondition, "If-Match named an older version of the award";
    PreconditionRequired = "precondition_required", PreconditionRequired, "a change to an existing award states the version it read: If-Match with the award's ETag";

    // The programme's rules (422).
    WhilePaused = "programme_paused", Rule, "no award is made, and no cycle scheduled, while the programme is paused";
    AfterSunset = "programme_sunset", Rule, "no award is made after the programme ended";
    AwardDateInFuture = "award_date_in_future", Rule, "an award cannot be dated in the future";
    NotNewerThanCurrentAward = "not_newer_than_current_award", Rule, "a new award must be newer than the current one it replaces";
    AwardHasExpired = "award_expired", Rule, "an expired award cannot be changed";
    ExpiryNotDue = "expiry_not_due", Rule, "an award's expiry is recorded on or after its expiry date";
    NothingToAmend = "nothing_to_amend", Rule, "the amendment changes nothing";
    ProgrammeChangeOutOfOrder = "programme_change_out_of_order", Rule, "a programme change takes effect on or after the last one";
    CycleDatesOutOfOrder = "cycle_dates_out_of_order", Rule, "a cycle's dates are in order";
    CycleInvalid = "cycle_invalid", Rule, "a cycle id is 1 to 64 letters, digits, '-', '_' or '/'; a name 1 to 200 printable characters";
    CycleNotOpen = "cycle_not_open", Rule, "a cycle takes applications from its opening to its deadline";
    DropInRequired = "drop_in_required", Rule, "an application needs a drop-in session attended shortly before it";
    DropInInFuture = "drop_in_in_future", Rule, "a drop-in session cannot be recorded in the future";
    EvidenceRulesFailed = "evidence_rules_failed", Rule, "the evidence does not meet the framework's rules for the level (each in `failures`)";
    OutsideDecisionWindow = "outside_decision_window", Rule, "a cycle's decisions are made within its decision window";
    LevelAboveSought = "level_above_sought", Rule, "an award cannot be at a higher level than the application sought";
    LevelAboveEligible = "level_above_eligible", Rule, "an award cannot be at a higher level than the evidence supports";
    FeedbackRequired = "feedback_required", Rule, "a decision needs written feedback";
    IssuerNameInvalid = "issuer_name_invalid", Rule, "an issuer's name is printable text of a bounded length";
    IssuerWrongForDate = "issuer_wrong_for_date", Rule, "the issuer named is not the body that made awards on that date";
    FrameworkVersionInvalid = "framework_version_invalid", Rule, "a framework version is 1 to 40 letters, digits, '.', '-' or '_'";
    DateOutOfRange = "date_out_of_range", Rule, "a date is within the registry's bounds";
    RegistryAddressNotRecorded = "registry_address_not_recorded", Rule, "the registry has no address recorded yet";
    IdempotencyKeyReused = "idempotency_key_reused", Rule, "an Idempotency-Key is used for one request only";
    WebhookTargetRefused = "webhook_target_refused", Rule, "a webhook's host must resolve, and only to public addresses (not private, loopback, link-local or otherwise reserved), unless the server allows private targets";
    ImportEmpty = "import_empty", Rule, "an import has at least one row";
    ImportRowsInvalid = "import_rows_invalid", Rule, "rows of the import cannot be imported (each in `errors`), so nothing was";

    // The registry itself (500, 501, 503).
    Internal = "internal", Internal, "something went wrong on the registry's side; it has been logged";
    ImportFailed = "import_failed", Internal, "an import's append failed for a reason outside the rules (a row of an import's errors)";
    OembedFormatUnsupported = "oembed_format_unsupported", NotImplemented, "oEmbed is offered as format=json only";
    DatabaseUnavailable = "database_unavailable", Unavailable, "the database is unavailable just now; nothing was changed";
    NoCheckpoint = "no_checkpoint", Unavailable, "no checkpoint has been signed yet";
    ServerBusy = "server_busy", Unavailable, "the registry holds as many connections, or reads as many bodies, as it may at once, from everyone or from this address";
    IdentityProviderUnavailable = "identity_provider_unavailable", Unavailable, "the console's identity provider cannot be reached just now; sign-in is not possible";
    NoSigningKey = "no_signing_key", Unavailable, "the registry has no signing key configured yet";
    WebhookSealingKeyMissing = "webhook_sealing_key_missing", Unavailable, "webhook secrets are sealed with the keys folder's sealing key, and this server has none yet";
    LogBehindPublishedCheckpoint = "log_behind_published_checkpoint", Unavailable, "the database holds less of the log than this registry has published (a restore, a rollback or a failover), or an entry that does not match it: nothing is written or answered until the missing entries are re-entered";
    SigningKeyNotLoaded = "signing_key_not_loaded", Unavailable, "the log's active signing key is not loaded on this instance yet (after a rotation made elsewhere); it signs nothing until it is";
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A code compares equal to the string the API writes for it.
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
