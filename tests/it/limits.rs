//! The bounds on what a stranger can make the server hold (`wexqs::limits::Limits`), each
//! exercised over real TCP with a client that misbehaves: an admin body sent without a token,
//! failed admin attempts in a row, more bodies than the budget, a body that trickles, a client
//! that never reads its answer, and more connections than the server holds.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use wexqs::limits::{BODY_CHARGE_MIN, Limits};

use crate::helpers::{Backend, TestApp, spawn_app_bounded};

async fn app(limits: Limits) -> TestApp {
    spawn_app_bounded(Backend::Sqlite, 0, limits)
        .await
        .expect("SQLite is always available")
}

fn connect(app: &TestApp) -> TcpStream {
    let stream = TcpStream::connect(app.base().trim_start_matches("http://")).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("a read timeout");
    stream
}

/// What the server answers on `stream` up to the end of its head (or until it closes, or 30 s
/// of silence), as text.
fn answer_head(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// Waits (up to 30 s) until `condition` holds, and says whether it did.
async fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    condition()
}

/// The head of a POST to `path` announcing a body of `length` bytes.
fn post_head(path: &str, length: usize, authorization: Option<&str>) -> String {
    let authorization = authorization.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
         {authorization}Content-Length: {length}\r\n\r\n"
    )
}

