//! The command line as a real process: tokens, import, demo, rebuild, log verify, and a server
//! started from an empty folder (the crash tests, which kill servers, are in `crash.rs`).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use wexqs::store::{EventStore, check_log};

use crate::client::Client;
use crate::helpers::{
    Backend, admin_token, answers_within, free_port, fresh_db, on_both_databases, open_store,
    start_registry, start_server, temp_dir, text, wexqs,
};
use crate::tamper;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_create_prints_the_token_alone_and_stores_only_its_hash() {
    let db = fresh_db(Backend::Sqlite)
        .await
        .expect("SQLite is always there");
    let dir = temp_dir();
    let out = wexqs(
        &db,
        dir.path(),
        &[
            "tokens",
            "create",
            "--role",
            "admin",
            "--name",
            "Programme lead",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let token = stdout.trim_end_matches('\n');
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    let parts: Vec<&str> = token.split('_').collect();
    assert_eq!(parts[0], "wexqs");
    assert_eq!((parts[1].len(), parts[2].len()), (12, 64));
    let store = open_store(&db).await;
    let row = store.token(parts[1]).await.expect("read").expect("stored");
    assert_eq!(row.role, "admin");
    assert_ne!(
        row.secret_hash, parts[2],
        "the secret is not stored as it is"
    );
    assert!(!row.secret_hash.contains(parts[2]));
    let revoke = wexqs(&db, dir.path(), &["tokens", "revoke", parts[1]]);
    assert!(revoke.status.success(), "{}", text(&revoke.stderr));
    assert!(
        store
            .token(parts[1])
            .await
            .expect("read")
            .expect("kept")
            .revoked_at
            .is_some()
    );
    let wrong_role = wexqs(
        &db,
        dir.path(),
        &["tokens", "create", "--role", "owner", "--name", "x"],
    );
    assert!(!wrong_role.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_reports_every_bad_row_and_imports_nothing_or_everything() {
    let db = fresh_db(Backend::Sqlite)
        .await
        .expect("SQLite is always there");
    let dir = temp_dir();
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "organisation_name,ods_code,region,kind,level,awarded_on,issuer_name\n\
         Good Trust,ZQ1,london,nhs_trust,gold,2025-01-01,\n\
         Paused Trust,ZQ2,london,nhs_trust,gold,2026-02-01,\n\
         Lost Trust,ZQ3,narnia,nhs_trust,gold,2025-01-01,\n\
         Shiny Trust,ZQ4,london,nhs_trust,platinum,2025-01-01,\n",
    )
    .expect("written");
    let out = wexqs(&db, dir.path(), &["import", bad.to_str().expect("a path")]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    for expected in [
        "line 3: programme_paused",
        "line 4: region_invalid",
        "line 5: level_invalid",
        "3 row(s) cannot be imported; nothing was imported",
    ] {
        assert!(stderr.contains(expected), "{expected:?} not in {stderr}");
    }
    let store = open_store(&db).await;
    assert_eq!(store.projections().await.expect("rows").1.len(), 0);

    let good = dir.path().join("good.csv");
    std::fs::write(
        &good,
        "organisation_name,ods_code,region,kind,level,awarded_on,issuer_name\n\
         Good Trust,ZQ1,london,nhs_trust,gold,2025-01-01,\n\
         Good Trust,ZQ1,london,nhs_trust,silver,2023-02-01,\n\
         Saint Anne's Hospice,,south_west,hospice,bronze,2025-10-01,\n",
    )
    .expect("written");
    let out = wexqs(&db, dir.path(), &["import", good.to_str().expect("a path")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("imported 3 awards"));
    let (orgs, awards) = store.projections().await.expect("rows");
    assert_eq!((orgs.len(), awards.len()), (2, 3));
    let old = awards
        .iter()
        .find(|a| a.awarded_on == "2023-02-01")
        .expect("the old award");
    assert_eq!(old.issuer_name, "Health Education England");
    assert_eq!(old.standing, "superseded", "the newer award replaced it");
}

on_both_databases!(backend: a_large_import_is_written_in_pieces_and_lands_whole);

/// An import of many pieces (2,000 events each: organisations, awards, their supersessions,
/// then the credentials) lands as one append would: every award with its credential, older
/// awards superseded by newer ones pieces later, an organisation already registered stated at
/// its version, the projection rows what a rebuild makes of the log, and the log's chain and
/// tree whole.
async fn a_large_import_is_written_in_pieces_and_lands_whole(backend: Backend) {
    const ROWS: usize = 3_000;
    const ORGANISATIONS: usize = 1_200;
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let dir = temp_dir();
    // Started once, so the register has its key and address: every award gets a credential.
    let (mut server, _) = start_server(&db, dir.path()).await;
    server.kill().expect("the server stops");
    server.wait().expect("the server ended");
    let header = "organisation_name,ods_code,region,kind,level,awarded_on,issuer_name\n";
    let earlier = dir.path().join("earlier.csv");
    std::fs::write(
        &earlier,
        format!("{header}Piece Trust 0,ZP0000,london,nhs_trust,bronze,2023-06-01,\n"),
    )
    .expect("written");
    let out = wexqs(
        &db,
        dir.path(),
        &["import", earlier.to_str().expect("a path")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    let mut csv = String::from(header);
    for i in 0..ROWS {
        let org = i % ORGANISATIONS;
        // Each organisation's awards half a year apart: the later supersedes the earlier.
        csv.push_str(&format!(
            "Piece Trust {org},ZP{org:04},london,nhs_trust,{},{}-{:02},\n",
            ["bronze", "silver", "gold"][i % 3],
            ["2024-01", "2024-07", "2025-01"][i / ORGANISATIONS],
            1 + org % 28
        ));
    }
    let file = dir.path().join("awards.csv");
    std::fs::write(&file, csv).expect("written");
    let out = wexqs(&db, dir.path(), &["import", file.to_str().expect("a path")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!("imported {ROWS} awards")),
        "{}",
        text(&out.stdout)
    );

    let store = open_store(&db).await;
    let (orgs, awards) = store.projections().await.expect("rows");
    assert_eq!((orgs.len(), awards.len()), (ORGANISATIONS, ROWS + 1));
    // Of each organisation's awards only the newest stands; 600 have three, 600 two (the
    // first organisation one more, from the earlier import).
    let superseded = awards.iter().filter(|a| a.standing == "superseded").count();
    assert_eq!(superseded, ROWS + 1 - ORGANISATIONS);
    let mut credentials = 0;
    let mut from = 0;
    loop {
        let page = store.read(from, 1_000).await.expect("events");
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        credentials += page
            .iter()
            .filter(|e| e.event_type == "credential_issued")
            .count();
    }
    assert_eq!(credentials, ROWS + 1, "every award has its credential");
    assert!(from > 9_000, "{from} events: more than four pieces");

    let check = wexqs(&db, dir.path(), &["rebuild", "--check"]);
    assert!(check.status.success(), "{}", text(&check.stdout));
    let verified = wexqs(&db, dir.path(), &["log", "verify"]);
    assert!(verified.status.success(), "{}", text(&verified.stdout));
    let report = check_log(&store, |_| {}).await.expect("the log reads");
    assert_eq!((report.size, report.problem), (from, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_rebuilds_into_identical_projections_and_the_log_verifies() {
    let db = fresh_db(Backend::Sqlite)
        .await
        .expect("SQLite is always there");
    let dir = temp_dir();
    let out = wexqs(&db, dir.path(), &["demo"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let store = open_store(&db).await;
    let (orgs, awards) = store.projections().await.expect("rows");
    assert_eq!(orgs.len(), 42);
    assert_eq!(awards.len(), 43);
    let regions: std::collections::BTreeSet<&str> =
        orgs.iter().map(|o| o.region.as_str()).collect();
    assert_eq!(regions.len(), 7);
    for standing in ["suspended", "revoked", "superseded"] {
        assert_eq!(
            awards.iter().filter(|a| a.standing == standing).count(),
            1,
            "{standing}"
        );
    }
    for level in ["bronze", "silver", "gold"] {
        assert!(awards.iter().any(|a| a.level == level));
    }
    assert!(
        awards
            .iter()
            .filter(|a| a.expires_on.as_str() <= "2026-11-24")
            .count()
            >= 5
    );
    assert!(
        !wexqs(&db, dir.path(), &["demo"]).status.success(),
        "the demo loads only once"
    );

    let before = store.projections().await.expect("rows");
    let check = wexqs(&db, dir.path(), &["rebuild", "--check"]);
    assert!(check.status.success(), "{}", text(&check.stdout));
    // Damage a projection: the check notices, a rebuild mends it to exactly what it was.
    tamper::execute(
        &store,
        "UPDATE awards SET standing = 'active' WHERE standing = 'revoked'",
    )
    .await;
    assert!(
        !wexqs(&db, dir.path(), &["rebuild", "--check"])
            .status
            .success()
    );
    let rebuilt = wexqs(&db, dir.path(), &["rebuild"]);
    assert!(rebuilt.status.success(), "{}", text(&rebuilt.stderr));
    assert_eq!(store.projections().await.expect("rows"), before);

    let verified = wexqs(&db, dir.path(), &["log", "verify"]);
    assert!(verified.status.success());
    assert!(text(&verified.stdout).contains("the log is consistent"));
    // Changing one byte of one stored event is found, at its position.
    tamper::replace_in_payload(&store, 20, "\"system\"", "\"systen\"").await;
    let check = check_log(&store, |_| {}).await.expect("checked");
    let tampered = wexqs(&db, dir.path(), &["log", "verify"]);
    assert!(!tampered.status.success());
    let (position, what) = check.problem.expect("a divergence");
    assert_eq!(position, 20, "{what}");
    assert!(text(&tampered.stdout).contains("diverges at position 20"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_starts_from_an_empty_folder_with_a_development_key() {
    let dir = temp_dir();
    let port = free_port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_wexqs"))
        .args(["serve", "--demo", "--bind", &format!("127.0.0.1:{port}")])
        .current_dir(dir.path())
        .env_remove("WEXQS_DATA_DIR")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server starts");
    let client = reqwest::Client::new();
    let mut page = None;
    for _ in 0..100 {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/v1/register?status=valid"))
            .send()
            .await
        {
            page = r.json::<serde_json::Value>().await.ok();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = server.kill();
    let output = server.wait_with_output().expect("the server ended");
    let page = page.expect("the server answered");
    assert!(page["total"].as_u64().is_some_and(|n| n >= 30), "{page}");
    let log = text(&output.stderr);
    assert!(log.contains("generated a development signing key"), "{log}");
    // The signing key, and the key webhook secrets are sealed with.
    let mut keys: Vec<_> = std::fs::read_dir(dir.path().join("wexqs-data/keys"))
        .expect("a keys folder")
        .map(|e| e.expect("an entry").path())
        .collect();
    keys.sort_by_key(|k| k.extension().is_some_and(|e| e == "pem"));
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys[1].extension().is_some_and(|e| e == "pem"), "{keys:?}");
    assert!(
        keys[0].ends_with(wexqs::credentials::sealing::FILE_NAME),
        "{keys:?}"
    );
    let mode = |p: &Path| {
        std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(p).expect("metadata").permissions(),
        )
    };
    for key in &keys {
        assert_eq!(mode(key) & 0o777, 0o600, "{key:?}");
    }
    assert_eq!(mode(&dir.path().join("wexqs-data/keys")) & 0o777, 0o700);
    assert!(dir.path().join("wexqs-data/registry.db").exists());
    assert!(
        !log.contains("PRIVATE KEY"),
        "the private key is never logged"
    );
}

/// Registers an organisation called `name` and gives it a gold award as `admin`: the
/// verification method its credential's proof names.
async fn signing_method(admin: &Client, name: &str) -> String {
    let (_, number) = admin
        .organisation_with_award(name, "gold", "2025-06-01")
        .await;
    let credential = admin.json(&format!("/v1/awards/{number}/credential")).await;
    credential["proof"][0]["verificationMethod"]
        .as_str()
        .expect("a method")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_while_serving_and_an_exposed_key_file_is_refused() {
    let db = fresh_db(Backend::Sqlite)
        .await
        .expect("SQLite is always there");
    let dir = temp_dir();
    let token = admin_token(&db, dir.path(), "keys");
    let generated = wexqs(&db, dir.path(), &["keys", "generate"]);
    assert!(generated.status.success(), "{}", text(&generated.stderr));
    let first = text(&generated.stdout).trim().to_owned();
    let list = text(&wexqs(&db, dir.path(), &["keys", "list"]).stdout);
    assert!(list.contains(&format!("{first}\tactive\t")), "{list}");

    let (mut server, base) = start_server(&db, dir.path()).await;
    let client = Client::new(&base);
    let admin = client.with_token(&token);
    assert!(
        signing_method(&admin, "Before Rotation Trust")
            .await
            .ends_with(&format!("#{first}"))
    );

    let rotated = wexqs(&db, dir.path(), &["keys", "rotate"]);
    assert!(rotated.status.success(), "{}", text(&rotated.stderr));
    let second = text(&rotated.stdout).trim().to_owned();
    assert_ne!(second, first);
    // The running server takes the new key up within seconds.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut trust = 0;
    while !signing_method(&admin, &format!("After Rotation Trust {trust}"))
        .await
        .ends_with(&format!("#{second}"))
    {
        trust += 1;
        assert!(
            std::time::Instant::now() < deadline,
            "the running server signs with the new key"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let did = client.json("/.well-known/did.json").await;
    assert_eq!(did["verificationMethod"].as_array().map(Vec::len), Some(2));

    let revoked = wexqs(
        &db,
        dir.path(),
        &[
            "keys",
            "revoke",
            &first,
            "--compromised-since",
            "2026-11-24T00:00:00Z",
            "--reason",
            "the laptop was lost",
        ],
    );
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    let list = text(&wexqs(&db, dir.path(), &["keys", "list"]).stdout);
    assert!(list.contains(&format!("{first}\trevoked")), "{list}");
    assert!(list.contains(&format!("{second}\tactive")), "{list}");
    let _ = server.kill();
    let _ = server.wait();
    an_exposed_key_file_is_refused(&db, dir.path(), &second);
}

/// A key file others can read (the active key `key`'s) is refused.
fn an_exposed_key_file_is_refused(db: &crate::helpers::Db, dir: &std::path::Path, key: &str) {
    let key_file = dir.join("keys").join(format!("{key}.pem"));
    std::fs::set_permissions(
        &key_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .expect("loosened");
    // (`demo` signs, so it loads the active key first.)
    let refused = wexqs(db, dir, &["demo"]);
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("readable by others"),
        "{}",
        text(&refused.stderr)
    );
}

/// Waits until the server signs a checkpoint, then until one covers the whole log (the server
/// records expiries as it starts).
async fn wait_for_a_checkpoint_of_the_whole_log(client: &Client, store: &wexqs::store::Store) {
    let mut signed = false;
    for _ in 0..100 {
        if client.get_answer("/v1/log/checkpoint").await.status == 200 {
            signed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(signed, "the server signs a checkpoint");
    for _ in 0..100 {
        let note = client.get_answer("/v1/log/checkpoint").await.text();
        let size: u64 = note
            .lines()
            .nth(1)
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        if size == store.head().await.expect("the head").size {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_and_log_verify_find_a_changed_byte_and_a_removed_entry() {
    let db = fresh_db(Backend::Sqlite)
        .await
        .expect("SQLite is always there");
    let dir = temp_dir();
    assert!(wexqs(&db, dir.path(), &["demo"]).status.success());
    let (mut server, base) = start_server(&db, dir.path()).await;
    let store = open_store(&db).await;
    wait_for_a_checkpoint_of_the_whole_log(&Client::new(&base), &store).await;
    let state = dir.path().join("audit.json");
    let audit = |extra: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_wexqs"));
        c.arg("audit").arg(&base).args(extra);
        c.output().expect("wexqs runs")
    };
    let ok = audit(&["--state", state.to_str().expect("a path")]);
    assert!(
        ok.status.success(),
        "{}{}",
        text(&ok.stdout),
        text(&ok.stderr)
    );
    assert!(text(&ok.stdout).starts_with("consistent: "));
    assert!(state.exists());
    let verified = wexqs(&db, dir.path(), &["log", "verify"]);
    assert!(verified.status.success(), "{}", text(&verified.stdout));

    // One changed byte in one stored event.
    tamper::replace_in_payload(&store, 20, "\"system\"", "\"systen\"").await;
    let found = audit(&[]);
    assert!(!found.status.success());
    assert!(
        text(&found.stdout).contains("divergence at position 20"),
        "{}",
        text(&found.stdout)
    );
    let found = wexqs(&db, dir.path(), &["log", "verify"]);
    assert!(
        text(&found.stdout).contains("diverges at position 20"),
        "{}",
        text(&found.stdout)
    );
    tamper::replace_in_payload(&store, 20, "\"systen\"", "\"system\"").await;

    // The last entry removed, and the head rewound to hide it: the checkpoints give it away.
    tamper::remove_last(&store).await;
    let found = wexqs(&db, dir.path(), &["log", "verify"]);
    assert!(!found.status.success());
    assert!(
        text(&found.stdout).contains("entries were removed"),
        "{}",
        text(&found.stdout)
    );
    let found = audit(&["--state", state.to_str().expect("a path")]);
    assert!(!found.status.success());
    assert!(
        text(&found.stdout).contains("entries were removed"),
        "{}",
        text(&found.stdout)
    );
    let _ = server.kill();
    let _ = server.wait();
}

/// Waits for a process to end by itself within `limit`; kills it otherwise.
fn wait_or_kill(mut child: std::process::Child, limit: Duration) -> Option<Output> {
    let started = std::time::Instant::now();
    while started.elapsed() < limit {
        if child.try_wait().expect("a status").is_some() {
            return Some(child.wait_with_output().expect("the output"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_imported_by_the_command_line_verifies_at_the_registry_serving_it_on_another_port() {
    let db = fresh_db(Backend::Sqlite)
        .await
        .expect("SQLite is always there");
    let dir = temp_dir();
    let (mut server, base) = start_server(&db, dir.path()).await;
    assert_ne!(
        base, "http://127.0.0.1:8080",
        "a port other than the default"
    );
    let csv = dir.path().join("awards.csv");
    std::fs::write(
        &csv,
        "organisation_name,ods_code,region,kind,level,awarded_on,issuer_name\n\
         Portside Community Health Trust,ZP7,south_west,nhs_trust,silver,2025-06-02,\n",
    )
    .expect("written");
    let out = wexqs(&db, dir.path(), &["import", csv.to_str().expect("a path")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let address = wexqs(&db, dir.path(), &["address", "show"]);
    assert_eq!(
        text(&address.stdout).trim(),
        base,
        "the first serve recorded its address"
    );

    let client = Client::new(&base);
    let number = wait_for_one_found(&client, "portside").await;
    let credential = client
        .json(&format!("/v1/awards/{number}/credential"))
        .await;
    let report: serde_json::Value = client
        .post("/v1/verify", &credential)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(report["verdict"], "valid", "{report:#}");
    assert_eq!(
        credential["issuer"]["url"], base,
        "the command line signed for the registry's own address"
    );

    verify_offline_and_online(&db, dir.path(), &client, &credential).await;
    a_second_instance_serves_the_recorded_address(&db, dir.path()).await;
    let _ = server.kill();
    let _ = server.wait();
}

/// `wexqs verify` on `credential`: offline without the status list, every check that ran
/// passed, and it says what did not; online, the did.json and the status list are fetched
/// from the credential's own addresses.
async fn verify_offline_and_online(
    db: &crate::helpers::Db,
    dir: &std::path::Path,
    client: &Client,
    credential: &serde_json::Value,
) {
    let saved = dir.join("credential.json");
    std::fs::write(&saved, credential.to_string()).expect("written");
    let did = dir.join("did.json");
    std::fs::write(&did, client.text("/.well-known/did.json").await).expect("written");
    let saved = saved.to_str().expect("a path");
    let offline = wexqs(
        db,
        dir,
        &["verify", saved, "--did", did.to_str().expect("a path")],
    );
    let stdout = text(&offline.stdout);
    assert!(
        offline.status.success(),
        "{stdout}{}",
        text(&offline.stderr)
    );
    assert!(
        stdout.contains("not checked status: no status list given; pass --status-list FILE"),
        "{stdout}"
    );
    assert!(
        stdout.trim_end().ends_with("not checked: status"),
        "{stdout}"
    );
    // Online: the did.json and the status list fetched from the credential's own addresses.
    let online = wexqs(db, dir, &["verify", saved, "--online"]);
    let stdout = text(&online.stdout);
    assert!(online.status.success(), "{stdout}{}", text(&online.stderr));
    assert!(stdout.contains("pass status:"), "{stdout}");
    assert_eq!(stdout.lines().last(), Some("valid"), "{stdout}");
}

/// A second instance on the same folder, without --public-url, serves the recorded address;
/// its --demo says why it loads nothing.
async fn a_second_instance_serves_the_recorded_address(
    db: &crate::helpers::Db,
    dir: &std::path::Path,
) {
    let port = free_port();
    let mut second = Command::new(env!("CARGO_BIN_EXE_wexqs"))
        .args(["serve", "--demo", "--bind", &format!("127.0.0.1:{port}")])
        .env("WEXQS_DATA_DIR", dir)
        .env("DATABASE_URL", &db.url)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the second server starts");
    let up = answers_within(&format!("http://127.0.0.1:{port}"), Duration::from_secs(10)).await;
    let _ = second.kill();
    let log = text(&second.wait_with_output().expect("ended").stderr);
    assert!(
        up,
        "a second instance with the recorded address serves: {log}"
    );
    assert!(log.contains("--demo loads nothing"), "{log}");
}

/// Searches the register for `query` until it finds an award (the server catches up with a
/// command line's writes): the first one's number.
async fn wait_for_one_found(client: &Client, query: &str) -> String {
    for _ in 0..50 {
        let page = client.json(&format!("/v1/register?q={query}")).await;
        if let Some(n) = page["items"][0]["certificate_number"].as_str() {
            return n.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server sees the imported award");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_with_another_public_url_is_refused_and_told_what_to_do() {
    let db = fresh_db(Backend::Sqlite)
        .await
        .expect("SQLite is always there");
    let dir = temp_dir();
    let (mut first, base) = start_server(&db, dir.path()).await;
    let second = Command::new(env!("CARGO_BIN_EXE_wexqs"))
        .args([
            "serve",
            "--bind",
            &format!("127.0.0.1:{}", free_port()),
            "--public-url",
            "https://elsewhere.example.org",
        ])
        .env("WEXQS_DATA_DIR", dir.path())
        .env("DATABASE_URL", &db.url)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the second server starts");
    let ended = wait_or_kill(second, Duration::from_secs(20));
    let _ = first.kill();
    let _ = first.wait();
    let out = ended.expect("the second server refuses to start rather than serving");
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    for expected in [
        &format!("recorded as reached at {base}") as &str,
        "https://elsewhere.example.org",
        "wexqs address set https://elsewhere.example.org",
    ] {
        assert!(stderr.contains(expected), "{expected:?} not in {stderr}");
    }

    // Moving the registry on purpose is recorded, and then that address is the one.
    let moved = wexqs(
        &db,
        dir.path(),
        &[
            "address",
            "set",
            "https://elsewhere.example.org",
            "--reason",
            "The registry moved to its own domain",
        ],
    );
    assert!(moved.status.success(), "{}", text(&moved.stderr));
    let shown = wexqs(&db, dir.path(), &["address", "show"]);
    assert_eq!(text(&shown.stdout).trim(), "https://elsewhere.example.org");
}

#[test]
fn every_argument_has_help_and_each_command_shows_only_the_options_it_uses() {
    fn walk(command: &clap::Command, path: String, out: &mut Vec<(String, Vec<String>)>) {
        let mut args = Vec::new();
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str().to_owned();
            if id == "help" || id == "version" {
                continue;
            }
            assert!(
                arg.get_help()
                    .is_some_and(|h| !h.to_string().trim().is_empty()),
                "`{path}` has no help for {id}"
            );
            args.push(id);
        }
        out.push((path.clone(), args));
        for sub in command.get_subcommands() {
            walk(sub, format!("{path} {}", sub.get_name()), out);
        }
    }
    let mut commands = Vec::new();
    walk(&wexqs::cli::definition(), "wexqs".into(), &mut commands);
    let args_of = |path: &str| -> &Vec<String> {
        &commands
            .iter()
            .find(|(p, _)| p == path)
            .unwrap_or_else(|| panic!("{path} exists"))
            .1
    };
    // Commands that sign nothing do not offer the address or the keys.
    for path in [
        "wexqs migrate",
        "wexqs rebuild",
        "wexqs log verify",
        "wexqs keys list",
        "wexqs tokens create",
        "wexqs expire-due",
        "wexqs applications submit",
    ] {
        let args = args_of(path);
        for unused in ["public_url", "keys_dir"] {
            assert!(
                !args.iter().any(|a| a == unused),
                "{path} offers --{unused}"
            );
        }
        assert!(
            args.iter().any(|a| a == "data_dir"),
            "{path} takes --data-dir"
        );
    }
    // Commands that read no database do not offer one.
    for path in ["wexqs verify", "wexqs audit", "wexqs applications check"] {
        assert!(
            !args_of(path)
                .iter()
                .any(|a| a == "data_dir" || a == "database_url"),
            "{path} offers a database"
        );
    }
    for path in ["wexqs serve", "wexqs import", "wexqs applications decide"] {
        assert!(args_of(path).iter().any(|a| a == "public_url"), "{path}");
    }
}

#[test]
fn an_unknown_database_scheme_is_refused_and_an_unreachable_postgresql_named_once() {
    let dir = temp_dir();
    let run = |url: &str| {
        Command::new(env!("CARGO_BIN_EXE_wexqs"))
            .args(["migrate", "--database-url", url])
            .current_dir(dir.path())
            .output()
            .expect("wexqs runs")
    };
    let mysql = run("mysql://someone:secret@localhost/registry");
    assert!(!mysql.status.success());
    let stderr = text(&mysql.stderr);
    assert!(
        stderr.contains("mysql://") && stderr.contains("postgres://, postgresql:// or sqlite://"),
        "{stderr}"
    );
    assert!(!stderr.contains("secret"), "the password is not shown");
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("listed").count(),
        0,
        "nothing was created for it"
    );

    let started = std::time::Instant::now();
    let refused = run(&format!(
        "postgres://postgres@127.0.0.1:{}/test",
        free_port()
    ));
    assert!(!refused.status.success());
    let stderr = text(&refused.stderr);
    assert_eq!(stderr.matches("Connection refused").count(), 1, "{stderr}");
    assert!(!stderr.contains("pool timed out"), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}

/// A log from before addresses were recorded holds credentials its commands signed for a
/// default address; recording the address re-signs them for it, so they verify where served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_the_address_re_signs_credentials_signed_for_another() {
    use wexqs::domain::{
        AddressCommand, AwardCommand, AwardSource, Command as C, IssueAward, Level,
        OrganisationCommand, OrganisationKind, Region,
    };
    use wexqs::service::{Actor, FixedClock, Registry};
    let db = fresh_db(Backend::Sqlite)
        .await
        .expect("SQLite is always there");
    let clock = std::sync::Arc::new(FixedClock::new(crate::helpers::at(2026, 11, 25)));
    let registry = start_registry(&db, clock, 7).await;
    // Signing for an address the log does not record, as commands did before addresses were.
    let old = "http://127.0.0.1:8080";
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    wexqs::startup::sign_with_key(&registry, key, &old.parse().expect("a URL"))
        .await
        .expect("published");
    let org = registry.new_organisation_id();
    let number = registry.new_certificate_number();
    registry
        .execute_all(
            &Actor::cli(),
            vec![
                C::Organisation(OrganisationCommand::Register {
                    organisation_id: org,
                    name: "Old Folder Trust".parse().expect("a name"),
                    ods_code: None,
                    region: Region::London,
                    kind: OrganisationKind::NhsTrust,
                }),
                C::Award(AwardCommand::Issue(IssueAward {
                    certificate_number: number.clone(),
                    organisation_id: org,
                    level: Level::Gold,
                    awarded_on: crate::helpers::date("2025-06-02"),
                    issuer_name: None,
                    framework_version: None,
                    source: AwardSource::Imported,
                })),
            ],
            None,
        )
        .await
        .expect("issued");
    async fn issuer_url_of(
        registry: &Registry,
        number: &wexqs::domain::CertificateNumber,
    ) -> serde_json::Value {
        let award = registry.award(number).expect("the award").0;
        let issued = award.credentials.last().expect("a credential");
        let text = registry
            .credential_text(&award, issued)
            .await
            .expect("its text");
        text.value()["issuer"]["url"].clone()
    }
    assert_eq!(issuer_url_of(&registry, &number).await, old);

    let served = "http://127.0.0.1:18080";
    registry
        .execute(
            &Actor::cli(),
            C::Address(AddressCommand::Record {
                public_url: served.parse().expect("a URL"),
            }),
            None,
        )
        .await
        .expect("recorded");
    assert_eq!(
        issuer_url_of(&registry, &number).await,
        served,
        "re-signed for the recorded address"
    );
    assert_eq!(
        registry.signing().expect("signing").did,
        wexqs::credentials::credential::did_web(served),
        "and everything signed from now on names it"
    );
    assert_eq!(
        registry
            .award(&number)
            .expect("the award")
            .0
            .credentials
            .len(),
        2,
        "the first credential is kept as it was signed"
    );
}
