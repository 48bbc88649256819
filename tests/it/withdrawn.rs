//! Withdrawn means withdrawn for every verifier (#18): the credential of a suspended, superseded
//! or revoked award fails Digital Bazaar's verifier (offline, with the registry's did.json and
//! published status list) and `wexqs verify --online`, which also asks the register; a
//! reinstated award is signed afresh under a new status list entry, its new credential
//! verifying clean and its old one not. A status list is valid for two days from the day it was
//! signed, is signed afresh each day, and a copy past its `validUntil` is refused.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use wexqs::credentials::credential;

use crate::credentials::independent;
use crate::helpers::{TestApp, all_awards, at, sqlite_app, sqlite_app_with_award, temp_dir};

/// The demo's suspended, superseded and revoked awards (README).
pub(crate) const SUSPENDED: &str = "B799-E2YM-288Z-0Q7S";
pub(crate) const SUPERSEDED: &str = "HB0B-2ZC1-G4SX-H3TV";
pub(crate) const REVOKED: &str = "0668-PPN1-4XEN-GDWT";

/// The time the tests' registries start at (`spawn_app`), which every check here is made as of.
const NOW: &str = "2026-11-24T12:00:00Z";

/// A served registry holding the demo register.
pub(crate) async fn demo_app() -> TestApp {
    let app = sqlite_app().await;
    assert_eq!(crate::credentials::now_of(&app), NOW);
    wexqs::service::demo::load(&app.registry)
        .await
        .expect("the demo loads");
    app
}

/// Posts an admin change of an award, stating the version read (`If-Match`).
pub(crate) async fn change_award(app: &TestApp, number: &str, action: &str, body: Value) {
    let read = app.get(&format!("/v1/awards/{number}")).await;
    let etag = read
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .expect("an award answers its ETag")
        .to_owned();
    let response = app
        .request(
            reqwest::Method::POST,
            &format!("/v1/admin/awards/{number}/{action}"),
        )
        .bearer_auth(&app.admin)
        .header("if-match", etag)
        .json(&body)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status(), 200, "{action} {number}");
}

fn save(dir: &Path, name: &str, value: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec(value).expect("JSON")).expect("written");
    path
}

fn wexqs_verify(file: &Path, args: &[&str]) -> (bool, String) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_wexqs"))
        .arg("verify")
        .arg(file)
        .args(args)
        .output()
        .expect("wexqs runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (
        out.status.success(),
        format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)),
    )
}

/// What the independent verifier and `wexqs verify --online` make of `credential`, as of the
/// registry's time.
async fn both_verifiers(app: &TestApp, credential: &Value) -> (Value, (bool, String)) {
    let b = json!({
        "credential": credential,
        "did_document": app.json("/.well-known/did.json").await,
        "status_list": app.json("/v1/status-lists/1").await,
        "now": NOW,
    });
    let dir = temp_dir();
    let file = save(dir.path(), "credential.json", credential);
    (
        independent(&b),
        wexqs_verify(&file, &["--online", "--at", NOW]),
    )
}

