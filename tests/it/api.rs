//! The HTTP API through real sockets: the public journeys, the admin writes, auth, idempotency,
//! optimistic concurrency, caching and the error shape.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::helpers::{TestApp, at, on_both_databases, raw_exchange, replayed};

async fn json(response: reqwest::Response) -> Value {
    response.json().await.expect("a JSON body")
}

async fn problem(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status(), status, "expected {code}");
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    let body = json(response).await;
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| d.len() > 10),
        "a problem says the rule in words: {body}"
    );
    body
}

/// An admin's `change` (`suspend`, `reinstate`, `amend`, `revoke`) of the award `number`,
/// which must succeed: the answer.
async fn change(app: &TestApp, number: &str, action: &str, body: Value) -> reqwest::Response {
    let path = format!("/v1/admin/awards/{number}/{action}");
    let response = app.admin_post(&path, body).await;
    assert_eq!(response.status(), 200, "{action}");
    response
}

async fn award_lifecycle(app: TestApp) {
    let org = app
        .organisation("St Saviour's and Borough Hospitals NHS Trust", Some("ZA8"))
        .await;
    let number = app.award(&org, "gold", "2025-06-01").await;

    let v = app.verification(&number, None).await;
    assert_eq!(v["status"], "valid");
    assert_eq!(v["valid"], true);
    assert_eq!(v["as_of"], "2026-11-24");
    assert_eq!(v["award"]["level"], "gold");
    assert_eq!(v["award"]["valid_until"], "2027-05-31");
    assert_eq!(v["award"]["issuer"]["name"], "NHS England");
    assert_eq!(v["programme"]["phase"], "paused");
    assert_eq!(v["programme"]["since"], "2026-01-01");
    assert!(
        v["programme"]["notice"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("existing awards remain valid until their expiry date"))
    );
    assert_eq!(
        app.verification(&number, Some("2027-05-31")).await["status"],
        "valid"
    );
    assert_eq!(
        app.verification(&number, Some("2027-06-01")).await["status"],
        "expired"
    );
    assert_eq!(
        app.verification(&number, Some("2025-05-31")).await["status"],
        "not_yet_valid"
    );

    change(
        &app,
        &number,
        "suspend",
        json!({"reason": "misuse of the logo under review"}),
    )
    .await;
    let v = app.verification(&number, None).await;
    assert_eq!(
        (v["status"].as_str(), v["valid"].as_bool()),
        (Some("suspended"), Some(false))
    );
    assert_eq!(v["reason"], "misuse of the logo under review");

    change(&app, &number, "reinstate", json!({})).await;
    assert_eq!(app.verification(&number, None).await["status"], "valid");

    let amended = change(
        &app,
        &number,
        "amend",
        json!({"organisation_name": "St Saviour's & Borough Hospitals NHS Trust", "reason": "name as registered"}),
    )
    .await;
    assert_eq!(
        json(amended).await["organisation"]["name"],
        "St Saviour's & Borough Hospitals NHS Trust"
    );

    change(
        &app,
        &number,
        "revoke",
        json!({"reason": "issued in error"}),
    )
    .await;
    let v = app.verification(&number, None).await;
    assert_eq!(v["status"], "revoked");
    assert_eq!(v["valid"], false);
    let record = json(app.get(&format!("/v1/awards/{number}")).await).await;
    let changes: Vec<&str> = record["history"]
        .as_array()
        .expect("a history")
        .iter()
        .map(|h| h["change"].as_str().expect("a change"))
        .collect();
    assert_eq!(
        changes,
        ["issued", "suspended", "reinstated", "amended", "revoked"]
    );
    let path = format!("/v1/admin/awards/{number}/reinstate");
    let reinstated = app.admin_post(&path, json!({})).await;
    problem(reinstated, 409, "invalid_transition").await;
}

