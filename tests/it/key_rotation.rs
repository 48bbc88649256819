//! Signing keys as an operator deploys them, through real `wexqs serve` processes: a rotation
//! made on one of two instances (each with its own keys folder, as on two hosts) is followed by
//! the other within seconds without a write or a restart, which signs nothing until it holds the
//! new key and never signs with the retired one after the activation, and `wexqs audit` passes
//! against both; after a compromise, `wexqs keys resign` makes every holder's download verify
//! again with Digital Bazaar's verifier; a read-only keys folder serves; and `serve` on an empty
//! registry refuses and names `wexqs keys init`.

use std::future::Future;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::client::Client;
use crate::credentials::independent;
use crate::helpers::{
    Backend, Db, KillOnDrop, admin_token, ensure_key, fresh_db, on_both_databases, open_store,
    start_server, temp_dir, text, wexqs,
};

/// How long an instance may take to follow a change in the log (it polls once a second).
const FOLLOW: Duration = Duration::from_secs(8);

/// Polls `check` every 100 ms until it gives `Some`, for at most `limit`; what it gave and when.
async fn within<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> (T, Duration)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(found) = check().await {
            return (found, start.elapsed());
        }
        assert!(start.elapsed() < limit, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The active key's id, as `wexqs keys list` prints it.
fn active_key(db: &Db, dir: &Path) -> String {
    let list = text(&wexqs(db, dir, &["keys", "list"]).stdout);
    list.lines()
        .find_map(|l| {
            let mut fields = l.split('\t');
            let id = fields.next()?;
            (fields.next() == Some("active")).then(|| id.to_owned())
        })
        .unwrap_or_else(|| panic!("an active key in {list}"))
}

/// Copies the key `id`'s file from one data folder's keys folder to another's (what an operator
/// does between hosts).
fn copy_key(from: &Path, to: &Path, id: &str) {
    let (from, to) = (from.join("keys"), to.join("keys"));
    std::fs::create_dir_all(&to).expect("a keys folder");
    std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o700)).expect("private");
    let name = format!("{id}.pem");
    std::fs::copy(from.join(&name), to.join(&name)).expect("the key file copied");
    std::fs::set_permissions(to.join(&name), std::fs::Permissions::from_mode(0o600))
        .expect("private");
}

/// An award issued through `server` to the organisation `organisation_id`: the status and the
/// answer.
async fn award(server: &Client, organisation_id: &str) -> (u16, Value) {
    server
        .post_json(
            "/v1/admin/awards",
            json!({"organisation_id": organisation_id, "level": "gold", "awarded_on": "2025-06-01"}),
        )
        .await
}

/// An award issued through `server` for a new organisation: its number.
async fn issue(server: &Client, name: &str) -> String {
    let (_, number) = server
        .organisation_with_award(name, "gold", "2025-06-01")
        .await;
    number
}

/// The key that signed the award's credential, as served by `server`.
async fn signer(server: &Client, number: &str) -> String {
    let credential = server
        .json(&format!("/v1/awards/{number}/credential"))
        .await;
    let method = credential["proof"][0]["verificationMethod"]
        .as_str()
        .expect("a method");
    method.rsplit('#').next().expect("a key id").to_owned()
}

/// `/readyz`'s status and reason.
async fn readiness(server: &Client) -> (u16, String) {
    let (status, body) = server.get_json("/readyz").await;
    (status, body["reason"].as_str().unwrap_or("").to_owned())
}

/// `/v1/log/key`, once a checkpoint is signed.
async fn log_key(server: &Client) -> Option<String> {
    let answer = server.get_answer("/v1/log/key").await;
    (answer.status == 200).then(|| answer.text().trim().to_owned())
}

/// `wexqs audit` of `base`, holding what it saw last in `state`: whether it says consistent.
fn audit(base: &str, state: &Path) -> Result<String, String> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wexqs"))
        .arg("audit")
        .arg(base)
        .arg("--state")
        .arg(state)
        .output()
        .expect("wexqs runs");
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    if out.status.success() {
        Ok(said)
    } else {
        Err(said)
    }
}

