//! The shipped reverse-proxy setup (`assets/deploy/nginx/wexqs.conf`) on Debian's nginx, TLS on the
//! proxy with a self-signed certificate made by openssl, in front of two `wexqs serve` instances
//! on one PostgreSQL database, each trusting the proxy: a flooding client is limited while
//! another is served, the logs name each real client (and nginx's request id), a client's own
//! `Forwarded` / `X-Forwarded-For` change nothing, and SIGTERM to one instance while requests
//! flow loses none of them. Also how long a change made through one instance takes to show on
//! the other.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{
    Backend, Db, KillOnDrop, ServerLog, admin_token, answers_within, ensure_key, free_port,
    fresh_db, spawn_server_logged, temp_dir, terminate,
};
use crate::tls::TestCa;

/// The shipped configuration.
const SHIPPED: &str = include_str!("../../assets/deploy/nginx/wexqs.conf");

/// One `wexqs serve` on `db`, its keys in `shared` (the same for every instance), its own state
/// folder, trusting 127.0.0.1 as its proxy.
async fn instance(db: &Db, shared: &Path, rate_limit: &str) -> (KillOnDrop, String, ServerLog) {
    let state = shared.join(format!("state-{}", free_port()));
    std::fs::create_dir_all(&state).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_wexqs"));
    command
        .arg("serve")
        .args(["--trusted-proxies", "127.0.0.1"])
        .args(["--max-connections-per-address", "0"])
        .args(["--rate-limit", rate_limit])
        .arg("--state-dir")
        .arg(&state)
        .env("WEXQS_DATA_DIR", shared)
        .env("DATABASE_URL", &db.url)
        .env_remove("WEXQS_CALENDAR")
        .env_remove("WEXQS_LOG")
        .env_remove("WEXQS_LOG_FORMAT")
        .env_remove("WEXQS_TRUSTED_PROXIES");
    let (child, base, log) = spawn_server_logged(command);
    let child = KillOnDrop(child);
    assert!(
        answers_within(&base, Duration::from_secs(20)).await,
        "{base} answers"
    );
    (child, base, log)
}

/// nginx running the shipped configuration from its own prefix folder; stopped when dropped.
struct Nginx {
    process: std::process::Child,
    dir: tempfile::TempDir,
    port: u16,
    /// The test's certificate authority, which signed nginx's certificate.
    certificate: Vec<u8>,
    /// Its folder, which holds nginx's certificate and key.
    _ca: TestCa,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM, so the master takes its workers with it (SIGKILL would orphan them).
        if !terminate(&mut self.process, Duration::from_secs(10)) {
            let _ = self.process.kill();
            let _ = self.process.wait();
        }
    }
}

impl Nginx {
    fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }

    /// An HTTPS client to nginx from the loopback address `source` (nginx sees each source as
    /// another client), trusting only the test's certificate.
    fn client(&self, source: &str) -> reqwest::Client {
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&self.certificate).unwrap())
            .local_address(source.parse::<IpAddr>().unwrap())
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap()
    }

    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("Uid:"))?;
            line.split_whitespace().nth(1).map(|uid| uid == "0")
        })
        .unwrap_or(false)
}

/// `text` with `from` replaced by `to`, which must be there: the test follows the shipped file.
fn swap(text: String, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "the shipped nginx configuration has {from:?}"
    );
    text.replace(from, to)
}

