//! What `cargo xtask api-check` (schemathesis against the OpenAPI document) found the server doing wrong,
//! kept as tests that run without it.

use wexqs::http::routes;

use crate::helpers::sqlite_app;

/// A route asked with a method it does not take answers 405 with `Allow` (RFC 9110 §15.5.6), as
/// problem+json; it used to answer 404 `route_not_found`, as if the route did not exist. An admin
/// route answers so to a caller with a valid token; to anyone else it answers 401.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_asked_with_a_method_it_does_not_take_answers_405_with_allow() {
    let app = sqlite_app().await;
    for (_, path) in routes() {
        let concrete = path
            .replace("{certificate_number}", "FDXE-J5BM-RRNV-PEDM")
            .replace("{organisation_id}", "00000000-0000-0000-0000-000000000000")
            .replace("{level}", "gold")
            .replace("{list_id}", "1")
            .replace("{application_id}", "nope")
            .replace("{webhook_id}", "nope");
        // Every method the path is served with, in the route table's order.
        let methods: Vec<&str> = routes()
            .filter(|(_, p)| *p == path)
            .map(|(m, _)| m)
            .collect();
        let allow = wexqs::http::allow_of(&methods);
        let allow = allow.as_str();
        let wrong: Vec<&str> = ["POST", "GET", "PUT", "DELETE", "TRACE"]
            .into_iter()
            .filter(|w| !methods.iter().any(|m| m.eq_ignore_ascii_case(w)))
            .collect();
        for wrong in wrong {
            let mut request = app.request(
                reqwest::Method::from_bytes(wrong.as_bytes()).expect("a method"),
                &concrete,
            );
            // An admin route refuses a caller it does not know before anything else (401, the
            // body unread): the 405 is for a caller it knows.
            if path.starts_with("/v1/admin/") {
                request = request.bearer_auth(&app.admin);
            }
            let response = request.send().await.expect("answered");
            assert_eq!(response.status(), 405, "{wrong} {path}");
            assert_eq!(
                response
                    .headers()
                    .get("allow")
                    .and_then(|v| v.to_str().ok()),
                Some(allow),
                "{wrong} {path}"
            );
            assert_eq!(
                response
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok()),
                Some("application/problem+json"),
                "{wrong} {path}"
            );
            let body: serde_json::Value = response.json().await.expect("a problem");
            assert_eq!(body["code"], "method_not_allowed", "{wrong} {path}");
        }
    }
    // A path that is no route at all is still a 404, whatever the method.
    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        let response = app
            .request(method, "/v1/no-such-route")
            .send()
            .await
            .expect("answered");
        assert_eq!(response.status(), 404);
        let body: serde_json::Value = response.json().await.expect("a problem");
        assert_eq!(body["code"], "route_not_found");
    }
}
