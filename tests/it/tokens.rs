//! API tokens and who did what, through real HTTP and the command line as a real process: the
//! tokens' list with each token's last use (written at most once a minute), admins only; the
//! event feed naming each event's actor (a token's name, the command line's user), an old
//! token event without a name included; and `wexqs tokens list`'s table.

use std::process::Command;

use chrono::Duration;
use serde_json::{Value, json};
use wexqs::domain::Event;
use wexqs::service::{Actor, Role};
use wexqs::store::{AppendRequest, EventStore, NewEvent};

use crate::admin_lists::{assert_who_may_read, read};
use crate::client::Client;
use crate::helpers::{
    Backend, KillOnDrop, TestApp, at, fresh_db, on_both_databases, open_store, start_server,
    temp_dir, text,
};

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
