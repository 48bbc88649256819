//! Delivering webhooks: every poll, an instance takes the lease of each subscription with
//! events owed and sends them in log order from its cursor, one message at a time, signed after
//! the Standard Webhooks specification; a failure waits out a backoff, and a run of them
//! disables the subscription. The subscriptions themselves are `webhooks.rs`.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};

use super::webhook_secrets::open_secrets;
use super::webhooks::{
    MAX_RESPONSE_BODY, Render, Subject, TargetError, WebhookSettings, check_target, message_id,
    now_ms, origin, signatures, webhook_type,
};
use super::{Registry, ServiceError};
use crate::store::StoreError;
use crate::store::webhooks::{DeliveryRow, Failure, WebhookRow};

/// The webhook deliveries of one instance, running until `stop`.
#[derive(Debug)]
pub(crate) struct Deliveries {
    registry: Arc<Registry>,
    owner: String,
    poll: tokio::task::JoinHandle<()>,
    sending: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Deliveries {
    /// Stops delivering and gives back every lease this instance holds, so that another
    /// instance can deliver at once; how many it held. A message being sent when it stops may
    /// have reached its target: it is sent again, under the same `webhook-id`, by whoever
    /// delivers next (receivers drop a `webhook-id` they have seen, as the specification asks).
    pub(crate) async fn stop(self) -> u64 {
        self.poll.abort();
        for task in self
            .sending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .drain(..)
        {
            task.abort();
        }
        match self
            .registry
            .log
            .store
            .release_webhooks_of(&self.owner)
            .await
        {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "could not give back the webhook leases; they pass when they run out");
                0
            }
        }
    }
}

/// Runs webhook deliveries until `Deliveries::stop` (or the process stops): every
/// `settings.poll`, take the lease of each subscription with events to send and send them, one
/// subscription to a task.
pub(crate) fn spawn_webhook_deliveries(
    registry: Arc<Registry>,
    settings: WebhookSettings,
    render: Render,
) -> Deliveries {
    let owner = format!("instance_{}", registry.random_uuid().simple());
    let settings = Arc::new(settings);
    let sending: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
    let poll = tokio::spawn({
        let (registry, owner, sending) = (registry.clone(), owner.clone(), sending.clone());
        async move {
            let mut tick = tokio::time::interval(settings.poll);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let now = now_ms();
                let until = now + settings.lease().as_millis() as i64;
                let claimed = match registry
                    .log
                    .store
                    .claim_webhooks(&owner, now, until, registry.size())
                    .await
                {
                    Ok(c) => c,
                    Err(e) if e.outage().is_some() => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not look for webhooks to deliver");
                        continue;
                    }
                };
                // No await while the list is held (the guard is not `Send`).
                let mut tasks = sending
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                tasks.retain(|t| !t.is_finished());
                for row in claimed {
                    let (registry, settings, render, owner) = (
                        registry.clone(),
                        settings.clone(),
                        render.clone(),
                        owner.clone(),
                    );
                    let task = tokio::spawn(async move {
                        let id = row.id.clone();
                        if let Err(e) =
                            deliver_backlog(&registry, &settings, &render, &owner, row).await
                        {
                            tracing::warn!(subscription = %id, error = %e, "webhook delivery stopped");
                        }
                        let _ = registry.log.store.release_webhook(&id, &owner).await;
                    });
                    tasks.push(task.abort_handle());
                }
            }
        }
    });
    Deliveries {
        registry,
        owner,
        poll,
        sending,
    }
}

