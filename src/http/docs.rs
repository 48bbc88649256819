//! The API docs page (`/docs`), rendered once from the OpenAPI document: every operation with
//! its parameters, an example of its request and response bodies (the document's own examples,
//! or one built from the schema), and its responses with their error codes. Nothing is written
//! here that the document does not say; askama escapes every string of it.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web;
use askama::Template;
use serde_json::{Map, Value};

use super::AppState;
use super::route::Route;

/// The routes this file serves.
pub(crate) const ROUTES: &[Route] = &[Route::get("/docs", |r| r.to(docs))];

/// A text with its `code` spans marked: (is code, text).
type Words = Vec<(bool, String)>;

struct Parameter {
    name: String,
    place: String,
    required: bool,
    kind: String,
    description: Words,
    example: Option<String>,
}

struct Response {
    status: String,
    description: Words,
    /// Error codes the description names (`award_not_found`, ...).
    codes: Vec<String>,
    example: Option<String>,
}

struct Operation {
    id: String,
    method: String,
    /// The path cut after each `/`, so a phone breaks it there and nowhere else.
    path_parts: Vec<String>,
    summary: String,
    description: Vec<Words>,
    parameters: Vec<Parameter>,
    request_example: Option<(String, String)>,
    responses: Vec<Response>,
}

#[derive(Template)]
#[template(path = "docs.html")]
struct DocsPage {
    base: String,
    description: String,
    groups: Vec<(String, Vec<Operation>)>,
}

/// `$ref`s followed within the document.
fn resolve<'a>(spec: &'a Value, v: &'a Value) -> &'a Value {
    let mut node = v;
    for _ in 0..8 {
        match node.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                node = r
                    .trim_start_matches("#/")
                    .split('/')
                    .fold(spec, |n, key| &n[key]);
            }
            None => break,
        }
    }
    node
}

/// A text with its backquoted spans as code.
fn words(text: &str) -> Words {
    text.split('`')
        .enumerate()
        .filter(|(_, part)| !part.is_empty())
        .map(|(i, part)| (i % 2 == 1, part.to_owned()))
        .collect()
}

/// The error codes a response's description names: its backquoted snake_case words.
fn codes(text: &str) -> Vec<String> {
    words(text)
        .into_iter()
        .filter(|(code, w)| {
            *code && w.contains('_') && w.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        })
        .map(|(_, w)| w)
        .collect()
}

/// An example value of `schema`: its own example (or first enum value, const or default),
/// else one built from its properties, to a few levels deep.
fn example(spec: &Value, schema: &Value, depth: u8) -> Value {
    let schema = resolve(spec, schema);
    for key in ["example", "const", "default"] {
        if let Some(v) = schema.get(key) {
            return v.clone();
        }
    }
    if let Some(v) = schema["examples"].get(0).or_else(|| schema["enum"].get(0)) {
        return v.clone();
    }
    if depth == 0 {
        return Value::Null;
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(parts) = schema[key].as_array() {
            let mut merged = Map::new();
            for part in parts {
                match example(spec, part, depth - 1) {
                    Value::Object(o) => merged.extend(o),
                    other if key != "allOf" => return other,
                    _ => {}
                }
            }
            return Value::Object(merged);
        }
    }
    let kind = match &schema["type"] {
        Value::Array(kinds) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|k| *k != "null")
            .unwrap_or("null"),
        other => other
            .as_str()
            .unwrap_or(if schema.get("properties").is_some() {
                "object"
            } else {
                "string"
            }),
    };
    match kind {
        "object" => Value::Object(
            schema["properties"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(name, property)| (name.clone(), example(spec, property, depth - 1)))
                .collect(),
        ),
        "array" => Value::Array(vec![example(spec, &schema["items"], depth - 1)]),
        "integer" | "number" => Value::from(schema["minimum"].as_i64().unwrap_or(0)),
        "boolean" => Value::Bool(true),
        "null" => Value::Null,
        _ => Value::from(match schema["format"].as_str() {
            Some("date") => "2026-11-24",
            Some("date-time") => "2026-11-24T12:00:00Z",
            Some("uuid") => "0b6e1c1e-7d1a-4f43-9a9c-2f4d1f6c8e21",
            Some("uri") => "https://wexqs.example/",
            Some("binary") => "(bytes)",
            _ => "text",
        }),
    }
}

