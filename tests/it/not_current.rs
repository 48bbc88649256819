//! Nothing a person or another site meets shows a non-current award as current, and a wrong
//! number never breaks someone else's page: a non-valid award's logos and calendar are gone
//! (410 `award_not_current`), its page offers neither, an organisation's calendar holds only
//! valid awards; an unknown number gets a compact card in an embed and a "not found" badge in
//! an `<img>`. The search forgives (near matches are results, with their status) and only
//! forgives (a text with no letter or digit finds nothing).

use serde_json::{Value, json};

use crate::helpers::{TestApp, sqlite_app, sqlite_app_with_award};

/// (status, certificate number, organisation id) of an award in each status.
async fn each_status(app: &TestApp) -> Vec<(&'static str, String, String)> {
    let statuses = [
        ("valid", "2025-06-01"),
        ("suspended", "2025-03-01"),
        ("revoked", "2025-04-01"),
        ("superseded", "2024-06-01"),
        ("expired", "2024-01-10"),
    ];
    let name = ("Withdrawn Test {status} NHS Trust", "ZW");
    app.awards_with_statuses(&statuses, name, "issued in error", "silver")
        .await
}

/// Suspends, reinstates or revokes an award, stating the version read (`If-Match`).
async fn change(app: &TestApp, number: &str, action: &str, reason: &str) {
    let record = app.get(&format!("/v1/awards/{number}")).await;
    let tag = record.headers().get("etag").expect("an ETag").clone();
    let r = app
        .request(
            reqwest::Method::POST,
            &format!("/v1/admin/awards/{number}/{action}"),
        )
        .bearer_auth(&app.admin)
        .header("If-Match", tag)
        .json(&json!({"reason": reason}))
        .send()
        .await
        .expect("answered");
    assert_eq!(r.status(), 200, "{action} {number}");
}

