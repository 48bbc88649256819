//! Changes to an existing award through the admin API: each states the version it read
//! (`If-Match`, required), takes a short public reason and a private note that reaches no public
//! surface, keeps a reinstatement's reason, dates every line of the history, and refuses to
//! amend an award that is no longer current; `log_position` means one thing everywhere.

use serde_json::{Value, json};

use crate::helpers::{TestApp, on_both_databases};

async fn post(app: &TestApp, path: &str, if_match: Option<&str>, body: Value) -> reqwest::Response {
    let mut request = app
        .request(reqwest::Method::POST, path)
        .bearer_auth(&app.admin)
        .json(&body);
    if let Some(tag) = if_match {
        request = request.header("If-Match", tag);
    }
    request.send().await.expect("answered")
}

async fn refused(response: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(response.status(), status, "expected {code}");
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["code"], code, "{body}");
    body["detail"]
        .as_str()
        .expect("the rule in words")
        .to_owned()
}

async fn a_change_states_the_version_it_read(app: TestApp) {
    let org = app
        .organisation("Versioned Hospitals NHS Trust", None)
        .await;
    let number = app.award(&org, "gold", "2025-06-01").await;
    let size = app.registry.size();
    for action in ["suspend", "revoke", "amend", "reinstate"] {
        let path = format!("/v1/admin/awards/{number}/{action}");
        let body = json!({"reason": "checked", "organisation_name": "Versioned Hospitals Trust"});
        let body = if action == "amend" {
            body
        } else {
            json!({"reason": "checked"})
        };
        let words = refused(
            post(&app, &path, None, body.clone()).await,
            428,
            "precondition_required",
        )
        .await;
        assert!(words.contains("If-Match"), "{words}");
        refused(
            post(&app, &path, Some("*"), body).await,
            428,
            "precondition_required",
        )
        .await;
    }
    assert_eq!(app.registry.size(), size, "nothing was written");
    let path = format!("/v1/admin/awards/{number}/suspend");
    let tag = app.etag_for_change(&path).await.expect("an ETag");
    let ok = post(&app, &path, Some(&tag), json!({"reason": "checked"})).await;
    assert_eq!(ok.status(), 200);
    let reinstate = format!("/v1/admin/awards/{number}/reinstate");
    let stale = post(&app, &reinstate, Some(&tag), json!({})).await;
    refused(stale, 412, "version_mismatch").await;
}

async fn the_reason_is_public_and_the_note_private(app: TestApp) {
    let org = app.organisation("Noted Hospitals NHS Trust", None).await;
    let number = app.award(&org, "silver", "2025-06-01").await;
    let secret = "Safeguarding concern raised by a school, case 4471";
    let path = format!("/v1/admin/awards/{number}/suspend");
    let suspended = app
        .admin_post(
            &path,
            json!({"reason": "Under review", "private_note": secret}),
        )
        .await;
    assert_eq!(suspended.status(), 200);
    let reinstated = app
        .admin_post(
            &format!("/v1/admin/awards/{number}/reinstate"),
            json!({"reason": "Review closed", "private_note": "no further action"}),
        )
        .await;
    assert_eq!(reinstated.status(), 200);

    let record: Value = app.read_json(&format!("/v1/awards/{number}")).await;
    let last = &record["history"][2];
    assert_eq!(
        (&last["change"], &last["reason"]),
        (&json!("reinstated"), &json!("Review closed"))
    );
    for line in record["history"].as_array().expect("a history") {
        assert!(line["on"].is_string(), "every line is dated: {line}");
    }
    for public in [
        format!("/v1/awards/{number}"),
        format!("/v1/awards/{number}/verification"),
        format!("/verify/{number}"),
        "/v1/feed.atom".to_owned(),
        "/v1/log/entries?start=0&limit=1000".to_owned(),
        "/v1/exports/register.json".to_owned(),
    ] {
        let body = app.text(&public).await;
        assert!(
            !body.contains("Safeguarding") && !body.contains("further action"),
            "{public}"
        );
    }
    let page = app.text(&format!("/verify/{number}")).await;
    assert!(
        page.contains("reinstated: Review closed"),
        "the page shows the reason"
    );

    let events = app
        .as_reviewer()
        .read_json("/v1/admin/events?limit=1000")
        .await;
    let notes: Vec<&Value> = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "award_note_recorded")
        .collect();
    assert_eq!(notes.len(), 2, "{events}");
    assert_eq!(notes[0]["visibility"], "private");
    assert_eq!(notes[0]["payload"]["data"]["note"], secret);

    let long = "x".repeat(301);
    let tag = app.etag_for_change(&path).await;
    let too_long = post(&app, &path, tag.as_deref(), json!({"reason": long})).await;
    let words = refused(too_long, 400, "reason_invalid").await;
    assert!(words.contains("public and permanent"), "{words}");
    let control = json!({"reason": "Under review", "private_note": "bell \u{7}"});
    refused(
        post(&app, &path, tag.as_deref(), control).await,
        400,
        "private_note_invalid",
    )
    .await;
}

