//! The official schemas (#18): every credential of the demo register (with a suspended, a
//! superseded, a revoked, a reinstated and an amended award, and the credentials they replaced)
//! validates with zero errors against 1EdTech's Open Badges 3.0 AchievementCredential JSON
//! Schema (draft 2019-09, tests/vectors/openbadges-3.0, unchanged), read by Python's
//! `jsonschema` (tests/python/schema.py, pinned in tests/python-requirements.txt); the
//! published achievements validate against the same schema's `Achievement`.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

use crate::helpers::{TestApp, all_awards, temp_dir};
use crate::withdrawn::{SUSPENDED, change_award, demo_app};

fn schema() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/openbadges-3.0/ob_v3p0_achievementcredential_schema.json")
}

/// Runs tests/python/schema.py in the tests' virtualenv on `documents` (optionally against the
/// schema's `$defs/NAME`): every document's errors, by path.
fn validate(definition: Option<&str>, documents: &[PathBuf]) -> Value {
    let exe = std::env::current_exe().expect("the test binary's path");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("the test binary lives in the target folder");
    let python = target.join("tests-python-venv/bin/python");
    assert!(
        python.exists(),
        "the tests' Python libraries are not installed at {}: run `cargo xtask test`, which installs \
         tests/python-requirements.txt there",
        python.display()
    );
    let mut command = Command::new(&python);
    command
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/schema.py"))
        .arg(schema());
    if let Some(name) = definition {
        command.args(["--def", name]);
    }
    let out = command.args(documents).output().expect("python runs");
    assert!(
        out.status.success(),
        "schema.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert!(
        answer["validator"]
            .as_str()
            .is_some_and(|v| v.starts_with("Draft201909Validator")),
        "the schema names draft 2019-09: {answer}"
    );
    answer["errors"].clone()
}

fn with_errors(errors: &Value) -> Vec<(String, Value)> {
    errors
        .as_object()
        .expect("errors by document")
        .iter()
        .filter(|(_, e)| e.as_array().is_none_or(|e| !e.is_empty()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_credential_of_the_demo_register_validates_against_the_official_open_badges_schema() {
    let app = demo_app().await;
    let amended = amend_one_and_reinstate_the_suspended(&app).await;
    let dir = temp_dir();
    let (files, served) = every_credential_written(&app, &amended, dir.path()).await;
    let errors = validate(None, &files);
    assert_eq!(errors.as_object().map(|o| o.len()), Some(files.len()));
    assert_eq!(
        with_errors(&errors),
        vec![],
        "zero errors on every credential"
    );
    the_validator_finds_a_single_proof(&served, dir.path());
    // The published achievements are the schema's Achievement.
    let mut achievements = Vec::new();
    for level in ["bronze", "silver", "gold"] {
        let path = dir.path().join(format!("achievement-{level}.json"));
        let body = app.json(&format!("/v1/achievements/{level}")).await;
        std::fs::write(&path, serde_json::to_vec(&body).expect("JSON")).expect("written");
        achievements.push(path);
    }
    let errors = validate(Some("Achievement"), &achievements);
    assert_eq!(
        with_errors(&errors),
        vec![],
        "zero errors on every achievement"
    );
}

/// An active award amended (its name corrected) and the suspended one reinstated, each signed
/// again: the amended award's number.
async fn amend_one_and_reinstate_the_suspended(app: &TestApp) -> String {
    let awards = all_awards(&app.registry);
    let amended = awards
        .iter()
        .find(|a| {
            a.standing == wexqs::domain::Standing::Active
                && a.certificate_number.as_str() != SUSPENDED
        })
        .expect("an active demo award")
        .certificate_number
        .to_string();
    let name = all_awards(&app.registry)
        .iter()
        .find(|a| a.certificate_number.as_str() == amended)
        .map(|a| format!("{} (Main Site)", a.organisation_name))
        .expect("the award");
    change_award(
        app,
        &amended,
        "amend",
        json!({"organisation_name": name, "reason": "The name on the record was incomplete."}),
    )
    .await;
    change_award(
        app,
        SUSPENDED,
        "reinstate",
        json!({"reason": "The review found the logo was used correctly."}),
    )
    .await;
    amended
}

/// Every credential every award was ever given, each written to a file in `dir`, and the one
/// served for the reinstated award (what is served is what was signed): the files, and that
/// served credential.
async fn every_credential_written(
    app: &TestApp,
    amended: &str,
    dir: &std::path::Path,
) -> (Vec<std::path::PathBuf>, Value) {
    let mut files = Vec::new();
    let mut by_number = std::collections::BTreeMap::new();
    for award in all_awards(&app.registry) {
        by_number.insert(
            award.certificate_number.to_string(),
            award.credentials.len(),
        );
        let texts = app
            .registry
            .credential_texts(&award)
            .await
            .expect("the credentials' texts");
        for (i, text) in texts.iter().enumerate() {
            let path = dir.join(format!("{}-{i}.json", award.certificate_number));
            std::fs::write(&path, text.as_str()).expect("written");
            files.push(path);
        }
    }
    assert_eq!(by_number[amended], 2, "the amended award was signed again");
    assert_eq!(
        by_number[SUSPENDED], 2,
        "the reinstated award was signed again"
    );
    assert!(files.len() >= 45, "{} credentials", files.len());
    // What is served is what was signed.
    let served = app
        .json(&format!("/v1/awards/{SUSPENDED}/credential"))
        .await;
    let path = dir.join("served.json");
    std::fs::write(&path, serde_json::to_vec(&served).expect("JSON")).expect("written");
    files.push(path);
    (files, served)
}

/// The validator does find what the schema forbids: a proof given as an object, not a set (what
/// the registry signed before), is the one error.
fn the_validator_finds_a_single_proof(served: &Value, dir: &std::path::Path) {
    let mut single = served.clone();
    single["proof"] = served["proof"][0].clone();
    let path = dir.join("single-proof.json");
    std::fs::write(&path, serde_json::to_vec(&single).expect("JSON")).expect("written");
    let errors = validate(None, std::slice::from_ref(&path));
    let found = errors[path.to_str().expect("a path")]
        .as_array()
        .expect("errors")
        .clone();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0]
            .as_str()
            .is_some_and(|e| e.starts_with("proof:") && e.ends_with("is not of type 'array'")),
        "{found:?}"
    );
}