fn index_of(credential: &Value) -> usize {
    credential["credentialStatus"]["statusListIndex"]
        .as_str()
        .and_then(|i| i.parse().ok())
        .expect("a status list index")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspended_superseded_and_revoked_awards_fail_every_verifier_and_a_reinstatement_signs_afresh()
 {
    let app = demo_app().await;
    for (number, status) in [
        (SUSPENDED, "suspended"),
        (SUPERSEDED, "superseded"),
        (REVOKED, "revoked"),
    ] {
        let credential = app.json(&format!("/v1/awards/{number}/credential")).await;
        let (verdict, (ok, out)) = both_verifiers(&app, &credential).await;
        assert_eq!(verdict["verified"], false, "{number}: {verdict}");
        assert_eq!(verdict["revoked"], true, "{number}: {verdict}");
        assert_eq!(
            verdict["status_verified"], true,
            "the list is sound: {verdict}"
        );
        assert!(!ok, "wexqs verify --online passed {number}: {out}");
        assert!(out.contains("FAIL status: withdrawn"), "{out}");
        assert!(
            out.contains(&format!(
                "FAIL register: the register says award {number} is {status}"
            )),
            "{out}"
        );
        assert!(out.lines().any(|l| l == "invalid"), "{out}");
    }

    the_status_list_sets_exactly_the_withdrawn_entries(&app).await;
    a_valid_award_passes_both_verifiers(&app).await;
    a_reinstatement_signs_afresh_under_a_new_entry(&app).await;
}

/// The status list sets exactly the withdrawn awards' entries.
async fn the_status_list_sets_exactly_the_withdrawn_entries(app: &TestApp) {
    let list = app.json("/v1/status-lists/1").await;
    let encoded = list["credentialSubject"]["encodedList"]
        .as_str()
        .expect("a list")
        .to_owned();
    for award in all_awards(&app.registry) {
        let withdrawn = matches!(
            award.certificate_number.as_str(),
            SUSPENDED | SUPERSEDED | REVOKED
        );
        let index: usize = award
            .status_list_index()
            .and_then(|i| i.parse().ok())
            .expect("every demo award has a credential");
        assert_eq!(
            credential::bit_is_set(&encoded, index),
            Ok(withdrawn),
            "{}",
            award.certificate_number
        );
    }
}

/// A valid award's credential passes both verifiers, the register's word included.
async fn a_valid_award_passes_both_verifiers(app: &TestApp) {
    let superseding = app.verification(SUPERSEDED, None).await["superseded_by"]
        .as_str()
        .expect("the award that replaced it")
        .to_owned();
    let valid = superseding;
    let credential = app.json(&format!("/v1/awards/{valid}/credential")).await;
    let (verdict, (ok, out)) = both_verifiers(app, &credential).await;
    assert_eq!(verdict["verified"], true, "{valid}: {verdict}");
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!(
            "pass register: the register says award {valid} is valid"
        )),
        "{out}"
    );
}

