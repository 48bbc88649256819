//! Following the register without polling it (#13): signed verification receipts, the Atom
//! feeds, the expiry calendars and the open data exports, each read back by a library nobody
//! here wrote (tests/python/check.py: PyJWT, feedparser, icalendar, csv, cryptography, pinned in
//! tests/python-requirements.txt and installed by `cargo xtask test`). A missing library fails the test.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

use crate::helpers::{TestApp, sqlite_app, temp_dir};

/// Runs tests/python/check.py in the tests' virtualenv; its answer as JSON.
pub(crate) fn python(args: &[&str]) -> Value {
    // The test binary is TARGET/debug/deps/it-…: the virtualenv is TARGET/tests-python-venv.
    let exe = std::env::current_exe().expect("the test binary's path");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("the test binary lives in the target folder");
    let venv_python = target.join("tests-python-venv/bin/python");
    assert!(
        venv_python.exists(),
        "the tests' Python libraries are not installed at {}: run `cargo xtask test`, which installs \
         tests/python-requirements.txt there",
        venv_python.display()
    );
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/check.py");
    let out = Command::new(&venv_python)
        .arg(script)
        .args(args)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "check.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

async fn app() -> TestApp {
    sqlite_app().await
}

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("written");
    path.to_str().expect("a UTF-8 path").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_verifies_with_a_jose_library_and_the_did_key_and_fails_when_tampered() {
    let app = app().await;
    let org = app
        .organisation("Riverside Community Health", Some("ZA1"))
        .await;
    let number = app.award(&org, "silver", "2025-06-01").await;
    app.registry.checkpoint().await.expect("a checkpoint");

    let response = app
        .get(&format!("/v1/awards/{number}/receipt?at=2026-01-05"))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].as_bytes(),
        b"application/jose"
    );
    let jws = response.text().await.expect("text");
    let did = app.text("/.well-known/did.json").await;
    let dir = temp_dir();
    let did_path = write(&dir, "did.json", did.as_bytes());

    let read = python(&[
        "receipt",
        &write(&dir, "receipt", jws.as_bytes()),
        &did_path,
    ]);
    assert_eq!(read["verified"], true, "{read}");
    assert_eq!(read["header"]["alg"], "EdDSA");
    let did: Value = serde_json::from_str(&did).expect("JSON");
    assert_eq!(
        read["header"]["kid"], did["verificationMethod"][0]["id"],
        "the kid is did.json's verification method"
    );
    let payload = &read["payload"];
    let verification = app.verification(&number, Some("2026-01-05")).await;
    assert_eq!(payload["verification"]["status"], "valid");
    assert_eq!(payload["verification"]["as_of"], "2026-01-05");
    for field in ["certificate_number", "award", "programme", "valid"] {
        assert_eq!(
            payload["verification"][field], verification[field],
            "the receipt holds the verification answer's {field}"
        );
    }
    assert_eq!(payload["checked_at"], "2026-11-24T12:00:00Z");
    let size = app.registry.size();
    assert_eq!(payload["checkpoint"]["size"], size);
    assert_eq!(
        payload["verification"]["log"]["inclusion"]["checkpoint_root"],
        payload["checkpoint"]["root"]
    );
    assert!(payload["verification"]["log"]["inclusion"]["proof"].is_array());

    // One character of the payload changed: the signature no longer holds.
    let mut parts: Vec<String> = jws.split('.').map(str::to_owned).collect();
    let mut claims = payload.clone();
    claims["verification"]["status"] = json!("revoked");
    use base64::Engine as _;
    parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
    let tampered = parts.join(".");
    let read = python(&[
        "receipt",
        &write(&dir, "tampered", tampered.as_bytes()),
        &did_path,
    ]);
    assert_eq!(read["verified"], false, "{read}");

    let missing = app.get("/v1/awards/0000-0000-0000-0000/receipt").await;
    assert_eq!(missing.status(), 404);
    let bad_day = app
        .get(&format!("/v1/awards/{number}/receipt?at=5 May"))
        .await;
    assert_eq!(bad_day.status(), 400);
}