/// Sends one subscription's events from its cursor on, in order, while the lease lasts: stops
/// at the first failure (recording the backoff) or at the end of the log.
async fn deliver_backlog(
    registry: &Registry,
    settings: &WebhookSettings,
    render: &Render,
    owner: &str,
    row: WebhookRow,
) -> Result<(), ServiceError> {
    let types: Vec<String> = serde_json::from_str(&row.event_types).unwrap_or_default();
    let lease = settings.lease();
    let mut lease_until = Instant::now() + lease;
    let mut cursor = row.next_position;
    let client = DeliveryClient::new(settings);
    loop {
        // Room for one more attempt within the lease, or give it back for the next round.
        if Instant::now() + settings.timeout + Duration::from_secs(1) > lease_until {
            return Ok(());
        }
        let page = registry.events(cursor, 200).await?;
        if page.is_empty() {
            return Ok(());
        }
        let Some(due) = first_subscribed(&page, &types)? else {
            // Nothing subscribed in this page: skip it.
            let to = page.last().map_or(cursor, |e| e.position + 1);
            if !advance(registry, &row.id, owner, cursor, to, lease).await? {
                return Ok(());
            }
            lease_until = Instant::now() + lease;
            cursor = to;
            continue;
        };
        if due.position > cursor {
            if !advance(registry, &row.id, owner, cursor, due.position, lease).await? {
                return Ok(());
            }
            cursor = due.position;
        }
        let Some(attempt) = attempt(registry, settings, render, &client, &row.id, &due).await?
        else {
            return Ok(()); // deleted meanwhile
        };
        if !attempt.delivered {
            return record_failure(registry, settings, &row.id, owner, cursor, attempt).await;
        }
        if !advance(registry, &row.id, owner, cursor, due.position + 1, lease).await? {
            return Ok(());
        }
        lease_until = Instant::now() + lease;
        cursor = due.position + 1;
    }
}

/// An event a subscription is owed: where it is in the log, its leaf hash (which names it in
/// the `webhook-id`), its type, what it is about and when it was recorded.
struct Due {
    position: u64,
    leaf_hash: Vec<u8>,
    kind: &'static str,
    subject: Subject,
    recorded_at: String,
}

/// The first event of `page` of a type in `types`, if any.
fn first_subscribed(
    page: &[crate::store::StoredEvent],
    types: &[String],
) -> Result<Option<Due>, ServiceError> {
    for stored in page {
        let event = stored.envelope()?.event;
        if let Some((kind, subject)) = webhook_type(&event)
            && types.iter().any(|t| t == kind)
        {
            return Ok(Some(Due {
                position: stored.position,
                leaf_hash: stored.leaf_hash.clone(),
                kind,
                subject,
                recorded_at: stored.recorded_at.clone(),
            }));
        }
    }
    Ok(None)
}

/// How one attempt went.
struct Attempt {
    number: u32,
    delivered: bool,
    error: Option<String>,
}

/// Sends `due` to the subscription `id` as it is now (a rotated secret takes effect at the next
/// delivery, with the one before it beside it while they overlap) and records the attempt,
/// keeping the latest `settings.history`; `None` when the subscription was deleted meanwhile.
async fn attempt(
    registry: &Registry,
    settings: &WebhookSettings,
    render: &Render,
    client: &DeliveryClient,
    id: &str,
    due: &Due,
) -> Result<Option<Attempt>, ServiceError> {
    let Some(current) = registry.log.store.webhook(id).await? else {
        return Ok(None);
    };
    let body = message_body(registry, render, due);
    let msg = message_id(&due.leaf_hash, id);
    let number = current.failures + 1;
    let started = Instant::now();
    let result = send_signed(settings, client, &current, id, &msg, &body).await;
    let delivered = matches!(result, Ok(status) if (200..300).contains(&status));
    let (status_code, failed) = match result {
        Ok(s) => (
            Some(s),
            (!delivered).then(|| Failed::new(Cause::Status, format!("the receiver answered {s}"))),
        ),
        Err(e) => (None, Some(e)),
    };
    let cause = failed.as_ref().map(|f| f.cause.as_str().to_owned());
    let error = failed.map(|f| f.detail);
    registry
        .log
        .store
        .record_delivery(
            &DeliveryRow {
                subscription_id: id.to_owned(),
                position: due.position,
                message_id: msg,
                event_type: due.kind.to_owned(),
                attempted_at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
                attempt: number,
                status_code,
                cause,
                error: error.clone(),
                delivered,
                duration_ms: started.elapsed().as_millis() as u64,
            },
            settings.history,
        )
        .await?;
    Ok(Some(Attempt {
        number,
        delivered,
        error,
    }))
}

