//! A browser signed in to the console through the test door, and the app it talks to: a
//! served registry with the console on and an admin and a reviewer on its staff list.

use std::sync::Arc;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, ORIGIN};
use wexqs::domain::staff::{StaffId, StaffMember};
use wexqs::service::staff::NewStaff;
use wexqs::service::{Actor, Registry};

use crate::helpers::{Backend, TestApp, spawn_app_with};

/// A browser signed in to the console as one member of staff (redirects not followed).
pub(super) struct Browser {
    base: String,
    pub(super) cookie: String,
    http: reqwest::Client,
}

/// What a page answered.
pub(super) struct Page {
    pub(super) status: StatusCode,
    pub(super) location: Option<String>,
    pub(super) body: String,
}

impl Browser {
    pub(super) async fn signed_in(app: &TestApp, member: &StaffMember) -> Browser {
        Browser {
            base: app.api.base().to_owned(),
            cookie: wexqs::testing::console_session(&app.registry, member).await,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    async fn read(response: reqwest::Response) -> Page {
        Page {
            status: response.status(),
            location: response
                .headers()
                .get(LOCATION)
                .map(|l| l.to_str().unwrap().to_owned()),
            body: response.text().await.unwrap(),
        }
    }

    pub(super) async fn get(&self, path: &str) -> Page {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, format!("__Host-wexqs-console={}", self.cookie))
            .send()
            .await
            .unwrap();
        Browser::read(response).await
    }

    /// The form token of the session, as every page's forms carry it.
    pub(super) async fn form_token(&self) -> String {
        let page = self.get("/console/staff").await;
        let marker = "name=\"form_token\" value=\"";
        let start = page.body.find(marker).expect("a form token on the page") + marker.len();
        let end = page.body[start..].find('"').unwrap() + start;
        page.body[start..end].to_owned()
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, format!("__Host-wexqs-console={}", self.cookie))
            .header(ORIGIN, &self.base)
    }

    pub(super) async fn submit(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.form_token().await;
        let mut form: Vec<(&str, &str)> = vec![("form_token", &token)];
        form.extend_from_slice(fields);
        let body = serde_urlencoded::to_string(&form).unwrap();
        let response = self
            .post(path)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        Browser::read(response).await
    }

    pub(super) async fn upload(&self, file_name: &str, csv: &str) -> Page {
        let token = self.form_token().await;
        let boundary = "----wexqs-test-boundary";
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"form_token\"\r\n\r\n{token}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n"
        );
        let response = self
            .post("/console/import/preview")
            .header(
                CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        Browser::read(response).await
    }
}

/// A served registry with the console on, an admin and a reviewer on its staff list (none when
/// the database is skipped, as `fresh_db` says).
pub(super) async fn console_app(backend: Backend) -> Option<(TestApp, StaffMember, StaffMember)> {
    let app = spawn_app_with(backend, |state, base| {
        state.with_console(wexqs::testing::console(base))
    })
    .await?;
    let admin = add(&app.registry, "Ada Admin", "ada", "admin").await;
    let reviewer = add(&app.registry, "Rhys Reviewer", "rhys", "reviewer").await;
    Some((app, admin, reviewer))
}

async fn add(registry: &Arc<Registry>, name: &str, subject: &str, role: &str) -> StaffMember {
    let id: StaffId = registry
        .add_staff(
            &Actor::cli(),
            NewStaff {
                issuer: "https://id.example.test".parse().unwrap(),
                subject: subject.parse().unwrap(),
                name: name.parse().unwrap(),
                email: format!("{subject}@example.test").parse().unwrap(),
                role: role.parse().unwrap(),
            },
        )
        .await
        .unwrap();
    registry.staff_member(&id).unwrap()
}

pub(super) fn actor_of(member: &StaffMember) -> String {
    format!("staff:{}", member.staff_id.as_str())
}

/// The events appended from log position `from` on: (type, actor).
pub(super) async fn events_since(app: &TestApp, from: u64) -> Vec<(String, String)> {
    let feed = app
        .as_admin()
        .json(&format!("/v1/admin/events?from={from}"))
        .await;
    feed["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_owned(),
                e["actor"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}
