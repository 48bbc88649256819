//! Snapshots of the documents the registry publishes (the credential, problem bodies, the Atom
//! feed, the calendar, the OpenAPI document), kept in `tests/it/snapshots/` and compared with
//! insta. What legitimately differs from run to run is replaced by a name in brackets before
//! the comparison: the server's address, the ids and numbers drawn at random (each known one by
//! its own name, so a snapshot still says which award a link is to), and signatures. Times come
//! from the registry's fixed clock and stay as they are.

/// Snapshot settings that replace each `(value, name)` in `known` by `name` (and the host and
/// port of a known `http://` address by `[host]`), a signing key's id by `[key]`, and any other
/// UUID by `[uuid]`.
pub(crate) fn settings(known: &[(&str, &str)]) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    for (value, name) in known {
        settings.add_filter(&escape(value), *name);
    }
    for (value, _) in known {
        if let Some(host) = value.strip_prefix("http://") {
            settings.add_filter(&escape(host), "[host]");
        }
    }
    settings.add_filter("#key-[0-9a-f]{16}", "#key-[key]");
    settings.add_filter(
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[uuid]",
    );
    settings
}

/// `value` as a regular expression that matches it literally.
fn escape(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// The problem bodies a client meets most, one for each kind of refusal: a malformed and an
/// unknown certificate number, an unknown route, a method a route does not take, no token, a
/// reviewer's token on an admin's route, a body that is not JSON (sent as JSON and as form
/// fields), a field that breaks its rule, and a change made against a version no longer current.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn problem_bodies_are_as_published() {
    use reqwest::Method;
    let app = crate::helpers::sqlite_app().await;
    let org = app.organisation("Problem Bodies NHS Trust", None).await;
    let number = app.award(&org, "gold", "2025-06-01").await;
    let admin = app.as_admin();
    let stale = admin
        .request(Method::POST, &format!("/v1/admin/awards/{number}/suspend"))
        .header("If-Match", "\"1\"")
        .json(&serde_json::json!({"reason": "A stale form"}));
    let requests = [
        (
            "malformed_number",
            app.request(Method::GET, "/v1/awards/NOT-A-NUMBER"),
        ),
        (
            "unknown_award",
            app.request(Method::GET, "/v1/awards/FDXE-J5BM-RRNV-PEDM"),
        ),
        (
            "no_such_route",
            app.request(Method::GET, "/v1/nothing-here"),
        ),
        (
            "method_not_allowed",
            app.request(Method::DELETE, "/v1/register"),
        ),
        (
            "no_token",
            app.request(Method::POST, "/v1/admin/organisations")
                .json(&serde_json::json!({})),
        ),
        (
            "reviewer_on_admin_route",
            app.as_reviewer()
                .request(Method::POST, "/v1/admin/programme/pause")
                .json(&serde_json::json!({})),
        ),
        (
            "body_not_json",
            admin
                .request(Method::POST, "/v1/admin/organisations")
                .header("content-type", "application/json")
                .body("{not json"),
        ),
        (
            "body_of_form_fields",
            admin
                .request(Method::POST, "/v1/admin/organisations")
                .header("content-type", "text/plain")
                .body("name=x"),
        ),
        (
            "field_breaks_rule",
            admin
                .request(Method::POST, "/v1/admin/organisations")
                .json(&serde_json::json!({"name": "", "kind": "nhs_trust", "region": "london"})),
        ),
        ("stale_version", stale),
    ];
    let known = [(number.as_str(), "[number]"), (org.as_str(), "[org]")];
    for (name, request) in requests {
        let answer = crate::client::Client::answer(request).await;
        assert_eq!(
            answer.content_type(),
            "application/problem+json",
            "{name}: {}",
            answer.text()
        );
        let body = answer.json();
        assert_eq!(body["status"], answer.status, "{name}: {body}");
        settings(&known).bind(|| {
            insta::assert_json_snapshot!(format!("problem_{name}"), body);
        });
    }
}