/// Two organisations (one with a name full of markup), an award each, a suspension with markup
/// in its reason, and a private drop-in session: (org, other, first award, second award).
async fn public_and_private_changes(
    app: &TestApp,
    tricky: &str,
) -> (String, String, String, String) {
    let org = app.organisation(tricky, Some("ZA2")).await;
    let other = app.organisation("Northgate Trust", None).await;
    let first = app.award(&org, "bronze", "2025-03-01").await;
    let second = app.award(&other, "gold", "2025-04-01").await;
    let suspended = app
        .admin_post(
            &format!("/v1/admin/awards/{second}/suspend"),
            json!({"reason": "Under review; <b>checks</b> & more"}),
        )
        .await;
    assert_eq!(suspended.status(), 200);
    // A private event: a drop-in session (tokens, also private, were created at the start).
    let drop_in = app
        .admin_post(
            &format!("/v1/admin/organisations/{org}/drop-ins"),
            json!({"attended_on": "2025-10-01"}),
        )
        .await;
    assert!(drop_in.status().is_success(), "{}", drop_in.status());

    (org, other, first, second)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_atom_feed_lists_public_changes_newest_first_in_pages_and_never_a_private_event() {
    let app = app().await;
    let tricky = "St Mary's & <Bart's> \"Hospitals\"";
    let (org, other, first, second) = public_and_private_changes(&app, tricky).await;
    let response = app.get("/v1/feed.atom").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].as_bytes(),
        b"application/atom+xml"
    );
    let xml = response.text().await.expect("text");
    assert!(!xml.contains("drop_in") && !xml.contains("2025-10-01") && !xml.contains("token"));
    let known = [
        (app.base(), "[base]"),
        (first.as_str(), "[first]"),
        (second.as_str(), "[second]"),
        (org.as_str(), "[org]"),
        (other.as_str(), "[other]"),
    ];
    crate::snapshot::settings(&known).bind(|| insta::assert_snapshot!("feed.atom", xml));
    let dir = temp_dir();
    let feed = python(&["atom", &write(&dir, "feed.atom", xml.as_bytes())]);
    assert_eq!(feed["bozo"], false, "{feed}");
    assert_eq!(feed["version"], "atom10");
    let entries = feed["entries"].as_array().expect("entries");
    let categories: Vec<&str> = entries
        .iter()
        .map(|e| e["category"].as_str().expect("a category"))
        .collect();
    assert_eq!(
        &categories[..3],
        ["award_suspended", "award_issued", "award_issued"],
        "newest first: {feed}"
    );
    assert!(categories.contains(&"programme_paused"), "{categories:?}");
    // The programme's cycles are announced too (the calendar recorded them at the start).
    let cycle = entries
        .iter()
        .find(|e| e["category"] == "cycle_scheduled")
        .unwrap_or_else(|| panic!("a cycle in {categories:?}"));
    assert!(
        cycle["summary"]
            .as_str()
            .unwrap()
            .contains("submissions open"),
        "{cycle}"
    );
    // An entry is dated when its change was recorded (the registry's clock), even for an award
    // made in 2025: a reader sees it as news; the day it took effect is in its words.
    let recorded = app
        .registry
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(entries[2]["updated"], recorded.as_str(), "{feed}");
    assert!(
        entries[2]["summary"]
            .as_str()
            .unwrap()
            .contains("1 March 2025"),
        "{feed}"
    );
    assert_eq!(
        entries[0]["link"],
        format!("{}/verify/{second}", app.base())
    );
    assert!(
        entries[0]["summary"]
            .as_str()
            .expect("a summary")
            .contains("Under review; <b>checks</b> & more"),
        "stored text comes back as it was written: {feed}"
    );
    assert_eq!(entries[2]["title"], format!("{tricky}: issued"));
    assert!(
        entries[0]["id"]
            .as_str()
            .expect("an id")
            .starts_with("urn:uuid:")
    );

    let all: Vec<Value> = entries.iter().map(|e| e["id"].clone()).collect();
    assert_pages_walk_the_whole_feed(&app, &all).await;
    assert_an_organisations_feed_holds_its_award_only(&app, &org, &first).await;
    assert_a_held_tag_is_told_nothing_changed_until_something_does(&app, &other).await;
}