/// The body of the message for `due`: its type, when it was recorded, and what `render` gives
/// of its subject as it is now (with a notice to download the credential again on a
/// reinstatement).
fn message_body(registry: &Registry, render: &Render, due: &Due) -> Vec<u8> {
    let data = render(registry, &due.subject).unwrap_or(serde_json::Value::Null);
    let mut body = serde_json::json!({
        "type": due.kind,
        "timestamp": due.recorded_at,
        "data": data,
    });
    if due.kind == "award.reinstated" {
        // The credential was signed afresh: the organisation must download it again.
        body["notice"] = crate::credentials::credential::REINSTATEMENT_NOTICE.into();
    }
    serde_json::to_vec(&body).expect("JSON values serialise")
}

/// Sends the message `msg` to the subscription `current` (`id`), signed with each of its
/// secrets in effect; the receiver's status. Nothing is sent when the secrets cannot be opened.
async fn send_signed(
    settings: &WebhookSettings,
    client: &DeliveryClient,
    current: &WebhookRow,
    id: &str,
    msg: &str,
    body: &[u8],
) -> Result<u16, Failed> {
    match settings
        .sealing_key()
        .map_err(|e| e.to_string())
        .and_then(|key| open_secrets(key, current, now_ms()).map_err(|e| e.to_string()))
    {
        Ok(secrets) => {
            let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
            client
                .send(&current.url, &secrets, msg, body, settings)
                .await
        }
        Err(why) => {
            // The message names the subscription and the key's fingerprint, never a secret.
            tracing::error!(subscription = %id, "{why}");
            Err(Failed::new(
                Cause::Secret,
                format!("nothing was sent: {why}"),
            ))
        }
    }
}

/// Records a failed attempt: the next one after a backoff, or the subscription disabled after
/// `max_failures` in a row.
async fn record_failure(
    registry: &Registry,
    settings: &WebhookSettings,
    id: &str,
    owner: &str,
    cursor: u64,
    attempt: Attempt,
) -> Result<(), ServiceError> {
    let failures = attempt.number;
    let wait = {
        let mut rng = rand::thread_rng();
        settings.backoff(failures, &mut rng)
    };
    let disable = (failures >= settings.max_failures).then(|| {
        format!(
            "disabled after {failures} failed deliveries in a row (the last: {})",
            attempt.error.unwrap_or_default()
        )
    });
    if let Some(why) = &disable {
        // The detail never holds the target's path or query, which may carry its own secret.
        tracing::warn!(subscription = %id, "{why}");
    }
    registry
        .log
        .store
        .fail_webhook(
            id,
            owner,
            cursor,
            &Failure {
                failures,
                next_attempt_at: now_ms() + wait.as_millis() as i64,
                disable,
            },
        )
        .await?;
    Ok(())
}

async fn advance(
    registry: &Registry,
    id: &str,
    owner: &str,
    from: u64,
    to: u64,
    lease: Duration,
) -> Result<bool, StoreError> {
    registry
        .log
        .store
        .advance_webhook(id, owner, from, to, now_ms() + lease.as_millis() as i64)
        .await
}

/// Sends one message: no redirect followed, the whole exchange within the timeout, the answer's
/// body read no further than a few KiB, and (unless private targets are allowed) only to the
/// address checked just before, so a name that resolves elsewhere between the check and the
/// connection gains nothing.
struct DeliveryClient {
    allow_private: bool,
}

impl DeliveryClient {
    fn new(settings: &WebhookSettings) -> DeliveryClient {
        DeliveryClient {
            allow_private: settings.allow_private_targets,
        }
    }

