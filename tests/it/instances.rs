//! Reading one's own writes across instances: two registries serving one database (the second
//! with no background poll at all, so only what a read itself does can show it a write made
//! through the first), and a command line writing to the database a server is serving.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::client::Client;
use wexqs::service::FixedClock;
use wexqs::store::EventStore;

use crate::crash::tokens_revoked;
use crate::helpers::{
    Backend, TestApp, at, fresh_db, on_both_databases, open_store, replayed, start_registry,
    start_server, temp_dir, text, wexqs,
};

/// A second instance on `app`'s database, served on its own port: its base URL.
async fn second_instance(app: &TestApp) -> String {
    let registry = start_registry(&app._db, app.clock.clone(), 77).await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let base = format!("http://{}", listener.local_addr().expect("an address"));
    let state = wexqs::http::AppState::new(Arc::clone(&registry), app.base());
    tokio::spawn(wexqs::http::serve(
        listener,
        state,
        2,
        std::future::pending(),
    ));
    base
}

async fn get(base: &str, path: String, wait_for: Option<&str>) -> reqwest::Response {
    let mut request = Client::new(base).request(reqwest::Method::GET, &path);
    if let Some(position) = wait_for {
        request = request.header("X-Wait-For-Position", position);
    }
    request.send().await.expect("the server answers")
}

fn log_position(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("x-log-position")
        .and_then(|v| v.to_str().ok())
        .expect("a write's answer carries its log position")
        .to_owned()
}

async fn a_write_through_one_instance_is_read_at_once_through_the_other(app: TestApp) {
    let other = second_instance(&app).await;
    let mut found = 0;
    for i in 0..20 {
        let org = app
            .organisation(&format!("Instance {i} Hospitals NHS Trust"), None)
            .await;
        let organisation = Client::new(&other)
            .with_token(&app.reviewer)
            .get(&format!("/v1/admin/organisations/{org}"))
            .await;
        let number = app.award(&org, "silver", "2025-06-01").await;
        let record = get(&other, format!("/v1/awards/{number}"), None).await;
        let page = get(&other, format!("/verify/{number}"), None).await;
        if [record.status(), page.status(), organisation.status()] == [200; 3] {
            found += 1;
        }
    }
    assert_eq!(
        found, 20,
        "reads through the other instance that found the write"
    );

    // A change to an award the other instance already holds: the read names the write's
    // position and is answered once the instance holds it.
    let org = app
        .organisation("Changeling Hospitals NHS Trust", None)
        .await;
    let number = app.award(&org, "gold", "2025-06-01").await;
    for (action, status) in [("suspend", "suspended"), ("reinstate", "valid")] {
        let path = format!("/v1/admin/awards/{number}/{action}");
        let written = app.admin_post(&path, json!({"reason": "checked"})).await;
        assert_eq!(written.status(), 200, "{action}");
        let position = log_position(&written);
        let path = format!("/v1/awards/{number}/verification");
        let read = get(&other, path, Some(&position)).await;
        let v: Value = read.json().await.expect("JSON");
        assert_eq!(v["status"], status, "after {action}: {v}");
    }
    let malformed = get(&other, "/v1/programme".to_owned(), Some("soon")).await;
    assert_eq!(malformed.status(), 400);
}

async fn an_idempotent_retry_on_the_other_instance_gets_the_first_answer(app: TestApp) {
    let other = second_instance(&app).await;
    let org = app.organisation("Retrying Hospitals NHS Trust", None).await;
    let body = json!({"organisation_id": org, "level": "bronze", "awarded_on": "2025-03-03"});
    let send = |base: String, key: &'static str, body: Value| {
        Client::new(&base)
            .with_token(&app.admin)
            .request(reqwest::Method::POST, "/v1/admin/awards")
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let first = send(app.base().to_owned(), "issue-once", body.clone())
        .await
        .expect("answered");
    assert_eq!(first.status(), 201);
    let position = log_position(&first);
    let first: Value = first.json().await.expect("JSON");
    for _ in 0..6 {
        let retry = send(other.clone(), "issue-once", body.clone())
            .await
            .expect("answered");
        assert_eq!(
            retry.status(),
            201,
            "the retry is answered as the first was"
        );
        assert_eq!(log_position(&retry), position);
        assert!(replayed(&retry), "the first answer again");
        let retry: Value = retry.json().await.expect("JSON");
        assert_eq!(retry["certificate_number"], first["certificate_number"]);
    }
}

on_both_databases! { app:
    a_write_through_one_instance_is_read_at_once_through_the_other,
    an_idempotent_retry_on_the_other_instance_gets_the_first_answer,
}