/// Starts nginx with the shipped configuration in front of `upstreams`.
async fn start_nginx(upstreams: [&str; 2]) -> Nginx {
    let nginx = PathBuf::from("/usr/sbin/nginx");
    assert!(
        nginx.exists(),
        "Debian's nginx is installed (`cargo xtask test` installs it)"
    );
    // A certificate authority of the test's own, and the proxy's certificate signed by it.
    let ca = TestCa::new();
    let dir = temp_dir();
    let p = |name: &str| dir.path().join(name).display().to_string();
    let (port, http_port) = (free_port(), free_port());
    let mut site = SHIPPED.to_owned();
    site = swap(
        site,
        "server 127.0.0.1:8080 ",
        &format!("server {} ", upstreams[0]),
    );
    site = swap(
        site,
        "server 127.0.0.1:8081 ",
        &format!("server {} ", upstreams[1]),
    );
    site = swap(
        site,
        "listen 80;",
        &format!("listen 127.0.0.1:{http_port};"),
    );
    site = swap(site, "listen [::]:80;", "");
    site = swap(
        site,
        "listen 443 ssl http2;",
        &format!("listen 127.0.0.1:{port} ssl http2;"),
    );
    site = swap(site, "listen [::]:443 ssl http2;", "");
    let certificate = ca.path("server.crt").display().to_string();
    site = swap(site, "/etc/ssl/wexqs/fullchain.pem", &certificate);
    let key = ca.path("server.key").display().to_string();
    site = swap(site, "/etc/ssl/wexqs/privkey.pem", &key);
    std::fs::write(dir.path().join("wexqs.conf"), site).unwrap();
    let user = if running_as_root() { "user root;" } else { "" };
    let main = format!(
        "{user}\nworker_processes 1;\npid {pid};\nerror_log {error} info;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n\
           log_format with_id '$remote_addr $request_id \"$request\" $status $upstream_addr';\n\
           access_log {access} with_id;\n\
           client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;\n\
           fastcgi_temp_path {tmp}/fastcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;\n\
           include {site};\n\
         }}\n",
        pid = p("nginx.pid"),
        error = p("error.log"),
        access = p("access.log"),
        tmp = dir.path().display(),
        site = p("wexqs.conf"),
    );
    std::fs::write(dir.path().join("nginx.conf"), main).unwrap();
    let process = Command::new(&nginx)
        .args(["-p", &p(""), "-e", &p("error.log"), "-c", &p("nginx.conf")])
        .args(["-g", "daemon off;"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx starts");
    let certificate = ca.read("ca.crt");
    let nginx = Nginx {
        process,
        dir,
        _ca: ca,
        port,
        certificate,
    };
    let client = nginx.client("127.0.0.1");
    let deadline = Instant::now() + Duration::from_secs(20);
    while client.get(nginx.url("/healthz")).send().await.is_err() {
        assert!(
            Instant::now() < deadline,
            "nginx answers: {}",
            std::fs::read_to_string(nginx.dir.path().join("error.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    nginx
}

/// Status and nginx's request id of a GET through the proxy.
async fn get(client: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut request = client.get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    match request.send().await {
        Ok(response) => {
            let id = response
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            (response.status().as_u16(), id)
        }
        Err(_) => (0, String::new()),
    }
}

/// Whether either instance's log has an access line with all of `parts`.
/// Whether an access line holding every one of `parts` reaches one of `logs` within 10 s (a line
/// is written out within 50 ms of the answer, not before it).
async fn logged(logs: &[&ServerLog], parts: &[&str]) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = logs.iter().any(|log| {
            log.lines()
                .iter()
                .any(|l| l.contains("wexqs::access") && parts.iter().all(|p| l.contains(p)))
        });
        if found || Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A client flooding a public route through `nginx` is limited; another, at the same time, is
/// served, and its own claims about who it is are not believed: nginx's request ids of the
/// other's requests.
async fn a_flooder_is_limited_and_another_served(nginx: &Nginx) -> Vec<String> {
    let (flooder, other) = (nginx.client("127.0.0.2"), nginx.client("127.0.0.3"));
    let url = nginx.url("/v1/programme");
    let mut refused = 0;
    for _ in 0..40 {
        let (status, _) = get(&flooder, &url, &[]).await;
        refused += usize::from(status == 429);
    }
    assert!(
        refused >= 10,
        "the flooding client was refused {refused} of 40 times"
    );
    let mut ids = Vec::new();
    for _ in 0..4 {
        // Its own claims about who it is are not believed.
        let (status, id) = get(
            &other,
            &url,
            &[
                ("forwarded", "for=198.51.100.1"),
                ("x-forwarded-for", "198.51.100.2"),
                ("x-request-id", "mine"),
            ],
        )
        .await;
        assert_eq!(
            status, 200,
            "the other client is served while the first floods"
        );
        assert!(
            id.len() == 32 && id != "mine",
            "nginx's request id is echoed: {id}"
        );
        ids.push(id);
    }

    ids
}

/// Each instance's access log names the real clients, under nginx's request ids (`ids`), and no
/// forged address or the proxy's own.
async fn assert_the_real_clients_are_logged(nginx: &Nginx, logs: [&ServerLog; 2], ids: &[String]) {
    assert!(logged(&logs, &["client=127.0.0.2 ", "status=429 "]).await);
    assert!(logged(&logs, &["client=127.0.0.3 ", "status=200 "]).await);
    for id in ids {
        assert!(
            logged(&logs, &["client=127.0.0.3 ", id]).await,
            "request {id} in a registry log"
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while !nginx.access_log().contains(id.as_str()) {
            assert!(
                Instant::now() < deadline,
                "request {id} in nginx's log: {}",
                nginx.access_log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let everything = [logs[0].lines(), logs[1].lines()].concat().join("\n");
    assert!(
        !everything.contains("198.51.100."),
        "no forged address reaches the log"
    );
    assert!(
        !everything
            .lines()
            .any(|l| l.contains("route=/v1/programme ") && l.contains("client=127.0.0.1 ")),
        "no request through nginx is logged as the proxy's"
    );
}

/// Requests flow through `nginx` from four clients (reading `org_url` with `token`, and the
/// health route); the instance `first` gets SIGTERM mid-flow: it ends, and no request is lost.
async fn no_request_is_lost_when_an_instance_stops(
    nginx: &Nginx,
    org_url: String,
    token: &str,
    mut first: KillOnDrop,
) {
    let stop = Arc::new(AtomicBool::new(false));
    let (answered, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut flows = Vec::new();
    for n in 0..4 {
        let client = nginx.client(&format!("127.0.1.{}", n + 1));
        let (stop, answered, failed) = (stop.clone(), answered.clone(), failed.clone());
        let (org_url, health, token) = (org_url.clone(), nginx.url("/healthz"), token.to_owned());
        flows.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let outcome = client.get(&org_url).bearer_auth(&token).send().await;
                let health = client.get(&health).send().await;
                for outcome in [outcome, health] {
                    match outcome {
                        Ok(r) if r.status() == 200 => {
                            answered.fetch_add(1, Ordering::Relaxed);
                        }
                        other => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            failures.push(format!("{:?}", other.map(|r| r.status())));
                        }
                    }
                }
            }
            failures
        }));
    }
    let before = wait_for_answers(&answered, 100).await;
    let stopped = tokio::task::spawn_blocking(move || {
        let ended = terminate(&mut first.0, Duration::from_secs(60));
        (ended, first)
    });
    let (ended, _first) = stopped.await.unwrap();
    assert!(ended, "the first instance ends after SIGTERM");
    // Still flowing, through the instance that is left.
    wait_for_answers(&answered, answered.load(Ordering::Relaxed) + 100).await;
    stop.store(true, Ordering::Relaxed);
    let mut failures = Vec::new();
    for flow in flows {
        failures.extend(flow.await.unwrap());
    }
    let total = answered.load(Ordering::Relaxed);
    assert!(total > before + 100, "requests went on being answered");
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "requests lost: {failures:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn behind_nginx_clients_are_told_apart_and_a_stopping_instance_loses_no_request() {
    let Some(db) = fresh_db(Backend::Postgres).await else {
        return;
    };
    let shared = temp_dir();
    ensure_key(Some(&db.url), shared.path());
    let token = admin_token(&db, shared.path(), "nginx test");
    let (first, first_base, first_log) = instance(&db, shared.path(), "1").await;
    let (_second, second_base, second_log) = instance(&db, shared.path(), "1").await;
    let upstreams = [
        first_base.trim_start_matches("http://").to_owned(),
        second_base.trim_start_matches("http://").to_owned(),
    ];
    let nginx = start_nginx([&upstreams[0], &upstreams[1]]).await;
    let logs = [&first_log, &second_log];

    let ids = a_flooder_is_limited_and_another_served(&nginx).await;
    assert_the_real_clients_are_logged(&nginx, logs, &ids).await;

    // An organisation to read through the proxy (admin routes are not rate-limited).
    let created = reqwest::Client::new()
        .post(format!("{first_base}/v1/admin/organisations"))
        .bearer_auth(&token)
        .json(&json!({"name": "Proxy Hospitals NHS Trust", "region": "london"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let org: Value = created.json().await.unwrap();
    let org_url = nginx.url(&format!(
        "/v1/admin/organisations/{}",
        org["id"].as_str().unwrap()
    ));

    no_request_is_lost_when_an_instance_stops(&nginx, org_url, &token, first).await;
}

/// Waits until `answered` reaches `n` (at most a minute): the count then.
async fn wait_for_answers(answered: &AtomicUsize, n: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    while answered.load(Ordering::Relaxed) < n {
        assert!(Instant::now() < deadline, "requests stopped being answered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    answered.load(Ordering::Relaxed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_one_instance_shows_on_the_other_within_seconds() {
    let Some(db) = fresh_db(Backend::Postgres).await else {
        return;
    };
    let shared = temp_dir();
    ensure_key(Some(&db.url), shared.path());
    let token = admin_token(&db, shared.path(), "propagation test");
    let (_first, first_base, _) = instance(&db, shared.path(), "0").await;
    let (_second, second_base, _) = instance(&db, shared.path(), "0").await;
    let client = reqwest::Client::new();
    let post = |path: String, body: Value| {
        client
            .post(format!("{first_base}{path}"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let org: Value = post(
        "/v1/admin/organisations".into(),
        json!({"name": "Echo NHS Trust", "region": "london"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let award: Value = post(
        "/v1/admin/awards".into(),
        json!({"organisation_id": org["id"], "level": "gold", "awarded_on": "2025-06-01"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let number = award["certificate_number"].as_str().unwrap().to_owned();
    let verification = format!("{second_base}/v1/awards/{number}/verification");
    let status_on_second = || async {
        let body: Value = client
            .get(&verification)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["status"].as_str().unwrap_or_default().to_owned()
    };
    assert_eq!(status_on_second().await, "valid");
    let mut seen = Vec::new();
    for _ in 0..3 {
        let (action, wanted) = match status_on_second().await.as_str() {
            "valid" => ("suspend", "suspended"),
            _ => ("reinstate", "valid"),
        };
        let etag =
            crate::access_log::etag_of(&client, &format!("{first_base}/v1/awards/{number}")).await;
        let written = client
            .post(format!("{first_base}/v1/admin/awards/{number}/{action}"))
            .bearer_auth(&token)
            .header("if-match", etag)
            .json(&json!({"reason": "checked"}))
            .send()
            .await
            .unwrap();
        assert_eq!(written.status(), 200);
        let started = Instant::now();
        while status_on_second().await != wanted {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the change reached the other instance"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        seen.push(started.elapsed());
    }
    eprintln!("a change showed on the other instance after {seen:?}");
    assert!(seen.iter().all(|d| *d < Duration::from_secs(5)), "{seen:?}");
}
