//! Webhook deliveries that fail, each for a real reason on this machine, record their cause in
//! the delivery history: a closed port (`connect`), a receiver answering 500 (`status` with the
//! code), one that never answers (`timeout`, with a 2 s configured timeout), a plain HTTP
//! receiver behind an `https://` URL (`tls`), and a target checked again at delivery that is no
//! longer allowed (`refused_address`). A target's path and query (which may hold the
//! receiver's own secret) reach neither the server's log, nor the admin API's answers but the
//! one that made the subscription, nor the delivery history.

use std::io::BufRead as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::client::Client;
use crate::helpers::{Backend, Db, KillOnDrop, admin_token, answers_within, fresh_db, temp_dir};
use crate::webhooks::{Receiver, award};

/// A secret a receiver keeps in its URL's query: it must appear nowhere but the answer that
/// made the subscription.
const QUERY_SECRET: &str = "s3cret-in-the-query";

/// A `wexqs serve` process whose log is kept: one failure disables a subscription, and a
/// delivery gets `timeout_ms`.
struct Logged {
    _child: KillOnDrop,
    base: String,
    log: Arc<Mutex<Vec<String>>>,
}

fn serve(db: &Db, data_dir: &Path, allow_private: bool, timeout_ms: u64) -> Logged {
    crate::helpers::ensure_key(Some(&db.url), data_dir);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wexqs"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("WEXQS_DATA_DIR", data_dir)
        .env("DATABASE_URL", &db.url)
        .env("WEXQS_RATE_LIMIT", "0")
        .env(
            "WEXQS_WEBHOOKS_ALLOW_PRIVATE_TARGETS",
            allow_private.to_string(),
        )
        .env("WEXQS_WEBHOOKS_MAX_FAILURES", "1")
        .env("WEXQS_WEBHOOKS_TIMEOUT_MS", timeout_ms.to_string())
        .env_remove("WEXQS_CALENDAR")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the server starts");
    let stderr = child.stderr.take().expect("its log");
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let (tx, rx) = std::sync::mpsc::channel();
    let kept = log.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(rest) = line.split("serving the registry on ").nth(1) {
                let _ = tx.send(
                    rest.split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
            kept.lock().unwrap().push(line);
        }
    });
    let child = KillOnDrop(child);
    let base = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the server says where it listens");
    Logged {
        _child: child,
        base,
        log,
    }
}

/// A local port nothing listens on (bound, then let go).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A receiver that takes connections and never answers; its port.
async fn silent_receiver() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    port
}

/// Waits until the subscription `id` has a failed attempt; that attempt.
async fn first_failure(admin: &Client, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (status, history) = admin
            .get_json(&format!("/v1/admin/webhooks/{id}/deliveries"))
            .await;
        assert_eq!(status, 200, "{history}");
        if let Some(attempt) = history["items"].as_array().and_then(|a| a.last()) {
            return attempt.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no attempt for {id}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn subscribe(admin: &Client, url: &str) -> String {
    let (status, made) = admin
        .post_json(
            "/v1/admin/webhooks",
            json!({"url": url, "event_types": ["award.issued"]}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    // The full URL is in the answer that made it, like the secret; its origin everywhere else.
    assert_eq!(made["url"], url, "{made}");
    assert!(
        made["target"].as_str().unwrap().starts_with("http"),
        "{made}"
    );
    assert!(!made["target"].as_str().unwrap().contains(QUERY_SECRET));
    made["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_failed_delivery_records_its_cause_and_no_target_query_is_logged_or_shown() {
    let db = fresh_db(Backend::Sqlite).await.unwrap();
    let dir = temp_dir();
    let token = admin_token(&db, dir.path(), "webhook failures");
    let failing = Receiver::start(500).await;
    let answering = Receiver::start(200).await;
    let answering_port = answering
        .url
        .rsplit(':')
        .next()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let silent = silent_receiver().await;
    let server = serve(&db, dir.path(), true, 2_000);
    assert!(answers_within(&server.base, Duration::from_secs(20)).await);
    let admin = Client::new(&server.base).with_token(&token);

    let q = format!("?token={QUERY_SECRET}");
    let cases = [
        (
            format!("http://127.0.0.1:{}/hook{q}", closed_port()),
            "connect",
        ),
        (format!("{}{q}", failing.url), "status"),
        (format!("http://127.0.0.1:{silent}/hook{q}"), "timeout"),
        (format!("https://127.0.0.1:{answering_port}/hook{q}"), "tls"),
    ];
    let mut ids = Vec::new();
    for (url, _) in &cases {
        ids.push(subscribe(&admin, url).await);
    }
    award(&admin, "Failing Deliveries Trust").await;
    for ((url, cause), id) in cases.iter().zip(&ids) {
        let attempt = first_failure(&admin, id).await;
        assert_eq!(attempt["delivered"], false, "{url}: {attempt}");
        assert_eq!(attempt["cause"], *cause, "{url}: {attempt}");
        let detail = attempt["error"].as_str().unwrap_or_default();
        assert!(!detail.is_empty(), "{url}: {attempt}");
        assert!(!detail.contains(QUERY_SECRET), "{url}: {attempt}");
        assert!(!detail.contains("/hook"), "{url}: {attempt}");
    }
    let status = first_failure(&admin, &ids[1]).await;
    assert_eq!(status["status_code"], 500, "{status}");
    assert!(
        failing.received().len() == 1,
        "the 500 receiver was reached once"
    );
    assert!(
        answering.received().is_empty(),
        "no TLS request became HTTP"
    );

    // Nothing but the answers that made them shows a target's path or query.
    let (_, list) = admin.get_json("/v1/admin/webhooks").await;
    assert!(!list.to_string().contains(QUERY_SECRET), "{list}");
    assert!(!list.to_string().contains("/hook"), "{list}");
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s.get("url").is_none())
    );
    let (_, shown) = admin
        .get_json(&format!("/v1/admin/webhooks/{}", ids[0]))
        .await;
    assert!(!shown.to_string().contains(QUERY_SECRET), "{shown}");
    assert_eq!(shown["status"], "disabled", "{shown}");

    // A target allowed when made, refused at delivery: the server now takes no private targets.
    let late = subscribe(
        &admin,
        &format!("https://localhost:{answering_port}/hook{q}"),
    )
    .await;
    let lines = server.log.lock().unwrap().join("\n");
    assert!(lines.contains("disabled after 1 failed"), "{lines}");
    assert!(!lines.contains(QUERY_SECRET), "{lines}");
    drop(server);
    let server = serve(&db, dir.path(), false, 2_000);
    assert!(answers_within(&server.base, Duration::from_secs(20)).await);
    let admin = Client::new(&server.base).with_token(&token);
    award(&admin, "Refused At Delivery Trust").await;
    let attempt = first_failure(&admin, &late).await;
    assert_eq!(attempt["cause"], "refused_address", "{attempt}");
    assert!(
        attempt["error"].as_str().unwrap().contains("127.0.0.0/8")
            || attempt["error"].as_str().unwrap().contains("::1/128"),
        "{attempt}"
    );
    assert!(answering.received().is_empty(), "nothing was sent");
    let lines = server.log.lock().unwrap().join("\n");
    assert!(lines.contains("disabled after 1 failed"), "{lines}");
    assert!(!lines.contains(QUERY_SECRET), "{lines}");
}
