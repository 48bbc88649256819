//! The events: every fact the registry knows. Serde-tagged and versioned; once written, an event's
//! bytes never change, so a new shape gets a new `schema_version` and an upcast on read.

use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::applications::Manifest;
use super::staff::{STAFF_STREAM, StaffAdded, StaffRemoved, StaffRoleChanged};
use super::types::{
    CertificateNumber, Level, Name, OdsCode, OrganisationId, OrganisationKind, PrivateNote,
    PublicUrl, Reason, Region,
};

/// The current schema version of every event type.
pub const SCHEMA_VERSION: i32 = 1;

/// Whether an event is published in full (`public`) or committed to by its hash only (`private`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    Public,
    Private,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Private => "private",
        }
    }
}

/// How an award entered the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AwardSource {
    /// Issued through the registry.
    Issued,
    /// An award made before the registry existed, imported from the programme's records.
    Imported,
}

/// A programme cycle: when applications open and close, when they are reviewed and decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cycle {
    pub cycle_id: String,
    pub name: String,
    pub submissions_open_on: NaiveDate,
    pub submission_deadline: NaiveDate,
    pub review_from: NaiveDate,
    pub review_until: NaiveDate,
    pub decisions_from: NaiveDate,
    pub decisions_until: NaiveDate,
}

