//! Signing in to the console through a real OpenID Provider (`oidc_provider.rs`), and what
//! keeps a session and its forms from being forged: a new session id at every sign-in; a
//! tampered `state`, `nonce` or `iss` refused with no session; a person not on the staff list
//! refused; a change from another origin, or without the form's token, refused unread with
//! nothing appended; sessions ending at sign-out, when idle and when old (the registry's clock
//! moved); a reviewer kept from an admin's changes.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use wexqs::domain::staff::StaffRole;
use wexqs::http::console::Console;
use wexqs::service::Actor;
use wexqs::service::sessions::SessionPolicy;
use wexqs::service::sign_in::{OidcSettings, SignIn};
use wexqs::service::staff::NewStaff;

use crate::helpers::{Backend, TestApp, spawn_app_on};
use crate::oidc_provider::OidcProvider;

/// The session cookie's name.
const COOKIE_NAME: &str = "__Host-wexqs-console";

/// A registry with its console signing people in at a provider started for the test; Alice is
/// an admin and Bob a reviewer on its staff list (Mallory is not).
pub(crate) struct ConsoleApp {
    pub(crate) app: TestApp,
    pub(crate) provider: OidcProvider,
    pub(crate) http: reqwest::Client,
}

impl ConsoleApp {
    pub(crate) async fn start() -> ConsoleApp {
        ConsoleApp::start_with(1000).await
    }

    /// The console allowing each address `sign_ins_per_minute` sign-ins begun or finished.
    pub(crate) async fn start_with(sign_ins_per_minute: u32) -> ConsoleApp {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let base = format!("http://{}", listener.local_addr().expect("an address"));
        let provider = OidcProvider::start(&format!("{base}/console/auth/callback")).await;
        let settings = OidcSettings {
            issuer: provider.issuer().to_owned(),
            client_id: provider.client_id().to_owned(),
            client_secret: provider.client_secret().to_owned(),
        };
        let sign_in = SignIn::new(settings, &base).expect("the console's settings");
        let console = Console::new(sign_in, SessionPolicy::default(), sign_ins_per_minute);
        let app = spawn_app_on(Backend::Sqlite, listener, |state, _| {
            state.with_console(console)
        })
        .await
        .expect("SQLite is always there");
        for (subject, name, role) in [
            ("alice", "Alice Admin", StaffRole::Admin),
            ("bob", "Bob Reviewer", StaffRole::Reviewer),
        ] {
            app.registry
                .add_staff(
                    &Actor::cli(),
                    NewStaff {
                        issuer: provider.issuer().parse().unwrap(),
                        subject: subject.parse().unwrap(),
                        name: name.parse().unwrap(),
                        email: format!("{subject}@example.nhs.uk").parse().unwrap(),
                        role,
                    },
                )
                .await
                .expect("added to the staff list");
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        ConsoleApp {
            app,
            provider,
            http,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.app.api.base())
    }

    /// Begins a sign-in: the provider's authorization URL the console sends the browser to.
    pub(crate) async fn begin(&self) -> String {
        let start = self
            .http
            .get(self.url("/console/auth/start?return_to=/console/awards"))
            .send()
            .await
            .unwrap();
        assert_eq!(start.status(), StatusCode::SEE_OTHER);
        let to = location(&start);
        assert!(to.starts_with(self.provider.issuer()), "{to}");
        to
    }

    /// The console's answer to the provider's redirect (`callback`, as the provider made it),
    /// sent with `cookie` if given.
    pub(crate) async fn callback(&self, callback: &str, cookie: Option<&str>) -> reqwest::Response {
        assert!(
            callback.starts_with(&self.url("/console/auth/callback")),
            "{callback}"
        );
        let mut request = self.http.get(callback);
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, format!("{COOKIE_NAME}={cookie}"));
        }
        request.send().await.unwrap()
    }

    /// Signs `login` in through the provider: the session cookie's value.
    pub(crate) async fn sign_in(&self, login: &str) -> String {
        let to = self.begin().await;
        let back = self.provider.sign_in(&to, login).await;
        let answer = self.callback(&back, None).await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{login} signed in");
        assert_eq!(
            location(&answer),
            "/console/awards",
            "back where the sign-in began"
        );
        session_cookie(&answer).expect("a session cookie")
    }

    /// A console page as the holder of `cookie` asks for it.
    pub(crate) async fn get(&self, path: &str, cookie: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .header(COOKIE, format!("{COOKIE_NAME}={cookie}"))
            .send()
            .await
            .unwrap()
    }

    /// The form token of the session `cookie` holds, read off a page as a browser has it.
    pub(crate) async fn form_token(&self, cookie: &str) -> String {
        let page = self.get("/console", cookie).await.text().await.unwrap();
        let at = page
            .find("name=\"form_token\" value=\"")
            .expect("a form on the page")
            + "name=\"form_token\" value=\"".len();
        page[at..].split('"').next().unwrap().to_owned()
    }

    /// A form sent to `path` by the holder of `cookie`, from `origin`, with `fields`.
    pub(crate) async fn post(
        &self,
        path: &str,
        cookie: &str,
        origin: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .header(COOKIE, format!("{COOKIE_NAME}={cookie}"))
            .header(ORIGIN, origin)
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    fn log_size(&self) -> u64 {
        self.app.registry.size()
    }
}

