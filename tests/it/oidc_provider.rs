//! A real OpenID Provider for the console's sign-in tests: panva's oidc-provider (pinned in
//! tests/oidc/, installed by `cargo xtask test`) started by `node tests/oidc/provider.mjs` on a
//! port of 127.0.0.1 the system chooses, with one confidential client (authorization code, PKCE
//! S256 required, client_secret_basic, RS256 ID tokens, `iss` in the authorization response).
//! `sign_in` walks its sign-in pages as a browser without JavaScript would, by plain HTTP, and
//! hands back the redirect to the relying party without following it. The provider ends with the
//! test: killed on drop, and it ends by itself when the test process goes (its standard input
//! closes).

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng as _;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{StatusCode, Url};

use crate::helpers::temp_dir;

/// The client's id at every provider the tests start.
const CLIENT_ID: &str = "wexqs-console";

/// The longest a sign-in may take to walk, or a started provider to answer its discovery
/// document, on a busy machine: a bound on waiting, not a time it is expected to take.
const PATIENCE: Duration = Duration::from_secs(60);

/// The longest a provider's process may take to say where it listens (about 2 s here, while the
/// whole suite runs), and how many times it is started before the test fails. Twice, in a
/// fresh clone's whole suite, one of the seven providers said nothing for minutes after Node's
/// warning (its stack unknown); a start that hangs is stopped, described and made again.
const ANNOUNCE: Duration = Duration::from_secs(30);
const STARTS: u32 = 3;

/// A running provider; killed when dropped.
#[derive(Debug)]
pub(crate) struct OidcProvider {
    child: Child,
    /// Held open: the provider ends by itself when it closes (`--exit-with-stdin`).
    _stdin: Option<ChildStdin>,
    issuer: String,
    secret: String,
    secret_dir: tempfile::TempDir,
    stderr: Arc<Mutex<Vec<String>>>,
    http: reqwest::Client,
}

impl OidcProvider {
    /// Starts a provider whose one client may redirect to `redirect_uri`, once it answers its
    /// discovery document. A start that says nothing within `ANNOUNCE` is stopped, what its
    /// process was doing written to the test's output, and made again, `STARTS` times in all;
    /// then it panics, naming what each start said.
    pub(crate) async fn start(redirect_uri: &str) -> OidcProvider {
        let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
        assert!(
            folder.join("node_modules/oidc-provider").exists(),
            "the test OpenID Provider is not installed: run `cargo xtask test`, which installs it \
             (or 'npm ci --prefix tests/oidc')"
        );
        let mut failures = Vec::new();
        for attempt in 1..=STARTS {
            match Self::start_once(&folder, redirect_uri).await {
                Ok(provider) => {
                    provider.wait_for_discovery().await;
                    return provider;
                }
                Err(why) => {
                    eprintln!("the test OpenID Provider, start {attempt} of {STARTS}: {why}");
                    failures.push(why);
                }
            }
        }
        panic!(
            "the OpenID Provider did not say where it listens in {STARTS} starts: {}",
            failures.join(" | ")
        );
    }

    /// One start: the provider once it has said where it listens, or what it said and what its
    /// process was doing when it had not within `ANNOUNCE` (it is stopped).
    async fn start_once(folder: &Path, redirect_uri: &str) -> Result<OidcProvider, String> {
        let secret = hex::encode(rand::thread_rng().r#gen::<[u8; 32]>());
        let secret_dir = temp_dir();
        std::fs::write(secret_dir.path().join("client-secret"), &secret).expect("secret written");

        let mut child = Command::new("node")
            .arg(folder.join("provider.mjs"))
            .args(["--port", "0", "--client-id", CLIENT_ID])
            .args(["--redirect-uri", redirect_uri, "--exit-with-stdin"])
            .env("OIDC_CLIENT_SECRET", &secret)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node runs (install Node.js: `cargo xtask test` does)");
        let stdin = child.stdin.take();
        let stderr = keep_lines(child.stderr.take().expect("its standard error"));
        let first_line = first_line(child.stdout.take().expect("its standard output"));
        let announced = tokio::time::timeout(ANNOUNCE, first_line).await;
        let doing = match announced {
            Ok(Ok(_)) => String::new(),
            _ => process_state(child.id()),
        };
        let issuer = match announced {
            Ok(Ok(line)) => serde_json::from_str::<serde_json::Value>(&line)
                .ok()
                .and_then(|said| said["issuer"].as_str().map(str::to_owned)),
            _ => None,
        };
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PATIENCE)
            .build()
            .expect("an HTTP client");
        let provider = OidcProvider {
            child,
            _stdin: stdin,
            issuer: issuer.unwrap_or_default(),
            secret,
            secret_dir,
            stderr,
            http,
        };
        if provider.issuer.is_empty() {
            return Err(format!(
                "nothing said within {} s; its process: {doing}; its standard error: {}",
                ANNOUNCE.as_secs(),
                provider.said()
            ));
        }
        Ok(provider)
    }