/// What a reviewer decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum DecisionOutcome {
    Awarded {
        level: Level,
        certificate_number: CertificateNumber,
    },
    NotAwarded,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum Event {
    OrganisationRegistered {
        organisation_id: OrganisationId,
        name: Name,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ods_code: Option<OdsCode>,
        region: Region,
        kind: OrganisationKind,
    },
    OrganisationAmended {
        organisation_id: OrganisationId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<Name>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ods_code: Option<OdsCode>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        region: Option<Region>,
        reason: Reason,
    },
    AwardIssued {
        certificate_number: CertificateNumber,
        organisation_id: OrganisationId,
        organisation_name: Name,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ods_code: Option<OdsCode>,
        region: Region,
        level: Level,
        awarded_on: NaiveDate,
        valid_until: NaiveDate,
        issuer_name: String,
        scheme: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        framework_version: Option<String>,
        source: AwardSource,
    },
    AwardSuspended {
        certificate_number: CertificateNumber,
        organisation_id: OrganisationId,
        reason: Reason,
        effective_on: NaiveDate,
    },
    AwardReinstated {
        certificate_number: CertificateNumber,
        organisation_id: OrganisationId,
        effective_on: NaiveDate,
        /// The public reason, shown in the award's history (absent in reinstatements recorded
        /// before a reinstatement kept one).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Reason>,
    },
    AwardRevoked {
        certificate_number: CertificateNumber,
        organisation_id: OrganisationId,
        reason: Reason,
        effective_on: NaiveDate,
    },
    AwardSuperseded {
        certificate_number: CertificateNumber,
        organisation_id: OrganisationId,
        superseded_by: CertificateNumber,
        effective_on: NaiveDate,
    },
    AwardAmended {
        certificate_number: CertificateNumber,
        organisation_id: OrganisationId,
        organisation_name: Name,
        reason: Reason,
        /// The day of the amendment (absent in amendments recorded before they carried one: the
        /// service dates those by the day they were recorded).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        effective_on: Option<NaiveDate>,
    },
    /// The private note the programme team added to a change of an award (suspension,
    /// reinstatement, revocation, amendment), recorded in the same append as the change
    /// (private: only admins and reviewers read it, at `/v1/admin/events`).
    AwardNoteRecorded {
        certificate_number: CertificateNumber,
        organisation_id: OrganisationId,
        note: PrivateNote,
    },
    AwardExpired {
        certificate_number: CertificateNumber,
        organisation_id: OrganisationId,
        expired_on: NaiveDate,
    },
    CycleScheduled(Cycle),
    ProgrammePaused {
        effective_from: NaiveDate,
        reason: Reason,
    },
    ProgrammeResumed {
        effective_from: NaiveDate,
        reason: Reason,
    },
    ProgrammeSunset {
        effective_from: NaiveDate,
        reason: Reason,
    },
    SigningKeyAdded {
        key_id: String,
        /// The Ed25519 public key as a multibase `Multikey` (`z6Mk…`).
        public_key_multibase: String,
    },
    /// The key signs nothing more; what it signed stays valid.
    SigningKeyRetired {
        key_id: String,
        retired_at: String,
    },
    /// The key was compromised: what it signed from `compromised_since` on is not to be trusted.
    SigningKeyRevoked {
        key_id: String,
        compromised_since: String,
        reason: Reason,
    },
    /// The organisation attended a drop-in session (private: part of an application).
    DropInAttended {
        organisation_id: OrganisationId,
        attended_on: NaiveDate,
    },
    /// An application with its evidence manifest (private: evidence and commentary).
    ApplicationSubmitted {
        application_id: String,
        organisation_id: OrganisationId,
        cycle_id: String,
        level_sought: Level,
        submitted_on: NaiveDate,
        framework_version: String,
        manifest: Manifest,
    },
    /// A reviewer's decision with written feedback (private); an award, if any, is its own
    /// public event in the same append.
    ApplicationDecided {
        application_id: String,
        organisation_id: OrganisationId,
        outcome: DecisionOutcome,
        feedback: String,
        decided_on: NaiveDate,
    },
    /// A signed credential for an award (recorded by the service, which holds the key).
    CredentialIssued {
        certificate_number: CertificateNumber,
        organisation_id: OrganisationId,
        key_id: String,
        status_list_index: String,
        /// Kept as its compact text, not a parsed tree (several times the text's size): an
        /// import signs tens of thousands at once. Written and read as the same JSON object.
        credential: SignedJson,
    },
    ApiTokenCreated {
        token_id: String,
        role: String,
        /// Whose token it is, as given when it was made (events recorded before tokens' names
        /// were have none; the token's record in the database has it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// The base URL people reach the registry at, which every credential, the issuer's did:web
    /// and the log's origin name: recorded once (by the first `serve`, or a command given
    /// `--public-url`), changed only on purpose (`previous` and `reason` then say from what and
    /// why). Every process signs for the address the log holds.
    RegistryAddressRecorded {
        public_url: PublicUrl,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous: Option<PublicUrl>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Reason>,
    },
    ApiTokenRevoked {
        token_id: String,
    },
    /// A webhook subscription registered (private). Its target is named by its origin only
    /// (scheme, host and port), since the rest of a URL may carry the receiver's own secret;
    /// the whole URL is in the subscription's row, and the signing secret is never in the log.
    WebhookSubscribed {
        webhook_id: String,
        target: String,
        event_types: Vec<String>,
    },
    /// A subscription's signing secret replaced; the one before it still signs beside it
    /// until `previous_valid_until` (private). A rotation within that overlap retires the
    /// oldest secret at once: only the latest two ever sign.
    WebhookSecretRotated {
        webhook_id: String,
        previous_valid_until: String,
    },
    /// A subscription set to send again every subscribed event from `from_position` on, and
    /// enabled if it was disabled (private).
    WebhookReplayed {
        webhook_id: String,
        from_position: u64,
    },
    /// A subscription and its delivery history removed (private).
    WebhookDeleted {
        webhook_id: String,
    },
    /// Someone allowed to sign in to the console (private).
    StaffAdded(StaffAdded),
    /// A member of staff's role changed (private).
    StaffRoleChanged(StaffRoleChanged),
    /// A member of staff taken off the list (private).
    StaffRemoved(StaffRemoved),
}

/// The stream that holds the programme's calendar and state.
pub(crate) const PROGRAMME_STREAM: &str = "programme";
/// The stream that holds the signing keys' lifecycle.
pub(crate) const KEYS_STREAM: &str = "keys";
/// The stream that holds the registry's own facts (its public address).
pub(crate) const REGISTRY_STREAM: &str = "registry";

/// The stream of an organisation and all its awards: the unit of consistency, because "an
/// organisation has at most one current award" spans its awards.
pub(crate) fn organisation_stream(id: OrganisationId) -> String {
    format!("organisation-{id}")
}

impl Event {
    /// The event's type as stored beside it (the serde tag).
    pub fn event_type(&self) -> &'static str {
        match self {
            Event::OrganisationRegistered { .. } => "organisation_registered",
            Event::OrganisationAmended { .. } => "organisation_amended",
            Event::AwardIssued { .. } => "award_issued",
            Event::AwardSuspended { .. } => "award_suspended",
            Event::AwardReinstated { .. } => "award_reinstated",
            Event::AwardRevoked { .. } => "award_revoked",
            Event::AwardSuperseded { .. } => "award_superseded",
            Event::AwardAmended { .. } => "award_amended",
            Event::AwardNoteRecorded { .. } => "award_note_recorded",
            Event::AwardExpired { .. } => "award_expired",
            Event::CycleScheduled(_) => "cycle_scheduled",
            Event::ProgrammePaused { .. } => "programme_paused",
            Event::ProgrammeResumed { .. } => "programme_resumed",
            Event::ProgrammeSunset { .. } => "programme_sunset",
            Event::SigningKeyAdded { .. } => "signing_key_added",
            Event::SigningKeyRetired { .. } => "signing_key_retired",
            Event::SigningKeyRevoked { .. } => "signing_key_revoked",
            Event::CredentialIssued { .. } => "credential_issued",
            Event::DropInAttended { .. } => "drop_in_attended",
            Event::ApplicationSubmitted { .. } => "application_submitted",
            Event::ApplicationDecided { .. } => "application_decided",
            Event::ApiTokenCreated { .. } => "api_token_created",
            Event::ApiTokenRevoked { .. } => "api_token_revoked",
            Event::RegistryAddressRecorded { .. } => "registry_address_recorded",
            Event::WebhookSubscribed { .. } => "webhook_subscribed",
            Event::WebhookSecretRotated { .. } => "webhook_secret_rotated",
            Event::WebhookReplayed { .. } => "webhook_replayed",
            Event::WebhookDeleted { .. } => "webhook_deleted",
            Event::StaffAdded(_) => "staff_added",
            Event::StaffRoleChanged(_) => "staff_role_changed",
            Event::StaffRemoved(_) => "staff_removed",
        }
    }

    pub fn stream(&self) -> String {
        match self {
            Event::OrganisationRegistered {
                organisation_id, ..
            }
            | Event::OrganisationAmended {
                organisation_id, ..
            }
            | Event::AwardIssued {
                organisation_id, ..
            }
            | Event::AwardSuspended {
                organisation_id, ..
            }
            | Event::AwardReinstated {
                organisation_id, ..
            }
            | Event::AwardRevoked {
                organisation_id, ..
            }
            | Event::AwardSuperseded {
                organisation_id, ..
            }
            | Event::AwardAmended {
                organisation_id, ..
            }
            | Event::AwardExpired {
                organisation_id, ..
            }
            | Event::AwardNoteRecorded {
                organisation_id, ..
            }
            | Event::CredentialIssued {
                organisation_id, ..
            }
            | Event::DropInAttended {
                organisation_id, ..
            }
            | Event::ApplicationSubmitted {
                organisation_id, ..
            }
            | Event::ApplicationDecided {
                organisation_id, ..
            } => organisation_stream(*organisation_id),
            Event::CycleScheduled(_)
            | Event::ProgrammePaused { .. }
            | Event::ProgrammeResumed { .. }
            | Event::ProgrammeSunset { .. } => PROGRAMME_STREAM.to_owned(),
            Event::SigningKeyAdded { .. }
            | Event::SigningKeyRetired { .. }
            | Event::SigningKeyRevoked { .. } => KEYS_STREAM.to_owned(),
            Event::ApiTokenCreated { token_id, .. } | Event::ApiTokenRevoked { token_id } => {
                format!("token-{token_id}")
            }
            Event::RegistryAddressRecorded { .. } => REGISTRY_STREAM.to_owned(),
            Event::WebhookSubscribed { webhook_id, .. }
            | Event::WebhookSecretRotated { webhook_id, .. }
            | Event::WebhookReplayed { webhook_id, .. }
            | Event::WebhookDeleted { webhook_id } => format!("webhook-{webhook_id}"),
            Event::StaffAdded(_) | Event::StaffRoleChanged(_) | Event::StaffRemoved(_) => {
                STAFF_STREAM.to_owned()
            }
        }
    }

    pub fn visibility(&self) -> Visibility {
        match self {
            Event::ApiTokenCreated { .. }
            | Event::ApiTokenRevoked { .. }
            | Event::DropInAttended { .. }
            | Event::ApplicationSubmitted { .. }
            | Event::ApplicationDecided { .. }
            | Event::AwardNoteRecorded { .. }
            | Event::WebhookSubscribed { .. }
            | Event::WebhookSecretRotated { .. }
            | Event::WebhookReplayed { .. }
            | Event::WebhookDeleted { .. }
            | Event::StaffAdded(_)
            | Event::StaffRoleChanged(_)
            | Event::StaffRemoved(_) => Visibility::Private,
            _ => Visibility::Public,
        }
    }

    /// The award this event is about, if any.
    pub(crate) fn certificate_number(&self) -> Option<&CertificateNumber> {
        match self {
            Event::AwardIssued {
                certificate_number, ..
            }
            | Event::AwardSuspended {
                certificate_number, ..
            }
            | Event::AwardReinstated {
                certificate_number, ..
            }
            | Event::AwardRevoked {
                certificate_number, ..
            }
            | Event::AwardSuperseded {
                certificate_number, ..
            }
            | Event::AwardAmended {
                certificate_number, ..
            }
            | Event::AwardExpired {
                certificate_number, ..
            }
            | Event::CredentialIssued {
                certificate_number, ..
            } => Some(certificate_number),
            _ => None,
        }
    }
}

