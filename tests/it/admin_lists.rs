//! The programme team's lists through real HTTP: the organisations (search, award filter,
//! paging), the applications (cycle and state filters, paging), the API tokens with their last
//! use (written at most once a minute), who may read each; and the event feed naming each
//! event's actor (a token's name, the command line's user), old token events included.

use std::process::Command;

use chrono::Duration;
use serde_json::{Value, json};
use wexqs::domain::{Event, Level};
use wexqs::service::{Actor, Role};
use wexqs::store::{AppendRequest, EventStore, NewEvent};

use crate::applications::manifest;
use crate::client::Client;
use crate::helpers::{
    Backend, KillOnDrop, TestApp, at, date, fresh_db, on_both_databases, open_store, start_server,
    temp_dir, text,
};

/// `path` as `client` reads it: the status and the JSON body.
async fn read(client: &Client, path: &str) -> (u16, Value) {
    client.get_json(path).await
}

/// The values of `field` in each of `list`'s rows, as text.
fn column(list: &Value, field: &str) -> Vec<String> {
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
async fn assert_who_may_read(app: &TestApp, path: &str, reviewer_may: bool) {
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

/// The token listed under `name` in `list`.
fn token_named<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["tokens"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("{name} is listed: {list}"))
}

async fn tokens_are_listed_with_their_last_use_written_at_most_once_a_minute(app: TestApp) {
    let admin = app.as_admin();
    let (id, _) = app
        .registry
        .create_token(&Actor::cli(), "Short-lived", Role::Reviewer)
        .await
        .expect("a token");
    app.registry
        .revoke_token(&Actor::cli(), &id)
        .await
        .expect("revoked");
    let (status, list) = read(&admin, "/v1/admin/tokens").await;
    assert_eq!(status, 200, "{list}");
    let noon = "2026-11-24T12:00:00Z";
    let admin_row = token_named(&list, "test admin");
    // The request that listed them is the admin token's first use.
    assert_eq!(
        (
            &admin_row["role"],
            &admin_row["last_used_at"],
            &admin_row["revoked_at"]
        ),
        (&json!("admin"), &json!(noon), &Value::Null)
    );
    let mut keys: Vec<&str> = admin_row
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "created_at",
            "id",
            "last_used_at",
            "name",
            "revoked_at",
            "role"
        ],
        "never a secret or its hash"
    );
    let reviewer_row = token_named(&list, "test reviewer");
    assert_eq!(
        (&reviewer_row["role"], &reviewer_row["last_used_at"]),
        (&json!("reviewer"), &Value::Null)
    );
    let revoked = token_named(&list, "Short-lived");
    assert_eq!(
        (&revoked["id"], &revoked["revoked_at"]),
        (&json!(id), &json!(noon))
    );
    let hash = wexqs::testing::store(&app.registry)
        .token(admin_row["id"].as_str().expect("an id"))
        .await
        .expect("read")
        .expect("kept")
        .secret_hash;
    assert!(!list.to_string().contains(&hash));

    // A busy client: its use is written once a minute, not on every request.
    let reviewer = app.as_reviewer();
    let used = |list: &Value| token_named(list, "test reviewer")["last_used_at"].clone();
    for (seconds, expected) in [
        (0, "2026-11-24T12:00:00Z"),
        (30, "2026-11-24T12:00:00Z"),
        (59, "2026-11-24T12:00:00Z"),
        (61, "2026-11-24T12:01:01Z"),
        (90, "2026-11-24T12:01:01Z"),
    ] {
        app.clock.set(at(2026, 11, 24) + Duration::seconds(seconds));
        assert_eq!(read(&reviewer, "/v1/admin/events?limit=1").await.0, 200);
        let (_, list) = read(&admin, "/v1/admin/tokens").await;
        assert_eq!(used(&list), json!(expected), "after {seconds} s");
    }
    assert_who_may_read(&app, "/v1/admin/tokens", false).await;
}