/// Replays the log in `db` and checks every credential and every stored checkpoint: each
/// signed with the key the log held active at that point (never a retired one after another's
/// activation). Returns how many credentials and checkpoints were checked.
async fn assert_signed_with_the_active_key(db: &Db) -> (usize, usize) {
    use wexqs::domain::Event;
    let store = open_store(db).await;
    let mut state = wexqs::domain::State::default();
    // The active key's public half after each position.
    let mut active_at: Vec<Option<String>> = vec![None];
    let mut credentials = 0;
    wexqs::store::scan(&store, 0, |stored| {
        let event = stored.envelope()?.event;
        if let Event::CredentialIssued {
            key_id,
            certificate_number,
            ..
        } = &event
        {
            let active = state.active_key().map(|k| k.key_id.clone());
            assert_eq!(
                active.as_deref(),
                Some(key_id.as_str()),
                "the credential at {} for {certificate_number} is signed with {key_id}, not the active key",
                stored.position
            );
            credentials += 1;
        }
        state.apply(stored.position, &event);
        active_at.push(state.active_key().map(|k| k.public_key_multibase.clone()));
        Ok(())
    })
    .await
    .expect("the log reads");
    let checkpoints = wexqs::store::EventStore::checkpoints(&store)
        .await
        .expect("the checkpoints");
    for c in &checkpoints {
        let public = active_at[c.size as usize]
            .as_deref()
            .expect("a key was active");
        let key = wexqs::credentials::credential::parse_public_multibase(public).expect("a key");
        let origin = c.note.lines().next().expect("an origin");
        let verifier = wexqs::transparency::note::verifier_key(origin, &key);
        assert!(
            wexqs::transparency::note::open(&c.note, &verifier).is_ok(),
            "the checkpoint at {} is not signed with the key active then",
            c.size
        );
    }
    (credentials, checkpoints.len())
}

/// The documented procedure: prepare, copy to every host, then rotate to it. B signs with the
/// new key at its first write, never refusing, and audits of both stay consistent.
async fn a_prepared_rotation_is_taken_up_at_once(
    db: &Db,
    (a_dir, b_dir): (&Path, &Path),
    (a, b): (&Client, &Client),
    (a_state, b_state): (&Path, &Path),
) {
    let prepared = wexqs(db, a_dir, &["keys", "prepare"]);
    assert!(prepared.status.success(), "{}", text(&prepared.stderr));
    let third = text(&prepared.stdout).trim().to_owned();
    copy_key(a_dir, b_dir, &third);
    let rotated = wexqs(db, a_dir, &["keys", "rotate", "--to", &third]);
    assert!(rotated.status.success(), "{}", text(&rotated.stderr));
    let after = issue(b, "Prepared Rotation Trust").await;
    assert_eq!(signer(a, &after).await, third);
    within(
        FOLLOW,
        "a checkpoint with the third key on both",
        move || async move {
            let (ka, kb) = (log_key(a).await?, log_key(b).await?);
            let ok = ka == kb
                && audit(a.base(), a_state).is_ok()
                && audit(b.base(), b_state).is_ok()
                && readiness(b).await.0 == 200;
            ok.then_some(())
        },
    )
    .await;
}