/// A signed document kept as its compact JSON text (what every answer that serves it sends),
/// shared rather than copied, and parsed only by the rare reader that looks inside it: a parsed
/// `serde_json::Value` costs several times its text in memory, for every award.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedJson {
    text: Arc<str>,
    /// Its `issuer.url`, read while it was parsed: what the register keeps of it once the
    /// text itself is left in the log.
    issuer_url: Option<Arc<str>>,
}

impl SignedJson {
    /// The document's compact JSON text: what `serde_json::to_string` gives for `value`.
    pub(crate) fn of(value: &serde_json::Value) -> SignedJson {
        SignedJson {
            text: value.to_string().into(),
            issuer_url: value
                .pointer("/issuer/url")
                .and_then(serde_json::Value::as_str)
                .map(Arc::from),
        }
    }

    /// The compact JSON text, as served.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The document with its text left out and its issuer kept: what folding its event into
    /// memory reads of it (the register holds no credential's text).
    pub(crate) fn without_text(&self) -> SignedJson {
        SignedJson {
            text: Arc::from(""),
            issuer_url: self.issuer_url.clone(),
        }
    }

    /// The address the document names as its issuer's (`issuer.url`), if any.
    pub(crate) fn issuer_url(&self) -> Option<&Arc<str>> {
        self.issuer_url.as_ref()
    }