/// A connection to `app` that has sent the head of a `POST path` announcing `length` bytes of
/// body (with `authorization`, if any), and none of the body.
fn announce_body(
    app: &TestApp,
    path: &str,
    length: usize,
    authorization: Option<&str>,
) -> TcpStream {
    let mut stream = connect(app);
    let head = post_head(path, length, authorization);
    stream.write_all(head.as_bytes()).expect("the head is sent");
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_post_without_a_valid_token_is_refused_before_its_body() {
    let app = app(Limits::one_address()).await;
    for authorization in [None, Some("Bearer wexqs_nosuch_secret"), Some("Basic eDp5")] {
        let mut stream = announce_body(&app, "/v1/admin/organisations", 4_000_000, authorization);
        // Not a byte of the 4 MB announced is sent: the answer comes from the head alone.
        let answer = answer_head(&mut stream);
        assert!(
            answer.starts_with("HTTP/1.1 401"),
            "{authorization:?}: {answer}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_admin_attempts_are_limited_per_address() {
    let limits = Limits {
        admin_failures_per_minute: 3,
        ..Limits::one_address()
    };
    let app = app(limits).await;
    let attempt = || {
        app.request(reqwest::Method::POST, "/v1/admin/organisations")
            .bearer_auth("wexqs_guess_secret")
            .json(&serde_json::json!({}))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(attempt().await.expect("answers").status(), 401);
    }
    let refused = attempt().await.expect("answers");
    assert_eq!(refused.status(), 429);
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&wait), "Retry-After: {wait}");
    let problem: serde_json::Value = refused.json().await.expect("problem+json");
    assert_eq!(problem["code"], "rate_limited");
    // The right token still works from the same address.
    let events = app
        .request(reqwest::Method::GET, "/v1/admin/events")
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("answers");
    assert_eq!(events.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_beyond_the_budget_are_refused_with_503_and_room_returns() {
    let limits = Limits {
        body_budget: 2 * BODY_CHARGE_MIN,
        body_timeout: Duration::from_secs(60),
        ..Limits::one_address()
    };
    let app = app(limits).await;
    // Two bodies announced and never sent take the whole budget.
    let mut held: Vec<TcpStream> = (0..2)
        .map(|_| announce_body(&app, "/v1/verify", 100, None))
        .collect();
    let verify = || app.post_verify("application/json", b"{}".to_vec());
    let mut refusal = None;
    let start = Instant::now();
    while refusal.is_none() && start.elapsed() < Duration::from_secs(30) {
        let answer = verify().await;
        if answer.status() == 503 {
            refusal = Some(answer);
        }
    }
    let refusal = refusal.expect("a body beyond the budget is refused");
    assert_eq!(refusal.headers()["retry-after"], "1");
    let problem: serde_json::Value = refusal.json().await.expect("problem+json");
    assert_eq!(problem["code"], "server_busy");
    held.clear();
    let mut answered = false;
    let start = Instant::now();
    while !answered && start.elapsed() < Duration::from_secs(30) {
        answered = verify().await.status() != 503;
    }
    assert!(answered, "room returns once the held bodies are gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_trickles_is_cut_off_with_408() {
    let limits = Limits {
        body_timeout: Duration::from_secs(1),
        ..Limits::one_address()
    };
    let app = app(limits).await;
    let mut stream = announce_body(&app, "/v1/verify", 1_000, None);
    // A byte every 100 ms: never idle for long, but 100 s for the whole body.
    let mut writer = stream.try_clone().expect("a second handle");
    let trickle = std::thread::spawn(move || {
        for _ in 0..1_000 {
            if writer.write_all(b" ").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let answer = answer_head(&mut stream);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let _ = stream.shutdown(std::net::Shutdown::Both);
    trickle.join().expect("the writer ends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_its_answers_is_dropped() {
    let limits = Limits {
        write_stall: Duration::from_secs(1),
        ..Limits::one_address()
    };
    let app = app(limits).await;
    let stream = connect(&app);
    // Five hundred pipelined requests for the OpenAPI document: far more answer than the
    // sockets' buffers hold, and the client reads none of it.
    let mut writer = stream.try_clone().expect("a second handle");
    let requests = "GET /openapi.json HTTP/1.1\r\nHost: test\r\n\r\n".repeat(500);
    let sender = std::thread::spawn(move || {
        let _ = writer.write_all(requests.as_bytes());
    });
    assert!(eventually(|| app.connections.open() == 1).await);
    assert!(
        eventually(|| app.connections.open() == 0).await,
        "the connection is dropped while the client still holds it"
    );
    sender.join().expect("the sender ends");
    drop(stream);
}

/// Opens `allowed` idle connections, then one more, and returns that one's answer.
async fn one_too_many(app: &TestApp, allowed: usize) -> String {
    let held: Vec<TcpStream> = (0..allowed).map(|_| connect(app)).collect();
    assert!(eventually(|| app.connections.open() == allowed).await);
    let mut extra = connect(app);
    let answer = answer_head(&mut extra);
    drop(held);
    assert!(eventually(|| app.connections.open() == 0).await);
    answer
}

/// With `limits`, which allow three connections, a fourth is refused with a 503 whose head says
/// each of `said`, and the server still answers once the three are gone.
async fn a_fourth_connection_is_refused(limits: Limits, said: &[&str]) {
    let app = app(limits).await;
    let answer = one_too_many(&app, 3).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    for words in said {
        assert!(answer.contains(words), "{answer}");
    }
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_an_address_bound_are_refused_with_503() {
    let limits = Limits {
        max_connections_per_address: 3,
        ..Limits::one_address()
    };
    a_fourth_connection_is_refused(limits, &["retry-after: 1", "from this address"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_server_bound_are_refused_with_503() {
    let limits = Limits {
        max_connections: 3,
        ..Limits::one_address()
    };
    a_fourth_connection_is_refused(limits, &["server_busy"]).await;
}

/// A connection from `source` (any loopback address) to `app`.
async fn connect_from(app: &TestApp, source: &str) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket
        .bind(format!("{source}:0").parse().expect("an address"))
        .expect("binds");
    let server = app
        .base()
        .trim_start_matches("http://")
        .parse()
        .expect("an address");
    let stream = socket.connect(server).await.expect("connects");
    let stream = stream.into_std().expect("a std stream");
    stream.set_nonblocking(false).expect("blocking");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("a read timeout");
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowded_server_keeps_room_for_other_addresses() {
    let limits = Limits {
        max_connections: 8,
        max_connections_per_address: 8,
        ..Limits::one_address()
    };
    let app = app(limits).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect_from(&app, "127.0.0.1").await);
    }
    assert!(eventually(|| app.connections.open() == 4).await);
    // Half the server's connections are open, all from one address: it may open no more ...
    let mut more = connect_from(&app, "127.0.0.1").await;
    let answer = answer_head(&mut more);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    // ... while another address is still served.
    let mut other = connect_from(&app, "127.0.0.2").await;
    other
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        .expect("the request is sent");
    let answer = answer_head(&mut other);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_announced_large_and_never_sent_hold_only_a_step_of_the_budget() {
    let limits = Limits {
        body_budget: 4 * BODY_CHARGE_MIN,
        body_timeout: Duration::from_secs(60),
        ..Limits::one_address()
    };
    let app = app(limits).await;
    // Three bodies each announcing the largest credential `POST /v1/verify` reads, none sent
    // (before: each was charged what it announced, so the first took the whole budget and
    // every other body waited 1 s for a 503).
    let held: Vec<TcpStream> = (0..3)
        .map(|_| announce_body(&app, "/v1/verify", 2_000_000, None))
        .collect();
    // A body sent whole is still read at once, and one that sends more than the room left
    // waits its turn and is refused.
    let started = Instant::now();
    let answer = app.post_verify("application/json", b"{}".to_vec()).await;
    assert_eq!(answer.status(), 200, "a small body is read and checked");
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    let large = app
        .post_verify("application/json", vec![b' '; 3 * BODY_CHARGE_MIN])
        .await;
    assert_eq!(
        large.status(),
        503,
        "a body larger than the room left is refused"
    );
    let problem: serde_json::Value = large.json().await.expect("problem+json");
    assert_eq!(problem["code"], "server_busy");
    drop(held);
}
