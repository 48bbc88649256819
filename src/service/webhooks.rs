//! Webhooks after the Standard Webhooks specification: subscriptions an admin keeps, and the
//! delivery of public changes from the log to each, driven by a cursor per subscription in the
//! database. Every admin action on a subscription (made, secret rotated, replayed, deleted) is a
//! private event in the log with its actor, appended in the same transaction as the change to
//! the subscription's row; the secret itself is in the database only, sealed with the keys
//! folder's sealing key (`webhook_secrets.rs`), shown only when made or rotated, and never in
//! the log or a log line.
//!
//! Invariants: only public events of the types a subscription names are sent, in log order;
//! the cursor moves past an event only after a 2xx (at least once); a subscription is delivered
//! by the one instance holding its lease, so instances sharing a database send each event once
//! (a process killed between the receiver's 2xx and the cursor's move sends that one again,
//! under the same `webhook-id`); a `webhook-id` names the event by its leaf hash, so it never
//! names two events, even after the database is restored from a copy; a target is checked against private addresses when it is
//! registered and again at every delivery, connecting only to the address checked.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use chrono::{SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;

use super::{Actor, Registry, ServiceError};
use crate::credentials::sealing::{FILE_NAME, SealingKey};
use crate::domain::{CertificateNumber, Event, Visibility};
use crate::error_codes::ErrorCode;
use crate::limits::MAX_WEBHOOK_URL;
use crate::store::Write;
use crate::store::webhooks::WebhookRow;

pub use super::webhook_targets::{is_forbidden, refusal};

/// The event types a subscription may name: the public changes of awards and the programme.
pub(crate) const EVENT_TYPES: &[&str] = &[
    "award.issued",
    "award.amended",
    "award.suspended",
    "award.reinstated",
    "award.revoked",
    "award.superseded",
    "award.expired",
    "programme.paused",
    "programme.resumed",
    "programme.sunset",
];

/// A receiver's answer is read no further than this (and then dropped).
pub(super) const MAX_RESPONSE_BODY: usize = 4 * 1024;

/// How deliveries are made: set by `wexqs serve`'s options.
#[derive(Debug, Clone)]
pub(crate) struct WebhookSettings {
    /// Deliver to `http://` URLs and to private, loopback and link-local addresses (for tests
    /// and closed networks only).
    pub(crate) allow_private_targets: bool,
    /// The wait after the first failure; it doubles after each further one, up to `retry_cap`,
    /// and each wait is drawn between half of it and all of it (jitter).
    pub(crate) retry_base: Duration,
    pub(crate) retry_cap: Duration,
    /// This many failures in a row disable the subscription.
    pub(crate) max_failures: u32,
    /// A delivery's whole time: connect, send, the answer's head.
    pub(crate) timeout: Duration,
    /// How often an instance looks for subscriptions with events to send.
    pub(crate) poll: Duration,
    /// How long a rotated secret goes on signing beside the new one.
    pub(crate) rotation_overlap: Duration,
    /// The delivery attempts kept per subscription (the oldest beyond go).
    pub(crate) history: u32,
    /// The key secrets are sealed with in the database (the keys folder's
    /// `webhook-sealing.key`): without it no subscription is made, rotated or delivered.
    pub(crate) sealing: Option<Arc<SealingKey>>,
}

impl WebhookSettings {
    /// The sealing key these settings hold, or the refusal a server started without one gives.
    pub(super) fn sealing_key(&self) -> Result<&SealingKey, ServiceError> {
        self.sealing.as_deref().ok_or_else(|| ServiceError::Invalid {
            code: ErrorCode::WebhookSealingKeyMissing,
            message: format!(
                "webhook secrets are sealed with the keys folder's sealing key ({FILE_NAME}), and \
                 this server started without one: its operator must put one in the keys folder \
                 (wexqs keys init) and restart it"
            ),
        })
    }
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            allow_private_targets: false,
            retry_base: Duration::from_secs(10),
            retry_cap: Duration::from_secs(3600),
            max_failures: 15,
            timeout: Duration::from_secs(10),
            poll: Duration::from_millis(500),
            rotation_overlap: Duration::from_secs(24 * 3600),
            history: 1_000,
            sealing: None,
        }
    }
}

