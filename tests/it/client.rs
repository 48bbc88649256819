//! The one HTTP client of the tests, for a registry served in this process (`spawn_app`) and for
//! a `wexqs serve` process alike: a base URL and, for an authorised caller, a bearer token.
//! Requests go out as `reqwest` requests; `Answer` keeps what came back (status, headers, body,
//! how long it took) for the tests that compare or time answers. The registry's own journeys
//! (register an organisation, issue an award) are written here once.

use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

/// Requests to one server, as one caller (anonymous, or the holder of a token).
#[derive(Debug, Clone)]
pub(crate) struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

/// What a server answered, read whole.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// From sending the request to the last byte of the body.
    pub took: Duration,
}

impl Answer {
    /// The body as JSON (which it must be).
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    /// The body as text.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The header `name`, if it is there and text.
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// The content type, or "" without one.
    pub(crate) fn content_type(&self) -> String {
        self.header("content-type").unwrap_or_default()
    }
}

impl Client {
    /// An anonymous caller of the server at `base` (`http://HOST:PORT`, with any path prefix).
    /// Its time limit is far above any test's wait: a hang shows as the test's own failed
    /// bound, not as a client timeout.
    pub(crate) fn new(base: &str) -> Client {
        Client {
            base: base.trim_end_matches('/').to_owned(),
            token: None,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("a client"),
        }
    }

    /// The same server, called with `token`.
    pub(crate) fn with_token(&self, token: &str) -> Client {
        Client {
            token: Some(token.to_owned()),
            ..self.clone()
        }
    }

    /// The base URL.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// The URL of `path` on this server.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request to `path`, authorised when this caller holds a token; add to it and send it.
    pub(crate) fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, self.url(path));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// `request` sent; the server must answer.
    pub(crate) async fn send(request: reqwest::RequestBuilder) -> reqwest::Response {
        request.send().await.expect("the server answers")
    }

    /// `request` sent and its answer read whole, timed.
    pub(crate) async fn answer(request: reqwest::RequestBuilder) -> Answer {
        let started = Instant::now();
        let response = Client::send(request).await;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.expect("a body").to_vec();
        Answer {
            status,
            headers,
            body,
            took: started.elapsed(),
        }
    }

    /// `GET path`.
    pub(crate) async fn get(&self, path: &str) -> reqwest::Response {
        Client::send(self.request(Method::GET, path)).await
    }

    /// `POST path` with `body` as JSON.
    pub(crate) async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        Client::send(self.request(Method::POST, path).json(body)).await
    }

    /// `GET path`, read whole.
    pub(crate) async fn get_answer(&self, path: &str) -> Answer {
        Client::answer(self.request(Method::GET, path)).await
    }

    /// `POST path` with `body` as JSON, read whole.
    pub(crate) async fn post_answer(&self, path: &str, body: &Value) -> Answer {
        Client::answer(self.request(Method::POST, path).json(body)).await
    }

    /// `method path` (with `body` as JSON, if any): the status and the JSON body (null if the
    /// body is not JSON).
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = Client::send(request).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `GET path`: the status and the JSON body.
    pub(crate) async fn get_json(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, None).await
    }

    /// `POST path` with `body`: the status and the JSON body.
    pub(crate) async fn post_json(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(&body)).await
    }

    /// The body of `path`, which must answer 200.
    pub(crate) async fn text(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        response.text().await.expect("text")
    }

    /// The JSON body of `GET path` (which must be JSON), whatever the status.
    pub(crate) async fn read_json(&self, path: &str) -> Value {
        self.get_answer(path).await.json()
    }

    /// The JSON body of `path`, which must answer 200.
    pub(crate) async fn json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        response.json().await.expect("JSON")
    }

    /// What `path` answers: its status, headers and body.
    pub(crate) async fn page(&self, path: &str) -> (u16, HeaderMap, String) {
        let answer = self.get_answer(path).await;
        (answer.status, answer.headers.clone(), answer.text())
    }

    /// Imports the awards in `csv` (an admin's call, as a spreadsheet's `text/csv`).
    pub(crate) async fn import_csv(&self, csv: impl Into<reqwest::Body>) -> reqwest::Response {
        let request = self.request(Method::POST, "/v1/admin/awards/import");
        Client::send(request.header("content-type", "text/csv").body(csv)).await
    }

    /// Registers an organisation in London (an admin's call); its id.
    pub(crate) async fn organisation(&self, name: &str, ods: Option<&str>) -> String {
        let mut body = json!({"name": name, "region": "london"});
        if let Some(ods) = ods {
            body["ods_code"] = ods.into();
        }
        let (status, organisation) = self.post_json("/v1/admin/organisations", body).await;
        assert_eq!(status, 201, "registering {name}: {organisation}");
        organisation["id"].as_str().expect("an id").to_owned()
    }

    /// Issues the organisation `organisation_id` an award (an admin's call); its certificate
    /// number.
    pub(crate) async fn award(
        &self,
        organisation_id: &str,
        level: &str,
        awarded_on: &str,
    ) -> String {
        let (status, award) = self
            .post_json(
                "/v1/admin/awards",
                json!({"organisation_id": organisation_id, "level": level, "awarded_on": awarded_on}),
            )
            .await;
        assert_eq!(status, 201, "issuing an award dated {awarded_on}: {award}");
        award["certificate_number"]
            .as_str()
            .expect("a number")
            .to_owned()
    }

    /// Registers an organisation called `name` and issues it a `level` award dated
    /// `awarded_on`: (its id, the award's certificate number).
    pub(crate) async fn organisation_with_award(
        &self,
        name: &str,
        level: &str,
        awarded_on: &str,
    ) -> (String, String) {
        let id = self.organisation(name, None).await;
        let number = self.award(&id, level, awarded_on).await;
        (id, number)
    }
}
