//! The console's organisations, applications, webhooks and API tokens, through real HTTP with
//! sessions opened as a sign-in opens them: every page renders for a reviewer and an admin; each
//! change appends its event in the signed-in person's name (`staff:ID`) and the public pages show
//! what is public; reviewers are refused admin changes (nothing appended) but decide
//! applications; bad input is shown again on its form, in words, with nothing appended; an
//! evidence manifest uploaded as a file, its failing rules shown one by one; a token made in the
//! console shown once and listed by name.

use std::sync::Arc;

use wexqs::domain::staff::{StaffId, StaffRole};
use wexqs::domain::{Command, OrganisationCommand};
use wexqs::http::{AppState, serve};
use wexqs::service::staff::NewStaff;
use wexqs::service::{Actor, FixedClock, Registry};
use wexqs::store::{EventStore, StoredEvent};

use crate::helpers::{Backend, Db, at, fresh_db, on_both_databases, start_registry};

mod applications;
mod integrations;

on_both_databases!(backend: organisations_registered_amended_and_given_drop_ins_in_the_signed_in_persons_name, bad_input_is_shown_again_in_words_and_reviewers_are_refused_admin_changes);

/// A registry serving the console, with one admin and one reviewer signed in.
struct ConsoleApp {
    base: String,
    http: reqwest::Client,
    registry: Arc<Registry>,
    clock: Arc<FixedClock>,
    admin: (StaffId, String),
    reviewer: (StaffId, String),
    _db: Db,
}

/// What a page answered.
struct Page {
    status: u16,
    location: String,
    body: String,
}

impl Page {
    /// The form token a page's forms carry.
    fn form_token(&self) -> String {
        let marker = "name=\"form_token\" value=\"";
        let start = self.body.find(marker).expect("the page has a form") + marker.len();
        let end = self.body[start..].find('"').expect("the value ends") + start;
        self.body[start..end].to_owned()
    }

    /// The value of the hidden input `name` (the first on the page after `after`).
    fn hidden(&self, after: &str, name: &str) -> String {
        let from = self.body.find(after).expect("the page holds the form");
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body[from..]
            .find(&marker)
            .expect("the form has the input")
            + from;
        let start = start + marker.len();
        let end = self.body[start..].find('"').expect("the value ends") + start;
        self.body[start..end].to_owned()
    }
}

async fn staff(registry: &Registry, subject: &str, role: StaffRole) -> (StaffId, String) {
    let id = registry
        .add_staff(
            &Actor::cli(),
            NewStaff {
                issuer: "https://login.example.nhs.uk".parse().unwrap(),
                subject: subject.parse().unwrap(),
                name: format!("Person {subject}").parse().unwrap(),
                email: format!("{subject}@example.nhs.uk").parse().unwrap(),
                role,
            },
        )
        .await
        .unwrap();
    let member = registry.staff_member(&id).unwrap();
    let cookie = wexqs::testing::console_session(registry, &member).await;
    (id, cookie)
}

async fn console_app(backend: Backend) -> Option<ConsoleApp> {
    let db = fresh_db(backend).await?;
    let clock = Arc::new(FixedClock::new(at(2025, 9, 10)));
    let registry = start_registry(&db, clock.clone(), 4242).await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let key = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    wexqs::startup::sign_with_key(&registry, key, &base.parse().unwrap())
        .await
        .unwrap();
    let state = AppState::new(registry.clone(), &base).with_console(wexqs::testing::console(&base));
    let state = wexqs::testing::with_test_webhooks(
        state,
        wexqs::credentials::sealing::SealingKey::from_bytes(&[7; 32]),
    );
    tokio::spawn(serve(listener, state, 2, std::future::pending()));
    let admin = staff(&registry, "alice", StaffRole::Admin).await;
    let reviewer = staff(&registry, "bob", StaffRole::Reviewer).await;
    Some(ConsoleApp {
        base,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        registry,
        clock,
        admin,
        reviewer,
        _db: db,
    })
}

impl ConsoleApp {
    async fn answer(&self, request: reqwest::RequestBuilder) -> Page {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        Page {
            status,
            location,
            body: response.text().await.unwrap(),
        }
    }

    async fn get(&self, cookie: &str, path: &str) -> Page {
        let request = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", format!("__Host-wexqs-console={cookie}"));
        self.answer(request).await
    }

    async fn post(&self, cookie: &str, path: &str, fields: &[(&str, &str)]) -> Page {
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", format!("__Host-wexqs-console={cookie}"))
            .header("origin", &self.base)
            .form(fields);
        self.answer(request).await
    }