pub(crate) fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The session id a response sets, and checks the cookie's attributes.
fn session_cookie(response: &reqwest::Response) -> Option<String> {
    let set = response
        .headers()
        .get(SET_COOKIE)?
        .to_str()
        .ok()?
        .to_owned();
    let (pair, attributes) = set.split_once(';')?;
    let value = pair.strip_prefix(&format!("{COOKIE_NAME}="))?;
    for wanted in ["Path=/", "Secure", "HttpOnly", "SameSite=Lax"] {
        assert!(attributes.contains(wanted), "{set} has {wanted}");
    }
    assert!(
        !attributes.contains("Domain"),
        "a __Host- cookie names no domain"
    );
    Some(value.to_owned())
}

/// A URL with one query parameter's value replaced.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut parsed = reqwest::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name {
                value.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_on_the_list_signs_in_with_a_new_session_id_each_time() {
    let console = ConsoleApp::start().await;
    let page = console
        .http
        .get(console.url("/console"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.status(),
        StatusCode::SEE_OTHER,
        "no session: to the sign-in page"
    );
    assert!(
        location(&page).contains("/console/sign-in?return_to="),
        "{}",
        location(&page)
    );
    let first = console.sign_in("alice").await;
    assert_eq!(first.len(), 43, "256 bits, base64url");
    let dashboard = console
        .http
        .get(console.url("/console"))
        .header(COOKIE, format!("{COOKIE_NAME}={first}"))
        .header(ORIGIN, "https://careers.example")
        .send()
        .await
        .unwrap();
    assert_eq!(dashboard.status(), StatusCode::OK);
    let header = |name: &str| {
        dashboard
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let csp = header("content-security-policy");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(header("cache-control"), "no-store");
    assert_eq!(
        header("access-control-allow-origin"),
        "",
        "no other site reads the console"
    );
    let body = dashboard.text().await.unwrap();
    assert!(body.contains("Signed in as Alice Admin (admin)"), "{body}");
    // Signing in again with the first session's cookie: a new id, and the old one ends.
    let to = console.begin().await;
    let back = console.provider.sign_in(&to, "alice").await;
    let answer = console.callback(&back, Some(&first)).await;
    let second = session_cookie(&answer).expect("a new session");
    assert_ne!(first, second);
    assert_eq!(
        console.get("/console", &second).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        console.get("/console", &first).await.status(),
        StatusCode::SEE_OTHER,
        "the session before the sign-in has ended"
    );
    // Nothing a sign-in does is in the log.
    let size = console.log_size();
    console.sign_in("bob").await;
    assert_eq!(console.log_size(), size);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_state_nonce_or_iss_gives_400_and_no_session() {
    let console = ConsoleApp::start().await;
    let refused = |response: reqwest::Response| async move {
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(response.headers().get(SET_COOKIE).is_none(), "no session");
        response.text().await.unwrap()
    };
    // The state changed on the way back.
    let back = console
        .provider
        .sign_in(&console.begin().await, "alice")
        .await;
    let body = refused(
        console
            .callback(&with_param(&back, "state", "forged"), None)
            .await,
    )
    .await;
    assert!(body.contains("unknown or was already used"), "{body}");
    // The same answer twice: the sign-in was taken the first time.
    let back = console
        .provider
        .sign_in(&console.begin().await, "alice")
        .await;
    assert_eq!(
        console.callback(&back, None).await.status(),
        StatusCode::SEE_OTHER
    );
    refused(console.callback(&back, None).await).await;
    // Another issuer named in the answer.
    let back = console
        .provider
        .sign_in(&console.begin().await, "alice")
        .await;
    let body = refused(
        console
            .callback(&with_param(&back, "iss", "https://evil.example"), None)
            .await,
    )
    .await;
    assert!(body.contains("another identity provider"), "{body}");
    // The nonce changed on the way to the provider: its ID token carries the changed one.
    let to = with_param(&console.begin().await, "nonce", "forged-nonce");
    let back = console.provider.sign_in(&to, "alice").await;
    let body = refused(console.callback(&back, None).await).await;
    assert!(body.contains("ID token does not hold"), "{body}");
    // The code swapped for another sign-in's: its PKCE verifier does not match.
    let mine = console
        .provider
        .sign_in(&console.begin().await, "alice")
        .await;
    let theirs = console
        .provider
        .sign_in(&console.begin().await, "bob")
        .await;
    let code = reqwest::Url::parse(&theirs)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    refused(
        console
            .callback(&with_param(&mine, "code", &code), None)
            .await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_not_on_the_staff_list_gets_403() {
    let console = ConsoleApp::start().await;
    let back = console
        .provider
        .sign_in(&console.begin().await, "mallory")
        .await;
    let answer = console.callback(&back, None).await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    assert!(answer.headers().get(SET_COOKIE).is_none());
    let body = answer.text().await.unwrap();
    assert!(body.contains("staff list"), "{body}");
    assert!(
        body.contains("mallory"),
        "they are told their subject to give an admin: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_from_another_origin_or_without_the_form_token_is_refused_and_appends_nothing() {
    let console = ConsoleApp::start().await;
    let alice = console.sign_in("alice").await;
    let token = console.form_token(&alice).await;
    let origin = console.app.api.base().to_owned();
    let size = console.log_size();
    let posts: Vec<&str> = wexqs::http::console_routes()
        .filter(|(method, _)| *method == "post")
        .map(|(_, path)| path)
        .collect();
    assert!(posts.len() >= 3, "{posts:?}");
    for path in posts {
        let path = path
            .replace("{certificate_number}", "FDXE-J5BM-RRNV-PEDM")
            .replace("{change}", "suspend")
            .replace(['{', '}'], "");
        let fields = [("form_token", token.as_str()), ("reason", "forged")];
        for other in ["https://evil.example", "null"] {
            let answer = console.post(&path, &alice, other, &fields).await;
            assert_eq!(
                answer.status(),
                StatusCode::FORBIDDEN,
                "POST {path} from {other}"
            );
        }
        let cross_site = console
            .http
            .post(console.url(&path))
            .header(COOKIE, format!("{COOKIE_NAME}={alice}"))
            .header(ORIGIN, &origin)
            .header("Sec-Fetch-Site", "cross-site")
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(
            cross_site.status(),
            StatusCode::FORBIDDEN,
            "POST {path} cross-site"
        );
        // Without the form's token: refused (403; 400 for an upload's route, which reads
        // nothing but a file's form).
        let tokenless = console
            .post(&path, &alice, &origin, &[("reason", "forged")])
            .await;
        assert!(
            [StatusCode::FORBIDDEN, StatusCode::BAD_REQUEST].contains(&tokenless.status()),
            "POST {path} with no form token: {}",
            tokenless.status()
        );
    }
    assert_eq!(console.log_size(), size, "nothing was appended");
    // The session still works: nothing above ended it.
    assert_eq!(
        console.get("/console", &alice).await.status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_ends_the_session_and_sessions_end_when_idle_or_old() {
    let console = ConsoleApp::start().await;
    let alice = console.sign_in("alice").await;
    let token = console.form_token(&alice).await;
    let origin = console.app.api.base().to_owned();
    let out = console
        .post(
            "/console/sign-out",
            &alice,
            &origin,
            &[("form_token", &token)],
        )
        .await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let cleared = out.headers().get(SET_COOKIE).unwrap().to_str().unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(
        console.get("/console", &alice).await.status(),
        StatusCode::SEE_OTHER
    );
    // Idle: 29 minutes is within the policy, 31 more is not.
    let bob = console.sign_in("bob").await;
    let clock = &console.app.clock;
    let start = console.app.registry.now();
    clock.set(start + chrono::Duration::minutes(29));
    assert_eq!(console.get("/console", &bob).await.status(), StatusCode::OK);
    clock.set(start + chrono::Duration::minutes(29 + 31));
    assert_eq!(
        console.get("/console", &bob).await.status(),
        StatusCode::SEE_OTHER
    );
    // Old: a session used every 20 minutes still ends 10 hours after sign-in.
    let carol = console.sign_in("alice").await;
    let signed_in = console.app.registry.now();
    let mut minutes = 0;
    while minutes < 9 * 60 + 40 {
        minutes += 20;
        clock.set(signed_in + chrono::Duration::minutes(minutes));
        assert_eq!(
            console.get("/console", &carol).await.status(),
            StatusCode::OK,
            "{minutes} min"
        );
    }
    clock.set(signed_in + chrono::Duration::minutes(10 * 60 + 1));
    assert_eq!(
        console.get("/console", &carol).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_cannot_issue_suspend_or_revoke() {
    let console = ConsoleApp::start().await;
    let org = console
        .app
        .organisation("Reviewed Trust", Some("RV1"))
        .await;
    let number = console.app.award(&org, "gold", "2025-12-01").await;
    let bob = console.sign_in("bob").await;
    let token = console.form_token(&bob).await;
    let origin = console.app.api.base().to_owned();
    let size = console.log_size();
    let version = console.app.registry.size().to_string();
    for (path, fields) in [
        (
            "/console/awards".to_owned(),
            vec![
                ("organisation_id", org.as_str()),
                ("level", "gold"),
                ("awarded_on", "2025-12-02"),
            ],
        ),
        (
            format!("/console/awards/{number}/suspend"),
            vec![("reason", "Reviewer tries"), ("version", version.as_str())],
        ),
        (
            format!("/console/awards/{number}/revoke"),
            vec![
                ("reason", "Reviewer tries"),
                ("confirm_number", number.as_str()),
            ],
        ),
    ] {
        let mut all = vec![("form_token", token.as_str())];
        all.extend(fields);
        let answer = console.post(&path, &bob, &origin, &all).await;
        assert_eq!(answer.status(), StatusCode::FORBIDDEN, "POST {path}");
        let body = answer.text().await.unwrap();
        assert!(body.contains("needs an admin"), "{body}");
    }
    assert_eq!(console.log_size(), size, "nothing was appended");
    // The reviewer reads the award's page, without its change forms.
    let page = console
        .get(&format!("/console/awards/{number}"), &bob)
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    let body = page.text().await.unwrap();
    assert!(body.contains(&number));
    assert!(
        !body.contains("Suspend the award"),
        "no change form for a reviewer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ins_are_limited_for_each_address() {
    let console = ConsoleApp::start_with(3).await;
    // Three sign-in steps a minute from one address: a start and its callback are two.
    let back = console
        .provider
        .sign_in(&console.begin().await, "alice")
        .await;
    assert_eq!(
        console.callback(&back, None).await.status(),
        StatusCode::SEE_OTHER
    );
    console.begin().await;
    let limited = console
        .http
        .get(console.url("/console/auth/start"))
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = limited
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&wait), "{wait}");
    assert!(limited.text().await.unwrap().contains("Too many sign-ins"));
}