    /// The document parsed (a copy: for the few readers that look inside).
    pub fn value(&self) -> serde_json::Value {
        serde_json::from_str(&self.text).expect("the text was written from a JSON value")
    }
}

impl std::fmt::Debug for SignedJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for SignedJson {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SignedJson {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde_json::Value::deserialize(deserializer).map(|v| SignedJson::of(&v))
    }
}

impl SignedJson {
    /// The document whose JSON text is `text`, as its `Deserialize` reads it: the text kept as
    /// it is when that is what `SignedJson::of` would write for it (`written_as_serde_writes`,
    /// which every document the log holds is), its issuer found without building a tree; any
    /// other text parsed and written again. The log's reader takes this way
    /// (`store::envelope`): a signed credential is some hundred members.
    pub(crate) fn of_text(text: &str) -> Result<SignedJson, serde_json::Error> {
        /// Only the issuer is read into a tree (a few members); the rest is skipped.
        #[derive(Deserialize)]
        struct Document {
            #[serde(default)]
            issuer: Option<serde_json::Value>,
        }
        if written_as_serde_writes(text)
            && let Ok(document) = serde_json::from_str::<Document>(text)
        {
            let issuer_url = document
                .issuer
                .as_ref()
                .and_then(|issuer| issuer.get("url"))
                .and_then(serde_json::Value::as_str)
                .map(Arc::from);
            return Ok(SignedJson {
                text: text.into(),
                issuer_url,
            });
        }
        serde_json::from_str(text).map(|value: serde_json::Value| SignedJson::of(&value))
    }
}

