//! The programme team's lists through real HTTP: the organisations (search, award filter,
//! paging) and the applications (cycle and state filters, paging), and who may read each. The
//! tokens' list and the actors' names are `tokens.rs`'s.

use serde_json::{Value, json};
use wexqs::domain::Level;

use crate::applications::manifest;
use crate::client::Client;
use crate::helpers::{TestApp, at, date, on_both_databases};

/// `path` as `client` reads it: the status and the JSON body.
pub(crate) async fn read(client: &Client, path: &str) -> (u16, Value) {
    client.get_json(path).await
}

/// The values of `field` in each of `list`'s rows, as text.
pub(crate) fn column(list: &Value, field: &str) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|row| match &row[field] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

/// Who may read `path`: the reviewer (if `reviewer_may`) and the admin, no one without a token.
pub(crate) async fn assert_who_may_read(app: &TestApp, path: &str, reviewer_may: bool) {
    let (status, problem) = read(&app.api, path).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (401, Some("unauthenticated")),
        "{path} without a token"
    );
    let (status, problem) = read(&app.as_reviewer(), path).await;
    if reviewer_may {
        assert_eq!(status, 200, "{path} as a reviewer: {problem}");
    } else {
        assert_eq!(
            (status, problem["code"].as_str()),
            (403, Some("forbidden")),
            "{path} as a reviewer"
        );
    }
    assert_eq!(
        read(&app.as_admin(), path).await.0,
        200,
        "{path} as an admin"
    );
}

async fn organisations_are_listed_by_name_with_their_award_found_filtered_and_paged(app: TestApp) {
    let admin = app.as_admin();
    let alder = app.organisation("Alder Community Trust", Some("RA1")).await;
    let alder_award = app.award(&alder, "gold", "2025-06-01").await;
    app.organisation("Birch Hospital", Some("RB2")).await;
    let cedar = app.organisation("cedar health", None).await;
    app.award(&cedar, "bronze", "2023-01-10").await; // expired by 24 November 2026
    let damson = app.organisation("Damson Care", Some("RD4")).await;
    app.award_with_status(&damson, "suspended", "2025-03-01", "", "")
        .await;

    let (status, all) = read(&admin, "/v1/admin/organisations").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["total"], 4);
    assert_eq!(all["next"], Value::Null);
    let rows = &all["organisations"];
    assert_eq!(
        column(rows, "name"),
        [
            "Alder Community Trust",
            "Birch Hospital",
            "cedar health",
            "Damson Care"
        ]
    );
    assert_eq!(
        rows[0],
        json!({
            "id": alder, "name": "Alder Community Trust", "ods_code": "RA1",
            "region": "london", "region_name": "London", "kind": "other",
            "current_award": {"certificate_number": alder_award, "level": "gold", "status": "valid"},
        })
    );
    assert_eq!(rows[1]["current_award"], Value::Null);
    assert_eq!(rows[2]["current_award"]["status"], "expired");
    assert_eq!(rows[3]["current_award"]["status"], "suspended");

    for (query, names) in [
        (
            "award=current",
            &["Alder Community Trust", "Damson Care"][..],
        ),
        ("award=none", &["Birch Hospital", "cedar health"][..]),
        ("award=any&q=health", &["cedar health"][..]),
        ("q=rb2", &["Birch Hospital"][..]),
        ("q=HOSPITAL", &["Birch Hospital"][..]),
        ("q=%20Cedar%20", &["cedar health"][..]),
        ("q=nowhere", &[][..]),
        ("q=r&award=none", &["Birch Hospital", "cedar health"][..]),
        ("q=ospital&award=current", &[][..]),
    ] {
        let (status, found) = read(&admin, &format!("/v1/admin/organisations?{query}")).await;
        assert_eq!(status, 200, "{query}: {found}");
        assert_eq!(column(&found["organisations"], "name"), names, "{query}");
        assert_eq!(found["total"], names.len(), "{query}");
    }

    let (_, first) = read(&admin, "/v1/admin/organisations?limit=3").await;
    assert_eq!(
        (
            first["organisations"].as_array().map(Vec::len),
            &first["next"],
            &first["total"]
        ),
        (Some(3), &json!(3), &json!(4))
    );
    let (_, rest) = read(&admin, "/v1/admin/organisations?limit=3&from=3").await;
    assert_eq!(column(&rest["organisations"], "name"), ["Damson Care"]);
    assert_eq!(rest["next"], Value::Null);
    let (_, beyond) = read(&admin, "/v1/admin/organisations?from=40").await;
    assert_eq!(
        (&beyond["organisations"], &beyond["total"]),
        (&json!([]), &json!(4))
    );

    for (query, code) in [
        ("award=lapsed", "award_filter_invalid"),
        ("limit=0", "limit_invalid"),
        ("limit=1001", "limit_invalid"),
        ("limit=ten", "query_invalid"),
    ] {
        let (status, problem) = read(&admin, &format!("/v1/admin/organisations?{query}")).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (400, Some(code)),
            "{query}: {problem}"
        );
    }
    let (_, problem) = read(&admin, "/v1/admin/organisations?award=lapsed").await;
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("none, current or any"), "{detail}");
    let long = "a".repeat(201);
    let (status, problem) = read(&admin, &format!("/v1/admin/organisations?q={long}")).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("query_too_long"))
    );

    assert_who_may_read(&app, "/v1/admin/organisations", true).await;
}