    /// Its issuer, `http://127.0.0.1:PORT` (no trailing slash).
    pub(crate) fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Its one client's id.
    pub(crate) fn client_id(&self) -> &str {
        CLIENT_ID
    }

    /// The client's secret.
    pub(crate) fn client_secret(&self) -> &str {
        &self.secret
    }

    /// A file holding the client's secret alone (no newline), removed with the provider.
    pub(crate) fn secret_file(&self) -> PathBuf {
        self.secret_dir.path().join("client-secret")
    }

    /// Signs `login` in (any password) at `authorization_url`, a whole authorization request
    /// to this provider, as a browser would: it follows the provider's own redirects, keeps its
    /// cookies, submits the login form and then the consent form. Returns the first redirect
    /// that leaves the provider (to the relying party's redirect URI, with `code`, `state` and
    /// `iss`, or with `error`) without requesting it. Panics if the provider answers anything
    /// else.
    pub(crate) async fn sign_in(&self, authorization_url: &str, login: &str) -> String {
        let issuer = Url::parse(&self.issuer).expect("the issuer is a URL");
        let mut jar = CookieJar::default();
        let mut url = Url::parse(authorization_url).expect("the authorization request is a URL");
        let mut form: Option<Vec<(String, String)>> = None;
        let deadline = Instant::now() + PATIENCE;
        for _ in 0..20 {
            assert!(
                url.origin() == issuer.origin(),
                "the sign-in walked to {url}, off the provider {issuer}"
            );
            let request = match form.take() {
                Some(fields) => self.http.post(url.clone()).form(&fields),
                None => self.http.get(url.clone()),
            };
            let mut request = request.header(reqwest::header::ACCEPT, "text/html");
            if let Some(cookies) = jar.header_for(&url) {
                request = request.header(COOKIE, cookies);
            }
            let response = request.send().await.expect("the provider answers");
            jar.keep(&url, &response);
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .expect("a redirect has a Location");
                let next = url.join(location).expect("the Location is a URL");
                if next.origin() != issuer.origin() {
                    return next.to_string();
                }
                url = next;
                continue;
            }
            let page = response.text().await.unwrap_or_default();
            assert_eq!(status, StatusCode::OK, "{url} answered {status}: {page}");
            let (action, fields) = form_on(&page, login)
                .unwrap_or_else(|| panic!("{url} answered a page without a form: {page}"));
            url = url.join(&action).expect("the form's action is a URL");
            form = Some(fields);
            assert!(Instant::now() < deadline, "the sign-in took too long");
        }
        panic!("the sign-in of {login} did not leave the provider in 20 steps");
    }

    /// What the provider wrote to its standard error so far, for failure messages.
    pub(crate) fn said(&self) -> String {
        self.stderr.lock().expect("the log's lock").join("\n")
    }

    async fn wait_for_discovery(&self) {
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(response) = self.http.get(&url).send().await
                && response.status() == StatusCode::OK
                && let Ok(document) = response.json::<serde_json::Value>().await
                && document["issuer"] == self.issuer.as_str()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the OpenID Provider's discovery document did not answer: {}",
                self.said()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first line `stdout` gives, read on a thread of its own, which then reads it to its end.
fn first_line(stdout: std::process::ChildStdout) -> tokio::sync::oneshot::Receiver<String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
        if let Some(line) = lines.next() {
            let _ = tx.send(line);
        }
        lines.for_each(drop);
    });
    rx
}

/// Every line `stderr` gives, kept as it comes, so the provider never blocks on a full pipe.
fn keep_lines(stderr: std::process::ChildStderr) -> Arc<Mutex<Vec<String>>> {
    let kept = Arc::new(Mutex::new(Vec::new()));
    let lines = Arc::clone(&kept);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            lines.lock().expect("the log's lock").push(line);
        }
    });
    kept
}

