//! The one table of error codes and the OpenAPI document agree: every code the registry can
//! answer with is listed in the Problem schema's `code`, under the status it comes with, and the
//! document lists no code the table does not have.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use wexqs::error_codes::ErrorCode;
use wexqs::http::OPENAPI_YAML;
use wexqs::http::error::status_of;

/// The codes the Problem schema's `code` lists, by the status each line names
/// (`- 404: \`award_not_found\`, ...`, continued on the lines below it).
fn documented_codes() -> BTreeMap<u16, BTreeSet<String>> {
    let spec: Value = serde_norway::from_str(OPENAPI_YAML).expect("openapi/openapi.yaml is YAML");
    let text = spec["components"]["schemas"]["Problem"]["properties"]["code"]["description"]
        .as_str()
        .expect("the Problem schema's code has a description");
    let mut listed: BTreeMap<u16, BTreeSet<String>> = BTreeMap::new();
    let mut status = None;
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("- ") {
            let (number, _) = rest
                .split_once(':')
                .expect("a line of codes starts with its status");
            status = Some(number.parse::<u16>().expect("a status is a number"));
        }
        let Some(status) = status else { continue };
        let codes = line.split('`').skip(1).step_by(2).map(str::to_owned);
        listed.entry(status).or_default().extend(codes);
    }
    listed
}

#[test]
fn every_code_in_the_table_is_documented_under_its_status() {
    let listed = documented_codes();
    let missing: Vec<String> = ErrorCode::ALL
        .iter()
        .filter_map(|code| {
            let status = status_of(code.kind()).as_u16();
            let found = listed
                .get(&status)
                .is_some_and(|c| c.contains(code.as_str()));
            (!found).then(|| format!("{status} {code}"))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "openapi/openapi.yaml's Problem code does not list: {missing:?}"
    );
}

#[test]
fn the_document_lists_no_code_the_table_does_not_have() {
    let table: BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    let unknown: Vec<String> = documented_codes()
        .into_values()
        .flatten()
        .filter(|c| !table.contains(c.as_str()))
        .collect();
    assert!(unknown.is_empty(), "codes not in the table: {unknown:?}");
}

#[test]
fn every_code_is_written_once_in_snake_case_and_says_its_rule() {
    let mut seen = BTreeSet::new();
    for code in ErrorCode::ALL {
        let text = code.as_str();
        assert!(seen.insert(text), "{text} is in the table twice");
        assert!(
            !text.is_empty() && text.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{text} is not snake_case"
        );
        assert!(!code.rule().is_empty(), "{text} has no rule in words");
    }
}