/// The feed's events of `kind`, as an admin of `app` reads them.
async fn events_of(client: &Client, kind: &str) -> Vec<Value> {
    let (status, feed) = read(client, "/v1/admin/events?limit=1000").await;
    assert_eq!(status, 200, "{feed}");
    feed["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == kind)
        .cloned()
        .collect()
}

async fn the_feed_names_a_tokens_actor_and_still_reads_an_old_token_event(app: TestApp) {
    let admin = app.as_admin();
    let org = app.organisation("Hazel Hospice", None).await;
    let registered = events_of(&admin, "organisation_registered").await;
    let event = registered
        .iter()
        .find(|e| e["payload"]["data"]["organisation_id"] == org)
        .expect("the registration");
    assert!(
        event["actor"]
            .as_str()
            .is_some_and(|a| a.starts_with("token:")),
        "{event}"
    );
    assert_eq!(event["actor_name"], "test admin");
    let made = events_of(&admin, "api_token_created").await;
    assert_eq!(
        made.iter()
            .map(|e| e["payload"]["data"]["name"].clone())
            .collect::<Vec<_>>(),
        [json!("test admin"), json!("test reviewer")],
        "a token's event keeps its name"
    );

    // An event recorded before tokens' events carried a name, by the command line before it
    // named its user.
    let old = Event::ApiTokenCreated {
        token_id: "0123456789ab".into(),
        role: "reviewer".into(),
        name: None,
    };
    let event = NewEvent::new(
        old,
        uuid::Uuid::from_u128(23),
        "2026-03-10T09:00:00.000000Z".into(),
        "cli".into(),
    );
    let appended = wexqs::testing::append(
        &app.registry,
        AppendRequest {
            events: vec![event],
            ..AppendRequest::default()
        },
    )
    .await
    .expect("appended");
    let payload = text(&appended.events[0].payload);
    assert!(!payload.contains("name"), "the old bytes: {payload}");
    app.registry.catch_up().await.expect("folded");
    let made = events_of(&admin, "api_token_created").await;
    let old = made.last().expect("the old event");
    assert_eq!(
        (&old["actor"], &old["actor_name"], &old["payload"]["data"]),
        (
            &json!("cli"),
            &Value::Null,
            &json!({"token_id": "0123456789ab", "role": "reviewer"})
        )
    );
}

on_both_databases! { app:
    organisations_are_listed_by_name_with_their_award_found_filtered_and_paged,
    applications_are_listed_with_where_each_stands_filtered_and_paged,
    tokens_are_listed_with_their_last_use_written_at_most_once_a_minute,
    the_feed_names_a_tokens_actor_and_still_reads_an_old_token_event,
}

#[test]
fn an_old_token_event_reads_and_writes_back_to_the_same_bytes() {
    let old = br#"{"data":{"role":"admin","token_id":"abc"},"type":"api_token_created"}"#;
    let event: Event = serde_json::from_slice(old).expect("an old event reads");
    let Event::ApiTokenCreated { name, .. } = &event else {
        panic!("read as another event: {event:?}")
    };
    assert_eq!(*name, None);
    assert_eq!(
        serde_json_canonicalizer::to_vec(&event).expect("written"),
        old.to_vec(),
        "so its hash in the log is unchanged"
    );
}

/// `wexqs ARGS…` on `db`, run with the environment's user variables (`SUDO_USER`, `USER`,
/// `LOGNAME`) only as `users` sets them: its standard output.
fn wexqs_as(
    db: &crate::helpers::Db,
    dir: &std::path::Path,
    users: &[(&str, &str)],
    args: &[&str],
) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wexqs"));
    command
        .args(args)
        .env("WEXQS_DATA_DIR", dir)
        .env("DATABASE_URL", &db.url)
        .env_remove("WEXQS_CALENDAR")
        .env_remove("SUDO_USER")
        .env_remove("LOGNAME")
        .env_remove("USER");
    command.envs(users.iter().copied());
    let out = command.output().expect("wexqs runs");
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

async fn the_command_line_names_its_user_and_lists_tokens_as_a_table(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let dir = temp_dir();
    let lead = [
        "tokens",
        "create",
        "--role",
        "admin",
        "--name",
        "Programme lead",
    ];
    let token = wexqs_as(&db, dir.path(), &[("USER", "ada.lovelace")], &lead);
    let token = token.trim().to_owned();
    let old_hand = [
        "tokens", "create", "--role", "reviewer", "--name", "Old hand",
    ];
    wexqs_as(&db, dir.path(), &[], &old_hand);
    // Through sudo (as `sudo wexqs-admin` runs every command), the person who ran sudo.
    let auditor = [
        "tokens", "create", "--role", "reviewer", "--name", "Auditor",
    ];
    let sudo = [
        ("SUDO_USER", "grace.hopper"),
        ("USER", "root"),
        ("LOGNAME", "root"),
    ];
    wexqs_as(&db, dir.path(), &sudo, &auditor);

    let (server, base) = start_server(&db, dir.path()).await;
    let _server = KillOnDrop(server);
    let admin = Client::new(&base).with_token(&token);
    let made = events_of(&admin, "api_token_created").await;
    let named: Vec<(Value, Value, Value)> = made
        .iter()
        .map(|e| {
            (
                e["actor"].clone(),
                e["actor_name"].clone(),
                e["payload"]["data"]["name"].clone(),
            )
        })
        .collect();
    assert_eq!(
        named,
        [
            (
                json!("cli:ada.lovelace"),
                json!("ada.lovelace"),
                json!("Programme lead")
            ),
            (json!("cli"), Value::Null, json!("Old hand")),
            (
                json!("cli:grace.hopper"),
                json!("grace.hopper"),
                json!("Auditor")
            ),
        ]
    );
    admin.organisation("Ivy Children's Hospital", None).await;
    let registered = events_of(&admin, "organisation_registered").await;
    assert_eq!(registered[0]["actor_name"], "Programme lead");

    let table = wexqs_as(&db, dir.path(), &[], &["tokens", "list"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    let header: Vec<&str> = lines[0]
        .split("  ")
        .filter(|c| !c.is_empty())
        .map(str::trim)
        .collect();
    assert_eq!(
        header,
        ["ID", "NAME", "ROLE", "CREATED", "LAST USED", "REVOKED"],
        "{table}"
    );
    let id = token.split('_').nth(1).expect("an id");
    let line_of = |name: &str| {
        *lines
            .iter()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name} is listed: {table}"))
    };
    let lead_line = line_of("Programme lead");
    assert!(lead_line.starts_with(id), "{table}");
    let columns: Vec<&str> = lead_line.split_whitespace().collect();
    // Used by the server just now, never revoked.
    assert!(columns[columns.len() - 2].ends_with('Z'), "{table}");
    assert_eq!(columns.last(), Some(&"-"), "{table}");
    let old_line = line_of("Old hand");
    let old_columns: Vec<&str> = old_line.split_whitespace().collect();
    assert_eq!(
        old_columns[old_columns.len() - 2..],
        ["-", "-"],
        "never used, never revoked: {table}"
    );
    // Each column is as wide as its widest cell, so each starts where its header does.
    let role_at = lines[0].find("ROLE").expect("the header");
    assert_eq!(&lead_line[role_at..role_at + 5], "admin", "{table}");
    assert_eq!(&old_line[role_at..role_at + 8], "reviewer", "{table}");
    let store = open_store(&db).await;
    let hash = store
        .token(id)
        .await
        .expect("read")
        .expect("kept")
        .secret_hash;
    let secret = token.rsplit('_').next().expect("a secret");
    assert!(!table.contains(&hash) && !table.contains(secret), "{table}");
}

on_both_databases! { backend:
    the_command_line_names_its_user_and_lists_tokens_as_a_table,
}