/// The cookies one site set, by name and path, as a browser keeps them (domain and the
/// attributes that only restrict sending are of no matter on one loopback origin).
#[derive(Debug, Default)]
struct CookieJar {
    cookies: HashMap<(String, String), String>,
}

impl CookieJar {
    /// Keeps what `response` (to a request for `url`) sets, and forgets what it expires.
    fn keep(&mut self, url: &Url, response: &reqwest::Response) {
        for header in response.headers().get_all(SET_COOKIE) {
            let Ok(header) = header.to_str() else {
                continue;
            };
            let mut parts = header.split(';').map(str::trim);
            let Some((name, value)) = parts.next().and_then(|pair| pair.split_once('=')) else {
                continue;
            };
            let mut path = default_path(url);
            let mut expired = false;
            for attribute in parts {
                let (key, attribute_value) = attribute.split_once('=').unwrap_or((attribute, ""));
                match key.to_ascii_lowercase().as_str() {
                    "path" if attribute_value.starts_with('/') => path = attribute_value.into(),
                    "max-age" => expired |= attribute_value.parse::<i64>().is_ok_and(|s| s <= 0),
                    "expires" => {
                        expired |= chrono::DateTime::parse_from_rfc2822(attribute_value)
                            .is_ok_and(|at| at < chrono::Utc::now())
                    }
                    _ => {}
                }
            }
            let key = (name.to_owned(), path);
            if expired {
                self.cookies.remove(&key);
            } else {
                self.cookies.insert(key, value.to_owned());
            }
        }
    }

    /// The `Cookie` header a browser sends with a request for `url`, if any cookie matches.
    fn header_for(&self, url: &Url) -> Option<String> {
        let request_path = url.path();
        let mut matching: Vec<(&str, &str, &str)> = self
            .cookies
            .iter()
            .filter(|((_, path), _)| path_matches(request_path, path))
            .map(|((name, path), value)| (path.as_str(), name.as_str(), value.as_str()))
            .collect();
        // Longer paths first, as RFC 6265 asks.
        matching.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.cmp(b.1)));
        let pairs: Vec<String> = matching
            .into_iter()
            .map(|(_, name, value)| format!("{name}={value}"))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }
}

/// RFC 6265's default path: the request path up to its last slash.
fn default_path(url: &Url) -> String {
    match url.path().rfind('/') {
        Some(0) | None => "/".to_owned(),
        Some(end) => url.path()[..end].to_owned(),
    }
}

/// RFC 6265's path match.
fn path_matches(request_path: &str, cookie_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/')
                || request_path.as_bytes().get(cookie_path.len()) == Some(&b'/')))
}

/// The first form of `page`: its action and the fields a person signing in as `login` sends
/// (its hidden fields as they are, the login name, any password).
fn form_on(page: &str, login: &str) -> Option<(String, Vec<(String, String)>)> {
    let start = page.find("<form")?;
    let end = start + page[start..].find("</form>")?;
    let form = &page[start..end];
    let action = attribute(&form[..form.find('>')?], "action")?;
    let mut fields = Vec::new();
    for input in form.split("<input").skip(1) {
        let tag = &input[..input.find('>')?];
        let Some(name) = attribute(tag, "name") else {
            continue;
        };
        let value = match attribute(tag, "type").as_deref() {
            Some("hidden") => attribute(tag, "value").unwrap_or_default(),
            Some("password") => "any password".to_owned(),
            _ if name == "login" => login.to_owned(),
            _ => attribute(tag, "value").unwrap_or_default(),
        };
        fields.push((name, value));
    }
    Some((action, fields))
}

/// A double-quoted attribute's value in a tag, its character references undone.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let value = &tag[start..start + tag[start..].find('"')?];
    Some(
        value
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// What process `pid` is doing, from `/proc`: its state and, for each thread, the kernel
/// function it waits in.
fn process_state(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let state = status
        .lines()
        .find(|l| l.starts_with("State:"))
        .unwrap_or("State: unknown")
        .to_owned();
    let mut waits: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|tasks| {
            tasks
                .filter_map(Result::ok)
                .map(|t| std::fs::read_to_string(t.path().join("wchan")).unwrap_or_default())
                .collect()
        })
        .unwrap_or_default();
    waits.sort();
    waits.dedup();
    format!("{state}; threads waiting in {}", waits.join(", "))
}