async fn a_rotation_on_one_of_two_instances_is_followed_by_the_other(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    // Two hosts: one database, a keys folder each.
    let (a_dir, b_dir) = (temp_dir(), temp_dir());
    let token = admin_token(&db, a_dir.path(), "keys");
    ensure_key(Some(&db.url), a_dir.path());
    let first = active_key(&db, a_dir.path());
    copy_key(a_dir.path(), b_dir.path(), &first);
    let (server_a, a) = start_server(&db, a_dir.path()).await;
    let (server_b, b) = start_server(&db, b_dir.path()).await;
    let _servers = (KillOnDrop(server_a), KillOnDrop(server_b));
    let states = (
        a_dir.path().join("audit.json"),
        b_dir.path().join("audit.json"),
    );
    // What the polls below borrow.
    let (a, b) = (
        Client::new(&a).with_token(&token),
        Client::new(&b).with_token(&token),
    );
    let (a, b) = (&a, &b);
    let (a_state, b_state) = (states.0.as_path(), states.1.as_path());

    let before = issue(b, "Before Rotation Trust").await;
    assert_eq!(signer(a, &before).await, first);
    let old_log_key = within(FOLLOW, "a checkpoint on both", move || async move {
        let (ka, kb) = (log_key(a).await?, log_key(b).await?);
        (ka == kb).then_some(ka)
    })
    .await
    .0;
    let old_log_key = old_log_key.as_str();
    audit(a.base(), a_state).expect("audit of A before the rotation");
    audit(b.base(), b_state).expect("audit of B before the rotation");

    // A rotation on A's host, whose new key B's host does not have yet.
    let rotated = wexqs(&db, a_dir.path(), &["keys", "rotate"]);
    assert!(rotated.status.success(), "{}", text(&rotated.stderr));
    let second = text(&rotated.stdout).trim().to_owned();
    // B sees it without a write: it is not ready and signs nothing, rather than signing with
    // the retired key.
    let (_, noticed) = within(FOLLOW, "B says it lacks the new key", move || async move {
        let (status, reason) = readiness(b).await;
        (status == 503 && reason == "signing_key_not_loaded").then_some(())
    })
    .await;
    let org = a.organisation("During Rotation Trust", None).await;
    let (status, refused) = award(b, &org).await;
    assert_eq!(status, 503, "{refused}");
    assert_eq!(refused["code"], "signing_key_not_loaded", "{refused}");
    // A holds the key and signs with it.
    let through_a = issue(a, "Signed By A Trust").await;
    assert_eq!(signer(b, &through_a).await, second);

    // The key file copied to B's host is taken up: no write, no restart.
    copy_key(a_dir.path(), b_dir.path(), &second);
    let (_, followed) = within(FOLLOW, "B ready with the new key", move || async move {
        (readiness(b).await.0 == 200).then_some(())
    })
    .await;
    let (status, award) = award(b, &org).await;
    assert_eq!(status, 201, "{award}");
    let number = award["certificate_number"].as_str().expect("a number");
    assert_eq!(signer(a, number).await, second);
    // Both publish the one checkpoint key, the new one, and audits of both stay consistent
    // with what they saw before the rotation.
    within(FOLLOW, "both serve the new log key", move || async move {
        let (ka, kb) = (log_key(a).await?, log_key(b).await?);
        (ka == kb && ka != old_log_key).then_some(())
    })
    .await;
    audit(a.base(), a_state).expect("audit of A after the rotation");
    audit(b.base(), b_state).expect("audit of B after the rotation");

    a_prepared_rotation_is_taken_up_at_once(
        &db,
        (a_dir.path(), b_dir.path()),
        (a, b),
        (a_state, b_state),
    )
    .await;

    let (credentials, checkpoints) = assert_signed_with_the_active_key(&db).await;
    assert!(
        credentials >= 4 && checkpoints >= 3,
        "{credentials} {checkpoints}"
    );
    eprintln!(
        "key_rotation: B noticed the rotation in {noticed:?} and took up the copied key in {followed:?}; {credentials} credentials and {checkpoints} checkpoints each signed with the key active then"
    );
}

