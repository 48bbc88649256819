//! The access log through a real `wexqs serve`: one JSON object a line with `--log-format json`,
//! the request id taken from a trusted proxy or minted, echoed and on every line of its request,
//! an admin write's actor on its access line, and none of the secrets the run used anywhere in
//! its output.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Db, Served, serve_on, serve_with, terminate};
use crate::proxies::get_with;
use crate::throwaway_pg::ThrowawayPg;

/// Every line the server wrote, each parsed as a JSON object (the test fails on one that is not).
fn json_lines(served: &Served) -> Vec<serde_json::Map<String, Value>> {
    served
        .log
        .lines()
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|line| match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(object)) => object,
            _ => panic!("a log line that is not a JSON object: {line}"),
        })
        .collect()
}

/// The access line of the request with `id`.
fn access_of<'a>(
    lines: &'a [serde_json::Map<String, Value>],
    id: &str,
) -> &'a serde_json::Map<String, Value> {
    let found: Vec<_> = lines
        .iter()
        .filter(|l| l["target"] == "wexqs::access" && l["request_id"] == id)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one access line for request {id}: {found:?}"
    );
    found[0]
}

/// A POST to an admin route with `token` and extra headers: status, body, echoed id.
async fn admin_post(
    client: &reqwest::Client,
    url: String,
    token: &str,
    body: Value,
    headers: &[(&str, &str)],
) -> (u16, Value, String) {
    let mut request = client.post(url).bearer_auth(token).json(&body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("the server answers");
    let id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null), id)
}

/// The ETag of the record at `url` (a change to an award names the version it read).
pub(crate) async fn etag_of(client: &reqwest::Client, url: &str) -> String {
    let response = client.get(url).send().await.expect("the server answers");
    assert_eq!(response.status(), 200, "{url}");
    response.headers()["etag"].to_str().unwrap().to_owned()
}

/// A proxy's request id is kept and echoed; a request without one gets a minted one; one that
/// is too long or holds unsafe characters is replaced. Then an unknown path, its query string
/// and cookie holding secrets: the id that request got.
async fn request_ids_are_kept_minted_or_replaced(client: &reqwest::Client, base: &str) -> String {
    let (status, id) = get_with(
        client,
        &format!("{base}/healthz"),
        &[("x-request-id", "edge-0001")],
    )
    .await;
    assert_eq!((status, id.as_str()), (200, "edge-0001"));
    let (_, minted) = get_with(client, &format!("{base}/v1/programme"), &[]).await;
    assert!(
        minted.len() == 16 && minted.bytes().all(|b| b.is_ascii_hexdigit()),
        "{minted}"
    );
    let long = "a".repeat(65);
    for bad in [long.as_str(), "two words", "quote\"d", "semi;colon"] {
        let (_, id) = get_with(
            client,
            &format!("{base}/v1/programme"),
            &[("x-request-id", bad)],
        )
        .await;
        assert!(
            id.len() == 16 && id != bad,
            "{bad:?} is replaced by a minted id, {id}"
        );
    }
    // An unknown path, its query string holding something secret.
    let (status, unknown) = get_with(
        client,
        &format!("{base}/no/such/place?token=query-secret-7781"),
        &[("cookie", "session=cookie-secret-5523")],
    )
    .await;
    assert_eq!(status, 404);

    unknown
}

/// The request ids of the admin writes `admin_writes` made, and the secrets they carried.
struct AdminWrites {
    suspension: String,
    refused: String,
    forged: String,
    webhook_secret: String,
}

const SECRET_NOTE: &str = "private note: the assessor's phone is 07700 900123";

/// Admin writes: an organisation, an award, a suspension with a private note, a webhook; and a
/// forged token, refused.
async fn admin_writes(client: &reqwest::Client, base: &str, admin: &str) -> AdminWrites {
    let (status, org, org_write) = admin_post(
        client,
        format!("{base}/v1/admin/organisations"),
        admin,
        json!({"name": "Logging Hospitals NHS Trust", "region": "london"}),
        &[
            ("x-request-id", "admin-write-1"),
            ("cookie", "session=cookie-secret-5523"),
        ],
    )
    .await;
    assert_eq!(
        (status, org_write.as_str()),
        (201, "admin-write-1"),
        "{org}"
    );
    let (status, award, _) = admin_post(
        client,
        format!("{base}/v1/admin/awards"),
        admin,
        json!({"organisation_id": org["id"], "level": "gold", "awarded_on": "2025-06-01"}),
        &[],
    )
    .await;
    assert_eq!(status, 201, "{award}");
    let number = award["certificate_number"].as_str().unwrap().to_owned();
    let etag = etag_of(client, &format!("{base}/v1/awards/{number}")).await;
    let (status, suspended, suspension) = admin_post(
        client,
        format!("{base}/v1/admin/awards/{number}/suspend"),
        admin,
        json!({"reason": "Under review", "private_note": SECRET_NOTE}),
        &[("if-match", etag.as_str())],
    )
    .await;
    assert_eq!(status, 200, "{suspended}");
    let (status, webhook, _) = admin_post(
        client,
        format!("{base}/v1/admin/webhooks"),
        admin,
        json!({"url": "http://127.0.0.1:9/hook", "event_types": ["award.revoked"]}),
        &[],
    )
    .await;
    assert_eq!(status, 201, "{webhook}");
    let webhook_secret = webhook["secret"].as_str().unwrap().to_owned();
    // A forged token is refused; it must not be logged either.
    let forged = format!("{admin}x");
    let (status, _, refused) = admin_post(
        client,
        format!("{base}/v1/admin/organisations"),
        &forged,
        json!({"name": "Nobody", "region": "london"}),
        &[],
    )
    .await;
    assert_eq!(status, 401);

    AdminWrites {
        suspension,
        refused,
        forged,
        webhook_secret,
    }
}

