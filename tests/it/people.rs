//! What a public body owes the people who use it: pages (not machine answers) for a 404 or a
//! 429 on the routes people open, with what to do; an accessibility statement and a privacy
//! notice linked from every page; and the open data under the Open Government Licence v3.0,
//! stated in the bodies that can carry it and in a `Link` header.

use serde_json::Value;

use crate::helpers::{Backend, TestApp, spawn_app_limited, sqlite_app, sqlite_app_with_award};

const OGL: &str = "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/";
const ATTRIBUTION: &str =
    "Contains public sector information licensed under the Open Government Licence v3.0.";

fn content_type(headers: &reqwest::header::HeaderMap) -> String {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// What `path` answers to a browser (which asks for HTML).
async fn browse(app: &TestApp, path: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let response = app
        .request(reqwest::Method::GET, path)
        .header("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .expect("answered");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.expect("a body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_gets_a_page_for_a_missing_number_or_page_and_the_api_keeps_problem_json() {
    let app = sqlite_app().await;
    // The routes people open answer pages whatever the client asks for.
    for path in ["/verify/", "/verify", "/verify/FDXE-J5BM-RRNV-PEDM/extra"] {
        let (code, headers, body) = app.page(path).await;
        assert_eq!(code, 404, "{path}");
        assert!(content_type(&headers).starts_with("text/html"), "{path}");
        assert!(body.contains("check the number"), "{path}: {body}");
        assert!(
            body.contains("href=\"/assets/site.css\""),
            "{path}: the site's style"
        );
        assert!(
            body.contains("<a href=\"/\">Search the register</a>"),
            "{path}"
        );
    }
    // Any other address a browser opens outside the API.
    let (code, headers, body) = browse(&app, "/no-such-page").await;
    assert_eq!(code, 404);
    assert!(content_type(&headers).starts_with("text/html"));
    assert!(body.contains("Page not found"), "{body}");
    // A level that is not one: a page for a person, problem+json for a verifier asking JSON.
    let (code, headers, body) = browse(&app, "/achievements/platinum").await;
    assert_eq!(code, 404);
    assert!(content_type(&headers).starts_with("text/html"));
    assert!(body.contains("Page not found"), "{body}");
    let machine = app
        .request(reqwest::Method::GET, "/achievements/platinum")
        .header("Accept", "application/json")
        .send()
        .await
        .expect("answered");
    assert_eq!(machine.status(), 404);
    assert_eq!(content_type(machine.headers()), "application/problem+json");
    // An unknown number's page says what to do.
    let unknown = wexqs::domain::CertificateNumber::from_random(9).to_string();
    let (code, _, body) = app.page(&format!("/verify/{unknown}")).await;
    assert_eq!(code, 404);
    assert!(
        body.contains("check the number on the certificate"),
        "{body}"
    );
    // A machine, and every API route, keep problem+json.
    for (path, html) in [
        ("/no-such-page", false),
        ("/v1/nothing-here", true),
        ("/v1/awards/FDXE-J5BM-RRNV-PEDM/nothing", true),
    ] {
        let response = if html {
            app.request(reqwest::Method::GET, path)
                .header("Accept", "text/html")
                .send()
                .await
                .expect("answered")
        } else {
            app.get(path).await
        };
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(
            content_type(response.headers()),
            "application/problem+json",
            "{path}"
        );
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(body["code"], "route_not_found", "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_person_gets_a_page_saying_to_wait_and_the_api_gets_problem_json() {
    let app = spawn_app_limited(Backend::Sqlite, 1)
        .await
        .expect("SQLite is always there");
    let number = wexqs::domain::CertificateNumber::from_random(5).to_string();
    for (path, page, words) in [
        (
            format!("/verify/{number}"),
            true,
            "Wait a minute and try again",
        ),
        (format!("/embed/{number}"), true, "Too many requests"),
        ("/".to_owned(), true, "Wait a minute and try again"),
        ("/v1/programme".to_owned(), false, "rate_limited"),
    ] {
        let mut limited = None;
        for _ in 0..40 {
            let response = app.get(&path).await;
            if response.status() == 429 {
                limited = Some(response);
                break;
            }
        }
        let limited = limited.expect("a 429 within 40 requests");
        let retry: u64 = limited
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("Retry-After is kept");
        assert!(retry >= 1, "{path}");
        let kind = content_type(limited.headers());
        let body = limited.text().await.expect("a body");
        if page {
            assert!(kind.starts_with("text/html"), "{path}: {kind}");
            assert!(body.contains(words), "{path}: {body}");
            assert!(
                body.contains("/assets/site.css"),
                "{path}: the site's style"
            );
        } else {
            assert_eq!(kind, "application/problem+json", "{path}");
            assert!(body.contains(words), "{path}: {body}");
        }
        if path.starts_with("/embed/") {
            assert!(
                body.contains("class=\"embed-card\""),
                "a card in a frame: {body}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_links_the_accessibility_statement_and_the_privacy_notice() {
    let (app, number) = sqlite_app_with_award(
        "Footer Test Hospitals NHS Trust",
        Some("ZF1"),
        "gold",
        "2025-06-01",
    )
    .await;

    let (code, headers, statement) = app.page("/accessibility").await;
    assert_eq!(code, 200);
    assert!(content_type(&headers).starts_with("text/html"));
    for words in [
        "Accessibility statement for the WEx QS award registry",
        "Web Content Accessibility Guidelines version 2.2",
        "AA standard",
        "How accessible this website is",
        "Non-accessible content",
        "Reporting accessibility problems with this website",
        "Enforcement procedure",
        "This statement was prepared on 2 December 2026. It was last reviewed on 2 December 2026.",
    ] {
        assert!(statement.contains(words), "the statement says {words:?}");
    }
    let (code, _, privacy) = app.page("/privacy").await;
    assert_eq!(code, 200);
    for words in [
        "NHS England is the controller",
        "What is public",
        "<dt>Organisation name</dt>",
        "<dt>ODS code</dt>",
        "<dt>Certificate number</dt>",
        "<dt>Public reason</dt>",
        "What is private",
        "evidence documents",
        "How long it is kept",
        "Open Government Licence v3.0",
    ] {
        assert!(privacy.contains(words), "the notice says {words:?}");
    }

    let unknown = wexqs::domain::CertificateNumber::from_random(3).to_string();
    for path in [
        "/".to_owned(),
        "/?q=footer".to_owned(),
        format!("/verify/{number}"),
        format!("/verify/{unknown}"),
        "/verify/".to_owned(),
        "/docs".to_owned(),
        "/achievements/gold".to_owned(),
        "/accessibility".to_owned(),
        "/privacy".to_owned(),
    ] {
        let (_, _, body) = browse(&app, &path).await;
        let footer = body
            .split("<footer")
            .nth(1)
            .unwrap_or_else(|| panic!("{path} has a footer"));
        assert!(
            footer.contains("href=\"/accessibility\"") && footer.contains("href=\"/privacy\""),
            "{path}: {footer}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_data_is_under_the_open_government_licence_in_its_bodies_and_headers() {
    let app = sqlite_app().await;
    let org = app
        .organisation("Licence Test Hospitals NHS Trust", None)
        .await;
    let number = app.award(&org, "silver", "2025-06-01").await;
    let link = format!("<{OGL}>; rel=\"license\"");
    for path in [
        "/v1/exports/register.csv".to_owned(),
        "/v1/exports/register.json".to_owned(),
        "/v1/feed.atom".to_owned(),
        format!("/v1/organisations/{org}/feed.atom"),
        "/v1/register".to_owned(),
        format!("/v1/awards/{number}"),
        format!("/v1/awards/{number}/verification"),
        format!("/v1/awards/{number}/credential"),
        format!("/v1/awards/{number}/calendar.ics"),
        "/v1/programme".to_owned(),
    ] {
        let response = app.get(&path).await;
        assert_eq!(response.status(), 200, "{path}");
        let links: Vec<&str> = response
            .headers()
            .get_all("link")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert!(links.contains(&link.as_str()), "{path}: {links:?}");
    }
    // Not the marks (the licence does not cover logos), nor the admin routes, nor errors.
    for path in [
        format!("/v1/awards/{number}/logo.png"),
        format!("/v1/awards/{number}/badge.svg"),
        "/v1/nothing-here".to_owned(),
    ] {
        let response = app.get(&path).await;
        assert!(response.headers().get("link").is_none(), "{path}");
    }
    let admin = app
        .request(reqwest::Method::GET, "/v1/admin/events")
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("answered");
    assert_eq!(admin.status(), 200);
    assert!(admin.headers().get("link").is_none(), "admin routes");

    let export: Value = app.json("/v1/exports/register.json").await;
    assert_eq!(export["license"]["url"], OGL, "{}", export["license"]);
    assert_eq!(export["license"]["attribution"], ATTRIBUTION);
    let register: Value = app.json("/v1/register").await;
    assert_eq!(register["license"]["attribution"], ATTRIBUTION);
    let feed = app.text("/v1/feed.atom").await;
    assert!(
        feed.contains(&format!("<rights>{ATTRIBUTION}</rights>")),
        "{feed}"
    );
}