async fn a_compromise_then_resigning_leaves_every_credential_verifying(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let dir = temp_dir();
    let token = admin_token(&db, dir.path(), "keys");
    let (server, base) = start_server(&db, dir.path()).await;
    let _server = KillOnDrop(server);
    let client = &Client::new(&base).with_token(&token);
    let compromised = active_key(&db, dir.path());
    let mut numbers = Vec::new();
    for name in [
        "Compromise One Trust",
        "Compromise Two Trust",
        "Compromise Three Trust",
    ] {
        numbers.push(issue(client, name).await);
    }
    let rotated = wexqs(&db, dir.path(), &["keys", "rotate"]);
    assert!(rotated.status.success(), "{}", text(&rotated.stderr));
    let replacement = text(&rotated.stdout).trim().to_owned();
    let since = (chrono::Utc::now() - chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let revoked = wexqs(
        &db,
        dir.path(),
        &[
            "keys",
            "revoke",
            &compromised,
            "--compromised-since",
            &since,
            "--reason",
            "the key file was exposed",
        ],
    );
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    let verdict = move |number: String| async move {
        let credential = client
            .json(&format!("/v1/awards/{number}/credential"))
            .await;
        let report: Value = client
            .post("/v1/verify", &credential)
            .await
            .json()
            .await
            .expect("JSON");
        report["verdict"].as_str().unwrap_or("").to_owned()
    };
    // What the compromised key signed is no longer valid.
    let first = numbers[0].clone();
    within(FOLLOW, "the revocation is followed", move || {
        let first = first.clone();
        async move { (verdict(first).await != "valid").then_some(()) }
    })
    .await;

    let resigned = wexqs(&db, dir.path(), &["keys", "resign", &compromised]);
    assert!(resigned.status.success(), "{}", text(&resigned.stderr));
    assert_eq!(
        text(&resigned.stdout).trim(),
        "3",
        "{}",
        text(&resigned.stderr)
    );
    let (numbers_now, replacement) = (&numbers, replacement.as_str());
    within(
        FOLLOW,
        "the server serves the new credentials",
        move || async move {
            for n in numbers_now {
                if signer(client, n).await != replacement {
                    return None;
                }
            }
            Some(())
        },
    )
    .await;
    for number in &numbers {
        assert_resigned_credential_verifies(client, number).await;
        assert_eq!(verdict(number.clone()).await, "valid");
    }
    let (credentials, _) = assert_signed_with_the_active_key(&db).await;
    assert_eq!(credentials, 6, "three signed, then three signed again");
}

/// The award `number`'s credential, signed again, is what its logo carries, and Digital
/// Bazaar's verifier verifies it.
async fn assert_resigned_credential_verifies(client: &Client, number: &str) {
    let did = client.json("/.well-known/did.json").await;
    let status_list = client.json("/v1/status-lists/1").await;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    {
        let credential = client
            .json(&format!("/v1/awards/{number}/credential"))
            .await;
        let png = client
            .get(&format!("/v1/awards/{number}/logo.png"))
            .await
            .bytes()
            .await
            .expect("the logo");
        let baked: Value = serde_json::from_str(
            &wexqs::credentials::baking::unbake_png(&png)
                .expect("a PNG")
                .expect("a baked credential"),
        )
        .expect("JSON");
        assert_eq!(baked, credential, "the logo carries the new credential");
        let verdict_of_theirs = independent(&json!({
            "credential": credential, "did_document": did, "status_list": status_list,
            "now": now,
        }));
        assert_eq!(verdict_of_theirs["verified"], true, "{verdict_of_theirs}");
    }
}

on_both_databases!(backend:
    a_rotation_on_one_of_two_instances_is_followed_by_the_other,
    a_compromise_then_resigning_leaves_every_credential_verifying,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_keys_folder_is_used_as_it_is() {
    let db = fresh_db(Backend::Sqlite)
        .await
        .expect("SQLite is always there");
    let dir = temp_dir();
    let token = admin_token(&db, dir.path(), "keys");
    ensure_key(Some(&db.url), dir.path());
    let key = active_key(&db, dir.path());
    // What systemd credentials and secret volumes give: a folder and files no one may write.
    let keys = dir.path().join("keys");
    std::fs::set_permissions(
        keys.join(format!("{key}.pem")),
        std::fs::Permissions::from_mode(0o400),
    )
    .expect("read-only");
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o500)).expect("read-only");
    let (server, base) = start_server(&db, dir.path()).await;
    let _server = KillOnDrop(server);
    let server = Client::new(&base).with_token(&token);
    let number = issue(&server, "Read Only Keys Trust").await;
    assert_eq!(signer(&server, &number).await, key);
    let mode = std::fs::metadata(&keys)
        .expect("there")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o500, "the keys folder is left as it was given");
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o700))
        .expect("removable again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_an_empty_registry_makes_no_key_and_says_to_run_keys_init() {
    let dir = temp_dir();
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_wexqs"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("WEXQS_DATA_DIR", dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("WEXQS_KEYS_DIR")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("wexqs runs");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = server.try_wait().expect("a status") {
            break status;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = server.kill();
            let _ = server.wait();
            panic!("serve went on with no key");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut server.stderr.take().expect("its log"), &mut stderr)
        .expect("its log");
    assert!(!status.success());
    assert!(stderr.contains("wexqs keys init"), "{stderr}");
    let made = std::fs::read_dir(dir.path().join("keys"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(made, 0, "no key was made");
}
