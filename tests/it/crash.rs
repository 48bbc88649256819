//! Crashes and concurrency through real server processes: a server killed with SIGKILL in the
//! middle of concurrent writes, round after round, on SQLite and PostgreSQL, loses no
//! acknowledged write and leaves a log that verifies; and two servers writing to one PostgreSQL
//! database at once keep positions dense and see each other's writes within a second.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wexqs::store::{EventStore, verify_log};

use crate::helpers::{
    Backend, Db, KillOnDrop, admin_token, fresh_db, on_both_databases, open_store, start_server,
    temp_dir, text, wexqs,
};

/// (organisation id, certificate number) of each award whose issue was acknowledged (201).
type Acknowledged = Arc<Mutex<Vec<(String, String)>>>;

/// Writers registering organisations and issuing them awards through `base` until it stops
/// answering (or `until`), recording each acknowledged award.
fn spawn_writers(
    base: &str,
    token: &str,
    label: &str,
    count: usize,
    acknowledged: &Acknowledged,
    until: Instant,
) -> Vec<tokio::task::JoinHandle<()>> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client");
    (0..count)
        .map(|w| {
            let (client, base, token, acknowledged) = (
                client.clone(),
                base.to_owned(),
                token.to_owned(),
                acknowledged.clone(),
            );
            let label = format!("{label} {w}");
            tokio::spawn(async move {
                let mut i = 0;
                while Instant::now() < until {
                    i += 1;
                    let org = client
                        .post(format!("{base}/v1/admin/organisations"))
                        .bearer_auth(&token)
                        .json(&serde_json::json!({"name": format!("Writer {label} Trust {i}"), "region": "london"}))
                        .send()
                        .await;
                    let Ok(org) = org else { return };
                    if org.status() != 201 {
                        return;
                    }
                    let Ok(org) = org.json::<serde_json::Value>().await else { return };
                    let id = org["id"].as_str().unwrap_or_default().to_owned();
                    let award = client
                        .post(format!("{base}/v1/admin/awards"))
                        .bearer_auth(&token)
                        .json(&serde_json::json!({"organisation_id": id, "level": "gold", "awarded_on": "2025-06-01"}))
                        .send()
                        .await;
                    let Ok(award) = award else { return };
                    if award.status() != 201 {
                        return;
                    }
                    let Ok(award) = award.json::<serde_json::Value>().await else { return };
                    let number = award["certificate_number"].as_str().unwrap_or_default().to_owned();
                    acknowledged.lock().expect("not poisoned").push((id, number));
                }
            })
        })
        .collect()
}

/// Every acknowledged award is in the log; positions are dense and the hash chain holds (the
/// library's check and `wexqs log verify`); no event is stored twice; the projections equal a
/// replay of the log.
async fn assert_log_whole(db: &Db, data_dir: &Path, acknowledged: &[(String, String)], when: &str) {
    let store = open_store(db).await;
    let check = verify_log(&store, |_| {}).await.expect("checked");
    assert_eq!(check.problem, None, "{when}: the log verifies");
    let verified = wexqs(db, data_dir, &["log", "verify"]);
    assert!(
        verified.status.success(),
        "{when}: wexqs log verify: {}{}",
        text(&verified.stdout),
        text(&verified.stderr)
    );
    let events = store.read(0, u32::MAX).await.expect("the log");
    let positions: Vec<u64> = events.iter().map(|e| e.position).collect();
    assert_eq!(
        positions,
        (0..events.len() as u64).collect::<Vec<_>>(),
        "{when}: positions are dense from 0"
    );
    let ids: HashSet<_> = events.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len(), events.len(), "{when}: no event is stored twice");
    let state = wexqs::service::fold_log(&store, |_| {})
        .await
        .expect("replayed");
    for (org, number) in acknowledged {
        let number: wexqs::domain::CertificateNumber = number.parse().expect("a number");
        assert!(
            state.awards.contains_key(&number),
            "{when}: acknowledged award {number} survived"
        );
        assert!(
            state.organisations.keys().any(|k| k.to_string() == *org),
            "{when}: acknowledged organisation {org} survived"
        );
    }
    assert_eq!(
        store.projections().await.expect("rows"),
        wexqs::projection::all_rows(&state),
        "{when}: the projections agree with the log"
    );
}

