//! An award's life in the console, signed in through a real provider: issued, suspended with a
//! public reason and a private note, reinstated, amended, revoked after typing its number; each
//! change on the public page at once, the private note only in the console, every event naming
//! the person; a form made stale by someone else's change shown again with what changed.

use reqwest::StatusCode;
use serde_json::Value;

use crate::console_sign_in::{ConsoleApp, location};

/// The hidden `version` of the first change form on an award's page.
fn version_on(page: &str) -> String {
    let pattern = "name=\"version\" value=\"";
    let at = page.find(pattern).expect("a change form") + pattern.len();
    page[at..].split('"').next().unwrap().to_owned()
}

async fn public_status(console: &ConsoleApp, number: &str) -> Value {
    console
        .app
        .read_json(&format!("/v1/awards/{number}/verification"))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_award_is_issued_suspended_reinstated_amended_and_revoked_from_the_console() {
    let console = ConsoleApp::start().await;
    let org = console.app.organisation("Console Trust", Some("CT1")).await;
    let alice = console.sign_in("alice").await;
    let token = console.form_token(&alice).await;
    let origin = console.app.api.base().to_owned();
    let post = |path: String, fields: Vec<(&'static str, String)>| {
        let console = &console;
        let alice = alice.clone();
        let origin = origin.clone();
        let token = token.clone();
        async move {
            let mut all: Vec<(&str, &str)> = vec![("form_token", token.as_str())];
            all.extend(fields.iter().map(|(k, v)| (*k, v.as_str())));
            console.post(&path, &alice, &origin, &all).await
        }
    };
    // Issued: the new award's page, and the public answer says valid.
    let issued = post(
        "/console/awards".into(),
        vec![
            ("organisation_id", org.clone()),
            ("level", "gold".into()),
            ("awarded_on", "2025-12-01".into()),
        ],
    )
    .await;
    assert_eq!(issued.status(), StatusCode::SEE_OTHER);
    let to = location(&issued);
    let number = to
        .strip_prefix("/console/awards/")
        .and_then(|rest| rest.split('?').next())
        .expect("the award's page")
        .to_owned();
    assert_eq!(public_status(&console, &number).await["status"], "valid");
    let page = console.get(&to, &alice).await.text().await.unwrap();
    assert!(
        page.contains("Public and permanent"),
        "the form says what becomes public"
    );
    // Suspended, with a public reason and a private note.
    let suspended = post(
        format!("/console/awards/{number}/suspend"),
        vec![
            ("version", version_on(&page)),
            ("reason", "Placement review under way".into()),
            ("private_note", "Complaint from a parent, ref 1234".into()),
        ],
    )
    .await;
    assert_eq!(
        suspended.status(),
        StatusCode::SEE_OTHER,
        "{:?}",
        suspended.text().await
    );
    let answer = public_status(&console, &number).await;
    assert_eq!(answer["status"], "suspended", "{answer}");
    let public_page = console
        .http
        .get(console.url(&format!("/verify/{number}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(public_page.contains("Placement review under way"));
    assert!(
        !public_page.contains("ref 1234"),
        "the private note stays private"
    );
    let page = console
        .get(&format!("/console/awards/{number}"), &alice)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Complaint from a parent, ref 1234"),
        "the console shows the note"
    );
    assert!(page.contains("Alice Admin"), "the trail names the person");
    // A stale form: read now, then someone else reinstates through the API.
    let stale = version_on(&page);
    let reinstated = console
        .app
        .admin_post(
            &format!("/v1/admin/awards/{number}/reinstate"),
            serde_json::json!({"reason": "Review closed"}),
        )
        .await;
    assert_eq!(reinstated.status(), StatusCode::OK);
    let size = console.app.registry.size();
    let refused = post(
        format!("/console/awards/{number}/revoke"),
        vec![
            ("version", stale),
            ("reason", "Withdrawn by the programme".into()),
            ("confirm_number", number.clone()),
        ],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let body = refused.text().await.unwrap();
    assert!(
        body.contains("Someone changed this award after you opened the form"),
        "{body}"
    );
    assert!(
        body.contains("Review closed"),
        "what changed since is shown: {body}"
    );
    assert!(
        body.contains("Withdrawn by the programme"),
        "the person's words are kept"
    );
    assert_eq!(console.app.registry.size(), size, "nothing appended");
    // Amended, then revoked only once the number is typed.
    let page = console
        .get(&format!("/console/awards/{number}"), &alice)
        .await
        .text()
        .await
        .unwrap();
    let amended = post(
        format!("/console/awards/{number}/amend"),
        vec![
            ("version", version_on(&page)),
            ("organisation_name", "Console NHS Trust".into()),
            ("reason", "Renamed".into()),
        ],
    )
    .await;
    assert_eq!(amended.status(), StatusCode::SEE_OTHER);
    let record: Value = console.app.read_json(&format!("/v1/awards/{number}")).await;
    assert_eq!(
        record["organisation"]["name"], "Console NHS Trust",
        "{record}"
    );
    let page = console
        .get(&format!("/console/awards/{number}"), &alice)
        .await
        .text()
        .await
        .unwrap();
    let untyped = post(
        format!("/console/awards/{number}/revoke"),
        vec![
            ("version", version_on(&page)),
            ("reason", "Withdrawn".into()),
            ("confirm_number", "WRONG".into()),
        ],
    )
    .await;
    assert_eq!(untyped.status(), StatusCode::CONFLICT);
    assert!(
        untyped
            .text()
            .await
            .unwrap()
            .contains("type its certificate number")
    );
    let revoked = post(
        format!("/console/awards/{number}/revoke"),
        vec![
            ("version", version_on(&page)),
            ("reason", "Withdrawn".into()),
            ("confirm_number", number.to_lowercase()),
        ],
    )
    .await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert_eq!(public_status(&console, &number).await["status"], "revoked");
    // Every change made in the console names Alice in the admin event feed.
    let feed: Value = console
        .app
        .as_admin()
        .read_json("/v1/admin/events?limit=1000")
        .await;
    let alices: Vec<&Value> = feed["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor_name"] == "Alice Admin")
        .collect();
    let types: Vec<&str> = alices.iter().map(|e| e["type"].as_str().unwrap()).collect();
    for wanted in [
        "award_issued",
        "award_suspended",
        "award_note_recorded",
        "award_amended",
        "award_revoked",
    ] {
        assert!(types.contains(&wanted), "{wanted} by Alice: {types:?}");
    }
    assert!(
        alices
            .iter()
            .all(|e| e["actor"].as_str().unwrap().starts_with("staff:"))
    );
}