/// Reinstated: a fresh credential under a new entry, the same award and dates; the old one stays
/// withdrawn; the organisation is told to download its credential again.
async fn a_reinstatement_signs_afresh_under_a_new_entry(app: &TestApp) {
    let old = app
        .json(&format!("/v1/awards/{SUSPENDED}/credential"))
        .await;
    change_award(
        app,
        SUSPENDED,
        "reinstate",
        json!({"reason": "The review found the logo was used correctly."}),
    )
    .await;
    let new = app
        .json(&format!("/v1/awards/{SUSPENDED}/credential"))
        .await;
    assert_ne!(new["id"], old["id"]);
    assert_ne!(index_of(&new), index_of(&old));
    for same in [
        "validFrom",
        "validUntil",
        "awardedDate",
        "credentialSubject",
    ] {
        assert_eq!(new[same], old[same], "{same}");
    }
    let (verdict, (ok, out)) = both_verifiers(app, &new).await;
    assert_eq!(verdict["verified"], true, "the new credential: {verdict}");
    assert!(ok, "the new credential: {out}");
    let (verdict, (ok, out)) = both_verifiers(app, &old).await;
    assert_eq!(verdict["verified"], false, "the old credential: {verdict}");
    assert_eq!(verdict["revoked"], true, "{verdict}");
    assert!(!ok, "the old credential: {out}");
    assert!(out.contains("FAIL status: withdrawn"), "{out}");

    // The organisation is told to download its credential again.
    let feed = app.text("/v1/feed.atom").await;
    assert!(feed.contains("download them again."), "{feed}");
    assert!(!feed.contains("again.."), "{feed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_list_is_valid_two_days_from_its_day_and_a_stale_copy_is_refused_once_it_lapses() {
    let (app, number) =
        sqlite_app_with_award("Wyvern Community Health", None, "silver", "2025-09-01").await;
    let answer = |app: &TestApp| {
        let request = app.request(reqwest::Method::GET, "/v1/status-lists/1");
        async move {
            let r = request.send().await.expect("answered");
            let tag = r.headers()["etag"].to_str().expect("ASCII").to_owned();
            (tag, r.bytes().await.expect("a body").to_vec())
        }
    };
    let (tag, first) = answer(&app).await;
    let list: Value = serde_json::from_slice(&first).expect("JSON");
    assert_eq!(list["validFrom"], "2026-11-24T00:00:00Z");
    assert_eq!(list["validUntil"], "2026-11-26T00:00:00Z");
    assert_eq!(list["proof"]["created"], "2026-11-24T00:00:00Z");

    // The same bytes all day (caches and ETags hold), signed afresh the next day.
    app.clock
        .set(at(2026, 11, 24) + chrono::Duration::hours(11));
    assert_eq!(answer(&app).await, (tag.clone(), first.clone()));
    app.clock
        .set(at(2026, 11, 25) - chrono::Duration::hours(11));
    let (next_tag, next) = answer(&app).await;
    assert_ne!(next_tag, tag);
    let next: Value = serde_json::from_slice(&next).expect("JSON");
    assert_eq!(next["validFrom"], "2026-11-25T00:00:00Z");
    assert_eq!(next["validUntil"], "2026-11-27T00:00:00Z");

    a_stale_copy_is_refused_once_it_lapses(&app, &number, &list).await;
    a_list_without_valid_until_is_refused(&app, &number, &list).await;

    // The registry's own check always uses a list it signed for the day it checks on.
    app.clock.set(at(2026, 11, 28));
    let own: Value = app.json("/v1/status-lists/1").await;
    assert_eq!(own["validFrom"], "2026-11-28T00:00:00Z");
}

/// A copy of the status list (`list`) kept from before the award `number` was revoked
/// un-revokes it only while the copy is valid, for `wexqs verify` and the independent verifier
/// alike.
async fn a_stale_copy_is_refused_once_it_lapses(app: &TestApp, number: &str, list: &Value) {
    let dir = temp_dir();
    let stale = save(dir.path(), "stale.json", list);
    let did = save(
        dir.path(),
        "did.json",
        &app.json("/.well-known/did.json").await,
    );
    let credential = app.json(&format!("/v1/awards/{number}/credential")).await;
    let file = save(dir.path(), "credential.json", &credential);
    let revoked = app
        .admin_post(
            &format!("/v1/admin/awards/{number}/revoke"),
            json!({"reason": "Issued in error."}),
        )
        .await;
    assert_eq!(revoked.status(), 200);
    let offline = |when: &str| {
        wexqs_verify(
            &file,
            &[
                "--did",
                did.to_str().expect("a path"),
                "--status-list",
                stale.to_str().expect("a path"),
                "--at",
                when,
            ],
        )
    };
    let (ok, out) = offline("2026-11-25T18:00:00Z");
    assert!(ok, "within its two days the copy is believed: {out}");
    let (ok, out) = offline("2026-11-26T00:00:01Z");
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!(
            "FAIL status: the status list expired on 26 November 2026 at 00:00 UTC; fetch a fresh copy from {}/v1/status-lists/1",
            app.base()
        )),
        "{out}"
    );
    // So does the independent verifier, as of the same times.
    let did_document = app.json("/.well-known/did.json").await;
    let stale_bundle = |now: &str| {
        json!({
            "credential": credential,
            "did_document": did_document,
            "status_list": list,
            "now": now,
        })
    };
    let verdict = independent(&stale_bundle("2026-11-25T18:00:00Z"));
    assert_eq!(verdict["verified"], true, "within its two days: {verdict}");
    // (Digital Bazaar allows five minutes of clock skew.)
    let verdict = independent(&stale_bundle("2026-11-26T00:10:00Z"));
    assert_eq!(verdict["verified"], false, "{verdict}");
    assert_eq!(verdict["status_verified"], false, "{verdict}");
    assert!(
        verdict["error"]
            .as_str()
            .is_some_and(|e| e.contains("validUntil")),
        "{verdict}"
    );
}

/// A list without validUntil (as signed before) tells nothing about its age: refused.
async fn a_list_without_valid_until_is_refused(app: &TestApp, number: &str, list: &Value) {
    let credential = app.json(&format!("/v1/awards/{number}/credential")).await;
    let mut undated = list.clone();
    undated
        .as_object_mut()
        .expect("an object")
        .remove("validUntil");
    let report = wexqs::credentials::check::check_credential(
        &credential,
        Some(&app.json("/.well-known/did.json").await),
        Some(&undated),
        &|_| None,
        at(2026, 11, 24),
        None,
    );
    let status = report
        .checks
        .iter()
        .find(|c| c.name == "status")
        .expect("a status check");
    assert!(!status.passed);
    assert!(
        status.detail.contains("has no validUntil"),
        "{}",
        status.detail
    );
}