/// Rounds of: start a server, write from four clients at once, SIGKILL the server after a
/// varying while, check the log. Bounded to about 30 seconds.
async fn sigkill_rounds_lose_no_acknowledged_write(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let dir = temp_dir();
    let token = admin_token(&db, dir.path(), "writer");
    let acknowledged: Acknowledged = Arc::default();
    let started = Instant::now();
    let mut rounds = 0u64;
    while rounds < 3 || (rounds < 12 && started.elapsed() < Duration::from_secs(22)) {
        let (mut server, base) = start_server(&db, dir.path()).await;
        let before = acknowledged.lock().expect("not poisoned").len();
        let writers = spawn_writers(
            &base,
            &token,
            &format!("{rounds}"),
            4,
            &acknowledged,
            Instant::now() + Duration::from_secs(60),
        );
        // Once writes are flowing, a different moment in each round, so the kill lands in
        // different places of an append.
        let waiting = Instant::now();
        while acknowledged.lock().expect("not poisoned").len() == before {
            assert!(
                waiting.elapsed() < Duration::from_secs(15),
                "round {rounds}: no write was acknowledged"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(50 + (rounds * 377) % 1000)).await;
        server.kill().expect("SIGKILL");
        let _ = server.wait();
        for w in writers {
            w.await.expect("the writer ended");
        }
        let acknowledged = acknowledged.lock().expect("not poisoned").clone();
        assert!(
            acknowledged.len() > before,
            "round {rounds}: writes were acknowledged before the kill"
        );
        assert_log_whole(
            &db,
            dir.path(),
            &acknowledged,
            &format!("after kill {rounds}"),
        )
        .await;
        rounds += 1;
    }
    let total = acknowledged.lock().expect("not poisoned").len();
    eprintln!(
        "crash: {rounds} SIGKILLs in {:?}, {total} acknowledged awards, none lost",
        started.elapsed()
    );
}

on_both_databases!(backend: sigkill_rounds_lose_no_acknowledged_write);

/// Issues one award through `writer` and waits until `reader` shows it: the time that took.
async fn time_to_see(writer: &str, reader: &str, token: &str, name: &str) -> Duration {
    let client = reqwest::Client::new();
    let org: serde_json::Value = client
        .post(format!("{writer}/v1/admin/organisations"))
        .bearer_auth(token)
        .json(&serde_json::json!({"name": name, "region": "london"}))
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("JSON");
    let award = client
        .post(format!("{writer}/v1/admin/awards"))
        .bearer_auth(token)
        .json(&serde_json::json!({"organisation_id": org["id"], "level": "silver", "awarded_on": "2025-06-01"}))
        .send()
        .await
        .expect("an answer");
    assert_eq!(award.status(), 201);
    let number = award.json::<serde_json::Value>().await.expect("JSON")["certificate_number"]
        .as_str()
        .expect("a number")
        .to_owned();
    let written = Instant::now();
    loop {
        let seen = client
            .get(format!("{reader}/v1/awards/{number}/verification"))
            .send()
            .await
            .expect("an answer");
        if seen.status() == 200 {
            return written.elapsed();
        }
        assert!(
            written.elapsed() < Duration::from_secs(5),
            "{reader} never saw {number}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_writing_to_one_postgresql_database_keep_one_dense_log_and_see_each_other() {
    let Some(db) = fresh_db(Backend::Postgres).await else {
        return;
    };
    // One data folder: both instances sign with the same registry key, as a deployment would.
    let dir = temp_dir();
    let token = admin_token(&db, dir.path(), "writer");
    let (server_a, a) = start_server(&db, dir.path()).await;
    let (server_b, b) = start_server(&db, dir.path()).await;
    let _servers = (KillOnDrop(server_a), KillOnDrop(server_b));

    let (through_a, through_b): (Acknowledged, Acknowledged) = Default::default();
    let until = Instant::now() + Duration::from_secs(4);
    let mut writers = spawn_writers(&a, &token, "A", 2, &through_a, until);
    writers.extend(spawn_writers(&b, &token, "B", 2, &through_b, until));
    for w in writers {
        w.await.expect("the writer ended");
    }
    let through_a = through_a.lock().expect("not poisoned").clone();
    let through_b = through_b.lock().expect("not poisoned").clone();
    assert!(
        through_a.len() > 10 && through_b.len() > 10,
        "both instances wrote: {} and {} awards",
        through_a.len(),
        through_b.len()
    );
    let acknowledged: Vec<_> = through_a.into_iter().chain(through_b).collect();

    let a_to_b = time_to_see(&a, &b, &token, "Seen From A Trust").await;
    let b_to_a = time_to_see(&b, &a, &token, "Seen From B Trust").await;
    eprintln!(
        "crash: {} awards written through two instances; B saw A's write after {a_to_b:?}, A saw B's after {b_to_a:?}",
        acknowledged.len()
    );
    // Each instance polls the log head once a second.
    for (seen, what) in [(a_to_b, "B sees A's write"), (b_to_a, "A sees B's write")] {
        assert!(seen < Duration::from_millis(1500), "{what}: {seen:?}");
    }
    // Both instances agree on the whole register.
    let client = reqwest::Client::new();
    let totals = register_totals(&client, &[&a, &b]).await;
    assert_eq!(
        totals[0], totals[1],
        "both instances show the same register"
    );
    assert_log_whole(&db, dir.path(), &acknowledged, "two writers").await;
}

/// The register's size as each server answers it, once both have caught up.
async fn register_totals(client: &reqwest::Client, bases: &[&str]) -> Vec<serde_json::Value> {
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mut totals = Vec::new();
    for base in bases {
        let page: serde_json::Value = client
            .get(format!("{base}/v1/register?per_page=1"))
            .send()
            .await
            .expect("an answer")
            .json()
            .await
            .expect("JSON");
        totals.push(page["total"].clone());
    }
    totals
}