async fn the_pause_refuses_new_awards_and_imports_carry_the_notice(app: TestApp) {
    let org = app
        .organisation("Fenmarsh Hospitals NHS Foundation Trust", None)
        .await;
    let refused = app
        .admin_post(
            "/v1/admin/awards",
            json!({"organisation_id": org, "level": "silver", "awarded_on": "2026-01-05"}),
        )
        .await;
    let body = problem(refused, 422, "programme_paused").await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("1 January 2026")
    );

    let imported = app
        .admin_post(
            "/v1/admin/awards/import",
            json!({"awards": [{"organisation_name": "Tamar Valley Hospitals NHS Foundation Trust", "ods_code": "ZD6", "region": "south_west", "level": "bronze", "awarded_on": "2025-06-01"}]}),
        )
        .await;
    assert_eq!(imported.status(), 201);
    let body = json(imported).await;
    let number = body["certificate_numbers"][0].as_str().expect("a number");
    let v = app.verification(number, None).await;
    assert_eq!(v["status"], "valid");
    assert_eq!(v["programme"]["notice"]["since"], "2026-01-01");
    assert_eq!(
        v["programme"]["notice"]["existing_awards_valid_until_expiry"],
        true
    );
}

async fn an_unknown_number_is_never_mistaken_for_a_revoked_one(app: TestApp) {
    let org = app
        .organisation("Exe Estuary Community Health NHS Trust", None)
        .await;
    let number = app.award(&org, "bronze", "2025-03-01").await;
    app.admin_post(
        &format!("/v1/admin/awards/{number}/revoke"),
        json!({"reason": "issued in error"}),
    )
    .await;
    let unknown = wexqs::domain::CertificateNumber::from_random(42).to_string();
    let body = problem(
        app.get(&format!("/v1/awards/{unknown}/verification")).await,
        404,
        "award_not_found",
    )
    .await;
    assert!(body.get("status").is_some_and(|s| s == 404));
    let revoked = app.verification(&number, None).await;
    assert_eq!(revoked["status"], "revoked");
    // A mistyped number (wrong check character) is caught, not looked up.
    let mut typo = number.clone();
    let last = typo.pop().expect("a character");
    typo.push(if last == '0' { '1' } else { '0' });
    problem(
        app.get(&format!("/v1/awards/{typo}")).await,
        400,
        "certificate_number_check_failed",
    )
    .await;
}