impl WebhookSettings {
    /// A lease outlasts one delivery with room to spare; a holder that dies leaves its
    /// subscription to another instance (or itself, restarted) once it runs out.
    pub(super) fn lease(&self) -> Duration {
        self.timeout + Duration::from_secs(5)
    }

    /// The wait before the next attempt after `failures` in a row, with jitter in [½, 1].
    pub(crate) fn backoff(&self, failures: u32, rng: &mut impl Rng) -> Duration {
        let doubled = self
            .retry_base
            .saturating_mul(1u32 << failures.saturating_sub(1).min(20));
        let full = doubled.min(self.retry_cap);
        full.mul_f64(rng.gen_range(0.5..=1.0))
    }
}

/// A subscription as the admin API shows it: never its secret, and of its URL only the origin
/// (the path and query may hold the receiver's own secret; the full URL is in the answer that
/// made the subscription only, like the secret).
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Subscription {
    pub(crate) id: String,
    /// The URL's scheme, host and port.
    pub(crate) target: String,
    pub(crate) event_types: Vec<String>,
    pub(crate) status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) disabled_reason: Option<String>,
    /// The log position of the next event to be sent (or skipped).
    pub(crate) next_position: u64,
    pub(crate) consecutive_failures: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) next_attempt_at: Option<String>,
    /// Until when the secret before the last rotation still signs beside the current one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) previous_secret_valid_until: Option<String>,
    pub(crate) created_at: String,
    pub(crate) created_by: String,
}

impl Subscription {
    fn of(row: WebhookRow) -> Subscription {
        let millis = |t: i64| {
            chrono::DateTime::from_timestamp_millis(t)
                .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        };
        Subscription {
            previous_secret_valid_until: (row.sealed_previous_secret.is_some()
                && row.previous_secret_until > now_ms())
            .then(|| millis(row.previous_secret_until))
            .flatten(),
            event_types: serde_json::from_str(&row.event_types).unwrap_or_default(),
            next_attempt_at: (row.next_attempt_at > 0 && row.status == "active")
                .then(|| millis(row.next_attempt_at))
                .flatten(),
            target: origin(&row.url),
            id: row.id,
            status: row.status,
            disabled_reason: row.disabled_reason,
            next_position: row.next_position,
            consecutive_failures: row.failures,
            created_at: row.created_at,
            created_by: row.created_by,
        }
    }
}

/// A URL's origin (scheme, host, port): what logs and the admin API show of a target.
pub(crate) fn origin(url: &str) -> String {
    reqwest::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| "(not a URL)".to_owned())
}

/// One attempt, as the admin API shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Delivery {
    pub(crate) message_id: String,
    pub(crate) position: u64,
    pub(crate) event_type: String,
    pub(crate) attempted_at: String,
    pub(crate) attempt: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) status_code: Option<u16>,
    /// Why a failed attempt failed: `dns`, `connect`, `tls`, `status`, `timeout`,
    /// `refused_address` or `secret`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cause: Option<String>,
    /// A short account of the failure, without the target's path or query.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
    pub(crate) delivered: bool,
    pub(crate) duration_ms: u64,
}

/// What a delivery is about: the renderer (the HTTP layer's public views) makes its `data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Subject {
    Award(CertificateNumber),
    Programme,
}

/// Makes a delivery's `data` from the registry as it stands: the award's public verification
/// answer, or the programme's state.
pub(crate) type Render =
    Arc<dyn Fn(&Registry, &Subject) -> Option<serde_json::Value> + Send + Sync>;