    async fn send(
        &self,
        url: &str,
        secrets: &[&str],
        msg: &str,
        body: &[u8],
        settings: &WebhookSettings,
    ) -> Result<u16, Failed> {
        // Resolved and checked again at every delivery: a name's answers may have changed
        // since it was registered, and only the addresses checked here are connected to.
        let target = check_target(url, self.allow_private)
            .await
            .map_err(|e| match e {
                TargetError::Dns(m) => Failed::new(Cause::Dns, m),
                TargetError::Refused(m) | TargetError::Invalid(m) => {
                    Failed::new(Cause::RefusedAddress, m)
                }
            })?;
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .user_agent("wexqs-webhooks/1");
        if let Some(host) = target.url.host_str()
            && host.parse::<IpAddr>().is_err()
            && !host.starts_with('[')
        {
            builder = builder.resolve_to_addrs(host, &target.addresses);
        }
        let client = builder
            .build()
            .map_err(|e| Failed::new(Cause::Connect, describe(&e).1))?;
        let timestamp = Utc::now().timestamp();
        let signed = signatures(secrets, msg, timestamp, body).ok_or_else(|| {
            Failed::new(
                Cause::Secret,
                "nothing was sent: the subscription's secret is not a Standard Webhooks secret"
                    .to_owned(),
            )
        })?;
        let mut response = client
            .post(target.url.clone())
            .header("content-type", "application/json")
            .header("webhook-id", msg)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signed)
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| {
                let (cause, detail) = describe(&e);
                Failed::new(cause, format!("{}: {detail}", origin(target.url.as_str())))
            })?;
        let status = response.status().as_u16();
        let mut read = 0usize;
        while read < MAX_RESPONSE_BODY {
            match tokio::time::timeout(settings.timeout, response.chunk()).await {
                Ok(Ok(Some(chunk))) => read += chunk.len(),
                _ => break,
            }
        }
        Ok(status)
    }
}

/// Why an attempt failed, as the delivery history records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cause {
    /// The target's host did not resolve.
    Dns,
    /// No connection: refused, unreachable, or reset before an answer.
    Connect,
    /// The TLS handshake failed (a certificate not trusted, or not TLS at all).
    Tls,
    /// The receiver answered, with a status other than 2xx (`status_code` holds it).
    Status,
    /// No answer within `--webhooks-timeout-ms`.
    Timeout,
    /// The target resolves to a special-purpose address (or is no longer a target the server
    /// takes): nothing was sent.
    RefusedAddress,
    /// The subscription's secret does not open with this instance's sealing key (or it has
    /// none): nothing was sent.
    Secret,
}

impl Cause {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Cause::Dns => "dns",
            Cause::Connect => "connect",
            Cause::Tls => "tls",
            Cause::Status => "status",
            Cause::Timeout => "timeout",
            Cause::RefusedAddress => "refused_address",
            Cause::Secret => "secret",
        }
    }
}

/// A failed attempt: its cause and a short detail (never the target's path or query).
#[derive(Debug, Clone)]
struct Failed {
    cause: Cause,
    detail: String,
}

impl Failed {
    fn new(cause: Cause, detail: String) -> Failed {
        let mut detail = detail;
        if detail.len() > MAX_DETAIL {
            let mut end = MAX_DETAIL;
            while !detail.is_char_boundary(end) {
                end -= 1;
            }
            detail.truncate(end);
            detail.push('…');
        }
        Failed { cause, detail }
    }
}

/// At most this many bytes of a failure's detail are kept.
const MAX_DETAIL: usize = 300;

/// The cause of a request's failure and its chain of reasons, without the URL (reqwest's own
/// message names the whole URL, query included).
fn describe(e: &reqwest::Error) -> (Cause, String) {
    let mut reasons = Vec::new();
    let mut tls = false;
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        let lower = text.to_ascii_lowercase();
        if is_tls(s) || lower.contains("certificate") {
            tls = true;
        }
        if reasons.last() != Some(&text) {
            reasons.push(text);
        }
        source = s.source();
    }
    let detail = if !reasons.is_empty() {
        reasons.join(": ")
    } else if e.is_timeout() {
        "no answer within the timeout".to_owned()
    } else {
        "the request failed".to_owned()
    };
    // Anything else (a connection made, then lost before an answer's head) is `connect`.
    let cause = if e.is_timeout() {
        Cause::Timeout
    } else if tls {
        Cause::Tls
    } else {
        Cause::Connect
    };
    (cause, detail)
}

/// Whether `e` is the TLS layer's, perhaps inside I/O errors (whose `source` skips the error
/// they wrap, so each is opened here).
fn is_tls(e: &(dyn std::error::Error + 'static)) -> bool {
    if e.is::<rustls::Error>() {
        return true;
    }
    e.downcast_ref::<std::io::Error>()
        .and_then(std::io::Error::get_ref)
        .is_some_and(|inner| is_tls(inner))
}
