//! Metrics: a real `wexqs serve` scraped on its metrics listener, the scrape read with
//! prometheus_client's OpenMetrics parser (tests/python/metrics.py) and holding every series
//! OPERATIONS.md names; a scan of unknown paths adding no series; `--metrics-bind none`
//! serving none; an address given that cannot be listened on stopping the start; and the
//! shipped alert rules checked and tested with Debian's promtool.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::client::Client;
use crate::helpers::{
    Backend, KillOnDrop, admin_token, ensure_key, fresh_db, temp_dir, text, wexqs,
};
use crate::webhooks::subscribe;

/// Every family a scrape holds once the registry has a checkpoint, an append, a webhook
/// subscription and a recorded backup (OpenMetrics family names: a counter's samples add
/// `_total`).
const FAMILIES: &[&str] = &[
    "wexqs_http_requests",
    "wexqs_http_request_duration_seconds",
    "wexqs_process_start_time_seconds",
    "wexqs_log_size",
    "wexqs_checkpoint_size",
    "wexqs_checkpoint_age_seconds",
    "wexqs_checkpoint_failing",
    "wexqs_last_append_age_seconds",
    "wexqs_status_list_age_seconds",
    "wexqs_webhook_backlog",
    "wexqs_webhook_consecutive_failures",
    "wexqs_webhook_disabled",
    "wexqs_database_up",
    "wexqs_db_pool_connections",
    "wexqs_db_pool_idle_connections",
    "wexqs_db_pool_max_connections",
    "wexqs_db_pool_timeouts",
    "wexqs_db_errors",
    "wexqs_behind",
    "wexqs_last_backup_timestamp_seconds",
];

/// `wexqs serve` on ports the system chooses, with `extra` arguments; the process, its log
/// lines as they come, the base URL and the metrics URL it says it serves (if it says one).
fn serve(
    db_url: &str,
    data_dir: &Path,
    extra: &[&str],
) -> (
    KillOnDrop,
    std::sync::mpsc::Receiver<String>,
    String,
    Option<String>,
) {
    ensure_key(Some(db_url), data_dir);
    // Killed and waited for however the test ends.
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_wexqs"))
            .arg("serve")
            .args(["--bind", "127.0.0.1:0"])
            .args(extra)
            .env("WEXQS_DATA_DIR", data_dir)
            .env("DATABASE_URL", db_url)
            .env("WEXQS_RATE_LIMIT", "0")
            .env("WEXQS_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true")
            .env("WEXQS_WEBHOOKS_RETRY_BASE_MS", "100")
            .env("WEXQS_WEBHOOKS_MAX_FAILURES", "1")
            .env("WEXQS_WEBHOOKS_TIMEOUT_MS", "1000")
            .env_remove("WEXQS_CALENDAR")
            .env_remove("WEXQS_METRICS_BIND")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server starts"),
    );
    let stderr = child.0.stderr.take().expect("its log");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let mut metrics = None;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        let Ok(line) = rx.recv_timeout(left) else {
            break;
        };
        if let Some(rest) = line.split("serving metrics on ").nth(1) {
            metrics = rest.split_whitespace().next().map(str::to_owned);
        }
        if let Some(rest) = line.split("serving the registry on ").nth(1) {
            let base = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
            return (child, rx, base, metrics);
        }
    }
    panic!("the server did not say where it listens");
}

/// prometheus_client's reading of a scrape: {family name: {type, samples}}.
fn parse(scrape: &str) -> Value {
    let exe = std::env::current_exe().expect("the test binary's path");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("the test binary lives in the target folder");
    let python = target.join("tests-python-venv/bin/python");
    assert!(
        python.exists(),
        "the tests' Python libraries are not installed at {}: run `cargo xtask test`",
        python.display()
    );
    let dir = temp_dir();
    let file = dir.path().join("scrape.txt");
    std::fs::write(&file, scrape).expect("write the scrape");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/metrics.py");
    let out = Command::new(python)
        .arg(script)
        .arg(&file)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "prometheus_client refused the scrape: {}\n{scrape}",
        text(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout).expect("JSON")["families"].clone()
}

fn samples<'a>(families: &'a Value, family: &str) -> &'a [Value] {
    families[family]["samples"]
        .as_array()
        .map_or(&[], Vec::as_slice)
}

/// The value of the one sample of a family without labels.
fn value(families: &Value, family: &str) -> f64 {
    samples(families, family)
        .first()
        .and_then(|s| s["value"].as_f64())
        .unwrap_or_else(|| panic!("no {family} in the scrape"))
}