async fn admin_routes_need_a_token_with_the_right_role(app: TestApp) {
    let body = json!({"name": "Some Trust", "region": "london"});
    let none = app.post("/v1/admin/organisations", &body).await;
    assert_eq!(
        none.headers().get("www-authenticate").map(|v| v.as_bytes()),
        Some(&b"Bearer"[..])
    );
    problem(none, 401, "unauthenticated").await;
    let forged = app
        .with_token(&format!("{}x", app.admin))
        .post("/v1/admin/organisations", &body)
        .await;
    problem(forged, 401, "unauthenticated").await;
    let reviewer = app
        .as_reviewer()
        .post("/v1/admin/organisations", &body)
        .await;
    problem(reviewer, 403, "forbidden").await;
    // A reviewer may read the full feed, private events included; the public never sees them.
    let feed = app
        .as_reviewer()
        .get("/v1/admin/events?from=0&limit=1000")
        .await;
    assert_eq!(feed.status(), 200);
    let feed = json(feed).await;
    let private: Vec<&Value> = feed["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["visibility"] == "private")
        .collect();
    assert_eq!(private.len(), 2, "the two tokens' creation");
    assert_eq!(
        private[0]["payload"]["data"]["name"], "test admin",
        "a token's name is in its private event"
    );
    let public = app.get("/v1/log/entries?limit=1000").await;
    assert_eq!(public.status(), 200);
    assert!(
        !json(public).await.to_string().contains("test admin"),
        "token names are not in the public log"
    );

    // A revoked token stops working.
    let token_id = app.reviewer.split('_').nth(1).expect("an id").to_owned();
    app.registry
        .revoke_token(&wexqs::service::Actor::cli(), &token_id)
        .await
        .expect("revoked");
    let after = app.as_reviewer().get("/v1/admin/events").await;
    problem(after, 401, "unauthenticated").await;
}

async fn an_idempotency_key_makes_a_retry_safe(app: TestApp) {
    let org = app
        .organisation("Cotswold Edge Healthcare NHS Trust", None)
        .await;
    let body = json!({"organisation_id": org, "level": "silver", "awarded_on": "2025-07-01"});
    let send = |body: Value| {
        app.request(reqwest::Method::POST, "/v1/admin/awards")
            .bearer_auth(&app.admin)
            .header("Idempotency-Key", "issue-cotswold-1")
            .json(&body)
            .send()
    };
    let first = send(body.clone()).await.expect("answered");
    assert_eq!(first.status(), 201);
    let first = json(first).await;
    let size = app.registry.size();
    let retry = send(body.clone()).await.expect("answered");
    assert_eq!(retry.status(), 201);
    assert!(replayed(&retry), "the first answer again");
    assert_eq!(
        json(retry).await["certificate_number"],
        first["certificate_number"]
    );
    assert_eq!(app.registry.size(), size, "nothing appended twice");
    let mut other = body;
    other["level"] = "gold".into();
    problem(
        send(other).await.expect("answered"),
        422,
        "idempotency_key_reused",
    )
    .await;

    // An import sent again is answered as the first time, though its rows are now in the
    // register (checked again, they would be refused as not newer than the awards they made).
    let csv = "organisation_name,ods_code,region,kind,level,awarded_on,issuer_name\n\
               Wychwood Hospice,,south_east,hospice,gold,2025-04-01,\n\
               Lambourn Community Health NHS Trust,ZW7,south_east,nhs_trust,bronze,2025-05-02,\n";
    let import = || {
        app.request(reqwest::Method::POST, "/v1/admin/awards/import")
            .bearer_auth(&app.admin)
            .header("Idempotency-Key", "import-wychwood-1")
            .header("content-type", "text/csv")
            .body(csv)
            .send()
    };
    let first = import().await.expect("answered");
    assert_eq!(first.status(), 201);
    let first = json(first).await;
    assert_eq!(first["imported"], 2);
    let size = app.registry.size();
    let retry = import().await.expect("answered");
    assert_eq!(retry.status(), 201);
    assert!(replayed(&retry), "the first answer again");
    assert_eq!(json(retry).await, first);
    assert_eq!(app.registry.size(), size, "nothing imported twice");
}

async fn fifty_concurrent_writes_on_one_version_let_exactly_one_through(app: TestApp) {
    let org = app
        .organisation("Solent Harbour Hospitals NHS Trust", None)
        .await;
    let number = app.award(&org, "gold", "2025-02-01").await;
    let current = app.get(&format!("/v1/awards/{number}")).await;
    let etag = current
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .expect("an ETag")
        .to_owned();
    let mut tasks = Vec::new();
    for i in 0..50 {
        let request = app
            .as_admin()
            .request(
                reqwest::Method::POST,
                &format!("/v1/admin/awards/{number}/suspend"),
            )
            .header("If-Match", etag.clone());
        tasks.push(tokio::spawn(async move {
            request
                .json(&json!({"reason": format!("concurrent review {i}")}))
                .send()
                .await
                .expect("answered")
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("the task ran"));
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| [200, 409, 412].contains(s)),
        "{statuses:?}"
    );
    let store = wexqs::testing::store(&app.registry);
    let events = wexqs::store::EventStore::read(store, 0, 10_000)
        .await
        .expect("read");
    let positions: Vec<u64> = events.iter().map(|e| e.position).collect();
    assert_eq!(positions, (0..events.len() as u64).collect::<Vec<_>>());
    let suspensions = events
        .iter()
        .filter(|e| e.event_type == "award_suspended")
        .count();
    assert_eq!(suspensions, 1);
    // A stale ETag is refused before anything is written.
    problem(
        app.request(
            reqwest::Method::POST,
            &format!("/v1/admin/awards/{number}/reinstate"),
        )
        .bearer_auth(&app.admin)
        .header("If-Match", etag)
        .send()
        .await
        .expect("answered"),
        412,
        "version_mismatch",
    )
    .await;
}

async fn the_register_is_searched_forgivingly(app: TestApp) {
    let saviours = app
        .organisation("St Saviour's and Borough Hospitals NHS Trust", Some("ZA8"))
        .await;
    let other = app
        .organisation("Thameside Teaching Hospitals NHS Foundation Trust", None)
        .await;
    let n1 = app.award(&saviours, "gold", "2025-06-01").await;
    let n2 = app.award(&other, "bronze", "2024-01-10").await;
    for q in [
        "saint saviours",
        "ST. SAVIOUR'S NHS TRUST",
        "St Saviours and Borough Hospitals NHS Foundation Trust",
        "za8",
    ] {
        let page = json(app.get(&format!("/v1/register?q={}", urlencode(q))).await).await;
        assert_eq!(page["total"], 1, "{q}: {page}");
        assert_eq!(page["items"][0]["certificate_number"], n1.as_str());
    }
    let compact = n2.replace('-', "").to_lowercase();
    let page = json(app.get(&format!("/v1/register?q={compact}")).await).await;
    assert_eq!(page["items"][0]["certificate_number"], n2.as_str());
    let expired = json(app.get("/v1/register?status=expired").await).await;
    assert_eq!(expired["total"], 1);
    assert_eq!(expired["items"][0]["status"], "expired");
    let gold_london = json(app.get("/v1/register?level=gold&region=london").await).await;
    assert_eq!(gold_london["total"], 1);
    // Asked again, the same answer; once an award is added, not the answer kept before it.
    let again = json(app.get("/v1/register?level=gold&region=london").await).await;
    assert_eq!(again, gold_london);
    let third = app
        .organisation("Riverside Gold Hospital NHS Trust", None)
        .await;
    app.award(&third, "gold", "2025-07-01").await;
    let after = json(app.get("/v1/register?level=gold&region=london").await).await;
    assert_eq!(after["total"], 2, "{after}");
    let paged = json(app.get("/v1/register?per_page=1&page=2").await).await;
    assert_eq!(
        (paged["total"].as_u64(), paged["pages"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(paged["items"].as_array().map(Vec::len), Some(1));
    problem(
        app.get("/v1/register?status=shiny").await,
        400,
        "status_invalid",
    )
    .await;
    problem(
        app.get("/v1/register?region=wales").await,
        400,
        "region_invalid",
    )
    .await;
    problem(app.get("/v1/register?page=0").await, 400, "page_invalid").await;
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn public_answers_are_cacheable_and_open_to_any_origin(app: TestApp) {
    let org = app
        .organisation("Pennine Ridge Healthcare NHS Trust", None)
        .await;
    let number = app.award(&org, "silver", "2025-09-01").await;
    let response = app
        .request(
            reqwest::Method::GET,
            &format!("/v1/awards/{number}/verification"),
        )
        .header("Origin", "https://careers.example")
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(
        headers
            .get("access-control-allow-origin")
            .map(|v| v.as_bytes()),
        Some(&b"https://careers.example"[..])
    );
    let cache = headers
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .expect("Cache-Control");
    let max_age: u64 = cache
        .split(',')
        .find_map(|p| p.trim().strip_prefix("max-age="))
        .and_then(|v| v.parse().ok())
        .expect("a max-age");
    assert!(
        cache.starts_with("public") && (1..=60).contains(&max_age),
        "{cache}"
    );
    let etag = headers.get("etag").expect("an ETag").clone();
    let again = app
        .request(
            reqwest::Method::GET,
            &format!("/v1/awards/{number}/verification"),
        )
        .header("If-None-Match", etag.clone())
        .send()
        .await
        .expect("answered");
    assert_eq!(again.status(), 304);
    // A change gives a new ETag at once.
    app.admin_post(
        &format!("/v1/admin/awards/{number}/suspend"),
        json!({"reason": "under review"}),
    )
    .await;
    let changed = app
        .request(
            reqwest::Method::GET,
            &format!("/v1/awards/{number}/verification"),
        )
        .header("If-None-Match", etag)
        .send()
        .await
        .expect("answered");
    assert_eq!(changed.status(), 200);
    assert_eq!(json(changed).await["status"], "suspended");
}

async fn bad_input_gets_a_problem_and_changes_nothing(app: TestApp) {
    let size = app.registry.size();
    let raw = |path: &str, body: &'static str| {
        app.request(reqwest::Method::POST, path)
            .bearer_auth(&app.admin)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for (path, body, status, code) in [
        (
            "/v1/admin/organisations",
            "{not json",
            400,
            "body_malformed",
        ),
        (
            "/v1/admin/organisations",
            r#"{"name": "A Trust", "region": "atlantis"}"#,
            400,
            "region_invalid",
        ),
        (
            "/v1/admin/awards",
            r#"{"organisation_id": "9b2e8a43-1111-4c4c-9c9c-000000000000", "level": "gold", "awarded_on": "2025-01-01"}"#,
            404,
            "organisation_not_found",
        ),
        (
            "/v1/admin/awards",
            r#"{"organisation_id": "9b2e8a43-1111-4c4c-9c9c-000000000000", "level": "platinum", "awarded_on": "2025-01-01"}"#,
            400,
            "level_invalid",
        ),
    ] {
        problem(raw(path, body).await.expect("answered"), status, code).await;
    }
    problem(app.get("/v1/nothing-here").await, 404, "route_not_found").await;
    problem(
        app.get("/v1/awards/0000-0000-0000-0000/verification?at=tomorrow")
            .await,
        400,
        "date_invalid",
    )
    .await;
    // A body over the limit is refused from its Content-Length, before it is read.
    let (status, response) = raw_request(
        app.base(),
        &format!(
            "POST /v1/admin/organisations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            app.admin,
            wexqs::http::MAX_BODY + 10
        ),
    );
    assert_eq!(status, 413, "{response}");
    assert!(response.contains("application/problem+json"), "{response}");
    assert!(
        response.contains("\"code\":\"body_too_large\""),
        "{response}"
    );
    // A bad row anywhere refuses the whole import, and says which line.
    let csv = "organisation_name,ods_code,region,kind,level,awarded_on,issuer_name\n\
               Good Trust,ZQ1,london,nhs_trust,gold,2025-01-01,\n\
               Bad Trust,ZQ2,london,nhs_trust,gold,2026-02-01,\n\
               Worse Trust,ZQ3,narnia,nhs_trust,gold,2025-01-01,\n";
    let refused = app.as_admin().import_csv(csv).await;
    let body = problem(refused, 422, "import_rows_invalid").await;
    let lines: Vec<u64> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["line"].as_u64().expect("a line"))
        .collect();
    assert_eq!(lines, vec![3, 4], "every bad row, by its line");
    assert_eq!(body["errors"][0]["code"], "programme_paused");
    assert_eq!(body["errors"][1]["code"], "region_invalid");
    assert_eq!(app.registry.size(), size, "nothing was written");
}

async fn passed_expiries_are_recorded_but_statuses_never_wait_for_them(app: TestApp) {
    let org = app
        .organisation(
            "Mersey Bank University Teaching Hospitals NHS Foundation Trust",
            None,
        )
        .await;
    let number = app.award(&org, "silver", "2024-11-25").await;
    app.clock.set(at(2026, 11, 25));
    // Expired already, though nothing has recorded it.
    assert_eq!(app.verification(&number, None).await["status"], "expired");
    let recorded = app.admin_post("/v1/admin/expiries", json!({})).await;
    assert_eq!(json(recorded).await["recorded"], 1);
    let record = json(app.get(&format!("/v1/awards/{number}")).await).await;
    assert_eq!(record["history"].as_array().map(Vec::len), Some(2));
    assert_eq!(record["history"][1]["change"], "expired");
    let again = app.admin_post("/v1/admin/expiries", json!({})).await;
    assert_eq!(json(again).await["recorded"], 0);
}

async fn the_programme_and_health_are_public(app: TestApp) {
    let programme = json(app.get("/v1/programme").await).await;
    assert_eq!(programme["phase"], "paused");
    assert_eq!(programme["accepting_new_awards"], false);
    assert_eq!(programme["cycles"][0]["submission_deadline"], "2025-09-19");
    assert_eq!(programme["cycles"][0]["decisions_until"], "2025-12-15");
    assert_eq!(app.get("/healthz").await.status(), 200);
    let ready = json(app.get("/readyz").await).await;
    assert_eq!(ready["status"], "ready");
    // Pausing while paused is a conflict; a sunset is recorded.
    problem(
        app.admin_post(
            "/v1/admin/programme/pause",
            json!({"effective_from": "2026-12-01", "reason": "pause again"}),
        )
        .await,
        409,
        "programme_already_in_phase",
    )
    .await;
    let sunset = app
        .admin_post(
            "/v1/admin/programme/sunset",
            json!({"effective_from": "2027-01-01", "reason": "the programme ends"}),
        )
        .await;
    assert_eq!(sunset.status(), 200);
    let changes: BTreeSet<String> = json(sunset).await["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["phase"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(changes.contains("sunset"));
}

async fn the_writer_groups_concurrent_appends_into_fewer_transactions(app: TestApp) {
    use wexqs::domain::{Command, OrganisationCommand, OrganisationKind, Region};
    let (transactions_before, appends_before) = app.registry.writer_stats();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let registry = app.registry.clone();
        tasks.push(tokio::spawn(async move {
            let command = Command::Organisation(OrganisationCommand::Register {
                organisation_id: registry.new_organisation_id(),
                name: format!("Batch Trust {i}").parse().expect("a name"),
                ods_code: None,
                region: Region::SouthWest,
                kind: OrganisationKind::Other,
            });
            registry
                .execute(&wexqs::service::Actor::cli(), command, None)
                .await
                .map(|o| o.events[0].0.position)
        }));
    }
    let mut positions = BTreeSet::new();
    for t in tasks {
        positions.insert(t.await.expect("ran").expect("appended"));
    }
    assert_eq!(positions.len(), 200, "every append has its own position");
    let (transactions, appends) = app.registry.writer_stats();
    let (transactions, appends) = (transactions - transactions_before, appends - appends_before);
    assert_eq!(appends, 200);
    assert!(
        transactions < appends,
        "200 concurrent appends took {transactions} transactions"
    );
}

async fn the_issuer_must_fit_the_award_date_by_api_and_csv_and_issued_awards_name_their_framework(
    app: TestApp,
) {
    let org = app.organisation("Harbourside Health NHS Trust", None).await;
    let size = app.registry.size();
    // Health Education England became part of NHS England on 1 April 2023.
    for (issuer, awarded_on) in [
        ("Health Education England", "2025-06-02"),
        ("NHS England", "2022-06-02"),
    ] {
        let refused = app
            .admin_post(
                "/v1/admin/awards",
                serde_json::json!({"organisation_id": org, "level": "silver", "awarded_on": awarded_on, "issuer_name": issuer}),
            )
            .await;
        let body = problem(refused, 422, "issuer_wrong_for_date").await;
        assert!(
            body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("1 April 2023")),
            "{body}"
        );
    }
    let csv = "organisation_name,ods_code,region,kind,level,awarded_on,issuer_name\n\
               Late Trust,ZQ5,london,nhs_trust,gold,2025-01-01,Health Education England\n";
    let refused = app.as_admin().import_csv(csv).await;
    let body = problem(refused, 422, "import_rows_invalid").await;
    assert_eq!(body["errors"][0]["code"], "issuer_wrong_for_date", "{body}");
    assert_eq!(app.registry.size(), size, "nothing was written");

    // The right name for the date is accepted; an award issued here names the framework.
    let issued = app
        .admin_post(
            "/v1/admin/awards",
            serde_json::json!({"organisation_id": org, "level": "silver", "awarded_on": "2022-06-02", "issuer_name": "Health Education England"}),
        )
        .await;
    assert_eq!(issued.status(), 201);
    let number = app.award(&org, "gold", "2025-06-02").await;
    let award = json(app.get(&format!("/v1/awards/{number}")).await).await;
    assert_eq!(award["framework_version"], "sample-1", "{award}");
}

on_both_databases! {
    app:
    the_issuer_must_fit_the_award_date_by_api_and_csv_and_issued_awards_name_their_framework,
    award_lifecycle,
    the_pause_refuses_new_awards_and_imports_carry_the_notice,
    an_unknown_number_is_never_mistaken_for_a_revoked_one,
    admin_routes_need_a_token_with_the_right_role,
    an_idempotency_key_makes_a_retry_safe,
    fifty_concurrent_writes_on_one_version_let_exactly_one_through,
    the_register_is_searched_forgivingly,
    public_answers_are_cacheable_and_open_to_any_origin,
    bad_input_gets_a_problem_and_changes_nothing,
    passed_expiries_are_recorded_but_statuses_never_wait_for_them,
    the_programme_and_health_are_public,
    the_writer_groups_concurrent_appends_into_fewer_transactions,
}

/// Sends raw bytes (headers only) and reads the answer: for requests a well-behaved client
/// library will not make.
fn raw_request(base: &str, request: &str) -> (u16, String) {
    let response = raw_exchange(base, request.as_bytes());
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response)
}