/// The first JSON body of a `content` map, as (media type, pretty example).
fn content_example(spec: &Value, content: &Value) -> Option<(String, String)> {
    let (media, body) = content
        .as_object()?
        .iter()
        .find(|(media, _)| media.contains("json"))?;
    let value = body
        .get("example")
        .cloned()
        .unwrap_or_else(|| example(spec, &body["schema"], 5));
    let pretty = serde_json::to_string_pretty(&value).ok()?;
    Some((media.clone(), pretty))
}

fn parameter(spec: &Value, raw: &Value) -> Parameter {
    let p = resolve(spec, raw);
    let schema = resolve(spec, &p["schema"]);
    let mut kind = match &schema["type"] {
        Value::String(k) => k.clone(),
        _ => "string".to_owned(),
    };
    if let Some(format) = schema["format"].as_str() {
        kind = format!("{kind} ({format})");
    }
    if let Some(values) = schema["enum"].as_array() {
        let values: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
        kind = format!("one of {}", values.join(", "));
    }
    let example = p
        .get("example")
        .or_else(|| schema.get("example"))
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned));
    Parameter {
        name: p["name"].as_str().unwrap_or_default().to_owned(),
        place: p["in"].as_str().unwrap_or_default().to_owned(),
        required: p["required"].as_bool().unwrap_or(false),
        kind,
        description: words(p["description"].as_str().unwrap_or_default()),
        example,
    }
}

fn operation(spec: &Value, path: &str, method: &str, item: &Value, op: &Value) -> Operation {
    let mut path_parts: Vec<String> = path.split_inclusive('/').map(str::to_owned).collect();
    path_parts.retain(|p| !p.is_empty());
    let parameters = op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(item["parameters"].as_array().into_iter().flatten())
        .map(|p| parameter(spec, p))
        .collect();
    let request_example = op
        .get("requestBody")
        .and_then(|b| content_example(spec, &resolve(spec, b)["content"]));
    let responses = op["responses"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(status, raw)| {
            let r = resolve(spec, raw);
            let description = r["description"].as_str().unwrap_or_default();
            Response {
                status: status.clone(),
                description: words(description),
                codes: codes(description),
                example: status
                    .starts_with('2')
                    .then(|| content_example(spec, &r["content"]))
                    .flatten()
                    .map(|(_, pretty)| pretty),
            }
        })
        .collect();
    Operation {
        id: op["operationId"].as_str().unwrap_or_default().to_owned(),
        method: method.to_uppercase(),
        path_parts,
        summary: op["summary"].as_str().unwrap_or_default().to_owned(),
        description: op["description"]
            .as_str()
            .unwrap_or_default()
            .split("\n\n")
            .map(|para| words(&para.split_whitespace().collect::<Vec<_>>().join(" ")))
            .filter(|w| !w.is_empty())
            .collect(),
        parameters,
        request_example,
        responses,
    }
}

/// The API docs page, rendered from the OpenAPI document.
pub(crate) fn render_docs(spec: &Value, base: &str) -> String {
    let mut groups: Vec<(String, Vec<Operation>)> = Vec::new();
    for (path, item) in spec["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            if op.get("responses").is_none() {
                continue; // path-level `parameters`, not an operation
            }
            let tag = op["tags"][0].as_str().unwrap_or("other").to_owned();
            let entry = operation(spec, path, method, item, op);
            match groups.iter_mut().find(|g| g.0 == tag) {
                Some(g) => g.1.push(entry),
                None => groups.push((tag, vec![entry])),
            }
        }
    }
    DocsPage {
        base: base.to_owned(),
        description: spec["info"]["summary"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        groups,
    }
    .render()
    .unwrap_or_default()
}

/// `/docs`.
pub(crate) async fn docs(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::build(StatusCode::OK)
        .content_type("text/html; charset=utf-8")
        .insert_header((
            actix_web::http::header::CACHE_CONTROL,
            "public, max-age=3600",
        ))
        .body(state.docs_html.clone())
}