/// The problem+json of a 410 `award_not_current`, with the status it names.
async fn gone(app: &TestApp, path: &str) -> Value {
    let response = app.get(path).await;
    assert_eq!(response.status(), 410, "{path}");
    assert_eq!(
        response.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/problem+json"[..]),
        "{path}"
    );
    assert_eq!(
        response
            .headers()
            .get("cache-control")
            .map(|v| v.as_bytes()),
        Some(&b"no-store"[..]),
        "{path}: a reinstatement must serve it again at once"
    );
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["code"], "award_not_current", "{path}: {body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawn_awards_logos_and_calendars_are_gone_and_its_page_offers_neither() {
    let app = sqlite_app().await;
    let awards = each_status(&app).await;
    for (status, number, org) in &awards {
        let page = app.text(&format!("/verify/{number}")).await;
        let organisation_calendar = app
            .text(&format!("/v1/organisations/{org}/calendar.ics"))
            .await;
        if *status == "valid" {
            for path in ["logo.png", "logo.svg", "calendar.ics"] {
                let r = app.get(&format!("/v1/awards/{number}/{path}")).await;
                assert_eq!(r.status(), 200, "valid: {path}");
            }
            assert!(page.contains(&format!("href=\"/v1/awards/{number}/calendar.ics\"")));
            assert_eq!(organisation_calendar.matches("BEGIN:VEVENT").count(), 1);
            continue;
        }
        for path in ["logo.png", "logo.svg", "calendar.ics"] {
            let body = gone(&app, &format!("/v1/awards/{number}/{path}")).await;
            // The status it names, and a detail that says the award is not valid and where to
            // check it.
            let known = [
                (app.base(), "[base]"),
                (number.as_str(), "[number]"),
                (org.as_str(), "[org]"),
            ];
            crate::snapshot::settings(&known).bind(|| {
                insta::assert_json_snapshot!(format!("gone_{status}_{path}"), body);
            });
        }
        assert!(
            !page.contains("calendar.ics") && !page.contains("Add the expiry"),
            "{status}: the page offers a calendar"
        );
        // Only a valid award is in its organisation's calendar: here the newer award that
        // replaced the superseded one.
        assert!(
            !organisation_calendar.contains(number.as_str()),
            "{status}: the organisation's calendar holds it: {organisation_calendar}"
        );
        assert_eq!(
            organisation_calendar.matches("BEGIN:VEVENT").count(),
            usize::from(*status == "superseded"),
            "{status}: {organisation_calendar}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logo_held_from_before_a_suspension_is_not_revalidated_and_returns_on_reinstatement() {
    let (app, number) = sqlite_app_with_award(
        "Held Logo Hospitals NHS Trust",
        None,
        "silver",
        "2025-06-01",
    )
    .await;
    let logo = app.get(&format!("/v1/awards/{number}/logo.png")).await;
    assert_eq!(logo.status(), 200);
    let tag = logo.headers().get("etag").expect("an ETag").clone();
    let max_age: u64 = logo
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("public, max-age="))
        .and_then(|v| v.parse().ok())
        .expect("a max-age");
    assert!(
        max_age <= 60,
        "a site's copy lasts at most a minute: {max_age}"
    );
    change(&app, &number, "suspend", "under review by the programme").await;
    let held = app
        .request(
            reqwest::Method::GET,
            &format!("/v1/awards/{number}/logo.png"),
        )
        .header("If-None-Match", tag)
        .send()
        .await
        .expect("answered");
    assert_eq!(held.status(), 410, "a held copy is never confirmed");
    change(&app, &number, "reinstate", "the review found nothing wrong").await;
    let again = app.get(&format!("/v1/awards/{number}/logo.png")).await;
    assert_eq!(again.status(), 200, "served again once valid");
    assert_eq!(
        again.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"image/png"[..])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_number_gets_a_compact_card_in_an_embed_and_a_not_found_badge_in_an_image() {
    let (app, valid) = sqlite_app_with_award(
        "Embed Test Hospitals NHS Trust",
        None,
        "bronze",
        "2025-06-01",
    )
    .await;
    let unknown = wexqs::domain::CertificateNumber::from_random(11).to_string();
    let mut typo: Vec<char> = valid.chars().collect();
    typo[2] = if typo[2] == 'A' { 'B' } else { 'A' };
    let typo: String = typo.into_iter().collect();

    for (path, status) in [
        (format!("/embed/{unknown}"), 404),
        (format!("/embed/{typo}"), 400),
        ("/embed/".to_owned(), 404),
        ("/embed/0000-0000-0000-0000".to_owned(), 404),
        ("/embed/not-a-number".to_owned(), 400),
    ] {
        let (code, headers, body) = app.page(&path).await;
        assert_eq!(code, status, "{path}");
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            content_type.starts_with("text/html"),
            "{path}: {content_type}"
        );
        assert!(
            body.contains("No such award: check the number"),
            "{path}: {body}"
        );
        assert!(
            body.contains("class=\"embed-card\"")
                && !body.contains("<header")
                && !body.contains("<footer"),
            "{path}: a card, not the whole page: {body}"
        );
        let csp = headers
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(csp.contains("frame-ancestors *"), "{path}: {csp}");
    }

    for (number, status) in [(unknown.as_str(), 404), (typo.as_str(), 400)] {
        for style in ["", "?style=large"] {
            let path = format!("/v1/awards/{number}/badge.svg{style}");
            let response = app.get(&path).await;
            assert_eq!(response.status(), status, "{path}");
            assert_eq!(
                response.headers().get("content-type").map(|v| v.as_bytes()),
                Some(&b"image/svg+xml"[..]),
                "{path}"
            );
            let svg = response.text().await.expect("SVG");
            assert!(
                svg.starts_with("<svg") && svg.contains("not found") && svg.contains("<title>"),
                "{path}: {svg}"
            );
        }
    }
    // A real award's badge is unchanged.
    let svg = app.text(&format!("/v1/awards/{valid}/badge.svg")).await;
    assert!(svg.contains("Bronze · valid"), "{svg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misspelt_name_finds_near_matches_with_their_status_and_punctuation_finds_nothing() {
    let (app, fenmarsh) = sqlite_app_with_award(
        "Fenmarsh Hospitals NHS Foundation Trust",
        None,
        "silver",
        "2025-06-01",
    )
    .await;
    let other = app.organisation("Quayside Community Care CIC", None).await;
    let quayside = app.award(&other, "bronze", "2025-05-01").await;

    let (code, _, body) = app.page("/?q=Fenmarsh+Hospitls").await;
    assert_eq!(code, 200);
    assert!(!body.contains("0 awards found"), "{body}");
    assert!(body.contains("1 near match"), "{body}");
    let row = body
        .split("<tr>")
        .find(|r| r.contains(&format!("href=\"/verify/{fenmarsh}\"")))
        .expect("the near match is a row of the results");
    assert!(
        row.contains("Silver")
            && row.contains("class=\"status valid\"")
            && row.contains(">Valid<")
            && row.contains("Valid until 31 May 2027"),
        "the row has its level, status and date: {row}"
    );
    let api: Value = app.json("/v1/register?q=Fenmarsh+Hospitls").await;
    assert_eq!(api["near_matches"], true, "{api}");
    assert_eq!(api["total"], 1, "{api}");
    assert_eq!(api["items"][0]["certificate_number"], fenmarsh.as_str());
    assert_eq!(api["items"][0]["status"], "valid");
    // Filters hold for near matches too.
    let filtered: Value = app
        .json("/v1/register?q=Fenmarsh+Hospitls&level=gold")
        .await;
    assert_eq!(filtered["total"], 0, "{filtered}");
    // An exact match is no near match.
    let exact: Value = app.json("/v1/register?q=fenmarsh").await;
    assert_eq!(exact["near_matches"], false, "{exact}");
    assert_eq!(exact["total"], 1);

    for q in ["!!!", "%F0%9F%8F%A5%F0%9F%8F%A5", "-+-", "%E2%80%94"] {
        let response = app.get(&format!("/v1/register?q={q}")).await;
        assert_eq!(response.status(), 400, "q={q}");
        let problem: Value = response.json().await.expect("JSON");
        assert_eq!(problem["code"], "query_without_letters", "q={q}: {problem}");
        let (code, _, page) = app.page(&format!("/?q={q}")).await;
        assert_eq!(code, 200, "q={q}");
        assert!(page.contains("0 awards found"), "q={q}");
        assert!(
            !page.contains(&fenmarsh) && !page.contains(&quayside),
            "q={q}: the page lists the register"
        );
        assert!(page.contains("at least one letter or digit"), "q={q}");
    }
    // No text at all is still the whole register.
    let all: Value = app.json("/v1/register").await;
    assert_eq!(all["total"], 2);
}