/// The access lines of those requests: route, status, client, level, duration and actor.
fn assert_access_lines(
    lines: &[serde_json::Map<String, Value>],
    unknown: &str,
    writes: &AdminWrites,
) {
    let health = access_of(lines, "edge-0001");
    assert_eq!(health["route"], "/healthz");
    assert_eq!(health["status"], 200);
    assert_eq!(health["client"], "127.0.0.1");
    assert_eq!(health["level"], "INFO");
    assert!(health["duration_us"].is_u64());
    assert_eq!(access_of(lines, unknown)["route"], "unmatched");
    let write = access_of(lines, "admin-write-1");
    assert_eq!(write["method"], "POST");
    assert_eq!(write["route"], "/v1/admin/organisations");
    assert_eq!(write["status"], 201);
    let actor = write["actor"].as_str().expect("the admin write's actor");
    assert!(actor.starts_with("token:"), "{actor}");
    assert_eq!(
        access_of(lines, &writes.suspension)["route"],
        "/v1/admin/awards/{certificate_number}/suspend"
    );
    let refusal = access_of(lines, &writes.refused);
    assert_eq!(refusal["status"], 401);
    assert!(
        refusal.get("actor").is_none(),
        "a refused request names no actor"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_run_is_one_object_a_line_with_ids_and_actors_and_no_secret() {
    let mut served = serve_with(
        &[
            "--log-format",
            "json",
            "--trusted-proxies",
            "127.0.0.1",
            "--webhooks-allow-private-targets",
        ],
        &[],
    )
    .await;
    let client = reqwest::Client::new();
    let base = served.base.clone();
    let admin = served.admin.clone();

    let unknown = request_ids_are_kept_minted_or_replaced(&client, &base).await;
    let writes = admin_writes(&client, &base, &admin).await;
    assert!(
        terminate(&mut served.server.0, Duration::from_secs(30)),
        "the server stops"
    );
    assert!(served.log.wait_ended(Duration::from_secs(10)).await);
    let lines = json_lines(&served);
    assert!(lines.len() >= 12, "{} lines", lines.len());

    assert_access_lines(&lines, &unknown, &writes);
    let output = served.log.lines().join("\n");
    let token_secret = admin.rsplit('_').next().unwrap();
    for (what, secret) in [
        ("the admin token", admin.as_str()),
        ("the admin token's secret part", token_secret),
        ("a forged token", writes.forged.as_str()),
        ("the webhook secret", writes.webhook_secret.as_str()),
        ("the private note", SECRET_NOTE),
        ("a secret in a query string", "query-secret-7781"),
        ("a cookie", "cookie-secret-5523"),
    ] {
        assert!(!output.contains(secret), "{what} reached the log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_line_a_request_logs_names_its_request_id() {
    let Some(pg) = ThrowawayPg::start() else {
        return;
    };
    let db = Db {
        url: pg.url(),
        _dir: None,
    };
    let served = serve_on(
        db,
        &["--log-format", "json", "--trusted-proxies", "127.0.0.1"],
        &[],
    )
    .await;
    let client = reqwest::Client::new();
    // With the database gone, the readiness check logs why, inside the request.
    pg.stop_immediately();
    let (status, id) = get_with(
        &client,
        &format!("{}/readyz", served.base),
        &[("x-request-id", "outage-probe-1")],
    )
    .await;
    assert_eq!((status, id.as_str()), (503, "outage-probe-1"));
    served
        .log
        .wait_for(Duration::from_secs(10), |l| {
            l.contains("wexqs::access") && l.contains("outage-probe-1")
        })
        .await
        .expect("the access line");
    let lines = json_lines(&served);
    let inside: Vec<_> = lines
        .iter()
        .filter(|l| l.get("request_id").is_some_and(|id| id == "outage-probe-1"))
        .collect();
    assert!(
        inside
            .iter()
            .any(|l| l["message"] == "readiness check failed"),
        "the readiness check's warning carries the request id: {lines:?}"
    );
    // Every line that names a request names it once, as a string, and the 503 is logged above
    // info.
    for line in &lines {
        if let Some(id) = line.get("request_id") {
            assert!(id.is_string(), "{line:?}");
        }
    }
    assert!(
        inside.len() >= 2,
        "the warning and the access line both name the request: {inside:?}"
    );
    let access = access_of(&lines, "outage-probe-1");
    assert_eq!(access["route"], "/readyz");
    assert_eq!(access["status"], 503);
    assert_eq!(access["level"], "WARN");
}