/// Submits, through the API on 10 September 2025, an application from a new organisation
/// called `name` (after its drop-in) for `level` in the cycle 2025-26-cycle-2: its id.
async fn application_of(app: &TestApp, name: &str, level: Level) -> String {
    let org = app.organisation(name, None).await;
    let drop_in = app
        .admin_post(
            &format!("/v1/admin/organisations/{org}/drop-ins"),
            json!({"attended_on": "2025-09-01"}),
        )
        .await;
    assert_eq!(drop_in.status(), 201);
    let submitted = app
        .admin_post(
            "/v1/admin/applications",
            json!({
                "organisation_id": org, "cycle_id": "2025-26-cycle-2",
                "level_sought": level, "manifest": manifest(level, 12, date("2025-09-10")),
            }),
        )
        .await;
    assert_eq!(submitted.status(), 201);
    let body: Value = submitted.json().await.expect("JSON");
    body["application_id"].as_str().expect("an id").to_owned()
}

async fn applications_are_listed_with_where_each_stands_filtered_and_paged(app: TestApp) {
    app.clock.set(at(2025, 9, 10));
    let elm = application_of(&app, "Elm Partnership NHS Trust", Level::Gold).await;
    let fir = application_of(&app, "Fir Mental Health Trust", Level::Silver).await;
    let gorse = application_of(&app, "Gorse Ambulance Service", Level::Bronze).await;
    app.clock.set(at(2025, 12, 5));
    let decide = |id: &str, body: Value| {
        Client::send(
            app.as_reviewer()
                .request(
                    reqwest::Method::POST,
                    &format!("/v1/admin/applications/{id}/decision"),
                )
                .json(&body),
        )
    };
    let awarded = decide(
        &elm,
        json!({"decision": "awarded", "level": "silver", "feedback": "Silver this cycle."}),
    )
    .await;
    assert_eq!(awarded.status(), 200);
    let awarded: Value = awarded.json().await.expect("JSON");
    let number = awarded["decision"]["outcome"]["certificate_number"].clone();
    let refused = decide(
        &gorse,
        json!({"decision": "not_awarded", "feedback": "Not this cycle."}),
    )
    .await;
    assert_eq!(refused.status(), 200);

    let reviewer = app.as_reviewer();
    let (status, all) = read(&reviewer, "/v1/admin/applications").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["total"], 3);
    let rows = all["applications"].as_array().expect("a list");
    let of = |id: &str| {
        rows.iter()
            .find(|r| r["application_id"] == id)
            .unwrap_or_else(|| panic!("{id} is listed: {all}"))
            .clone()
    };
    let elm_row = of(&elm);
    assert_eq!(elm_row["organisation_name"], "Elm Partnership NHS Trust");
    assert!(elm_row["organisation_id"].is_string());
    assert_eq!(
        (
            &elm_row["cycle_id"],
            &elm_row["level_sought"],
            &elm_row["submitted_on"],
            &elm_row["state"],
            &elm_row["decided_on"],
            &elm_row["certificate_number"],
        ),
        (
            &json!("2025-26-cycle-2"),
            &json!("gold"),
            &json!("2025-09-10"),
            &json!("awarded"),
            &json!("2025-12-05"),
            &number,
        )
    );
    assert!(elm_row.get("manifest").is_none(), "no evidence in a list");
    let fir_row = of(&fir);
    assert_eq!(
        (
            &fir_row["state"],
            &fir_row["decided_on"],
            &fir_row["certificate_number"]
        ),
        (&json!("awaiting_decision"), &Value::Null, &Value::Null)
    );
    assert_eq!(of(&gorse)["state"], "not_awarded");

    for (query, ids) in [
        ("state=awaiting_decision", vec![fir.clone()]),
        ("state=awarded", vec![elm.clone()]),
        ("state=not_awarded", vec![gorse.clone()]),
        ("cycle=2025-26-cycle-2&state=awarded", vec![elm.clone()]),
        ("cycle=2024-25-cycle-1", vec![]),
    ] {
        let (status, found) = read(&reviewer, &format!("/v1/admin/applications?{query}")).await;
        assert_eq!(status, 200, "{query}: {found}");
        assert_eq!(
            column(&found["applications"], "application_id"),
            ids,
            "{query}"
        );
    }
    let (_, cycle) = read(&reviewer, "/v1/admin/applications?cycle=2025-26-cycle-2").await;
    assert_eq!(cycle["total"], 3);

    let mut paged = Vec::new();
    let mut from = json!(0);
    while let Some(start) = from.as_u64() {
        let (_, page) = read(
            &reviewer,
            &format!("/v1/admin/applications?limit=2&from={start}"),
        )
        .await;
        assert!(
            page["applications"]
                .as_array()
                .is_some_and(|a| a.len() <= 2)
        );
        paged.extend(column(&page["applications"], "application_id"));
        from = page["next"].clone();
    }
    assert_eq!(
        paged,
        column(&all["applications"], "application_id"),
        "paged as listed"
    );

    let (status, problem) = read(&reviewer, "/v1/admin/applications?state=decided").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("application_state_invalid"))
    );
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("awaiting_decision, awarded or not_awarded"),
        "{detail}"
    );
    assert_who_may_read(&app, "/v1/admin/applications", true).await;
}

on_both_databases! { app:
    organisations_are_listed_by_name_with_their_award_found_filtered_and_paged,
    applications_are_listed_with_where_each_stands_filtered_and_paged,
}
