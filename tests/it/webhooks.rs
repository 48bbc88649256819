//! Webhooks, end to end: real `wexqs serve` processes deliver to real HTTP receivers in the
//! test. A delivery's signature verifies with the `standardwebhooks` library (PyPI, pinned in
//! tests/python-requirements.txt) and a tampered body does not; a rotated secret signs beside
//! the new one for its overlap, then not; every admin action is a private event in the log; a
//! server killed with SIGKILL in the middle of a backlog delivers the rest after a restart (on
//! SQLite and on PostgreSQL); two servers on one PostgreSQL
//! database deliver each event once; a failing receiver gets retries with backoff until the
//! subscription is disabled, and a replay sends again; private targets are refused without the
//! operator's flag; a reviewer may not manage webhooks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::client::Client;
use crate::feeds::python;
use crate::helpers::{
    Backend, Db, KillOnDrop, admin_token, answers_within, fresh_db, on_both_databases, spawn_app,
    spawn_server, temp_dir,
};

/// One request a receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) headers: BTreeMap<String, String>,
    pub(crate) body: String,
}

impl Received {
    pub(crate) fn id(&self) -> &str {
        &self.headers["webhook-id"]
    }
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// An HTTP receiver on a random local port: records every request and answers `status` after
/// `delay_ms`.
#[derive(Clone)]
pub(crate) struct Receiver {
    pub(crate) url: String,
    got: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
    delay_ms: Arc<AtomicU64>,
}

impl Receiver {
    pub(crate) async fn start(status: u16) -> Receiver {
        use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let status = Arc::new(AtomicU16::new(status));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let (g, s, d) = (got.clone(), status.clone(), delay_ms.clone());
        let server = HttpServer::new(move || {
            let (g, s, d) = (g.clone(), s.clone(), d.clone());
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let (g, s, d) = (g.clone(), s.clone(), d.clone());
                async move {
                    let headers = req
                        .headers()
                        .iter()
                        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                        .collect();
                    let delay = d.load(Ordering::SeqCst);
                    if delay > 0 {
                        tokio::time::sleep(Duration::from_millis(delay)).await;
                    }
                    g.lock().unwrap().push(Received {
                        headers,
                        body: String::from_utf8_lossy(&body).into_owned(),
                    });
                    let code =
                        actix_web::http::StatusCode::from_u16(s.load(Ordering::SeqCst)).unwrap();
                    HttpResponse::build(code).body("thanks")
                }
            }))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        Receiver {
            url,
            got,
            status,
            delay_ms,
        }
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `done` holds of what was received (or fails after `limit`).
    pub(crate) async fn wait_for(
        &self,
        limit: Duration,
        what: &str,
        done: impl Fn(&[Received]) -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + limit;
        while !done(&self.received()) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: not within {limit:?}; received {:?}",
                self.received()
                    .iter()
                    .map(|r| r.id().to_owned())
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// How long the test servers sign with a rotated secret beside the new one.
const ROTATION_OVERLAP_S: u64 = 3;

/// A `wexqs serve` process that may deliver to the local receivers, retrying after
/// `retry_base_ms` and disabling a subscription after `max_failures`.
pub(crate) async fn server(
    db: &Db,
    data_dir: &Path,
    retry_base_ms: u64,
    max_failures: u32,
) -> (KillOnDrop, String) {
    crate::helpers::ensure_key(Some(&db.url), data_dir);
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_wexqs"));
    command
        .arg("serve")
        .env("WEXQS_DATA_DIR", data_dir)
        .env("DATABASE_URL", &db.url)
        .env("WEXQS_RATE_LIMIT", "0")
        .env("WEXQS_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true")
        .env("WEXQS_WEBHOOKS_RETRY_BASE_MS", retry_base_ms.to_string())
        .env("WEXQS_WEBHOOKS_MAX_FAILURES", max_failures.to_string())
        .env("WEXQS_WEBHOOKS_TIMEOUT_MS", "2000")
        .env(
            "WEXQS_WEBHOOKS_ROTATION_OVERLAP_S",
            ROTATION_OVERLAP_S.to_string(),
        )
        .env_remove("WEXQS_CALENDAR");
    let (child, base) = spawn_server(command);
    let child = KillOnDrop(child);
    assert!(
        answers_within(&base, Duration::from_secs(20)).await,
        "the server at {base} does not answer"
    );
    (child, base)
}

/// Subscribes `url` to `types` as `admin`: the subscription's id and secret.
pub(crate) async fn subscribe(admin: &Client, url: &str, types: &[&str]) -> (String, String) {
    let (status, body) = admin
        .post_json(
            "/v1/admin/webhooks",
            json!({"url": url, "event_types": types}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    (
        body["id"].as_str().unwrap().to_owned(),
        body["secret"].as_str().unwrap().to_owned(),
    )
}

/// The log position of the message `message_id` sent to the subscription `id`, from its
/// delivery history. The receiver can hold a message before the sender has recorded its
/// attempt (the answer comes first), so the history is read until it lists it, for a minute at
/// most.
pub(crate) async fn position_of(admin: &Client, id: &str, message_id: &str) -> u64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (status, history) = admin
            .get_json(&format!("/v1/admin/webhooks/{id}/deliveries?limit=1000"))
            .await;
        assert_eq!(status, 200, "{history}");
        let found = history["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["message_id"] == message_id)
            .and_then(|d| d["position"].as_u64());
        match found {
            Some(position) => return position,
            None if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            None => panic!("{message_id} is not in the history: {history}"),
        }
    }
}

/// The `webhook-id` the event at `position` gets for the subscription `id`: `msg_`, the first
/// 16 bytes of its leaf hash (as the public log lists it) in hex, `_` and the id.
async fn expected_message_id(client: &Client, id: &str, position: u64) -> String {
    use base64::Engine as _;
    let entries = client
        .json(&format!("/v1/log/entries?start={position}&limit=1"))
        .await;
    let leaf = base64::engine::general_purpose::STANDARD
        .decode(entries["entries"][0]["leaf_hash"].as_str().unwrap())
        .unwrap();
    format!("msg_{}_{id}", hex::encode(&leaf[..16]))
}

/// Awards `name` as `admin` and waits for `receiver`'s `nth` delivery: that delivery.
async fn award_and_receive(
    admin: &Client,
    receiver: &Receiver,
    name: &str,
    nth: usize,
) -> Received {
    award(admin, name).await;
    receiver
        .wait_for(Duration::from_secs(30), &format!("delivery {nth}"), |r| {
            r.len() >= nth
        })
        .await;
    receiver.received()[nth - 1].clone()
}

/// A replay of the subscription `id`'s deliveries from the log position `from`, which must be
/// accepted: the subscription as the answer shows it.
async fn replay(admin: &Client, id: &str, from: u64) -> Value {
    let (status, replayed) = admin
        .post_json(
            &format!("/v1/admin/webhooks/{id}/replay"),
            json!({"from": from}),
        )
        .await;
    assert_eq!(status, 200, "{replayed}");
    replayed
}

/// Registers an organisation called `name` and gives it a silver award as `admin`: the award's
/// certificate number.
pub(crate) async fn award(admin: &Client, name: &str) -> String {
    let (_, number) = admin
        .organisation_with_award(name, "silver", "2025-06-01")
        .await;
    number
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_verifies_with_the_standardwebhooks_library_and_a_tampered_one_does_not() {
    let db = fresh_db(Backend::Sqlite).await.unwrap();
    let dir = temp_dir();
    let token = admin_token(&db, dir.path(), "webhooks");
    let (_server, base) = server(&db, dir.path(), 100, 5).await;
    let admin = Client::new(&base).with_token(&token);
    let receiver = Receiver::start(204).await;
    let (id, secret) = subscribe_shown_once(&admin, &receiver).await;
    let scratch = temp_dir();
    deliveries_are_signed_in_log_order(&admin, &receiver, &id, &secret, &scratch).await;
    let (new_secret, fourth) = a_rotated_secret_signs_beside_the_old_for_the_overlap(
        &admin, &receiver, &id, &secret, &scratch,
    )
    .await;
    let fourth_position = a_replay_resends(&admin, &receiver, &id, &fourth).await;
    a_deleted_subscription_is_gone(&admin, &id).await;
    let secrets = [secret.as_str(), new_secret.as_str()];
    every_admin_action_is_a_private_event(
        &admin,
        &receiver,
        &token,
        &id,
        fourth_position,
        &secrets,
    )
    .await;
}

/// Subscribes `receiver` to issued and revoked awards: (the id, the secret), which is shown
/// once and never again (not in the list, not in the subscription).
async fn subscribe_shown_once(admin: &Client, receiver: &Receiver) -> (String, String) {
    let (id, secret) = subscribe(admin, &receiver.url, &["award.issued", "award.revoked"]).await;
    assert!(secret.starts_with("whsec_"));
    use base64::Engine as _;
    let key = base64::engine::general_purpose::STANDARD
        .decode(&secret["whsec_".len()..])
        .unwrap();
    assert!(key.len() >= 24, "the secret is {} bytes", key.len());

    // The secret is shown once: not in the list, not in the subscription.
    let (status, list) = admin.get_json("/v1/admin/webhooks").await;
    assert_eq!(status, 200);
    assert_eq!(list["items"][0]["id"], id);
    let (_, shown) = admin.get_json(&format!("/v1/admin/webhooks/{id}")).await;
    for answer in [&list, &shown] {
        assert!(
            !answer.to_string().contains(&secret["whsec_".len()..]),
            "{answer}"
        );
        assert!(!answer.to_string().contains("whsec_"), "{answer}");
    }

    (id, secret)
}

/// `message` as a file the standardwebhooks library reads (in `scratch`, named `name`).
fn message_file(scratch: &tempfile::TempDir, name: &str, r: &Received) -> String {
    let message = scratch.path().join(name);
    std::fs::write(
        &message,
        serde_json::to_vec(&json!({"headers": r.headers, "body": r.body})).unwrap(),
    )
    .unwrap();
    message.to_str().unwrap().to_owned()
}

/// An award issued and revoked: two deliveries, in log order, each named by its leaf hash,
/// signed so that the standardwebhooks library verifies them (and not a tampered copy), and
/// listed in the subscription's history.
async fn deliveries_are_signed_in_log_order(
    admin: &Client,
    receiver: &Receiver,
    id: &str,
    secret: &str,
    scratch: &tempfile::TempDir,
) {
    let number = award(admin, "Riverside Community Health").await;
    // A change states the version it read: the ETag of the award's record.
    let record = admin.get(&format!("/v1/awards/{number}")).await;
    let tag = record.headers()["etag"].to_str().unwrap().to_owned();
    let revoked = Client::send(
        admin
            .request(
                reqwest::Method::POST,
                &format!("/v1/admin/awards/{number}/revoke"),
            )
            .header("If-Match", tag)
            .json(&json!({"reason": "Issued in error"})),
    )
    .await;
    assert_eq!(revoked.status(), 200, "{:?}", revoked.text().await);
    receiver
        .wait_for(Duration::from_secs(30), "two deliveries", |r| r.len() >= 2)
        .await;
    let got = receiver.received();
    assert_eq!(got.len(), 2, "one delivery each, no more");
    let types: Vec<Value> = got.iter().map(|r| r.json()["type"].clone()).collect();
    assert_eq!(types, [json!("award.issued"), json!("award.revoked")]);
    let first = position_of(admin, id, got[0].id()).await;
    assert!(
        first < position_of(admin, id, got[1].id()).await,
        "in log order"
    );
    for r in &got {
        // The id names the event by its leaf hash: the one the public log lists for it.
        let position = position_of(admin, id, r.id()).await;
        assert_eq!(r.id(), expected_message_id(admin, id, position).await);
        assert!(r.headers["webhook-signature"].starts_with("v1,"));
        assert!(r.headers["webhook-timestamp"].parse::<i64>().is_ok());
        assert_eq!(r.json()["data"]["certificate_number"], number.as_str());
    }
    assert_eq!(got[1].json()["data"]["status"], "revoked");
    // No private event (tokens, organisations' registration) was sent.
    assert!(got.iter().all(|r| !r.body.contains("token")));

    for r in &got {
        let message = message_file(scratch, "message.json", r);
        let checked = python(&["webhook", secret, &message]);
        assert_eq!(checked["verified"], true, "{checked}");
        assert_eq!(checked["tampered_verified"], false, "{checked}");
        assert_eq!(checked["payload"]["type"], r.json()["type"]);
    }

    // The history an admin reads.
    let (status, history) = admin
        .get_json(&format!("/v1/admin/webhooks/{id}/deliveries"))
        .await;
    assert_eq!(status, 200);
    let items = history["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{history}");
    assert!(
        items
            .iter()
            .all(|d| d["delivered"] == true && d["status_code"] == 204)
    );
}

/// A rotated secret signs what comes next; the old one signs beside it for the overlap, then no
/// more: (the new secret, the fourth delivery, signed by it alone).
async fn a_rotated_secret_signs_beside_the_old_for_the_overlap(
    admin: &Client,
    receiver: &Receiver,
    id: &str,
    secret: &str,
    scratch: &tempfile::TempDir,
) -> (String, Received) {
    let (status, rotated) = admin
        .post_json(&format!("/v1/admin/webhooks/{id}/rotate-secret"), json!({}))
        .await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert!(new_secret.starts_with("whsec_") && new_secret != secret);
    assert!(
        rotated["previous_secret_valid_until"].is_string(),
        "{rotated}"
    );
    let verifies = |r: &Received, secret: &str, name: &str| {
        python(&["webhook", secret, &message_file(scratch, name, r)])["verified"] == true
    };
    let third = award_and_receive(admin, receiver, "Lakeside Health", 3).await;
    assert_eq!(
        third.headers["webhook-signature"].split(' ').count(),
        2,
        "two signatures while the secrets overlap"
    );
    assert!(
        verifies(&third, &new_secret, "third.json"),
        "the new secret"
    );
    assert!(
        verifies(&third, secret, "third.json"),
        "the old, in the overlap"
    );
    tokio::time::sleep(Duration::from_secs(ROTATION_OVERLAP_S + 1)).await;
    let fourth = award_and_receive(admin, receiver, "Hillside Health", 4).await;
    assert_eq!(fourth.headers["webhook-signature"].split(' ').count(), 1);
    assert!(verifies(&fourth, &new_secret, "fourth.json"));
    assert!(
        !verifies(&fourth, secret, "fourth.json"),
        "the overlap is over"
    );

    (new_secret, fourth)
}

/// A replay from the fourth delivery's position sends it again: that position.
async fn a_replay_resends(admin: &Client, receiver: &Receiver, id: &str, fourth: &Received) -> u64 {
    let fourth_position = position_of(admin, id, fourth.id()).await;
    replay(admin, id, fourth_position).await;
    receiver
        .wait_for(Duration::from_secs(30), "the replay", |r| r.len() >= 5)
        .await;
    assert_eq!(receiver.received()[4].id(), fourth.id());
    fourth_position
}

/// Deleted: gone from the list, 404 after.
async fn a_deleted_subscription_is_gone(admin: &Client, id: &str) {
    let path = format!("/v1/admin/webhooks/{id}");
    let (status, _) = admin.call(reqwest::Method::DELETE, &path, None).await;
    assert_eq!(status, 204);
    let (status, gone) = admin.get_json(&path).await;
    assert_eq!(
        (status, gone["code"].clone()),
        (404, json!("webhook_not_found"))
    );
    let (status, again) = admin.call(reqwest::Method::DELETE, &path, None).await;
    assert_eq!(
        (status, again["code"].clone()),
        (404, json!("webhook_not_found"))
    );
}

/// Every admin action on the subscription is a private event in the log, with its actor (the
/// token), and no secret; the public log shows it as a leaf hash only.
async fn every_admin_action_is_a_private_event(
    admin: &Client,
    receiver: &Receiver,
    token: &str,
    id: &str,
    fourth_position: u64,
    secrets: &[&str],
) {
    let (status, feed) = admin.get_json("/v1/admin/events?limit=1000").await;
    assert_eq!(status, 200);
    let actions: Vec<&Value> = feed["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["stream_id"] == format!("webhook-{id}"))
        .collect();
    let types: Vec<&str> = actions
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "webhook_subscribed",
            "webhook_secret_rotated",
            "webhook_replayed",
            "webhook_deleted"
        ]
    );
    let token_id = token.split('_').nth(1).unwrap();
    for e in &actions {
        assert_eq!(e["visibility"], "private", "{e}");
        assert_eq!(e["actor"], format!("token:{token_id}"), "{e}");
    }
    let subscribed = &actions[0]["payload"]["data"];
    assert_eq!(
        subscribed["event_types"],
        json!(["award.issued", "award.revoked"])
    );
    let origin = receiver.url.trim_end_matches("/hook");
    assert_eq!(subscribed["target"], origin, "{subscribed}");
    assert_eq!(
        actions[2]["payload"]["data"]["from_position"],
        fourth_position
    );
    let feed_text = feed.to_string();
    for s in secrets {
        assert!(
            !feed_text.contains(&s["whsec_".len()..]),
            "a secret in the log"
        );
    }
    // Private: the public log shows the entries as leaf hashes only.
    let position = actions[0]["position"].as_u64().unwrap();
    let entries = admin
        .json(&format!("/v1/log/entries?start={position}&limit=1"))
        .await;
    assert_eq!(entries["entries"][0]["visibility"], "private", "{entries}");
    assert!(
        !entries.to_string().contains("webhook_subscribed"),
        "{entries}"
    );
    assert!(!entries.to_string().contains(origin), "{entries}");
}

/// Every `webhook-id` in `got`, with how many times it came.
fn counts(got: &[Received]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for r in got {
        *counts.entry(r.id().to_owned()).or_insert(0) += 1;
    }
    counts
}

async fn a_server_killed_in_the_middle_of_a_backlog_delivers_every_event_after_a_restart(
    backend: Backend,
) {
    const AWARDS: usize = 16;
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let dir = temp_dir();
    let token = admin_token(&db, dir.path(), "webhooks");
    let receiver = Receiver::start(200).await;
    receiver.delay_ms.store(150, Ordering::SeqCst);
    let (mut first, base) = server(&db, dir.path(), 100, 50).await;
    let admin = Client::new(&base).with_token(&token);
    let (id, _) = subscribe(&admin, &receiver.url, &["award.issued"]).await;
    for i in 0..AWARDS {
        award(&admin, &format!("Backlog Trust {i}")).await;
    }
    receiver
        .wait_for(Duration::from_secs(60), "a few deliveries", |r| {
            r.len() >= 4
        })
        .await;
    // SIGKILL, in the middle of the backlog.
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let before = receiver.received().len();
    assert!(
        before < AWARDS,
        "the backlog was not in the middle: {before}"
    );

    let (_second, base) = server(&db, dir.path(), 100, 50).await;
    receiver
        .wait_for(Duration::from_secs(90), "every award delivered", |r| {
            counts(r).len() >= AWARDS
        })
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got = receiver.received();
    let counts = counts(&got);
    assert_eq!(counts.len(), AWARDS, "{counts:?}");
    // Only the delivery in flight when the process died may come twice (its 2xx was never
    // recorded); every other was sent once.
    let repeated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        repeated.len() <= 1 && repeated.iter().all(|(_, n)| **n == 2),
        "{repeated:?}"
    );
    // In log order: each first arrival after the previous one's.
    let admin = Client::new(&base).with_token(&token);
    let mut seen = BTreeSet::new();
    let mut firsts: Vec<u64> = Vec::new();
    for r in got.iter().filter(|r| seen.insert(r.id().to_owned())) {
        firsts.push(position_of(&admin, &id, r.id()).await);
    }
    assert!(firsts.windows(2).all(|w| w[0] < w[1]), "{firsts:?}");
    let (_, shown) = admin.get_json(&format!("/v1/admin/webhooks/{id}")).await;
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["consecutive_failures"], 0);
}

on_both_databases! {
    backend:
    a_server_killed_in_the_middle_of_a_backlog_delivers_every_event_after_a_restart,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_database_deliver_each_event_once() {
    const AWARDS: usize = 12;
    let Some(db) = fresh_db(Backend::Postgres).await else {
        return;
    };
    let dir = temp_dir();
    let token = admin_token(&db, dir.path(), "webhooks");
    let receiver = Receiver::start(200).await;
    receiver.delay_ms.store(30, Ordering::SeqCst);
    let (_one, base_one) = server(&db, dir.path(), 100, 50).await;
    let (_two, base_two) = server(&db, dir.path(), 100, 50).await;
    let one = Client::new(&base_one).with_token(&token);
    let two = Client::new(&base_two).with_token(&token);
    let (id, _) = subscribe(&one, &receiver.url, &["award.issued", "award.suspended"]).await;
    for i in 0..AWARDS {
        let admin = if i % 2 == 0 { &one } else { &two };
        award(admin, &format!("Shared Trust {i}")).await;
    }
    receiver
        .wait_for(Duration::from_secs(60), "every award delivered", |r| {
            counts(r).len() >= AWARDS
        })
        .await;
    // Both servers keep looking for a while: nothing comes twice.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = receiver.received();
    let counts = counts(&got);
    assert_eq!(counts.len(), AWARDS);
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
    let mut positions: Vec<u64> = Vec::new();
    for r in &got {
        positions.push(position_of(&one, &id, r.id()).await);
    }
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_receiver_gets_retries_until_the_subscription_is_disabled_and_a_replay_resends() {
    let db = fresh_db(Backend::Sqlite).await.unwrap();
    let dir = temp_dir();
    let token = admin_token(&db, dir.path(), "webhooks");
    let receiver = Receiver::start(500).await;
    let (_server, base) = server(&db, dir.path(), 200, 4).await;
    let admin = Client::new(&base).with_token(&token);
    let (id, _) = subscribe(&admin, &receiver.url, &["award.issued"]).await;
    award(&admin, "Failing Receiver Trust").await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let shown = loop {
        let (_, shown) = admin.get_json(&format!("/v1/admin/webhooks/{id}")).await;
        if shown["status"] == "disabled" {
            break shown;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not disabled: {shown}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(shown["consecutive_failures"], 4);
    assert!(
        shown["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("4 failed"),
        "{shown}"
    );
    let got = receiver.received();
    assert_eq!(got.len(), 4, "four attempts, then none");
    assert!(
        got.iter().all(|r| r.id() == got[0].id()),
        "the same message each time"
    );
    let (_, history) = admin
        .get_json(&format!("/v1/admin/webhooks/{id}/deliveries"))
        .await;
    let attempts: Vec<Value> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| json!([d["attempt"], d["status_code"], d["delivered"]]))
        .collect();
    assert_eq!(
        attempts,
        [
            json!([4, 500, false]),
            json!([3, 500, false]),
            json!([2, 500, false]),
            json!([1, 500, false])
        ]
    );
    // Backed off: the attempts are spread, not sent at once (waits of at least 100, 200 and
    // 400 ms with a 200 ms base and jitter of one half).
    let times: Vec<chrono::DateTime<chrono::Utc>> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|d| d["attempted_at"].as_str().unwrap().parse().unwrap())
        .collect();
    let span = times[3] - times[0];
    assert!(span >= chrono::Duration::milliseconds(650), "{times:?}");

    // Fixed receiver, replay from the award's position: delivered, enabled again.
    receiver.status.store(200, Ordering::SeqCst);
    let position = position_of(&admin, &id, got[0].id()).await;
    let replayed = replay(&admin, &id, position).await;
    assert_eq!(replayed["status"], "active");
    receiver
        .wait_for(Duration::from_secs(30), "the replayed delivery", |r| {
            r.len() >= 5
        })
        .await;
    assert_eq!(receiver.received()[4].id(), got[0].id());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, shown) = admin.get_json(&format!("/v1/admin/webhooks/{id}")).await;
    assert_eq!(shown["consecutive_failures"], 0, "{shown}");
    assert!(shown["next_position"].as_u64().unwrap() > position);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_loopback_and_link_local_targets_are_refused_without_the_flag() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    for url in [
        "https://127.0.0.1/hook",
        "https://localhost:8443/hook",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://[::ffff:a9fe:a9fe]/hook",
        "https://10.1.2.3/hook",
        "https://172.16.0.1/hook",
        "https://192.168.1.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[fe80::1]/hook",
        "https://[fd00::1]/hook",
        "https://0.0.0.0/hook",
        "https://100.64.0.1/hook",
        "https://[64:ff9b::7f00:1]/hook",
        "https://[2002:7f00:1::]/hook",
    ] {
        let response = app
            .admin_post(
                "/v1/admin/webhooks",
                json!({"url": url, "event_types": ["award.revoked"]}),
            )
            .await;
        assert_eq!(response.status(), 422, "{url}");
        assert_eq!(
            response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json")
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "webhook_target_refused", "{url}: {body}");
        assert!(
            body["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("--webhooks-allow-private-targets"),
            "{body}"
        );
    }
    for (url, types, code) in [
        (
            "http://example.org/hook",
            json!(["award.revoked"]),
            "webhook_url_invalid",
        ),
        (
            "ftp://example.org/hook",
            json!(["award.revoked"]),
            "webhook_url_invalid",
        ),
        ("not a url", json!(["award.revoked"]), "webhook_url_invalid"),
        (
            "https://user:pw@example.org/",
            json!(["award.revoked"]),
            "webhook_url_invalid",
        ),
        (
            "https://example.org/",
            json!([]),
            "webhook_event_types_invalid",
        ),
        (
            "https://example.org/",
            json!(["api_token.created"]),
            "webhook_event_types_invalid",
        ),
        (
            "https://example.org/",
            json!(["drop_in_attended"]),
            "webhook_event_types_invalid",
        ),
    ] {
        let response = app
            .admin_post(
                "/v1/admin/webhooks",
                json!({"url": url, "event_types": types}),
            )
            .await;
        assert_eq!(response.status(), 400, "{url} {types}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], code, "{url} {types}: {body}");
    }
    let (_, list): (u16, Value) = {
        let r = app
            .request(reqwest::Method::GET, "/v1/admin/webhooks")
            .bearer_auth(&app.admin)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    };
    assert_eq!(list["items"], json!([]), "nothing was registered");
}

#[test]
fn every_kind_of_non_public_address_is_forbidden_and_public_ones_are_not() {
    use std::net::IpAddr;
    use wexqs::service::webhooks::is_forbidden;
    for forbidden in [
        "127.0.0.1",
        "10.0.0.1",
        "172.31.255.255",
        "192.168.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "255.255.255.255",
        "224.0.0.1",
        "::1",
        "::",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "::127.0.0.1",
        "64:ff9b::a00:1",
        "2002:c0a8:101::",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
    ] {
        let ip: IpAddr = forbidden.parse().unwrap();
        assert!(is_forbidden(ip), "{forbidden}");
    }
    for public in [
        "93.184.216.34",
        "8.8.8.8",
        "2606:4700::1111",
        "::ffff:8.8.8.8",
        "2001:4860::8888",
    ] {
        let ip: IpAddr = public.parse().unwrap();
        assert!(!is_forbidden(ip), "{public}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_token_may_not_manage_webhooks() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let reviewer = app.as_reviewer();
    let nobody = app.with_token("wexqs_nope_nope");
    let wid = "wh_0";
    for (method, path, body) in [
        (
            reqwest::Method::POST,
            "/v1/admin/webhooks".to_owned(),
            Some(json!({"url": "https://example.org/", "event_types": ["award.revoked"]})),
        ),
        (reqwest::Method::GET, "/v1/admin/webhooks".to_owned(), None),
        (
            reqwest::Method::GET,
            format!("/v1/admin/webhooks/{wid}"),
            None,
        ),
        (
            reqwest::Method::DELETE,
            format!("/v1/admin/webhooks/{wid}"),
            None,
        ),
        (
            reqwest::Method::POST,
            format!("/v1/admin/webhooks/{wid}/rotate-secret"),
            Some(json!({})),
        ),
        (
            reqwest::Method::GET,
            format!("/v1/admin/webhooks/{wid}/deliveries"),
            None,
        ),
        (
            reqwest::Method::POST,
            format!("/v1/admin/webhooks/{wid}/replay"),
            Some(json!({"from": 0})),
        ),
    ] {
        let (status, answer) = reviewer.call(method.clone(), &path, body.as_ref()).await;
        assert_eq!(
            (status, answer["code"].clone()),
            (403, json!("forbidden")),
            "{method} {path}"
        );
        let (status, _) = nobody.call(method.clone(), &path, body.as_ref()).await;
        assert_eq!(status, 401, "{method} {path}");
    }
}