/// Pages of one entry each, followed by their `next` links, give the feed's entries (`all`, by
/// id) in order; and back from the last page with `previous` links, in pages of two.
async fn assert_pages_walk_the_whole_feed(app: &TestApp, all: &[Value]) {
    let dir = temp_dir();
    let mut ids = Vec::new();
    let mut next = Some(format!("{}/v1/feed.atom?limit=1", app.base()));
    let mut pages = 0;
    let mut last = String::new();
    while let Some(url) = next.take() {
        last = url.clone();
        let path = url
            .strip_prefix(app.base())
            .expect("a link to this registry");
        let page = python(&[
            "atom",
            &write(&dir, "page.atom", app.text(path).await.as_bytes()),
        ]);
        assert_eq!(page["bozo"], false, "{page}");
        assert_eq!(page["entries"].as_array().expect("entries").len(), 1);
        ids.push(page["entries"][0]["id"].clone());
        if pages == 1 {
            assert_eq!(
                page["links"]["previous"],
                format!("{}/v1/feed.atom?limit=1", app.base()),
                "the second page's previous page is the first"
            );
        }
        next = page["links"]["next"].as_str().map(str::to_owned);
        pages += 1;
        assert!(pages < 50, "the pages end");
    }
    assert_eq!(ids, all, "paging with next links walks the whole feed");
    // And back from the last page with previous links, in pages of two.
    let mut back = Vec::new();
    let mut previous = Some(last.replace("limit=1", "limit=2"));
    while let Some(url) = previous.take() {
        let path = url
            .strip_prefix(app.base())
            .expect("a link to this registry");
        let page = python(&[
            "atom",
            &write(&dir, "back.atom", app.text(path).await.as_bytes()),
        ]);
        let ids: Vec<Value> = page["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .rev()
            .map(|e| e["id"].clone())
            .collect();
        back.extend(ids);
        previous = page["links"]["previous"].as_str().map(str::to_owned);
        assert!(back.len() < 100, "the pages end");
    }
    let oldest_first: Vec<Value> = all.iter().rev().cloned().collect();
    assert_eq!(
        back[..],
        oldest_first[..],
        "paging back with previous links walks the whole feed"
    );
}

/// One organisation's feed: its award (`number`) only.
async fn assert_an_organisations_feed_holds_its_award_only(app: &TestApp, org: &str, number: &str) {
    let dir = temp_dir();
    let xml = app
        .text(&format!("/v1/organisations/{org}/feed.atom"))
        .await;
    let feed = python(&["atom", &write(&dir, "org.atom", xml.as_bytes())]);
    assert_eq!(feed["bozo"], false, "{feed}");
    let entries = feed["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 1, "{feed}");
    assert_eq!(
        entries[0]["link"],
        format!("{}/verify/{number}", app.base())
    );
    assert_eq!(
        app.get("/v1/organisations/00000000-0000-0000-0000-000000000000/feed.atom")
            .await
            .status(),
        404
    );
    assert_eq!(app.get("/v1/feed.atom?limit=0").await.status(), 400);
}

/// A reader that holds the feed's tag is told nothing changed, until something does (an award
/// to the organisation `other`).
async fn assert_a_held_tag_is_told_nothing_changed_until_something_does(
    app: &TestApp,
    other: &str,
) {
    let fetch = |tag: String| {
        app.request(reqwest::Method::GET, "/v1/feed.atom")
            .header("if-none-match", tag)
            .send()
    };
    let tag = header_of(app.get("/v1/feed.atom").await.headers(), "etag");
    assert_eq!(fetch(tag.clone()).await.expect("an answer").status(), 304);
    app.award(other, "silver", "2025-09-01").await;
    let fresh = fetch(tag).await.expect("an answer");
    assert_eq!(fresh.status(), 200);
    assert!(
        fresh
            .text()
            .await
            .expect("text")
            .contains("silver award issued")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calendar_holds_the_expiry_as_an_all_day_event_with_reminders_before_it() {
    let app = app().await;
    let name = "Long Name; with, commas \\ and a very long tail that needs folding across lines";
    let org = app.organisation(name, Some("ZA3")).await;
    let old = app.award(&org, "bronze", "2024-01-10").await;
    let number = app.award(&org, "gold", "2025-12-05").await;

    let response = app.get(&format!("/v1/awards/{number}/calendar.ics")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].as_bytes(),
        b"text/calendar; charset=utf-8"
    );
    let ics = response.text().await.expect("text");
    let dir = temp_dir();
    let cal = python(&["ics", &write(&dir, "award.ics", ics.as_bytes())]);
    // Unfolded, so that a value folded across two lines is still redacted whole (the folding
    // itself is checked below).
    let unfolded = ics.replace("\r\n ", "").replace("\r\n", "\n");
    let known = [
        (app.base(), "[base]"),
        (number.as_str(), "[number]"),
        (org.as_str(), "[org]"),
    ];
    crate::snapshot::settings(&known).bind(|| insta::assert_snapshot!("award.ics", unfolded));
    let events = cal["events"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{cal}");
    assert_eq!(
        events[0]["dtstart"], "2027-12-05",
        "the day it expires: {cal}"
    );
    assert_eq!(events[0]["dtstart_is_date"], true, "an all-day event");
    assert_eq!(events[0]["alarms_days_before"], json!([90, 30, 7]));
    assert!(
        events[0]["summary"]
            .as_str()
            .expect("a summary")
            .contains(name),
        "commas, semicolons and backslashes come back as written: {cal}"
    );
    assert_eq!(events[0]["url"], format!("{}/verify/{number}", app.base()));
    assert!(
        cal["longest_line_octets"].as_u64().expect("a length") <= 75,
        "{cal}"
    );
    assert_eq!(cal["crlf_only"], true);

    // The organisation's calendar: its current award only (the old one was superseded).
    let ics = app
        .text(&format!("/v1/organisations/{org}/calendar.ics"))
        .await;
    let cal = python(&["ics", &write(&dir, "org.ics", ics.as_bytes())]);
    let events = cal["events"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{cal}");
    assert!(
        events[0]["uid"]
            .as_str()
            .expect("a uid")
            .starts_with(&number)
    );
    assert!(!ics.contains(&old));

    // The award's page offers to add it to a calendar.
    let page = app.text(&format!("/verify/{number}")).await;
    assert!(page.contains(&format!("href=\"/v1/awards/{number}/calendar.ics\"")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_read_back_as_csv_and_json_and_their_detached_signature_verifies() {
    let app = app().await;
    let formula = "=HYPERLINK(\"http://evil\"), and \"quotes\"";
    let org = app.organisation(formula, Some("ZA4")).await;
    let plain = app.organisation("Westfield Hospitals", None).await;
    let a = app.award(&org, "silver", "2025-02-01").await;
    let b = app.award(&plain, "gold", "2023-01-01").await;
    app.registry.checkpoint().await.expect("a checkpoint");
    let did = app.text("/.well-known/did.json").await;
    let dir = temp_dir();
    let did_path = write(&dir, "did.json", did.as_bytes());

    for format in ["csv", "json"] {
        let response = app.get(&format!("/v1/exports/register.{format}")).await;
        assert_eq!(response.status(), 200);
        let headers = response.headers().clone();
        let header = |name: &str| header_of(&headers, name);
        assert_eq!(header("wexqs-log-size"), app.registry.size().to_string());
        assert_eq!(
            header("wexqs-checkpoint-size"),
            app.registry.size().to_string()
        );
        assert_eq!(header("wexqs-as-of"), "2026-11-24");
        let body = response.bytes().await.expect("a body");
        let path = write(&dir, &format!("register.{format}"), &body);
        let signature = header("wexqs-signature");
        let kid = header("wexqs-signature-key");
        let checked = python(&["signature", &path, &signature, &did_path, &kid]);
        assert_eq!(checked["verified"], true, "{format}: {checked}");
        let mut changed = body.to_vec();
        changed[10] ^= 1;
        let changed_path = write(&dir, &format!("changed.{format}"), &changed);
        let checked = python(&["signature", &changed_path, &signature, &did_path, &kid]);
        assert_eq!(checked["verified"], false, "{format}: a changed byte");

        let rows: Vec<Value> = if format == "csv" {
            python(&["csv", &path])["rows"]
                .as_array()
                .expect("rows")
                .clone()
        } else {
            let json: Value = serde_json::from_slice(&body).expect("JSON");
            assert_eq!(json["log_size"], app.registry.size());
            assert_eq!(json["checkpoint"]["size"], app.registry.size());
            json["awards"].as_array().expect("awards").clone()
        };
        assert_eq!(rows.len(), 2, "{format}");
        let row = |n: &str| {
            rows.iter()
                .find(|r| r["certificate_number"] == n)
                .unwrap_or_else(|| panic!("{n} is exported"))
                .clone()
        };
        let first = row(&a);
        let expected_name = if format == "csv" {
            format!("'{formula}")
        } else {
            formula.to_owned()
        };
        assert_eq!(
            first["organisation_name"],
            expected_name.as_str(),
            "{format}"
        );
        assert_eq!(first["status"], "valid");
        assert_eq!(first["valid_until"], "2027-01-31");
        assert_eq!(first["page"], format!("{}/verify/{a}", app.base()));
        assert_eq!(row(&b)["status"], "expired");
    }
}

#[test]
fn a_receipt_verifies_and_any_changed_byte_fails() {
    use wexqs::credentials::receipt::{sign, verify};
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let payload = json!({"certificate_number": "FDXE-J5BM-RRNV-PEDM", "valid": true});
    let jws = sign(&payload, &key, "did:web:example.org#key-1");
    assert_eq!(verify(&jws, &key.verifying_key()), Some(payload));
    for i in 0..jws.len() {
        let mut bytes = jws.clone().into_bytes();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert!(
            verify(&tampered, &key.verifying_key()).is_none(),
            "byte {i}"
        );
    }
}

#[test]
fn stored_strings_cannot_break_out_of_their_atom_element() {
    use wexqs::render::atom::{Feed, Link, render};
    let feed = Feed {
        id: "urn:uuid:0".into(),
        title: "A & B <script>".into(),
        subtitle: "s".into(),
        author: "x\u{1}y".into(),
        updated: "2026-01-01T00:00:00Z".into(),
        links: vec![Link {
            rel: "self",
            href: "http://h/?a=1&b=\"2\"".into(),
        }],
        entries: vec![],
    };
    let xml = render(&feed);
    assert!(xml.contains("<title>A &amp; B &lt;script&gt;</title>"));
    assert!(xml.contains("<name>xy</name>"));
    assert!(xml.contains("href=\"http://h/?a=1&amp;b=&quot;2&quot;\""));
}

#[test]
fn calendar_text_is_escaped_and_lines_fold_at_75_octets_between_characters() {
    use wexqs::render::ics::{Event, calendar, text};
    assert_eq!(text("a,b;c\\d\r\ne\nf"), "a\\,b\\;c\\\\d\\ne\\nf");
    let summary = "é".repeat(60);
    let out = calendar(
        "n",
        "20261124T120000Z",
        &[Event {
            uid: "u".into(),
            date: crate::helpers::date("2027-12-05"),
            summary: summary.clone(),
            description: "d".into(),
            url: "http://h/".into(),
            reminders_days_before: vec![],
        }],
    );
    for line in out.split("\r\n") {
        assert!(line.len() <= 75, "{line:?} is {} octets", line.len());
    }
    assert!(
        out.replace("\r\n ", "")
            .contains(&format!("SUMMARY:{summary}\r\n"))
    );
}

#[test]
fn csv_cells_defuse_formulas_and_are_quoted_when_they_must_be() {
    let cell = |s: &str| {
        let mut out = Vec::new();
        wexqs::render::export::csv_cell(s, &mut out);
        String::from_utf8(out).unwrap()
    };
    assert_eq!(cell("=1+1"), "'=1+1");
    assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
    assert_eq!(cell("-2,3"), "\"'-2,3\"");
    assert_eq!(cell("St \"Mary\", Leeds"), "\"St \"\"Mary\"\", Leeds\"");
    assert_eq!(cell("plain"), "plain");
    // A formula after any separator a spreadsheet may split on, white space and quotes between.
    assert_eq!(cell("Acme;=1+1"), "Acme;'=1+1");
    assert_eq!(cell("Acme| +1"), "Acme| '+1");
    assert_eq!(cell("Acme\t@SUM(A1)"), "Acme\t'@SUM(A1)");
    assert_eq!(cell("a, \"=1\""), "\"a, \"\"'=1\"\"\"");
    assert_eq!(cell("\t=1"), "'\t'=1");
    assert_eq!(cell("＝1+1;﹢2"), "'＝1+1;'﹢2");
    // Hyphens inside words, and apostrophes, are left as they are.
    assert_eq!(cell("Hull-York O'Brien"), "Hull-York O'Brien");
    assert_eq!(cell("St Mary - Leeds"), "St Mary '- Leeds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_on_another_site_can_read_what_an_export_states_about_itself() {
    let app = app().await;
    let response = app
        .request(reqwest::Method::GET, "/v1/exports/register.csv")
        .header("Origin", "https://careers.example")
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status(), 200);
    let exposed = response
        .headers()
        .get("access-control-expose-headers")
        .expect("headers exposed to other origins")
        .to_str()
        .expect("ASCII")
        .to_ascii_lowercase();
    for name in [
        "wexqs-signature",
        "wexqs-signature-key",
        "wexqs-log-size",
        "wexqs-checkpoint-size",
        "wexqs-checkpoint-root",
        "wexqs-as-of",
        "etag",
    ] {
        assert!(exposed.contains(name), "{name} in {exposed}");
    }
}

/// A header's value, which must be sent.
fn header_of(headers: &reqwest::header::HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("{name} is sent"))
        .to_str()
        .expect("ASCII")
        .to_owned()
}

/// Imports `n` awards (one organisation each, valid on the test's day) into the app's registry.
async fn import_awards(app: &TestApp, n: usize) {
    use wexqs::service::Actor;
    use wexqs::service::import::{import_commands, read_csv};
    let mut text =
        String::from("organisation_name,ods_code,region,kind,level,awarded_on,issuer_name\n");
    for i in 0..n {
        text.push_str(&format!(
            "Export Trust {i},,london,nhs_trust,{},2025-{:02}-{:02},\n",
            ["bronze", "silver", "gold"][i % 3],
            1 + i % 12,
            1 + i % 28
        ));
    }
    let rows = read_csv(text.as_bytes()).expect("the rows parse");
    let summary = import_commands(&app.registry, &Actor::cli(), rows, None, |_| {})
        .await
        .expect("the import succeeds");
    assert_eq!(summary.issued.len(), n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_made_in_pieces_joins_to_its_bytes_and_signs_as_the_whole_does() {
    use ed25519_dalek::Signer as _;
    use wexqs::credentials::detached::sign_pieces;
    use wexqs::render::export::{Export, Format, PIECE, Reflects};
    let app = app().await;
    import_awards(&app, 700).await;
    let (log_size, as_of, rows) = app.registry.export_rows();
    assert_eq!(rows.len(), 700);
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    for format in [Format::Csv, Format::Json] {
        let export = Export {
            format,
            reflects: Reflects {
                log_size,
                checkpoint: Some((log_size, "cm9vdA==".into())),
                as_of,
            },
            rows: rows.clone(),
            public_url: "https://registry.example".into(),
        };
        let pieces: Vec<Vec<u8>> = export.pieces().collect();
        assert!(pieces.len() >= 3, "{format:?}: {} pieces", pieces.len());
        for piece in &pieces[..pieces.len() - 1] {
            assert!(
                (PIECE..PIECE + 4096).contains(&piece.len()),
                "{format:?}: a piece of {} bytes",
                piece.len()
            );
        }
        let whole = export.to_vec();
        assert_eq!(
            pieces.concat(),
            whole,
            "{format:?}: the pieces are the export"
        );
        assert_eq!(
            export.to_vec(),
            whole,
            "{format:?}: made again, the same bytes"
        );
        let (signature, length) = sign_pieces(&key, || export.pieces());
        assert_eq!(length, whole.len() as u64);
        assert_eq!(
            signature,
            key.sign(&whole),
            "{format:?}: signed in pieces as ed25519-dalek signs the whole"
        );
        if format == Format::Json {
            let json: Value = serde_json::from_slice(&whole).expect("JSON");
            assert_eq!(json["awards"].as_array().map(Vec::len), Some(700));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_export_streams_with_its_length_verifies_and_is_signed_again_after_a_change() {
    let app = app().await;
    import_awards(&app, 900).await;
    let did = app.text("/.well-known/did.json").await;
    let dir = temp_dir();
    let did_path = write(&dir, "did.json", did.as_bytes());
    let fetch = |extra: Option<(&'static str, String)>| {
        let mut request = app.request(reqwest::Method::GET, "/v1/exports/register.csv");
        if let Some((name, value)) = extra {
            request = request.header(name, value);
        }
        request.send()
    };
    let header = |r: &reqwest::Response, name: &str| header_of(r.headers(), name);
    let first = fetch(None).await.expect("an answer");
    assert_eq!(first.status(), 200);
    let length: usize = header(&first, "content-length").parse().expect("a length");
    assert!(first.headers().get("transfer-encoding").is_none());
    let (signature, kid, tag) = (
        header(&first, "wexqs-signature"),
        header(&first, "wexqs-signature-key"),
        header(&first, "etag"),
    );
    let body = first.bytes().await.expect("the body");
    assert_eq!(body.len(), length, "the length sent is the body's");
    assert!(body.len() > 3 * wexqs::render::export::PIECE);
    assert_eq!(
        body.split(|b| *b == b'\n').count(),
        902,
        "a header and 900 rows"
    );
    let path = write(&dir, "register.csv", &body);
    let checked = python(&["signature", &path, &signature, &did_path, &kid]);
    assert_eq!(checked["verified"], true, "{checked}");

    // Again: the same bytes under the same signature; with the tag, not sent at all.
    let again = fetch(None).await.expect("an answer");
    assert_eq!(header(&again, "wexqs-signature"), signature);
    assert_eq!(again.bytes().await.expect("the body"), body);
    let held = fetch(Some(("if-none-match", tag.clone())))
        .await
        .expect("an answer");
    assert_eq!(held.status(), 304);

    // A change: a new log size, a new signature over the new bytes, which verifies.
    let number = app.registry.export_rows().2[0]
        .0
        .certificate_number
        .to_string();
    let revoked = app
        .admin_post(
            &format!("/v1/admin/awards/{number}/revoke"),
            json!({"reason": "Issued in error"}),
        )
        .await;
    assert_eq!(revoked.status(), 200);
    let changed = fetch(Some(("if-none-match", tag.clone())))
        .await
        .expect("an answer");
    assert_eq!(changed.status(), 200, "the old tag no longer holds");
    let new_signature = header(&changed, "wexqs-signature");
    assert_ne!(new_signature, signature);
    let body = changed.bytes().await.expect("the body");
    assert!(String::from_utf8_lossy(&body).contains(",revoked,"));
    let path = write(&dir, "changed.csv", &body);
    let checked = python(&["signature", &path, &new_signature, &did_path, &kid]);
    assert_eq!(checked["verified"], true, "{checked}");
}