    /// A multipart form: `fields`, and `file` as the part `manifest`.
    async fn upload(&self, cookie: &str, path: &str, fields: &[(&str, &str)], file: &[u8]) -> Page {
        let boundary = "console-test-boundary-7d2f";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"manifest\"; filename=\"manifest.json\"\r\nContent-Type: application/json\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(file);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", format!("__Host-wexqs-console={cookie}"))
            .header("origin", &self.base)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body);
        self.answer(request).await
    }

    async fn events(&self) -> Vec<StoredEvent> {
        wexqs::testing::store(&self.registry)
            .read(0, 10_000)
            .await
            .unwrap()
    }

    async fn last_position(&self) -> u64 {
        self.events().await.last().map_or(0, |e| e.position)
    }

    /// The events appended after `position`, as (type, actor).
    async fn appended_after(&self, position: u64) -> Vec<(String, String)> {
        self.events()
            .await
            .into_iter()
            .filter(|e| e.position > position)
            .map(|e| (e.event_type, e.actor))
            .collect()
    }

    fn admin_actor(&self) -> String {
        format!("staff:{}", self.admin.0.as_str())
    }

    fn reviewer_actor(&self) -> String {
        format!("staff:{}", self.reviewer.0.as_str())
    }

    /// Registers an organisation through the console as the admin; its id.
    async fn register(&self, name: &str, ods: &str) -> String {
        let list = self.get(&self.admin.1, "/console/organisations").await;
        let done = self
            .post(
                &self.admin.1,
                "/console/organisations",
                &[
                    ("form_token", &list.form_token()),
                    ("name", name),
                    ("ods_code", ods),
                    ("region", "london"),
                    ("kind", "nhs_trust"),
                ],
            )
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
        done.location
            .rsplit('/')
            .next()
            .unwrap()
            .split('?')
            .next()
            .unwrap()
            .to_owned()
    }
}