/// Whether `text`, a JSON text, is byte for byte what `serde_json::to_string` writes for its
/// parsed value, so that it can be kept as it is. Conservative: ASCII only; no space between
/// tokens; each object's member names plain and in strictly increasing order (serde_json's map
/// is ordered by name and keeps one member of a name); every number whole, of at most 15 digits
/// (read and written exactly); every escape one serde_json writes (`\"`, `\\`, `\b`, `\f`,
/// `\n`, `\r`, `\t`, or `\u00xx` in lower case for another control character). A document
/// the registry signed is written so (`SignedJson::of`), and so is its canonical form in the
/// log; any other text is parsed and written again.
fn written_as_serde_writes(text: &str) -> bool {
    let bytes = text.as_bytes();
    if !text.is_ascii() {
        return false;
    }
    // Each open container: for an object, the name of its last member so far.
    let mut open: Vec<Option<Option<&[u8]>>> = Vec::new();
    let mut name_next = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => {
                open.push(Some(None));
                name_next = true;
                i += 1;
            }
            b'[' => {
                open.push(None);
                i += 1;
            }
            b'}' | b']' => {
                open.pop();
                name_next = false;
                i += 1;
            }
            b',' => {
                name_next = matches!(open.last(), Some(Some(_)));
                i += 1;
            }
            b':' => i += 1,
            b'"' => {
                let Some(end) = string_end(bytes, i + 1) else {
                    return false;
                };
                if name_next {
                    let name = &bytes[i + 1..end];
                    let Some(Some(last)) = open.last_mut() else {
                        return false;
                    };
                    if name.contains(&b'\\') || last.is_some_and(|last| last >= name) {
                        return false;
                    }
                    *last = Some(name);
                    name_next = false;
                }
                i = end + 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                i += 1;
                while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                let number = &bytes[start..i];
                if number.len() > 15
                    || number == b"-0"
                    || matches!(bytes.get(i), Some(b'.' | b'e' | b'E'))
                {
                    return false;
                }
            }
            b't' | b'f' | b'n' => {
                while bytes.get(i).is_some_and(u8::is_ascii_lowercase) {
                    i += 1;
                }
            }
            _ => return false,
        }
    }
    true
}

/// The position of the quote that ends the string whose text begins at `start`, if each of
/// its escapes is one serde_json writes.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    loop {
        match *bytes.get(i)? {
            b'"' => return Some(i),
            b'\\' => match *bytes.get(i + 1)? {
                b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                b'u' => {
                    let code = bytes.get(i + 2..i + 6)?;
                    let written = code.starts_with(b"00")
                        && matches!(code[2], b'0' | b'1')
                        && matches!(code[3], b'0'..=b'9' | b'a'..=b'f')
                        && !matches!(&code[2..], b"08" | b"09" | b"0a" | b"0c" | b"0d");
                    if !written {
                        return None;
                    }
                    i += 6;
                }
                _ => return None,
            },
            _ => i += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::{SignedJson, written_as_serde_writes};

    /// A signed document read from its text (as the log holds it, in canonical form, or as
    /// written by `SignedJson::of`) is the document `SignedJson::of` makes of the value parsed
    /// from it: the same text and issuer, whether it is kept as read or parsed and written
    /// again.
    #[test]
    fn a_document_read_from_its_text_is_the_one_made_from_its_value() {
        let mut seed = 0x2545_f491_4f6c_dd1d;
        let mut kept = 0;
        for i in 0..5_000 {
            let v = crate::canonical::tests::value(&mut seed, 3);
            let document = match i % 3 {
                0 => json!({"issuer": {"url": v, "id": "did:web:x"}, "a": 1}),
                1 => json!({"issuer": v.clone(), "proof": [v]}),
                _ => v,
            };
            let made = SignedJson::of(&document);
            for text in [
                crate::canonical::of_value(&document),
                serde_json::to_vec(&document).unwrap(),
            ] {
                let text = String::from_utf8(text).unwrap();
                let read = SignedJson::of_text(&text).unwrap();
                let parsed: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(read, SignedJson::of(&parsed), "{text}");
            }
            kept += usize::from(written_as_serde_writes(made.as_str()));
        }
        assert!(kept > 1_000, "the text is kept as read for most: {kept}");
    }

    /// What is not written as serde_json writes it is written again: spaces, names out of
    /// order or repeated, numbers it would spell otherwise, escapes it does not write.
    #[test]
    fn a_text_serde_json_would_write_otherwise_is_written_again() {
        for (text, written) in [
            (r#"{"b":1,"a":2}"#, r#"{"a":2,"b":1}"#),
            (r#"{"a":1,"a":2}"#, r#"{"a":2}"#),
            (r#"{ "a": 1 }"#, r#"{"a":1}"#),
            (r#"[1.0,1e2,-0]"#, r#"[1.0,100.0,-0.0]"#),
            (r#"["\/","\u0041","\u000a"]"#, r#"["/","A","\n"]"#),
            (r#"[12345678901234567890]"#, r#"[12345678901234567890]"#),
            (
                r#"{"issuer":{"url":"https://a.example/"}}"#,
                r#"{"issuer":{"url":"https://a.example/"}}"#,
            ),
        ] {
            let read = SignedJson::of_text(text).unwrap();
            assert_eq!(read.as_str(), written, "{text}");
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(read, SignedJson::of(&value), "{text}");
        }
        assert!(written_as_serde_writes(
            r#"{"a":[true,false,null,-12,"\u001f\n"],"b":{}}"#
        ));
    }
}
