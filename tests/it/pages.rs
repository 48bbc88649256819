//! What people see: the verification page for every status, the register, the badge, the embed
//! card, widget and oEmbed, caching and security headers, rate limiting, and a walk through the
//! pages in headless Chromium (Debian's) checked by axe-core.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, spawn_app_limited, sqlite_app, sqlite_app_with_award};

/// An award in each status, with the number of each.
async fn one_of_each(app: &TestApp) -> Vec<(&'static str, String)> {
    let statuses = [
        ("valid", "2025-06-01"),
        ("expired", "2024-01-10"),
        ("suspended", "2025-03-01"),
        ("revoked", "2025-04-01"),
        ("superseded", "2024-06-01"),
    ];
    let name = ("St Example {status} Hospitals NHS Trust", "ZP");
    let awards = app
        .awards_with_statuses(&statuses, name, "under review by the programme", "gold")
        .await;
    awards
        .into_iter()
        .map(|(status, number, _)| (status, number))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_status_looks_unmistakably_different_and_unknown_numbers_say_so() {
    let app = sqlite_app().await;
    let awards = one_of_each(&app).await;
    let expected = [
        ("valid", "Valid award"),
        ("expired", "Expired"),
        ("suspended", "Suspended"),
        ("revoked", "Revoked"),
        ("superseded", "Replaced by a newer award"),
    ];
    for ((status, number), (_, words)) in awards.iter().zip(expected) {
        let (code, headers, body) = app.page(&format!("/verify/{number}")).await;
        assert_eq!(code, 200);
        assert!(
            body.contains(&format!("class=\"verdict {status}\"")),
            "{status}"
        );
        assert!(
            body.contains(&format!("<p class=\"words\">{words}")),
            "{status}: {words}"
        );
        assert!(
            body.contains("NHS England Work Experience Quality Standard (WEx QS)"),
            "the scheme is named"
        );
        assert!(
            body.contains("paused since 1 January 2026"),
            "the programme notice"
        );
        assert!(body.contains("property=\"og:title\""), "Open Graph tags");
        // Only a valid award is offered for showing off: snippets, LinkedIn.
        let offered = body.contains("/embed.js")
            && body.contains("data-certificate=")
            && body.contains("badge.svg");
        assert_eq!(
            offered,
            *status == "valid",
            "{status}: the snippet generator"
        );
        assert_eq!(
            body.contains("linkedin.com/profile/add"),
            *status == "valid",
            "{status}: add to LinkedIn"
        );
        let cache = headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(cache.starts_with("public, max-age="), "{cache}");
        assert_eq!(
            headers.get("x-frame-options").map(|v| v.as_bytes()),
            Some(&b"DENY"[..])
        );
    }
    let (_, _, revoked) = app.page(&format!("/verify/{}", awards[3].1)).await;
    assert!(
        revoked.contains("under review by the programme"),
        "the reason is shown"
    );
    let (_, _, superseded) = app.page(&format!("/verify/{}", awards[4].1)).await;
    assert!(superseded.contains("See the newer award"));

    let unknown = wexqs::domain::CertificateNumber::from_random(7).to_string();
    let (code, _, body) = app.page(&format!("/verify/{unknown}")).await;
    assert_eq!(code, 404);
    assert!(body.contains("class=\"verdict not_found\"") && body.contains("Not found"));
    // A mistyped character is caught, and the award it was probably meant to be is offered.
    let valid = &awards[0].1;
    let mut typo: Vec<char> = valid.chars().collect();
    typo[2] = if typo[2] == 'A' { 'B' } else { 'A' };
    let typo: String = typo.into_iter().collect();
    let (code, _, body) = app.page(&format!("/verify/{typo}")).await;
    assert_eq!(code, 400);
    assert!(
        body.contains(&format!("href=\"/verify/{valid}\"")),
        "the likely number is suggested"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_register_forgives_and_filters_and_a_revocation_shows_everywhere_at_once() {
    let app = sqlite_app().await;
    let awards = one_of_each(&app).await;
    let (_, _, body) = app.page("/?q=saint+example+valid").await;
    assert!(body.contains(&format!("href=\"/verify/{}\"", awards[0].1)));
    assert!(body.contains("1 award found"));
    let (_, _, body) = app.page("/?q=st+exampel+vaild").await;
    assert!(
        body.contains("1 near match") && body.contains("class=\"status valid\""),
        "a misspelt name still finds it, with its status"
    );
    assert!(body.contains(&format!("href=\"/verify/{}\"", awards[0].1)));
    let (_, _, body) = app.page("/?status=revoked").await;
    assert!(body.contains(&awards[3].1) && !body.contains(&awards[0].1));
    let api: Value = app.read_json("/v1/register?q=st+exampel+vaild").await;
    assert_eq!(api["total"], 1);
    assert_eq!(api["near_matches"], true);
    assert_eq!(api["items"][0]["certificate_number"], awards[0].1.as_str());
    assert_eq!(api["items"][0]["status"], "valid");
    assert_eq!(
        api["did_you_mean"][0]["certificate_number"],
        awards[0].1.as_str()
    );

    // The badge, the page and the widget's data change the moment an award is revoked.
    let number = &awards[0].1;
    let before = app.get(&format!("/v1/awards/{number}/badge.svg")).await;
    let etag = before.headers().get("etag").expect("an ETag").clone();
    let badge = before.text().await.expect("SVG");
    assert!(
        badge.contains("Gold · valid") && badge.contains("<title>"),
        "{badge}"
    );
    let large = app
        .get(&format!("/v1/awards/{number}/badge.svg?style=large"))
        .await
        .text()
        .await
        .expect("SVG");
    assert!(large.contains("height=\"40\""));
    app.admin_post(
        &format!("/v1/admin/awards/{number}/revoke"),
        json!({"reason": "issued in error"}),
    )
    .await;
    let after = app
        .request(
            reqwest::Method::GET,
            &format!("/v1/awards/{number}/badge.svg"),
        )
        .header("If-None-Match", etag)
        .send()
        .await
        .expect("answered");
    assert_eq!(
        after.status(),
        200,
        "a revocation is never answered with 304"
    );
    assert!(after.text().await.expect("SVG").contains("Gold · revoked"));
    let (_, _, body) = app.page(&format!("/verify/{number}")).await;
    assert!(body.contains("class=\"verdict revoked\""));
    let widget_data = app.verification(number, None).await;
    assert_eq!(widget_data["status"], "revoked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_card_can_be_framed_anywhere_and_cms_find_it_by_oembed() {
    let (app, number) = sqlite_app_with_award(
        "Harlow Fields Primary Care Network",
        None,
        "silver",
        "2025-06-27",
    )
    .await;
    let (code, headers, body) = app.page(&format!("/embed/{number}")).await;
    assert_eq!(code, 200);
    assert!(headers.get("x-frame-options").is_none());
    let csp = headers
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(csp.contains("frame-ancestors *"), "{csp}");
    assert!(body.contains("Valid award") && body.contains("Harlow Fields Primary Care Network"));
    let (_, headers, _) = app.page("/").await;
    let csp = headers
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"),
        "{csp}"
    );

    let (code, headers, script) = app.page("/embed.js").await;
    assert_eq!(code, 200);
    assert!(
        headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("application/javascript"))
    );
    assert!(
        script.contains("\"embed/\"") && !script.contains("innerHTML"),
        "the widget shows the card /embed serves"
    );
    assert!(
        script.contains("frame.width = \"360\"") && script.contains("frame.height = \"240\""),
        "at the suggested size"
    );

    let oembed: Value = app
        .get(&format!(
            "/oembed?format=json&url={}/verify/{number}",
            app.base()
        ))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(oembed["type"], "rich");
    assert!(
        oembed["html"]
            .as_str()
            .is_some_and(|h| h.contains(&format!("/embed/{number}")))
    );
    assert_eq!(
        app.get("/oembed?url=https://elsewhere.example/x")
            .await
            .status(),
        404
    );
    let head = app
        .request(reqwest::Method::HEAD, &format!("/verify/{number}"))
        .send()
        .await
        .expect("answered");
    assert_eq!(head.status(), 200);
    let docs = app.page("/docs").await.2;
    assert!(docs.contains("id=\"op-verifyAward\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_routes_are_rate_limited_per_address_and_admin_routes_are_not() {
    let app = spawn_app_limited(Backend::Sqlite, 2)
        .await
        .expect("SQLite is always there");
    let mut statuses = Vec::new();
    for _ in 0..20 {
        statuses.push(app.get("/v1/programme").await);
    }
    let limited = statuses
        .into_iter()
        .find(|r| r.status() == 429)
        .expect("a 429 within 20 requests");
    let retry: u64 = limited
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=5).contains(&retry));
    let body: Value = limited.json().await.expect("JSON");
    assert_eq!(body["code"], "rate_limited");
    let feed = app
        .request(reqwest::Method::GET, "/v1/admin/events")
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("answered");
    assert_eq!(feed.status(), 200, "admin routes are not limited");
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn a_pause_recorded_ahead_is_announced_with_its_date_by_the_api_and_the_home_page() {
    let app = sqlite_app().await;
    let will_pause = "The programme will pause on 1 January 2026: no new awards will be made \
                      from that day; existing awards remain valid until their expiry date.";
    // The day before the calendar's pause takes effect: it is recorded, not yet in force.
    app.clock.set(crate::helpers::at(2025, 12, 31));
    let programme = app.json("/v1/programme").await;
    assert_eq!(programme["phase"], "running", "{programme}");
    assert_eq!(programme["scheduled"].as_array().map(Vec::len), Some(1));
    let scheduled = &programme["scheduled"][0];
    assert_eq!(
        (&scheduled["phase"], &scheduled["effective_from"]),
        (&json!("paused"), &json!("2026-01-01")),
        "{programme}"
    );
    assert_eq!(scheduled["message"], will_pause);
    assert!(scheduled["reason"].as_str().is_some_and(|r| !r.is_empty()));
    let home = app.get("/").await.text().await.expect("the home page");
    assert!(home.contains(will_pause), "{home}");

    // From that day the pause is the programme's state, and no longer announced as to come.
    app.clock.set(crate::helpers::at(2026, 1, 1));
    let programme = app.json("/v1/programme").await;
    assert_eq!(programme["phase"], "paused");
    assert_eq!(programme["scheduled"], json!([]));
    let home = app.get("/").await.text().await.expect("the home page");
    assert!(!home.contains("will pause"), "{home}");

    // A resumption recorded ahead is announced the same way, in the admin's answer too.
    let resumed = app
        .admin_post(
            "/v1/admin/programme/resume",
            json!({"effective_from": "2026-03-02", "reason": "The programme resumes."}),
        )
        .await;
    assert_eq!(resumed.status(), 200);
    let resumed: Value = resumed.json().await.expect("JSON");
    let will_resume = "The programme will resume making awards on 2 March 2026.";
    assert_eq!(resumed["scheduled"][0]["message"], will_resume, "{resumed}");
    assert_eq!(resumed["scheduled"][0]["phase"], "running");
    let home = app.get("/").await.text().await.expect("the home page");
    assert!(home.contains(will_resume), "{home}");
}

/// What the browser is to walk: every page, the search, the widget, the snippets of an
/// organisation named to break out of them (`hostile_name`), the cards (one a name as long as
/// names get) and the calendar link: (the plan, the hostile award's number).
async fn browser_plan(
    app: &TestApp,
    awards: &[(&'static str, String)],
    hostile_name: &str,
) -> (Value, String) {
    let unknown = wexqs::domain::CertificateNumber::from_random(7).to_string();
    let mut pages: Vec<Value> = awards
        .iter()
        .map(|(status, n)| json!({"name": format!("verify-{status}"), "path": format!("/verify/{n}")}))
        .collect();
    pages.push(json!({"name": "verify-unknown", "path": format!("/verify/{unknown}")}));
    pages.push(json!({"name": "register", "path": "/"}));
    pages.push(json!({"name": "register-search", "path": "/?q=saint+example"}));
    pages.push(json!({"name": "embed", "path": format!("/embed/{}", awards[0].1)}));
    pages.push(json!({"name": "docs", "path": "/docs"}));
    pages.push(json!({"name": "achievement", "path": "/achievements/gold"}));
    pages.push(json!({"name": "accessibility", "path": "/accessibility"}));
    pages.push(json!({"name": "privacy", "path": "/privacy"}));
    pages.push(json!({"name": "verify-no-number", "path": "/verify/"}));
    pages.push(json!({"name": "near-matches", "path": "/?q=st+exampel+vaild"}));
    // A name as long as names get, which must not push the card's link out of its frame.
    let long_name = "The Royal Wolverhampton, Walsall and Black Country Partnership of Community, \
                     Mental Health and Learning Disability Services NHS Foundation Trust";
    let long_organisation = app.organisation(long_name, None).await;
    let long = app.award(&long_organisation, "silver", "2025-05-02").await;
    let mut embeds: Vec<Value> = awards
        .iter()
        .map(|(status, n)| json!({"name": status, "certificate": n}))
        .collect();
    embeds.push(json!({"name": "long-name", "certificate": long}));
    let hostile_organisation = app.organisation(hostile_name, None).await;
    let hostile = app
        .award(&hostile_organisation, "bronze", "2025-05-01")
        .await;
    let plan = json!({
        "base": app.base(),
        "pages": pages,
        "search": {"query": "st exampel valid", "expect": awards[0].1},
        "widget": {"certificate": awards[0].1},
        "snippets": {"certificate": hostile},
        "embeds": embeds,
        "calendar": {"certificate": awards[0].1},
    });
    (plan, hostile)
}

/// Each verdict page says its verdict; axe-core finds no violation on any page; nothing scrolls
/// sideways on a phone 390 px wide; the docs keep a readable column.
fn assert_pages_read_right(result: &Value) {
    let verdicts = [
        ("verify-valid", "Valid award"),
        ("verify-expired", "Expired"),
        ("verify-suspended", "Suspended"),
        ("verify-revoked", "Revoked"),
        ("verify-superseded", "Replaced by a newer award"),
        ("verify-unknown", "Not found"),
    ];
    for (name, words) in verdicts {
        let read = result["pages"][name]["verdict"]
            .as_str()
            .unwrap_or_default();
        assert!(read.starts_with(words), "{name}: read {read:?}");
    }
    for (name, p) in result["pages"].as_object().expect("pages") {
        assert_eq!(
            p["violations"],
            json!([]),
            "axe-core on {name}: {}",
            p["violations"]
        );
        // Nothing scrolls sideways on a phone 390 px wide.
        let layout = &p["layout"];
        assert!(
            layout["scrollWidth"].as_u64() <= layout["clientWidth"].as_u64(),
            "{name} is wider than the phone: {layout}"
        );
    }
    // The docs' text keeps a readable column: the original squeezed descriptions into six
    // characters, breaking words apart.
    let docs = &result["pages"]["docs"]["layout"];
    assert!(
        docs["narrowest"]["width"].as_u64() >= Some(200),
        "a docs column is too narrow to read: {docs}"
    );
}

/// The calendar link, tapped on a phone, downloads the award's expiry as an all-day event with
/// its reminders.
fn assert_the_calendar_downloads(app: &TestApp, number: &str, result: &Value) {
    let calendar = &result["calendar"];
    assert_eq!(calendar["filename"], "calendar.ics", "{calendar}");
    let ics = calendar["text"].as_str().expect("the file's text");
    let (valid, _) = app
        .registry
        .award(&number.parse().expect("a number"))
        .expect("the award");
    let expiry = valid.expires_on().format("%Y%m%d").to_string();
    assert!(
        ics.contains(&format!("DTSTART;VALUE=DATE:{expiry}\r\n")),
        "{ics}"
    );
    assert_eq!(ics.matches("BEGIN:VALARM").count(), 3, "{ics}");
}

/// Every card fits the 360 x 240 frame the snippets suggest, its link to the register inside;
/// only a valid or expired award's card says until when; the misspelt search reaches the award;
/// the script widget shows the iframe's card, in the same words and UK dates, at the same size.
fn assert_cards_fit_and_the_widget_matches(
    result: &Value,
    awards: &[(&'static str, String)],
    out: &std::path::Path,
) {
    for (name, fit) in result["embeds"].as_object().expect("embeds") {
        let link = &fit["link"];
        assert_eq!(link["visible"], true, "{name}: {fit}");
        assert_eq!(link["text"], "Check this award in the register", "{name}");
        let inside = |key: &str, bound: f64| link[key].as_f64().is_some_and(|v| v <= bound);
        assert!(
            inside("bottom", 240.0) && inside("right", 360.0) && link["top"].as_f64() >= Some(0.0),
            "{name}: the link is outside the frame: {fit}"
        );
        assert_eq!(fit["frame"], json!({"width": 360, "height": 240}), "{name}");
    }
    for (status, _) in awards {
        let card = result["embeds"][status]["text"]
            .as_str()
            .unwrap_or_default();
        assert!(
            !card.contains("alid until") || *status == "valid" || *status == "expired",
            "{status}: {card}"
        );
    }
    assert_eq!(result["search"]["found"], true, "{}", result["search"]);
    assert_eq!(
        result["search"]["reached"],
        "St Example valid Hospitals NHS Trust"
    );
    // The script widget shows the same card, in the same words and UK dates, at the same size.
    let widget = result["widget"]["text"].as_str().unwrap_or_default();
    assert!(
        widget.contains("Valid award")
            && widget.contains("St Example valid Hospitals NHS Trust")
            && widget.contains("Valid until 31 May 2027")
            && !widget.contains("2027-05-31"),
        "{widget}"
    );
    assert_eq!(result["widget"]["text"], result["iframe"]["text"]);
    assert_eq!(
        (&result["widget"]["width"], &result["widget"]["height"]),
        (&json!(360), &json!(240))
    );
    assert!(
        result["iframe"]["verdict"]
            .as_str()
            .is_some_and(|v| v.starts_with("Valid award")),
        "{}",
        result["iframe"]
    );
    assert!(out.join("verify-valid.png").exists() && out.join("widget.png").exists());
}

/// The snippets of an organisation named to break out of them, pasted into another site, run
/// nothing and show its name only as text.
fn assert_snippets_hold(app: &TestApp, result: &Value, hostile: &str, hostile_name: &str) {
    let snippets = &result["snippets"];
    assert_eq!(snippets["dialogs"], json!([]), "{snippets}");
    assert_eq!(snippets["handlers"], json!([]), "{snippets}");
    assert_eq!(
        snippets["iframeTitles"],
        json!([
            format!("WEx QS award, certificate {hostile}"),
            format!("WEx QS award of {hostile_name}")
        ]),
        "the widget's frame, then the iframe snippet's: {snippets}"
    );
    assert_eq!(
        snippets["images"],
        json!([format!("{}/v1/awards/{hostile}/badge.svg", app.base())]),
        "{snippets}"
    );
    assert_eq!(
        snippets["scripts"],
        json!([format!("{}/embed.js", app.base())]),
        "{snippets}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_reads_the_verdict_finds_a_misspelt_name_and_sees_the_widget_with_no_axe_violations()
 {
    let app = sqlite_app().await;
    let awards = one_of_each(&app).await;
    let hostile_name = r#"Probe "><img src=x onerror=alert(1)> Trust"#;
    let (plan, hostile) = browser_plan(&app, &awards, hostile_name).await;
    // The browser checks on the plan, with the screenshots they took in a fresh folder (so
    // those checked are this walk's, not an earlier one's).
    let (result, out) = crate::helpers::walk_in_browser("check.mjs", "screenshots", &plan);
    assert_pages_read_right(&result);
    assert_the_calendar_downloads(&app, &awards[0].1, &result);
    assert_cards_fit_and_the_widget_matches(&result, &awards, &out);
    assert_snippets_hold(&app, &result, &hostile, hostile_name);
}
