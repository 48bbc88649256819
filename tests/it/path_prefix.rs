//! A public URL with a path (`http://127.0.0.1:PORT/wexqs`) behind real nginx that strips the
//! path (`location /wexqs/ { proxy_pass http://upstream/; }`): every link, form, asset, script
//! and `Location` the registry writes resolves through the proxy, its did:web carries the path
//! and resolves there, a credential verifies with Digital Bazaar's verifier and with
//! `wexqs verify --online`, and a proxy that passes the path on is answered the same.

use std::collections::{BTreeSet, VecDeque};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::credentials::independent;
use crate::helpers::{KillOnDrop, free_port, spawn_server, temp_dir, text};

/// nginx from Debian, run as this user from a folder of its own; killed when dropped.
struct Nginx(KillOnDrop);

/// Starts nginx on `port`, in front of `upstream` (`127.0.0.1:N`): `/wexqs/` stripped on
/// `port`, passed on unstripped on `unstripped_port`.
fn start_nginx(dir: &Path, port: u16, unstripped_port: u16, upstream: &str) -> Nginx {
    let d = dir.display();
    let conf = format!(
        r#"worker_processes 1;
error_log {d}/error.log warn;
pid {d}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location /wexqs/ {{ proxy_pass http://{upstream}/; }}
    }}
    server {{
        listen 127.0.0.1:{unstripped_port};
        location /wexqs/ {{ proxy_pass http://{upstream}; }}
    }}
}}
"#
    );
    std::fs::write(dir.join("nginx.conf"), conf).expect("written");
    let child = Command::new("/usr/sbin/nginx")
        .args([
            "-p",
            &d.to_string(),
            "-c",
            "nginx.conf",
            "-g",
            "daemon off;",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx starts (`cargo xtask test` installs it)");
    Nginx(KillOnDrop(child))
}

/// Waits until `url` answers at all (nginx is listening).
async fn answers(client: &reqwest::Client, url: &str, nginx: &mut Nginx, dir: &Path) {
    for _ in 0..300 {
        if client.get(url).send().await.is_ok() {
            return;
        }
        if let Ok(Some(status)) = nginx.0.0.try_wait() {
            panic!(
                "nginx stopped ({status}): {}",
                std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} never answered");
}

/// The addresses in a page's `href`, `src` and `action` attributes (markup-escaped `&amp;`).
fn addresses(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in [" href=\"", " src=\"", " action=\""] {
        let mut rest = html;
        while let Some(at) = rest.find(attribute) {
            rest = &rest[at + attribute.len()..];
            let end = rest.find('"').expect("a closed attribute");
            found.push(rest[..end].replace("&amp;", "&"));
            rest = &rest[end..];
        }
    }
    found
}

/// `GET url` through `client`; the proxy must answer.
async fn get(client: &reqwest::Client, url: impl reqwest::IntoUrl) -> reqwest::Response {
    client.get(url).send().await.expect("answered")
}

/// The body of `GET url` through `client`, which must be JSON (whatever the status).
async fn json_at(client: &reqwest::Client, url: impl reqwest::IntoUrl) -> Value {
    get(client, url).await.json().await.expect("JSON")
}

/// A new admin token for the registry in `data_dir` (its SQLite database).
fn admin_token(data_dir: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_wexqs"))
        .args([
            "tokens",
            "create",
            "--role",
            "admin",
            "--name",
            "path prefix",
        ])
        .env("WEXQS_DATA_DIR", data_dir)
        .env_remove("DATABASE_URL")
        .output()
        .expect("wexqs runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).trim().to_owned()
}

/// did:web resolution, as the method's specification says (not the registry's own code): the
/// segments after the host name a path and `did.json`; none, `/.well-known/did.json`.
fn resolve_did_web(did: &str) -> String {
    let rest = did.strip_prefix("did:web:").expect("a did:web");
    let mut segments = rest.split(':');
    let host = segments.next().expect("a host").replace("%3A", ":");
    let path: Vec<&str> = segments.collect();
    if path.is_empty() {
        format!("http://{host}/.well-known/did.json")
    } else {
        format!("http://{host}/{}/did.json", path.join("/"))
    }
}

#[test]
fn the_base_path_is_the_public_urls_path_and_a_route_segment_is_refused() {
    use wexqs::http::prefix::{base_path, refusal, stripped};
    assert_eq!(base_path("https://host"), "");
    assert_eq!(base_path("https://host:8443/"), "");
    assert_eq!(base_path("https://host/wexqs"), "/wexqs");
    assert_eq!(base_path("http://127.0.0.1:9/a/b/"), "/a/b");
    assert!(refusal("https://host").is_none());
    assert!(refusal("https://host/wexqs").is_none());
    assert!(refusal("https://host/v1").is_some());
    assert!(refusal("https://host/verify/x").is_some());
    assert!(refusal("https://host/did.json").is_some());
    assert!(refusal("https://host/a/../b").is_some());
    assert_eq!(
        stripped("/wexqs", "/wexqs/verify/x").as_deref(),
        Some("/verify/x")
    );
    assert_eq!(stripped("/wexqs", "/wexqs").as_deref(), Some("/"));
    assert_eq!(stripped("/wexqs", "/wexqsx/verify"), None);
    assert_eq!(stripped("/wexqs", "/verify/x"), None);
    assert_eq!(
        wexqs::credentials::credential::did_document_url("https://host/wexqs"),
        "https://host/wexqs/did.json"
    );
    assert_eq!(
        wexqs::credentials::credential::did_document_url("https://host:8443"),
        "https://host:8443/.well-known/did.json"
    );
}

#[test]
fn serve_refuses_a_path_that_a_route_starts_with_and_says_why() {
    let dir = temp_dir();
    let out = Command::new(env!("CARGO_BIN_EXE_wexqs"))
        .args(["serve", "--demo", "--bind", "127.0.0.1:0"])
        .args(["--public-url", "https://wexqs.example.org/v1"])
        .env("WEXQS_DATA_DIR", dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("WEXQS_CALENDAR")
        .output()
        .expect("wexqs runs");
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("starts with /v1, which is also a route"),
        "{stderr}"
    );
}

/// Crawls the pages from the register's front page: every address on them is under
/// the public URL's path and answers through the proxy (at `origin`).
async fn assert_every_address_answers_through_the_proxy(
    client: &reqwest::Client,
    public: &str,
    origin: &str,
    number: &str,
) {
    let mut queue: VecDeque<reqwest::Url> = [
        format!("{public}/"),
        format!("{public}/verify/{number}"),
        format!("{public}/docs"),
        format!("{public}/embed/{number}"),
        format!("{public}/achievements/gold"),
        format!("{public}/verify/AAAA-AAAA-AAAA-AAAA"),
    ]
    .iter()
    .map(|u| reqwest::Url::parse(u).expect("a URL"))
    .collect();
    let mut seen = BTreeSet::new();
    let mut checked = 0;
    while let Some(url) = queue.pop_front() {
        let mut key = url.clone();
        key.set_fragment(None);
        if !seen.insert(key.to_string()) || seen.len() > 80 {
            continue;
        }
        let response = client
            .get(url.clone())
            .header("Accept", "text/html")
            .send()
            .await
            .expect("answered");
        let status = response.status().as_u16();
        let is_html = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/html"));
        let expected_missing = url.path() == "/wexqs/verify/AAAA-AAAA-AAAA-AAAA";
        assert!(
            status == 200 || (expected_missing && (status == 404 || status == 400)),
            "{url} answered {status} through the proxy"
        );
        checked += 1;
        if !is_html {
            continue;
        }
        let body = response.text().await.expect("text");
        for address in addresses(&body) {
            if address.starts_with('#') || address.starts_with("mailto:") {
                continue;
            }
            let target = url.join(&address).expect("a resolvable address");
            if target.origin().ascii_serialization() != *origin {
                assert!(
                    !target.as_str().starts_with("http://127.0.0.1"),
                    "{url} links {target}, not through the proxy"
                );
                continue;
            }
            assert!(
                target.path().starts_with("/wexqs/"),
                "{url} links {address}, outside the public URL's path"
            );
            queue.push_back(target);
        }
    }
    assert!(checked >= 20, "only {checked} addresses crawled");
}

/// The widget's script puts its iframe beside itself, under the path, and the frame answers.
async fn assert_the_widget_frames_under_the_path(
    client: &reqwest::Client,
    public: &str,
    number: &str,
    scratch: &Path,
) {
    let script = get(client, format!("{public}/embed.js"))
        .await
        .text()
        .await
        .expect("text");
    let harness = format!(
        r#"const inserted = [];
globalThis.document = {{
  currentScript: {{ src: "{public}/embed.js", getAttribute: () => "{number}",
    parentNode: {{ insertBefore: f => inserted.push(f) }} }},
  createElement: () => ({{ style: {{}} }}),
}};
{script}
console.log(inserted[0].src);
"#
    );
    let js = scratch.join("embed-harness.js");
    std::fs::write(&js, harness).expect("written");
    let out = Command::new("node").arg(&js).output().expect("node runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let frame = text(&out.stdout).trim().to_owned();
    assert_eq!(frame, format!("{public}/embed/{number}"));
    let card = get(client, &frame).await;
    assert_eq!(card.status(), 200, "the widget's frame answers");
}

/// The API's own addresses: links, the OpenAPI servers and a Location, under the path.
async fn assert_the_apis_addresses_are_under_the_path(
    client: &reqwest::Client,
    public: &str,
    number: &str,
    data_dir: &Path,
) {
    let start = reqwest::Url::parse(&format!("{public}/")).expect("a URL");
    let award = json_at(client, format!("{public}/v1/awards/{number}")).await;
    for link in ["self", "verification", "page"] {
        let href = award["links"][link].as_str().expect("a link");
        let target = start.join(href).expect("resolvable");
        assert!(target.path().starts_with("/wexqs/"), "{link}: {href}");
        let answer = get(client, target).await;
        assert_eq!(answer.status(), 200, "{link}: {href}");
    }
    let openapi = json_at(client, format!("{public}/openapi.json")).await;
    assert_eq!(openapi["servers"][0]["url"], public);
    let token = admin_token(data_dir);
    let created = client
        .post(format!("{public}/v1/admin/organisations"))
        .bearer_auth(token.trim())
        .json(&json!({"name": "Prefix Path Trust", "region": "london"}))
        .send()
        .await
        .expect("answered");
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"]
        .to_str()
        .expect("text")
        .to_owned();
    assert!(
        location.starts_with("/wexqs/v1/admin/organisations/"),
        "{location}"
    );
    let organisation = client
        .get(start.join(&location).expect("resolvable"))
        .bearer_auth(token.trim())
        .send()
        .await
        .expect("answered");
    assert_eq!(organisation.status(), 200, "the Location answers");
}

/// The credential names did:web with the path, which resolves through the proxy; Digital
/// Bazaar's verifier verifies it, and `wexqs verify --online` fetches the did.json, the status
/// list and the register's answer from the credential's own addresses, through the proxy.
async fn assert_the_credential_verifies_through_the_proxy(
    client: &reqwest::Client,
    (public, port): (&str, u16),
    number: &str,
    scratch: &Path,
) {
    let credential = json_at(client, format!("{public}/v1/awards/{number}/credential")).await;
    let did = credential["issuer"]["id"].as_str().expect("an issuer");
    assert_eq!(did, format!("did:web:127.0.0.1%3A{port}:wexqs"));
    assert_eq!(credential["issuer"]["url"], public);
    let did_url = resolve_did_web(did);
    assert_eq!(did_url, format!("{public}/did.json"));
    let did_document = json_at(client, &did_url).await;
    assert_eq!(did_document["id"], did);
    let status_url = credential["credentialStatus"]["statusListCredential"]
        .as_str()
        .expect("a status list");
    assert!(
        status_url.starts_with(&format!("{public}/")),
        "{status_url}"
    );
    let status_list = json_at(client, status_url).await;
    let report = independent(&json!({
        "credential": credential,
        "did_document": did_document,
        "status_list": status_list,
    }));
    assert_eq!(report["verified"], true, "{report:#}");

    // `wexqs verify --online` fetches the did.json, the status list and the register's answer
    // from the credential's own addresses, through the proxy.
    let saved = scratch.join("credential.json");
    std::fs::write(&saved, credential.to_string()).expect("written");
    let online = Command::new(env!("CARGO_BIN_EXE_wexqs"))
        .args(["verify", saved.to_str().expect("a path"), "--online"])
        .output()
        .expect("wexqs runs");
    let stdout = text(&online.stdout);
    assert!(online.status.success(), "{stdout}{}", text(&online.stderr));
    assert!(stdout.contains("pass status:"), "{stdout}");
    assert!(stdout.contains("pass register:"), "{stdout}");
    assert_eq!(stdout.lines().last(), Some("valid"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_url_with_a_path_works_all_the_way_through_nginx() {
    let dir = temp_dir();
    let nginx_dir = temp_dir();
    let port = free_port();
    let unstripped_port = free_port();
    let public = format!("http://127.0.0.1:{port}/wexqs");
    let mut command = Command::new(env!("CARGO_BIN_EXE_wexqs"));
    command
        .args([
            "serve",
            "--demo",
            "--rate-limit",
            "0",
            "--public-url",
            &public,
        ])
        .env("WEXQS_DATA_DIR", dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("WEXQS_CALENDAR");
    let (server, upstream) = spawn_server(command);
    let _server = KillOnDrop(server);
    let upstream = upstream.trim_start_matches("http://").to_owned();
    let mut nginx = start_nginx(nginx_dir.path(), port, unstripped_port, &upstream);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client");
    answers(
        &client,
        &format!("{public}/healthz"),
        &mut nginx,
        nginx_dir.path(),
    )
    .await;

    // Crawl the pages from the register's front page: every address on them is under the
    // public URL's path and answers through the proxy.
    let origin = format!("http://127.0.0.1:{port}");
    let start = reqwest::Url::parse(&format!("{public}/")).expect("a URL");
    let front = get(&client, start.clone()).await;
    assert_eq!(front.status(), 200);
    let front = front.text().await.expect("text");
    assert!(
        addresses(&front)
            .iter()
            .any(|a| a.starts_with("/wexqs/verify/")),
        "the front page links awards' pages"
    );
    let valid = json_at(&client, format!("{public}/v1/register?status=valid")).await;
    let number = valid["items"][0]["certificate_number"]
        .as_str()
        .expect("a valid award in the demo register")
        .to_owned();
    assert_every_address_answers_through_the_proxy(&client, &public, &origin, &number).await;
    assert_the_widget_frames_under_the_path(&client, &public, &number, nginx_dir.path()).await;
    assert_the_apis_addresses_are_under_the_path(&client, &public, &number, dir.path()).await;
    assert_the_credential_verifies_through_the_proxy(
        &client,
        (&public, port),
        &number,
        nginx_dir.path(),
    )
    .await;

    // A proxy that passes the path on is answered as if it had stripped it.
    let passed_on = format!("http://127.0.0.1:{unstripped_port}/wexqs");
    for path in [
        "/",
        &format!("/verify/{number}"),
        "/did.json",
        "/assets/site.css",
    ] {
        let answer = get(&client, format!("{passed_on}{path}")).await;
        assert_eq!(answer.status(), 200, "{path}, the path passed on");
    }
    // And the root's did.json stays where a host-only did:web looks.
    let root = get(&client, format!("{public}/.well-known/did.json")).await;
    assert_eq!(root.status(), 200);
}