/// The webhook type of a public event and what it is about; `None` for every other event.
pub(crate) fn webhook_type(event: &Event) -> Option<(&'static str, Subject)> {
    if event.visibility() != Visibility::Public {
        return None;
    }
    let award = |t: &'static str, n: &CertificateNumber| Some((t, Subject::Award(n.clone())));
    match event {
        Event::AwardIssued {
            certificate_number, ..
        } => award("award.issued", certificate_number),
        Event::AwardAmended {
            certificate_number, ..
        } => award("award.amended", certificate_number),
        Event::AwardSuspended {
            certificate_number, ..
        } => award("award.suspended", certificate_number),
        Event::AwardReinstated {
            certificate_number, ..
        } => award("award.reinstated", certificate_number),
        Event::AwardRevoked {
            certificate_number, ..
        } => award("award.revoked", certificate_number),
        Event::AwardSuperseded {
            certificate_number, ..
        } => award("award.superseded", certificate_number),
        Event::AwardExpired {
            certificate_number, ..
        } => award("award.expired", certificate_number),
        Event::ProgrammePaused { .. } => Some(("programme.paused", Subject::Programme)),
        Event::ProgrammeResumed { .. } => Some(("programme.resumed", Subject::Programme)),
        Event::ProgrammeSunset { .. } => Some(("programme.sunset", Subject::Programme)),
        _ => None,
    }
}

/// The `webhook-id` of an event sent to a subscription: `msg_`, the first 128 bits of the
/// event's leaf hash (RFC 9162, as `/v1/log/entries` lists it) in hex, `_` and the
/// subscription's id. The same for every attempt and every replay, so a receiver can tell a
/// message it has already had; and never the same for two events, even when a database
/// restored from a copy puts another event at the same position.
pub(crate) fn message_id(leaf_hash: &[u8], subscription_id: &str) -> String {
    let named = &leaf_hash[..leaf_hash.len().min(16)];
    format!("msg_{}_{subscription_id}", hex::encode(named))
}

/// The `webhook-signature` header: a signature by each secret (the current one first, then
/// the one before a rotation while it overlaps), separated by spaces as Standard Webhooks
/// allows, so a receiver holding either verifies.
pub(crate) fn signatures(
    secrets: &[&str],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Option<String> {
    let signed: Option<Vec<String>> = secrets
        .iter()
        .map(|s| signature(s, id, timestamp, body))
        .collect();
    Some(signed?.join(" "))
}

/// `v1,` and the base64 HMAC-SHA256, keyed with the secret's decoded bytes, of
/// `{id}.{timestamp}.{body}` (Standard Webhooks).
pub(crate) fn signature(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64.decode(secret.strip_prefix("whsec_")?).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    Some(format!("v1,{}", b64.encode(mac.finalize().into_bytes())))
}

/// A target that passed the checks: the URL and the addresses it may be reached at.
#[derive(Debug, Clone)]
pub struct Target {
    pub(crate) url: reqwest::Url,
    pub(crate) addresses: Vec<SocketAddr>,
}

/// Why a target was not taken: its URL, its host's resolution, or an address it resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetError {
    Invalid(String),
    Dns(String),
    Refused(String),
}

impl From<TargetError> for ServiceError {
    fn from(e: TargetError) -> ServiceError {
        let (code, message) = match e {
            TargetError::Invalid(m) => (ErrorCode::WebhookUrlInvalid, m),
            TargetError::Dns(m) | TargetError::Refused(m) => (ErrorCode::WebhookTargetRefused, m),
        };
        ServiceError::Invalid { code, message }
    }
}

