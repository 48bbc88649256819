//! The console in Debian's headless Chromium (tests/browser/console.mjs): a person signs in at
//! the real OpenID Provider's own pages and runs a season through the console's forms; after
//! each step the public page shows the new state and the audit view names the person; axe-core
//! finds no violation on any console page, on a phone or a desktop, and none scrolls sideways
//! on a phone.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::console_sign_in::ConsoleApp;

/// Runs the walk on `plan`: its findings.
fn walk(plan: &Value) -> Value {
    crate::helpers::walk_in_browser("console.mjs", "console-walk", plan).0
}

/// Every step ran, and no page had an axe violation or scrolled sideways.
fn assert_walked(result: &Value, steps: &[&str]) {
    for step in steps {
        let s = &result["steps"][step];
        assert!(s.is_object(), "{step} ran: {result}");
        assert!(
            s["error"].is_null(),
            "{step}: {}\nthe steps so far: {}",
            s["error"],
            result["steps"]
        );
    }
    let mut problems = Vec::new();
    for (name, sizes) in result["pages"].as_object().expect("pages") {
        for size in ["phone", "desktop"] {
            let found = &sizes[size];
            if found["violations"] != json!([]) {
                problems.push(format!("axe on {name} ({size}): {}", found["violations"]));
            }
            let layout = &found["layout"];
            if layout["scrollWidth"].as_u64() > layout["clientWidth"].as_u64() {
                problems.push(format!("{name} is wider than the {size}: {layout}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let checked: Vec<&String> = result["pages"].as_object().expect("pages").keys().collect();
    for page in [
        "sign-in",
        "dashboard",
        "programme",
        "programme-preview",
        "cycles",
        "organisations",
        "organisation",
        "award-new",
        "application-new",
        "application",
        "applications",
        "award",
        "awards",
        "import",
        "import-bad",
        "import-preview",
        "staff",
        "audit",
        "integrations",
    ] {
        assert!(
            checked.iter().any(|c| *c == page),
            "axe checked {page}: {checked:?}"
        );
    }
}

/// The import's header, and five awards of organisations the register does not hold.
const HEADER: &str = "organisation_name,ods_code,region,kind,level,awarded_on,issuer_name";
const FIVE: [&str; 5] = [
    "Imported Alpha NHS Trust,IM1,london,nhs_trust,gold,2025-06-01,",
    "Imported Beta NHS Trust,IM2,north_west,nhs_trust,silver,2025-06-02,",
    "Imported Gamma Hospice,IM3,midlands,hospice,bronze,2025-06-03,",
    "Imported Delta NHS Trust,IM4,south_west,nhs_trust,gold,2025-06-04,",
    "Imported Epsilon NHS Trust,IM5,south_east,nhs_trust,silver,2025-06-05,",
];

/// The walk's files: the bad CSV (its third row names no region there is), the good one.
fn import_files(folder: &std::path::Path) -> (PathBuf, PathBuf) {
    let mut bad: Vec<String> = FIVE.iter().map(|r| (*r).to_owned()).collect();
    bad[2] = bad[2].replace("midlands", "atlantis");
    let write = |name: &str, rows: &[String]| {
        let path = folder.join(name);
        std::fs::write(&path, format!("{HEADER}\n{}\n", rows.join("\n"))).expect("written");
        path
    };
    let good: Vec<String> = FIVE.iter().map(|r| (*r).to_owned()).collect();
    (write("awards-bad.csv", &bad), write("awards.csv", &good))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_season_in_the_console_from_a_browser() {
    let console = ConsoleApp::start().await;
    let person = "Alice Admin";
    let files = crate::helpers::temp_dir();
    let (csv_bad, csv_good) = import_files(files.path());
    let manifest = files.path().join("manifest.json");
    let evidence = crate::applications::manifest(
        wexqs::domain::Level::Gold,
        12,
        crate::helpers::date("2026-11-24"),
    );
    std::fs::write(&manifest, serde_json::to_vec(&evidence).unwrap()).expect("written");
    let steps = [
        "resume",
        "cycle",
        "organisation",
        "dropin",
        "application",
        "decision",
        "suspend",
        "reinstate",
        "revoke",
        "import",
        "pages",
    ];
    let plan = json!({
        "base": console.app.api.base(),
        "login": "alice",
        "person": person,
        "resume": {"from": "2026-11-01", "reason": "The programme takes applications again"},
        "cycle": {
            "cycle_id": "2026-winter", "name": "Winter 2026",
            "submissions_open_on": "2026-11-01", "submission_deadline": "2026-11-24",
            "review_from": "2026-11-24", "review_until": "2026-11-24",
            "decisions_from": "2026-11-24", "decisions_until": "2026-12-31",
        },
        "organisation": {
            "name": "Browser Season NHS Trust", "ods_code": "BST1",
            "region": "north_west", "kind": "nhs_trust",
        },
        "drop_in": "2026-11-20",
        "application": {"level": "gold", "feedback": "Strong evidence across every department."},
        "suspension": {"reason": "Placement review under way", "note": "Parent complaint ref 77"},
        "files": {"csv_bad": csv_bad, "csv_good": csv_good, "manifest": manifest},
        "steps": steps,
    });
    let result = tokio::task::spawn_blocking(move || walk(&plan))
        .await
        .expect("the walk ran");
    let signed_in = result["signedIn"].as_str().unwrap_or_default();
    assert!(signed_in.contains(person), "{result}");
    assert_walked(&result, &steps);
    let s = &result["steps"];
    let text = |step: &str, field: &str| s[step][field].as_str().unwrap_or_default().to_owned();
    // The programme: its effect said before it was confirmed; the public register says so.
    assert!(
        text("resume", "preview").contains("From"),
        "{}",
        text("resume", "preview")
    );
    let programme: Value = console.app.read_json("/v1/programme").await;
    assert_eq!(programme["accepting_new_awards"], true, "{programme}");
    assert!(text("cycle", "page").contains("Winter 2026"));
    let says = |step: &str, words: &str| {
        let read = s[step]["public"]["words"].as_str().unwrap_or_default();
        assert!(
            read.starts_with(words),
            "after {step} the public page says {read:?}"
        );
    };
    assert!(text("organisation", "page").contains("Browser Season NHS Trust"));
    assert!(
        text("dropin", "page").contains("2026-11-20"),
        "{}",
        text("dropin", "page")
    );
    assert!(text("application", "queue").contains("Browser Season NHS Trust"));
    says("decision", "Valid award");
    says("suspend", "Suspended");
    let public = text("suspend", "public").to_owned();
    let public = s["suspend"]["public"]["text"].as_str().unwrap_or(&public);
    assert!(public.contains("Placement review under way"), "{public}");
    assert!(
        !public.contains("ref 77"),
        "the private note stays private: {public}"
    );
    assert!(
        text("suspend", "page").contains("ref 77"),
        "the console shows the private note"
    );
    says("reinstate", "Valid award");
    says("revoke", "Revoked");
    // The import: the bad row named and nothing added; five added; the same file adds nothing.
    let bad = text("import", "bad");
    assert!(
        bad.contains("atlantis") && bad.contains("nothing was added"),
        "{bad}"
    );
    assert!(
        text("import", "done").contains("5 awards were imported"),
        "{}",
        text("import", "done")
    );
    assert!(
        text("import", "again").contains("already imported"),
        "{}",
        text("import", "again")
    );
    for name in ["Imported Alpha NHS Trust", "Imported Epsilon NHS Trust"] {
        let found: Value = console
            .app
            .read_json(&format!("/v1/register?q={}", name.replace(' ', "+")))
            .await;
        assert_eq!(found["total"], 1, "{name} once in the register: {found}");
    }
    for step in steps.iter().filter(|s| **s != "pages") {
        let audit = text(step, "audit");
        assert!(
            audit.contains(person),
            "the audit view names the person after {step}: {audit}"
        );
    }
}