/// An instance reads its own append from memory: its writer applies what it committed when it
/// follows what memory holds, so no catch-up reads it back from the database. When another
/// instance appended in between, what it committed does not follow, is not applied, and the
/// next catch-up reads both in order.
async fn an_append_is_read_from_memory_unless_another_instance_wrote_in_between(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let clock = Arc::new(FixedClock::new(at(2026, 11, 24)));
    let a = start_registry(&db, clock.clone(), 11).await;
    let b = start_registry(&db, clock, 12).await;
    let store = open_store(&db).await;
    let head = || async { store.head().await.expect("the log head").size };
    a.catch_up().await.expect("caught up");

    let before = wexqs::testing::catch_ups_begun(&a);
    wexqs::testing::append(&a, tokens_revoked(3))
        .await
        .expect("appended");
    assert_eq!(a.size(), head().await, "its own append is in memory");
    assert_eq!(
        wexqs::testing::catch_ups_begun(&a),
        before,
        "and no catch-up read it back"
    );

    // B appends; A's next append lands after B's, which A has not read.
    wexqs::testing::append(&b, tokens_revoked(2))
        .await
        .expect("appended");
    let held = a.size();
    wexqs::testing::append(&a, tokens_revoked(1))
        .await
        .expect("appended");
    assert_eq!(head().await, held + 3);
    assert_eq!(
        a.size(),
        held,
        "an append that does not follow memory is not applied"
    );
    a.catch_up().await.expect("caught up");
    b.catch_up().await.expect("caught up");
    assert_eq!(
        a.size(),
        head().await,
        "the catch-up read B's append and A's own"
    );
    assert_eq!(b.size(), a.size());
    let check = wexqs::store::check_log(&store, |_| {})
        .await
        .expect("the log is read");
    assert_eq!(check.problem, None, "the log is one chain");
    assert_eq!(check.size, a.size());
}

on_both_databases! { backend:
    an_append_is_read_from_memory_unless_another_instance_wrote_in_between,
}

/// The number of the last award issued in the log of `db`.
async fn last_issued(db: &crate::helpers::Db) -> String {
    let store = open_store(db).await;
    let events = wexqs::store::EventStore::read(&store, 0, 10_000)
        .await
        .expect("read");
    let issued = events
        .iter()
        .rev()
        .find(|e| e.event_type == "award_issued")
        .expect("an award issued");
    let payload: Value = serde_json::from_slice(&issued.payload).expect("JSON");
    payload["data"]["certificate_number"]
        .as_str()
        .expect("a number")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_command_line_writes_a_running_server_shows_at_once() {
    let db = fresh_db(Backend::Sqlite)
        .await
        .expect("SQLite is always there");
    let dir = temp_dir();
    let (server, base) = start_server(&db, dir.path()).await;
    let _server = crate::helpers::KillOnDrop(server);
    let client = reqwest::Client::new();
    for (i, name) in ["Quayside", "Riverbend", "Saltmarsh", "Tidewater"]
        .iter()
        .enumerate()
    {
        let csv = dir.path().join(format!("{name}.csv"));
        std::fs::write(
            &csv,
            format!(
                "organisation_name,ods_code,region,kind,level,awarded_on,issuer_name\n\
                 {name} Community Health Trust,ZQ{i},south_west,nhs_trust,silver,2025-06-02,\n"
            ),
        )
        .expect("written");
        let out = wexqs(&db, dir.path(), &["import", csv.to_str().expect("a path")]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        if i % 2 == 0 {
            // A read that misses catches up before it says "not found".
            let number = last_issued(&db).await;
            let record = client
                .get(format!("{base}/v1/awards/{number}"))
                .send()
                .await
                .expect("an answer");
            assert_eq!(record.status(), 200, "{name}: the award just imported");
            continue;
        }
        // A read that would not miss names the position the command printed.
        let said = text(&out.stdout);
        let position = said
            .rsplit("log position ")
            .next()
            .and_then(|p| p.trim().trim_end_matches(')').parse::<u64>().ok())
            .expect("the command says the log position it wrote up to");
        let page: Value = client
            .get(format!("{base}/v1/register?q={name}"))
            .header("X-Wait-For-Position", position.to_string())
            .send()
            .await
            .expect("an answer")
            .json()
            .await
            .expect("JSON");
        assert_eq!(page["total"], 1, "{name}: {page}");
    }
}

/// A large import is folded into its own registry's memory as it was written, not read back
/// from the log: what that registry then holds is what another, reading the log afresh, folds
/// it to (the state, every stream's version, the chain, the tree and each entry's time).
async fn an_import_folded_as_written_is_what_the_log_folds_to(app: TestApp) {
    use wexqs::service::Actor;
    use wexqs::service::import::{import_commands, read_csv};
    // More than two pieces of events, some organisations with two awards (the older
    // superseded in a later piece).
    let mut csv =
        String::from("organisation_name,ods_code,region,kind,level,awarded_on,issuer_name\n");
    for i in 0..2_500 {
        let org = i % 2_000;
        csv.push_str(&format!(
            "Folded Trust {org},,london,nhs_trust,{},{},\n",
            ["bronze", "silver", "gold"][i % 3],
            ["2025-02-03", "2025-09-10"][i / 2_000]
        ));
    }
    let rows = read_csv(csv.as_bytes()).expect("the rows parse");
    let before = wexqs::testing::memory(&app.registry).state.size;
    let summary = import_commands(&app.registry, &Actor::cli(), rows, None, |_| {})
        .await
        .expect("the import succeeds");
    assert_eq!(summary.issued.len(), 2_500);
    let folded = wexqs::testing::memory(&app.registry);
    assert!(
        folded.state.size > before + 7_000,
        "more than three pieces: {} entries",
        folded.state.size - before
    );
    assert_eq!(folded.broken, None);
    let credentials = folded
        .state
        .awards
        .values()
        .filter(|a| !a.credentials.is_empty())
        .count();
    assert_eq!(
        credentials, 2_500,
        "every imported award holds its credential"
    );

    let reader = start_registry(&app._db, app.clock.clone(), 78).await;
    reader.catch_up().await.expect("the log reads");
    let read = wexqs::testing::memory(&reader);
    assert_eq!(read.state.size, folded.state.size);
    assert!(
        folded == read,
        "what was folded as written differs from the log read afresh"
    );
}

on_both_databases!(app: an_import_folded_as_written_is_what_the_log_folds_to);