/// A good backup taken with `wexqs backup`, recorded in the state folder (here the data
/// folder) for the gauge.
fn back_up(db: &crate::helpers::Db, data: &std::path::Path) {
    let backup = data.join("registry.backup");
    let out = wexqs(
        db,
        data,
        &["backup", "--to", backup.to_str().expect("a UTF-8 path")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        data.join("last-backup").exists(),
        "wexqs backup recorded no last-backup"
    );
}

/// Scrapes `metrics` until the checkpoint covers the log and the subscription `webhook` is
/// disabled: the families of the last scrape, each an OpenMetrics text.
async fn scrape_when_settled(metrics: &str, webhook: &str) -> Value {
    // The metrics listener's whole URL, as the server logged it.
    let client = Client::new("");
    let mut families = Value::Null;
    for _ in 0..300 {
        let scrape = client.get(metrics).await;
        assert_eq!(scrape.status(), 200);
        let content_type = scrape.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            content_type.starts_with("application/openmetrics-text"),
            "{content_type}"
        );
        families = parse(&scrape.text().await.expect("a body"));
        let disabled = samples(&families, "wexqs_webhook_disabled")
            .iter()
            .any(|s| s["labels"]["subscription"] == webhook && s["value"] == 1.0);
        let covered = families["wexqs_checkpoint_size"]["samples"][0]["value"].as_f64()
            == families["wexqs_log_size"]["samples"][0]["value"].as_f64();
        if disabled && covered {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    families
}

/// Every family is there, of its type; requests are counted by route, method and status, and a
/// scan of `scanned` paths no route takes shares one series (no label names a path it asked
/// for), in the counts as in the latencies.
fn assert_every_series_and_one_for_the_scan(families: &Value, scanned: f64) {
    for family in FAMILIES {
        assert!(
            !samples(families, family).is_empty(),
            "{family} is missing from the scrape: {families:#}"
        );
    }
    assert_eq!(families["wexqs_http_requests"]["type"], "counter");
    assert_eq!(
        families["wexqs_http_request_duration_seconds"]["type"],
        "histogram"
    );
    assert_eq!(families["wexqs_log_size"]["type"], "gauge");

    let requests = samples(families, "wexqs_http_requests");
    let count = |route: &str, status: &str| -> f64 {
        requests
            .iter()
            .filter(|s| {
                s["name"] == "wexqs_http_requests_total"
                    && s["labels"]["route"] == route
                    && s["labels"]["method"] == "GET"
                    && s["labels"]["status"] == status
            })
            .map(|s| s["value"].as_f64().unwrap_or(0.0))
            .sum()
    };
    assert_eq!(
        count("/v1/awards/{certificate_number}/verification", "200"),
        3.0,
        "{requests:#?}"
    );
    // The scan shares one series: no label names a path it asked for.
    assert_eq!(count("unmatched", "404"), scanned, "{requests:#?}");
    let unmatched_series = requests
        .iter()
        .filter(|s| s["labels"]["route"] == "unmatched")
        .count();
    assert_eq!(unmatched_series, 1, "{requests:#?}");
    let every_label = serde_json::to_string(families).expect("JSON");
    assert!(
        !every_label.contains("scan-"),
        "a scanned path became a label"
    );
    assert!(
        samples(families, "wexqs_http_request_duration_seconds")
            .iter()
            .any(|s| s["name"] == "wexqs_http_request_duration_seconds_count"
                && s["labels"]["route"] == "unmatched"
                && s["value"] == scanned),
        "the scan's latency is one series"
    );
}

/// The gauges: the database up, not behind, the log and its checkpoint recent, the pool, the
/// last backup and the process's start within the last ten minutes, and the failing
/// subscription `webhook`'s failures.
fn assert_gauges(families: &Value, webhook: &str) {
    assert_eq!(value(families, "wexqs_database_up"), 1.0);
    assert_eq!(value(families, "wexqs_behind"), 0.0);
    assert!(value(families, "wexqs_log_size") >= 2.0);
    assert!(value(families, "wexqs_last_append_age_seconds") < 600.0);
    assert!(value(families, "wexqs_checkpoint_age_seconds") < 600.0);
    assert!(value(families, "wexqs_db_pool_max_connections") >= 1.0);
    let now = chrono::Utc::now().timestamp() as f64;
    let backed_up = value(families, "wexqs_last_backup_timestamp_seconds");
    assert!(
        (now - 600.0..=now + 5.0).contains(&backed_up),
        "last backup at {backed_up}"
    );
    let started = value(families, "wexqs_process_start_time_seconds");
    assert!(
        (now - 600.0..=now + 5.0).contains(&started),
        "started at {started}"
    );
    let failures = samples(families, "wexqs_webhook_consecutive_failures");
    assert!(
        failures
            .iter()
            .any(|s| s["labels"]["subscription"] == webhook && s["value"].as_f64() >= Some(1.0)),
        "{failures:#?}"
    );
}

#[tokio::test]
async fn a_scrape_parses_and_holds_every_series_and_a_scan_adds_none() {
    let Some(db) = fresh_db(Backend::Sqlite).await else {
        return;
    };
    let data = temp_dir();
    ensure_key(Some(&db.url), data.path());
    back_up(&db, data.path());

    let (_server, _log, base, metrics) =
        serve(&db.url, data.path(), &["--metrics-bind", "127.0.0.1:0"]);
    let metrics = metrics.expect("the server says where it serves metrics");
    let token = admin_token(&db, data.path(), "metrics");
    let admin = Client::new(&base).with_token(&token);
    // Nothing listens on port 1: the first delivery fails, and one failure disables it.
    let (webhook, _) = subscribe(&admin, "http://127.0.0.1:1/hook", &["award.issued"]).await;
    let (status, organisation) = admin
        .post_json(
            "/v1/admin/organisations",
            json!({"name": "Metrics Trust", "region": "london"}),
        )
        .await;
    assert_eq!(status, 201, "{organisation}");
    let (status, award) = admin
        .post_json(
            "/v1/admin/awards",
            json!({"organisation_id": organisation["id"], "level": "gold",
                   "awarded_on": "2025-06-02"}),
        )
        .await;
    assert_eq!(status, 201, "{award}");
    let number = award["certificate_number"].as_str().expect("a number");

    let client = Client::new(&base);
    let verification = format!("/v1/awards/{number}/verification");
    for _ in 0..3 {
        let r = client.get(&verification).await;
        assert_eq!(r.status(), 200);
    }
    // A scan: many paths no route takes.
    for i in 0..60 {
        let r = client
            .get(&format!("/scan-{i}/wp-admin-{}.php", i * 7919))
            .await;
        assert_eq!(r.status(), 404);
    }

    let families = scrape_when_settled(&metrics, &webhook).await;
    assert_every_series_and_one_for_the_scan(&families, 60.0);
    assert_gauges(&families, &webhook);

    // The metrics listener serves /metrics and nothing else.
    let other = Client::new("")
        .get(&metrics.replace("/metrics", "/v1/register"))
        .await;
    assert_eq!(other.status(), 404);
}

#[tokio::test]
async fn metrics_bind_none_serves_none_and_a_given_address_taken_stops_the_start() {
    let Some(db) = fresh_db(Backend::Sqlite).await else {
        return;
    };
    let data = temp_dir();
    let (_server, log, base, metrics) = serve(&db.url, data.path(), &["--metrics-bind", "none"]);
    assert_eq!(metrics, None, "--metrics-bind none still served metrics");
    let r = Client::new(&base).get("/healthz").await;
    assert_eq!(r.status(), 200);
    let said: Vec<String> = log.try_iter().collect();
    assert!(!said.iter().any(|l| l.contains("metrics")), "{said:#?}");

    // An address given that is taken is an error, not a silent start without metrics.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let address = taken.local_addr().expect("its address").to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_wexqs"))
        .args(["serve", "--bind", "127.0.0.1:0", "--metrics-bind", &address])
        .env("WEXQS_DATA_DIR", data.path())
        .env("DATABASE_URL", &db.url)
        .env_remove("WEXQS_CALENDAR")
        .output()
        .expect("wexqs runs");
    assert!(
        !out.status.success(),
        "served with its metrics address taken"
    );
    assert!(
        text(&out.stderr).contains(&format!("cannot serve metrics on {address}")),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_alert_rules_pass_promtool_check_and_their_tests() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/deploy/prometheus");
    let promtool = ["/usr/bin/promtool", "promtool"]
        .into_iter()
        .find(|p| Command::new(p).arg("--version").output().is_ok())
        .expect(
            "promtool is installed (Debian's prometheus package; `cargo xtask test` installs it)",
        );
    for args in [
        ["check", "rules", "wexqs-alerts.yml"],
        ["test", "rules", "wexqs-alerts.test.yml"],
    ] {
        let out = Command::new(promtool)
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("promtool runs");
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    // The rules name the series the registry serves: each alert's metric is one a scrape holds.
    let rules = std::fs::read_to_string(dir.join("wexqs-alerts.yml")).expect("the rules");
    for alert in [
        "WexqsCheckpointTooOld",
        "WexqsWebhookSubscriptionDisabled",
        "WexqsDatabaseUnavailable",
        "WexqsBehind",
        "WexqsErrorRate",
        "WexqsBackupTooOld",
    ] {
        assert!(rules.contains(&format!("alert: {alert}")), "no {alert}");
    }
    for word in rules.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if let Some(name) = word.strip_prefix("wexqs_") {
            let family = format!("wexqs_{}", name.trim_end_matches("_total"));
            assert!(
                FAMILIES.contains(&family.as_str()),
                "the rules name {word}, which no scrape holds"
            );
        }
    }
}