async fn a_revoked_award_is_not_amended_and_log_position_means_one_thing(app: TestApp) {
    let org = app.organisation("Final Hospitals NHS Trust", None).await;
    let number = app.award(&org, "bronze", "2025-06-01").await;
    let amend = format!("/v1/admin/awards/{number}/amend");
    let amended = app
        .admin_post(
            &amend,
            json!({"organisation_name": "Final Hospital NHS Trust", "reason": "misspelt"}),
        )
        .await;
    assert_eq!(amended.status(), 200);
    let revoke = format!("/v1/admin/awards/{number}/revoke");
    let revoked = app
        .admin_post(&revoke, json!({"reason": "issued in error"}))
        .await;
    assert_eq!(revoked.status(), 200);
    let again = app
        .admin_post(
            &amend,
            json!({"organisation_name": "Final Hospitals Trust", "reason": "again"}),
        )
        .await;
    let words = refused(again, 409, "invalid_transition").await;
    assert!(words.contains("revoked"), "{words}");

    let response = app.get(&format!("/v1/awards/{number}")).await;
    let etag = response.headers()["etag"]
        .to_str()
        .expect("text")
        .to_owned();
    let record: Value = response.json().await.expect("JSON");
    let amended_line = &record["history"][1];
    assert_eq!(amended_line["change"], "amended");
    assert_eq!(amended_line["on"], "2026-11-24", "{amended_line}");
    let v = app.verification(&number, Some("2025-07-01")).await;
    assert_eq!(v["award"]["log_position"], record["log_position"]);
    let version = etag.trim_matches('"').split('-').next().expect("a version");
    assert_eq!(record["log_position"].to_string(), version);
}

async fn an_amendment_recorded_before_amendments_were_dated_is_dated_by_its_day(app: TestApp) {
    use wexqs::domain::Event;
    use wexqs::store::{AppendRequest, NewEvent};
    let org = app.organisation("Olden Hospitals NHS Trust", None).await;
    let number = app.award(&org, "gold", "2025-06-01").await;
    // The bytes an amendment had before it carried its day: no `effective_on`.
    let old = Event::AwardAmended {
        certificate_number: number.parse().expect("a number"),
        organisation_id: org.parse().expect("an id"),
        organisation_name: "Olden Hospital NHS Trust".parse().expect("a name"),
        reason: "misspelt".parse().expect("a reason"),
        effective_on: None,
    };
    let recorded_at = "2026-03-10T09:00:00.000000Z".to_owned();
    let event = NewEvent::new(old, uuid::Uuid::from_u128(7), recorded_at, "cli".into());
    let request = AppendRequest {
        events: vec![event],
        expected: Vec::new(),
        idempotency: None,
        writes: Vec::new(),
        log_at_least: 0,
    };
    let appended = wexqs::testing::append(&app.registry, request)
        .await
        .expect("appended");
    let payload = String::from_utf8_lossy(&appended.events[0].payload).into_owned();
    assert!(!payload.contains("effective_on"), "{payload}");
    app.registry.catch_up().await.expect("caught up");
    let record: Value = app.read_json(&format!("/v1/awards/{number}")).await;
    let line = &record["history"][1];
    assert_eq!(
        (&line["change"], &line["on"]),
        (&json!("amended"), &json!("2026-03-10")),
        "{line}"
    );
    let page = app.text(&format!("/verify/{number}")).await;
    assert!(
        page.contains("10 March 2026: corrected"),
        "the page dates it"
    );
}

on_both_databases! { app:
    an_amendment_recorded_before_amendments_were_dated_is_dated_by_its_day,
    a_change_states_the_version_it_read,
    the_reason_is_public_and_the_note_private,
    a_revoked_award_is_not_amended_and_log_position_means_one_thing,
}