/// Parses a target URL and resolves its host; every address it resolves to must be public
/// (`webhook_targets.rs`), unless `allow_private` (which also allows `http://`). Messages name
/// the host, never the path or query (which may hold the receiver's own secret).
pub async fn check_target(url: &str, allow_private: bool) -> Result<Target, TargetError> {
    let invalid = |why: &str| {
        TargetError::Invalid(format!(
            "a webhook's url is an absolute https:// URL with a host: {why}"
        ))
    };
    if url.len() > MAX_WEBHOOK_URL {
        return Err(invalid("this one is over 2,000 characters"));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_private => {}
        other => return Err(invalid(&format!("its scheme is {other:?}"))),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid("it may not carry a user name or password"));
    }
    if parsed.fragment().is_some() {
        return Err(invalid("it may not have a fragment"));
    }
    let host = parsed
        .host_str()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_owned())
        .filter(|h| !h.is_empty())
        .ok_or_else(|| invalid("it has no host"))?;
    let port = parsed
        .port_or_known_default()
        .ok_or_else(|| invalid("it has no port"))?;
    let addresses: Vec<SocketAddr> = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::lookup_host((host.as_str(), port)),
    )
    .await
    .map_err(|_| {
        TargetError::Dns(format!(
            "the host {host:?} did not resolve within 5 seconds"
        ))
    })?
    .map_err(|e| TargetError::Dns(format!("the host {host:?} does not resolve: {e}")))?
    .collect();
    if addresses.is_empty() {
        return Err(TargetError::Dns(format!(
            "the host {host:?} resolves to no address"
        )));
    }
    if !allow_private && let Some(why) = addresses.iter().find_map(|a| refusal(a.ip())) {
        return Err(TargetError::Refused(format!(
            "the host {host:?} resolves to {why}, a special-purpose address (private, loopback, \
             link-local, translation, documentation or otherwise reserved); webhooks are \
             delivered only to public addresses (an operator may allow private targets with \
             --webhooks-allow-private-targets)"
        )));
    }
    Ok(Target {
        url: parsed,
        addresses,
    })
}

/// The event types named, each a webhook type and named once, at least one.
fn check_event_types(event_types: &[String]) -> Result<Vec<String>, ServiceError> {
    let invalid = |message: String| ServiceError::Invalid {
        code: ErrorCode::WebhookEventTypesInvalid,
        message,
    };
    let mut types: Vec<String> = Vec::new();
    for t in event_types {
        if !EVENT_TYPES.contains(&t.as_str()) || types.contains(t) {
            return Err(invalid(format!(
                "{t:?} is not a webhook event type, or is named twice; the types are {}",
                EVENT_TYPES.join(", ")
            )));
        }
        types.push(t.clone());
    }
    if types.is_empty() {
        return Err(invalid(format!(
            "a webhook subscribes to at least one event type: {}",
            EVENT_TYPES.join(", ")
        )));
    }
    Ok(types)
}

fn not_found(id: &str) -> ServiceError {
    ServiceError::Invalid {
        code: ErrorCode::WebhookNotFound,
        message: format!("no webhook subscription has the id {id:?}"),
    }
}

pub(super) fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

impl Registry {
    /// Registers a subscription from the log's current end on, recorded in the log; returns it
    /// and its secret (shown this once).
    pub(crate) async fn create_webhook(
        &self,
        actor: &Actor,
        url: &str,
        event_types: &[String],
        settings: &WebhookSettings,
    ) -> Result<(Subscription, String), ServiceError> {
        let types = check_event_types(event_types)?;
        let target = check_target(url, settings.allow_private_targets).await?;
        let key = settings.sealing_key()?;
        self.catch_up().await?;
        let id = format!("wh_{}", self.random_uuid().simple());
        let (secret, sealed) = self.new_webhook_secret(key, &id);
        let row = WebhookRow {
            id,
            url: target.url.to_string(),
            event_types: serde_json::to_string(&types).expect("strings serialise"),
            sealed_secret: sealed,
            created_at: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
            created_by: actor.id.clone(),
            status: "active".into(),
            disabled_reason: None,
            next_position: self.size(),
            failures: 0,
            next_attempt_at: 0,
            sealed_previous_secret: None,
            previous_secret_until: 0,
        };
        let event = Event::WebhookSubscribed {
            webhook_id: row.id.clone(),
            target: target.url.origin().ascii_serialization(),
            event_types: types,
        };
        self.append_plain(actor, vec![event], vec![Write::WebhookCreated(row.clone())])
            .await?;
        Ok((Subscription::of(row), secret))
    }

    pub(crate) async fn webhooks(&self) -> Result<Vec<Subscription>, ServiceError> {
        Ok(self
            .log
            .store
            .webhooks()
            .await?
            .into_iter()
            .map(Subscription::of)
            .collect())
    }