async fn organisations_registered_amended_and_given_drop_ins_in_the_signed_in_persons_name(
    backend: Backend,
) {
    let Some(app) = console_app(backend).await else {
        return;
    };
    let before = app.last_position().await;
    let id = app.register("Console Test Trust", "RXC").await;
    assert_eq!(
        app.appended_after(before).await,
        vec![("organisation_registered".to_owned(), app.admin_actor())]
    );

    // Both roles see the list and the page; only an admin sees the forms that change.
    for (cookie, admin) in [(&app.admin.1, true), (&app.reviewer.1, false)] {
        let list = app
            .get(cookie, "/console/organisations?q=rxc&award=none")
            .await;
        assert_eq!(list.status, 200);
        assert!(list.body.contains("Console Test Trust"), "{}", list.body);
        assert_eq!(list.body.contains("Register an organisation"), admin);
        let page = app
            .get(cookie, &format!("/console/organisations/{id}"))
            .await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("RXC") && page.body.contains("London"));
        assert_eq!(page.body.contains("Amend this organisation"), admin);
        assert_eq!(
            page.body
                .contains(&format!("/console/awards/new?organisation={id}")),
            admin
        );
    }
    let current = app
        .get(&app.admin.1, "/console/organisations?q=rxc&award=current")
        .await;
    assert!(!current.body.contains("Console Test Trust"));

    // A drop-in session, recorded by the admin.
    let page = app
        .get(&app.admin.1, &format!("/console/organisations/{id}"))
        .await;
    let before = app.last_position().await;
    let done = app
        .post(
            &app.admin.1,
            &format!("/console/organisations/{id}/drop-ins"),
            &[
                ("form_token", &page.form_token()),
                ("attended_on", "2025-09-01"),
            ],
        )
        .await;
    assert_eq!(done.status, 303);
    assert_eq!(
        app.appended_after(before).await,
        vec![("drop_in_attended".to_owned(), app.admin_actor())]
    );
    let page = app
        .get(&app.admin.1, &format!("/console/organisations/{id}"))
        .await;
    assert!(page.body.contains("2025-09-01"));

    // An amendment from a form read before someone else's is shown again with what changed.
    let version = page.hidden("/amend\"", "version");
    app.registry
        .execute(
            &Actor::cli(),
            Command::Organisation(OrganisationCommand::Amend {
                organisation_id: id.parse().unwrap(),
                name: Some("Console Test Trust Renamed".parse().unwrap()),
                ods_code: None,
                region: None,
                reason: "A merger".parse().unwrap(),
            }),
            None,
        )
        .await
        .unwrap();
    let before = app.last_position().await;
    let fields = |version: &str| {
        vec![
            ("form_token", page.form_token()),
            ("version", version.to_owned()),
            ("name", "Console Test Trust".to_owned()),
            ("ods_code", "RXC".to_owned()),
            ("region", "north_west".to_owned()),
            ("reason", "The trust moved its headquarters".to_owned()),
        ]
    };
    let owned = fields(&version);
    let borrowed: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let stale = app
        .post(
            &app.admin.1,
            &format!("/console/organisations/{id}/amend"),
            &borrowed,
        )
        .await;
    assert_eq!(stale.status, 409, "{}", stale.body);
    assert!(stale.body.contains("Changed since you opened the form"));
    assert!(stale.body.contains("Console Test Trust Renamed"));
    assert!(stale.body.contains("The trust moved its headquarters"));
    assert!(app.appended_after(before).await.is_empty());
    let fresh = stale.hidden("/amend\"", "version");
    assert_ne!(fresh, version);
    let owned = fields(&fresh);
    let borrowed: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let done = app
        .post(
            &app.admin.1,
            &format!("/console/organisations/{id}/amend"),
            &borrowed,
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        app.appended_after(before).await,
        vec![("organisation_amended".to_owned(), app.admin_actor())]
    );
    let page = app
        .get(&app.admin.1, &format!("/console/organisations/{id}"))
        .await;
    assert!(page.body.contains("North West"));
    assert!(page.body.contains("<h1>Console Test Trust</h1>"));
    // The amendment is public: the register's log shows it, with its reason.
    let log = app
        .http
        .get(format!("{}/v1/log/entries", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(log.contains("organisation_amended"), "{log}");
    assert!(log.contains("The trust moved its headquarters"));
}

async fn bad_input_is_shown_again_in_words_and_reviewers_are_refused_admin_changes(
    backend: Backend,
) {
    let Some(app) = console_app(backend).await else {
        return;
    };
    let list = app.get(&app.admin.1, "/console/organisations").await;
    let before = app.last_position().await;
    let refused = app
        .post(
            &app.admin.1,
            "/console/organisations",
            &[
                ("form_token", &list.form_token()),
                ("name", "Kept Name Trust"),
                ("ods_code", "R!"),
                ("region", "london"),
                ("kind", "hospice"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused
            .body
            .contains("an ODS code is 3 to 10 letters and digits")
    );
    assert!(refused.body.contains("value=\"Kept Name Trust\""));
    assert!(refused.body.contains("value=\"hospice\" selected"));
    assert!(app.appended_after(before).await.is_empty());

    let id = app.register("Reviewer Refused Trust", "").await;
    let page = app
        .get(&app.reviewer.1, &format!("/console/organisations/{id}"))
        .await;
    let token = page.form_token();
    let before = app.last_position().await;
    for (path, fields) in [
        (
            "/console/organisations".to_owned(),
            vec![
                ("name", "Another Trust"),
                ("region", "london"),
                ("kind", "other"),
            ],
        ),
        (
            format!("/console/organisations/{id}/drop-ins"),
            vec![("attended_on", "2025-09-01")],
        ),
        (
            format!("/console/organisations/{id}/amend"),
            vec![("name", "Renamed"), ("region", "london"), ("reason", "Why")],
        ),
        (
            "/console/integrations/tokens".to_owned(),
            vec![("name", "A reviewer's own"), ("role", "admin")],
        ),
    ] {
        let mut fields = fields;
        fields.push(("form_token", &token));
        let answer = app.post(&app.reviewer.1, &path, &fields).await;
        assert_eq!(answer.status, 403, "{path}: {}", answer.body);
        assert!(answer.body.contains("Your role does not allow this"));
    }
    for path in ["/console/integrations", "/console/applications/new"] {
        assert_eq!(app.get(&app.reviewer.1, path).await.status, 403, "{path}");
    }
    assert!(app.appended_after(before).await.is_empty());

    // A webhook to what is not a URL is refused in words, the form kept, nothing appended.
    let page = app.get(&app.admin.1, "/console/integrations").await;
    let answer = app
        .post(
            &app.admin.1,
            "/console/integrations/webhooks",
            &[
                ("form_token", &page.form_token()),
                ("url", "hook.example"),
                ("event_types", "award.issued"),
                ("event_types", "award.revoked"),
            ],
        )
        .await;
    assert_eq!(answer.status, 422, "{}", answer.body);
    assert!(
        answer
            .body
            .contains("The webhook subscription was not made")
    );
    assert!(answer.body.contains("value=\"hook.example\""));
    assert!(answer.body.contains("value=\"award.revoked\" checked"));
    assert!(!answer.body.contains("value=\"award.expired\" checked"));
    assert!(app.appended_after(before).await.is_empty());
}
