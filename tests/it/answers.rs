//! An answer never contradicts itself: an as-of verification describes the award on the day
//! asked in every field, a non-current award never looks current on any page, card or PDF, the
//! register page reads its search text exactly as the API does, and what a credential names
//! (its achievement) and what a browser asks for (a favicon) resolve.

use serde_json::{Value, json};

use crate::helpers::{TestApp, one_line, pdf_text, sqlite_app, sqlite_app_with_award};

/// The positions the answer's history lists, in order.
fn history_positions(v: &Value) -> Vec<u64> {
    v["award"]["history"]
        .as_array()
        .expect("a history")
        .iter()
        .map(|h| h["position"].as_u64().expect("a position"))
        .collect()
}

fn assert_coherent(v: &Value) {
    assert_eq!(
        v["award"]["status"], v["status"],
        "inner and outer status: {v}"
    );
    let shown = history_positions(v);
    assert_eq!(v["log"]["positions"], json!(shown), "positions: {v}");
    assert_eq!(v["log"]["position"], json!(shown.last()), "position: {v}");
    // One meaning of `log_position`: the award's latest event (its version), never the day's.
    assert!(
        v["award"]["log_position"].as_u64() >= v["log"]["position"].as_u64(),
        "{v}"
    );
    if let Some(inclusion) = v["log"].get("inclusion") {
        assert_eq!(inclusion["leaf_index"], v["log"]["position"], "{v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_as_of_a_day_describes_the_award_on_that_day_in_every_field() {
    let (app, number) = sqlite_app_with_award(
        "Asof Valley Hospitals NHS Trust",
        None,
        "gold",
        "2025-01-06",
    )
    .await;

    // The day it expires (today it is still valid).
    let v = app.verification(&number, Some("2027-01-06")).await;
    assert_eq!(v["status"], "expired");
    assert_coherent(&v);

    // Revoked today; asked about a day when it was valid.
    let revoked = app
        .admin_post(
            &format!("/v1/admin/awards/{number}/revoke"),
            json!({"reason": "issued in error"}),
        )
        .await;
    assert_eq!(revoked.status(), 200);
    let then = app.verification(&number, Some("2025-07-01")).await;
    assert_eq!(then["status"], "valid");
    assert_coherent(&then);
    let changes: Vec<&str> = then["award"]["history"]
        .as_array()
        .expect("a history")
        .iter()
        .map(|h| h["change"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(changes, ["issued"], "nothing after the day asked: {then}");

    let now = app.verification(&number, None).await;
    assert_eq!(now["status"], "revoked");
    assert_coherent(&now);
    assert_eq!(history_positions(&now).len(), 2, "{now}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_register_page_reads_the_search_text_as_the_api_does() {
    let app = sqlite_app().await;
    let org = app
        .organisation("Fenmarsh Hospital NHS Foundation Trust", None)
        .await;
    let fenmarsh = app.award(&org, "bronze", "2025-05-01").await;
    let org = app
        .organisation("St Saviour's and Borough Hospitals NHS Trust", None)
        .await;
    let saviours = app.award(&org, "gold", "2025-05-02").await;

    // Names of sixteen letters are names, not mistyped certificate numbers.
    let (_, _, body) = app.page("/?q=fenmarsh+hospital").await;
    assert!(!body.contains("does not match"), "read as a number");
    assert!(body.contains(&format!("href=\"/verify/{fenmarsh}\"")));
    let (_, _, body) = app.page("/?q=st+saviors+hosptal").await;
    assert!(!body.contains("does not match"), "read as a number");
    assert!(
        body.contains(&format!("href=\"/verify/{saviours}\"")),
        "a suggestion"
    );
    let api: Value = app.read_json("/v1/register?q=st+saviors+hosptal").await;
    assert_eq!(
        api["did_you_mean"][0]["certificate_number"],
        saviours.as_str()
    );

    // A certificate number with one character wrong is still caught, on both.
    let mut typo: Vec<char> = saviours.chars().collect();
    typo[5] = if typo[5] == 'A' { 'B' } else { 'A' };
    let typo: String = typo.into_iter().collect();
    let (_, _, body) = app.page(&format!("/?q={typo}")).await;
    assert!(body.contains("does not match"), "{body}");
    assert!(body.contains(&format!("href=\"/verify/{saviours}\"")));
    let api: Value = app.read_json(&format!("/v1/register?q={typo}")).await;
    assert_eq!(
        api["did_you_mean"][0]["certificate_number"],
        saviours.as_str()
    );
}

/// An award in each status that is not current, with its number and the words of its date.
async fn not_current(app: &TestApp) -> Vec<(&'static str, String, &'static str)> {
    let statuses = [
        ("revoked", "2025-04-01", "Revoked on 24 November 2026"),
        (
            "suspended",
            "2025-03-01",
            "Suspended since 24 November 2026",
        ),
        ("superseded", "2024-06-01", "Replaced on 1 July 2025"),
        ("expired", "2024-01-10", "Was valid until 9 January 2026"),
    ];
    let dated: Vec<_> = statuses.iter().map(|(s, on, _)| (*s, *on)).collect();
    let name = ("Not Current {status} Hospitals NHS Trust", "ZN");
    let awards = app
        .awards_with_statuses(&dated, name, "under review by the programme", "gold")
        .await;
    awards
        .into_iter()
        .zip(statuses)
        .map(|((status, number, _), (_, _, words))| (status, number, words))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_award_that_is_not_current_never_looks_current_anywhere() {
    let app = sqlite_app().await;
    let awards = not_current(&app).await;
    for (status, number, words) in &awards {
        let (code, _, page) = app.page(&format!("/verify/{number}")).await;
        assert_eq!(code, 200);
        assert!(page.contains(words), "{status}: {words}");
        for offer in [
            "linkedin.com",
            "/logo.png\"",
            "/logo.svg\"",
            "id=\"snippet-",
            "og:image",
        ] {
            assert!(!page.contains(offer), "{status} page offers {offer}");
        }
        let mark = status.to_uppercase();
        assert!(
            page.contains(&format!("Certificate (PDF, marked {mark})")),
            "{status}"
        );

        let (_, _, card) = app.page(&format!("/embed/{number}")).await;
        assert!(card.contains(words), "{status} card: {words}");
        assert!(!card.contains("· valid until"), "{status} card");

        let (_, _, register) = app.page(&format!("/?q={number}")).await;
        assert!(register.contains(words), "{status} register row: {words}");

        let pdf = app
            .get(&format!("/v1/awards/{number}/certificate.pdf"))
            .await
            .bytes()
            .await
            .expect("a PDF");
        let read = one_line(&pdf_text(&pdf, &[]));
        assert!(read.contains(&mark), "{status} PDF: {read}");
        assert!(read.contains(words), "{status} PDF: {read}");
        assert!(!read.contains("Valid until"), "{status} PDF: {read}");
    }
    // The valid award keeps every offer, and its PDF carries no mark.
    let org = app
        .organisation("Still Current Hospitals NHS Trust", None)
        .await;
    let valid = app.award(&org, "silver", "2025-06-01").await;
    let (_, _, page) = app.page(&format!("/verify/{valid}")).await;
    for offer in ["linkedin.com", "/logo.png\"", "id=\"snippet-iframe\""] {
        assert!(page.contains(offer), "a valid award offers {offer}");
    }
    assert!(page.contains("Valid until 31 May 2027"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_credentials_achievement_resolves_for_machines_and_people() {
    let (app, number) =
        sqlite_app_with_award("Achieving Hospitals NHS Trust", None, "gold", "2025-05-01").await;
    let credential: Value = app
        .read_json(&format!("/v1/awards/{number}/credential"))
        .await;
    let achievement = &credential["credentialSubject"]["achievement"];
    let id = achievement["id"].as_str().expect("an id");
    assert_eq!(id, format!("{}/achievements/gold", app.base()));

    let machine = app
        .request(reqwest::Method::GET, "/achievements/gold")
        .header("Accept", "application/json")
        .send()
        .await
        .expect("answered");
    assert_eq!(machine.status(), 200);
    assert!(
        machine
            .headers()
            .get("vary")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("Accept"))
    );
    let served: Value = machine.json().await.expect("JSON");
    assert_eq!(&served, achievement);
    let plain: Value = app.read_json("/v1/achievements/gold").await;
    assert_eq!(&plain, achievement);

    let person = app
        .request(reqwest::Method::GET, "/achievements/gold")
        .header("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .expect("answered");
    assert_eq!(person.status(), 200);
    let page = person.text().await.expect("HTML");
    assert!(page.contains("<h1>Gold award</h1>"), "{page}");
    assert!(
        page.contains("href=\"/?level=gold\""),
        "a link to the register"
    );
    assert_eq!(app.get("/achievements/platinum").await.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_list_parameters_examples_and_error_codes_and_there_is_a_favicon() {
    let app = sqlite_app().await;
    let (code, _, docs) = app.page("/docs").await;
    assert_eq!(code, 200);
    let verification = docs
        .split("id=\"op-verifyAward\"")
        .nth(1)
        .and_then(|rest| rest.split("class=\"operation\"").next())
        .expect("the verification operation has its own section");
    for expected in [
        "<code>at</code>",
        "2027-12-04",
        "<code>award_not_found</code>",
        "<strong>404</strong>",
        "Example response",
        "as_of",
    ] {
        assert!(
            verification.contains(expected),
            "{expected}: {verification}"
        );
    }
    let favicon = app.get("/favicon.ico").await;
    assert_eq!(favicon.status(), 200);
    assert_eq!(
        favicon
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("image/x-icon")
    );
    let bytes = favicon.bytes().await.expect("bytes");
    assert_eq!(&bytes[..4], &[0, 0, 1, 0], "an ICO header");
}