    pub(crate) async fn webhook(&self, id: &str) -> Result<Subscription, ServiceError> {
        self.log
            .store
            .webhook(id)
            .await?
            .map(Subscription::of)
            .ok_or_else(|| not_found(id))
    }

    /// Removes a subscription and its delivery history, recorded in the log.
    pub(crate) async fn delete_webhook(&self, actor: &Actor, id: &str) -> Result<(), ServiceError> {
        self.webhook(id).await?;
        let event = Event::WebhookDeleted {
            webhook_id: id.to_owned(),
        };
        let write = Write::WebhookDeleted { id: id.to_owned() };
        self.append_webhook_change(actor, id, event, write).await
    }

    /// A new secret for the subscription, which signs every delivery from now on, beside the
    /// one before it for `settings.rotation_overlap` (a second rotation within that retires the
    /// oldest at once); recorded in the log (the secret is not), and returned this once.
    pub(crate) async fn rotate_webhook_secret(
        &self,
        actor: &Actor,
        id: &str,
        settings: &WebhookSettings,
    ) -> Result<(String, Subscription), ServiceError> {
        let key = settings.sealing_key()?;
        self.webhook(id).await?;
        let (secret, sealed) = self.new_webhook_secret(key, id);
        let until = self.now() + settings.rotation_overlap;
        let event = Event::WebhookSecretRotated {
            webhook_id: id.to_owned(),
            previous_valid_until: until.to_rfc3339_opts(SecondsFormat::Secs, true),
        };
        let write = Write::WebhookSecret {
            id: id.to_owned(),
            sealed_secret: sealed,
            previous_until: until.timestamp_millis(),
        };
        self.append_webhook_change(actor, id, event, write).await?;
        Ok((secret, self.webhook(id).await?))
    }

    /// Sends again, in order, every subscribed event from log position `from` on (and enables
    /// a disabled subscription), recorded in the log.
    pub(crate) async fn replay_webhook(
        &self,
        actor: &Actor,
        id: &str,
        from: u64,
    ) -> Result<Subscription, ServiceError> {
        self.webhook(id).await?;
        self.catch_up().await?;
        if from > self.size() {
            return Err(ServiceError::Invalid {
                code: ErrorCode::PositionOutOfRange,
                message: format!(
                    "a replay starts within the log, which has {} events",
                    self.size()
                ),
            });
        }
        let event = Event::WebhookReplayed {
            webhook_id: id.to_owned(),
            from_position: from,
        };
        let write = Write::WebhookReplay {
            id: id.to_owned(),
            from,
        };
        self.append_webhook_change(actor, id, event, write).await?;
        self.webhook(id).await
    }

    /// Appends `event` with the change to the subscription's row; a subscription deleted
    /// between the check and the append is not found, and nothing is written.
    async fn append_webhook_change(
        &self,
        actor: &Actor,
        id: &str,
        event: Event,
        write: Write,
    ) -> Result<(), ServiceError> {
        match self.append_plain(actor, vec![event], vec![write]).await {
            Ok(_) => Ok(()),
            Err(ServiceError::Conflict) => Err(not_found(id)),
            Err(e) => Err(e),
        }
    }

    pub(crate) async fn webhook_deliveries(
        &self,
        id: &str,
        limit: u32,
    ) -> Result<Vec<Delivery>, ServiceError> {
        self.log
            .store
            .webhook(id)
            .await?
            .ok_or_else(|| not_found(id))?;
        Ok(self
            .log
            .store
            .webhook_deliveries(id, limit)
            .await?
            .into_iter()
            .map(|d| Delivery {
                message_id: d.message_id,
                position: d.position,
                event_type: d.event_type,
                attempted_at: d.attempted_at,
                attempt: d.attempt,
                status_code: d.status_code,
                cause: d.cause,
                error: d.error,
                delivered: d.delivered,
                duration_ms: d.duration_ms,
            })
            .collect())
    }
}
