//! The console in Debian's headless Chromium (tests/browser/console.mjs): a person signs in at
//! the real OpenID Provider's own pages and runs a season through the console's forms; after
//! each step the public page shows the new state and the audit view names the person; axe-core
//! finds no violation on any console page, on a phone or a desktop, and none scrolls sideways
//! on a phone.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

use crate::console_sign_in::ConsoleApp;

/// Runs the walk on `plan`: its findings.
fn walk(plan: &Value) -> Value {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-walk");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).expect("a folder for the walk");
    let plan_file = out.join("plan.json");
    std::fs::write(&plan_file, plan.to_string()).expect("written");
    let run = Command::new("node")
        .arg(root.join("console.mjs"))
        .arg(&plan_file)
        .arg(&out)
        .output()
        .expect("node runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    serde_json::from_slice(&run.stdout).expect("JSON")
}

/// Every step ran, and no page had an axe violation or scrolled sideways.
fn assert_walked(result: &Value, steps: &[&str]) {
    for step in steps {
        let s = &result["steps"][step];
        assert!(s.is_object(), "{step} ran: {result}");
        assert!(s["error"].is_null(), "{step}: {}", s["error"]);
    }
    for (name, sizes) in result["pages"].as_object().expect("pages") {
        for size in ["phone", "desktop"] {
            let found = &sizes[size];
            assert_eq!(found["violations"], json!([]), "axe on {name} ({size})");
            let layout = &found["layout"];
            assert!(
                layout["scrollWidth"].as_u64() <= layout["clientWidth"].as_u64(),
                "{name} is wider than the {size}: {layout}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_season_in_the_console_from_a_browser() {
    let console = ConsoleApp::start().await;
    let person = "Alice Admin";
    let org = console
        .app
        .organisation("Browser Season Trust", Some("BST1"))
        .await;
    let steps = ["issue", "suspend", "reinstate", "revoke"];
    let plan = json!({
        "base": console.app.api.base(),
        "login": "alice",
        "person": person,
        "issue_path": format!("/console/awards/new?organisation={org}"),
        "award": {"level": "silver", "awarded_on": "2025-12-02"},
        "suspension": {"reason": "Placement review under way", "note": "Parent complaint ref 77"},
        "steps": steps,
    });
    let result = tokio::task::spawn_blocking(move || walk(&plan))
        .await
        .expect("the walk ran");
    let signed_in = result["signedIn"].as_str().unwrap_or_default();
    assert!(signed_in.contains(person), "{result}");
    assert_walked(&result, &steps);
    let s = &result["steps"];
    assert_eq!(
        s["issue"]["public"]["words"], "Valid award",
        "{}",
        s["issue"]
    );
    assert_eq!(
        s["suspend"]["public"]["words"], "Suspended",
        "{}",
        s["suspend"]
    );
    let public = s["suspend"]["public"]["text"].as_str().unwrap_or_default();
    assert!(public.contains("Placement review under way"), "{public}");
    assert!(
        !public.contains("ref 77"),
        "the private note stays private: {public}"
    );
    assert!(
        s["suspend"]["page"]
            .as_str()
            .unwrap_or_default()
            .contains("ref 77"),
        "the console shows the private note"
    );
    assert_eq!(s["reinstate"]["public"]["words"], "Valid award");
    assert_eq!(s["revoke"]["public"]["words"], "Revoked");
    for step in steps {
        let audit = s[step]["audit"].as_str().unwrap_or_default();
        assert!(
            audit.contains(person),
            "the audit view names the person after {step}: {audit}"
        );
    }
}
