//! The OpenAPI document and the routes agree: every route is documented, every documented
//! operation is served, and the document is what `/openapi.json` serves.

use std::collections::BTreeSet;

use serde_json::Value;
use wexqs::http::{OPENAPI_YAML, routes};

use crate::helpers::sqlite_app;

fn spec() -> Value {
    serde_norway::from_str(OPENAPI_YAML).expect("openapi/openapi.yaml is valid YAML")
}

fn documented(spec: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                ops.insert((method.to_owned(), path.clone()));
            }
        }
    }
    ops
}

#[test]
fn every_route_is_documented_and_every_documented_operation_is_a_route() {
    let spec = spec();
    let routes: BTreeSet<(String, String)> = routes()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    let documented = documented(&spec);
    let missing: Vec<_> = routes.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&routes).collect();
    assert!(
        missing.is_empty(),
        "routes missing from openapi.yaml: {missing:?}"
    );
    assert!(extra.is_empty(), "documented but not served: {extra:?}");
}

#[test]
fn every_operation_documents_its_parameters_and_errors() {
    let spec = spec();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        let in_path: BTreeSet<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_owned)
            .collect();
        for (method, op) in item.as_object().expect("an item") {
            let declared: BTreeSet<String> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .chain(item["parameters"].as_array().into_iter().flatten())
                .map(|p| resolve(&spec, p))
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap_or_default().to_owned())
                .collect();
            assert_eq!(declared, in_path, "{method} {path}: path parameters");
            let responses = op["responses"].as_object().expect("responses");
            assert!(
                responses
                    .keys()
                    .any(|k| k.starts_with('4') || k.starts_with('5') || k == "default"),
                "{method} {path} documents no error response"
            );
            assert!(
                op.get("operationId").is_some(),
                "{method} {path} has no operationId"
            );
        }
    }
}

/// Every string example in the document shaped like a certificate number.
fn certificate_number_examples(node: &Value, found: &mut Vec<String>) {
    match node {
        Value::Object(map) => {
            for (key, value) in map {
                if let ("example", Value::String(s)) = (key.as_str(), value)
                    && s.len() == 19
                    && s.split('-').all(|group| group.len() == 4)
                {
                    found.push(s.clone());
                }
                certificate_number_examples(value, found);
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|v| certificate_number_examples(v, found)),
        _ => {}
    }
}

#[test]
fn every_certificate_number_example_passes_its_own_check_character() {
    let mut examples = Vec::new();
    certificate_number_examples(&spec(), &mut examples);
    assert!(
        !examples.is_empty(),
        "the CertificateNumber schema has an example"
    );
    for example in examples {
        let parsed = example
            .parse::<wexqs::domain::CertificateNumber>()
            .unwrap_or_else(|e| panic!("the example {example} is refused: {}", e.message));
        assert_eq!(parsed.as_str(), example, "examples are written as printed");
    }
}

fn resolve<'a>(spec: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => r
            .trim_start_matches("#/")
            .split('/')
            .fold(spec, |node, key| &node[key]),
        None => v,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_and_the_document_is_served() {
    let app = sqlite_app().await;
    for (method, path) in routes() {
        let concrete = path
            .replace("{certificate_number}", "0000-0000-0000-0000")
            .replace("{organisation_id}", "00000000-0000-0000-0000-000000000000")
            .replace("{level}", "gold")
            .replace("{list_id}", "1")
            .replace("{application_id}", "nope")
            .replace("{webhook_id}", "nope");
        let request = match method {
            "get" => app.request(reqwest::Method::GET, &concrete),
            "post" => app.request(reqwest::Method::POST, &concrete).body("{}"),
            "delete" => app.request(reqwest::Method::DELETE, &concrete),
            other => panic!("a route with method {other}"),
        };
        let response = request.send().await.expect("answered");
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or_default();
        assert!(
            body["code"] != "route_not_found" && body["code"] != "method_not_allowed",
            "{method} {path} is not served: {status} {body}"
        );
    }
    let mut served: Value = app.read_json("/openapi.json").await;
    // The served document names where it is served: the public URL (with its path, if any).
    assert_eq!(
        served["servers"],
        serde_json::json!([{ "url": app.base() }])
    );
    served.as_object_mut().expect("an object").remove("servers");
    assert_eq!(served, spec());
}

/// The surface the document publishes, one line an operation (method, path, operation id, the
/// statuses it answers with) and then the schemas it names: a change to the API shows in the
/// snapshot's diff.
#[test]
fn the_published_surface_is_as_snapshotted() {
    let spec = spec();
    let mut lines = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let statuses: Vec<&str> = operation["responses"]
                .as_object()
                .map(|r| r.keys().map(String::as_str).collect())
                .unwrap_or_default();
            lines.push(format!(
                "{} {path} {} -> {}",
                method.to_uppercase(),
                operation["operationId"].as_str().unwrap_or("(no id)"),
                statuses.join(" ")
            ));
        }
    }
    let schemas = spec["components"]["schemas"]
        .as_object()
        .expect("schemas")
        .keys()
        .cloned()
        .collect::<Vec<_>>();
    lines.push(format!("schemas: {}", schemas.join(", ")));
    crate::snapshot::settings(&[]).bind(|| {
        insta::assert_snapshot!("openapi_surface", lines.join("\n"));
    });
}
