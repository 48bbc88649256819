//! The application journey: each rule's boundary given/when/then (day 56 vs 57, twelve months to
//! the day, 3 vs 4 documents, page 13 of a 12-page document, the pause), the decision rules, a
//! full journey through the HTTP API, and a crawl of every public route that finds none of the
//! private evidence, commentary or feedback.

use chrono::NaiveDate;
use serde_json::{Value, json};
use wexqs::domain::applications::{Commentary, EvidenceDocument, Manifest, Reference, eligibility};
use wexqs::domain::calendar::Calendar;
use wexqs::domain::framework::{Framework, SAMPLE_FRAMEWORK};
use wexqs::domain::{
    ApplicationCommand, CertificateNumber, Command, DecideApplication, DomainError, Event, Level,
    OrganisationCommand, OrganisationId, OrganisationKind, Region, SubmitApplication,
};

use crate::client::Client;
use crate::harness::{Given, Then, given_no_events};
use crate::helpers::{TestApp, at, date, sqlite_app, temp_dir};

pub(crate) fn framework() -> Framework {
    Framework::parse(SAMPLE_FRAMEWORK).expect("the sample framework parses")
}

/// A manifest with `documents` completed documents of 12 pages, dated a month before
/// `submitted`, from three departments, and a commentary for every criterion up to `level`.
pub(crate) fn manifest(level: Level, documents: usize, submitted: NaiveDate) -> Manifest {
    let fw = framework();
    let departments = ["Radiology", "Pharmacy", "Estates and facilities"];
    Manifest {
        documents: (1..=documents)
            .map(|i| EvidenceDocument {
                name: format!("SECRET-EVIDENCE-{i}"),
                pages: 12,
                dated: submitted - chrono::Duration::days(30),
                host_department: departments[i % 3].into(),
                completed: true,
                anonymised: true,
                face_to_face: true,
            })
            .collect(),
        commentaries: fw
            .criteria_for(level)
            .map(|c| Commentary {
                criterion: c.id.clone(),
                text: format!("SECRET-COMMENTARY for {}", c.id),
                references: vec![Reference {
                    document: "SECRET-EVIDENCE-1".into(),
                    page: 12,
                }],
            })
            .collect(),
    }
}

/// The application journey's history: the shipped calendar and one organisation, decided on
/// the journey's day; the harness's `Given` underneath.
struct Journey {
    given: Given,
    org: OrganisationId,
}

impl std::ops::Deref for Journey {
    type Target = Given;
    fn deref(&self) -> &Given {
        &self.given
    }
}

impl std::ops::DerefMut for Journey {
    fn deref_mut(&mut self) -> &mut Given {
        &mut self.given
    }
}

impl Journey {
    fn new(today: &str) -> Journey {
        let mut given = given_no_events().on(today).with_calendar();
        let org = OrganisationId(uuid::Uuid::from_u128(1));
        given.and(Command::Organisation(OrganisationCommand::Register {
            organisation_id: org,
            name: "Fenmarsh Hospitals NHS Foundation Trust"
                .parse()
                .expect("a name"),
            ods_code: None,
            region: Region::EastOfEngland,
            kind: OrganisationKind::NhsTrust,
        }));
        Journey { given, org }
    }

    fn drop_in(&mut self, on: &str) {
        let organisation_id = self.org;
        self.and(Command::Application(ApplicationCommand::RecordDropIn {
            organisation_id,
            attended_on: date(on),
        }));
    }

    /// Applying for `level` in the open cycle with `manifest`.
    fn application(&self, level: Level, manifest: Manifest) -> Command {
        Command::Application(ApplicationCommand::Submit(SubmitApplication {
            application_id: "app-1".into(),
            organisation_id: self.org,
            cycle_id: "2025-26-cycle-2".into(),
            level_sought: level,
            manifest,
            framework: framework(),
        }))
    }

    fn submit(&self, level: Level, manifest: Manifest) -> Then {
        self.when(self.application(level, manifest))
    }

    /// The history goes on with the application submitted.
    fn submitted(&mut self, level: Level, manifest: Manifest) {
        let application = self.application(level, manifest);
        self.and(application);
    }
}

fn failures(e: DomainError) -> Vec<String> {
    match e {
        DomainError::EvidenceRulesFailed { failures, .. } => {
            failures.into_iter().map(|f| f.0).collect()
        }
        other => panic!("expected evidence rules to fail, got {other:?}"),
    }
}

#[test]
fn a_drop_in_counts_for_56_days_and_not_57() {
    let mut j = Journey::new("2025-09-10");
    j.drop_in("2025-07-15");
    let refused = j
        .submit(Level::Bronze, manifest(Level::Bronze, 4, j.today))
        .then_expect_error("drop_in_required");
    assert!(refused.to_string().contains("15 July 2025"), "{refused}");
    j.drop_in("2025-07-16");
    j.submit(Level::Bronze, manifest(Level::Bronze, 4, j.today))
        .then_expect_accepted(); // 56 days before is within the window
}

#[test]
fn evidence_counts_for_twelve_months_to_the_day() {
    let mut j = Journey::new("2025-09-10");
    j.drop_in("2025-09-01");
    let mut m = manifest(Level::Bronze, 4, j.today);
    m.documents[0].dated = date("2024-09-10");
    j.submit(Level::Bronze, m.clone()).then_expect_accepted(); // twelve months to the day is current
    m.documents[0].dated = date("2024-09-09");
    assert_eq!(
        failures(
            j.submit(Level::Bronze, m)
                .then_expect_error("evidence_rules_failed")
        ),
        ["evidence_current"]
    );
}

#[test]
fn bronze_needs_four_completed_documents_silver_eight_gold_twelve() {
    let mut j = Journey::new("2025-09-10");
    j.drop_in("2025-09-01");
    assert_eq!(
        failures(
            j.submit(Level::Bronze, manifest(Level::Bronze, 3, j.today))
                .then_expect_error("evidence_rules_failed")
        ),
        ["documents_minimum"]
    );
    let e = eligibility(&framework(), &manifest(Level::Gold, 11, j.today), j.today);
    assert_eq!(
        e.highest,
        Some(Level::Silver),
        "11 documents reach silver, not gold"
    );
    let mut m = manifest(Level::Bronze, 4, j.today);
    m.documents[3].completed = false;
    assert_eq!(
        failures(
            j.submit(Level::Bronze, m)
                .then_expect_error("evidence_rules_failed")
        ),
        ["documents_minimum", "no_blank_templates"],
        "a blank template counts for nothing and is refused"
    );
    j.submit(Level::Bronze, manifest(Level::Bronze, 4, j.today))
        .then_expect_accepted(); // 4 is enough for bronze
}

#[test]
fn a_reference_must_name_a_document_and_a_page_within_it() {
    let mut j = Journey::new("2025-09-10");
    j.drop_in("2025-09-01");
    let mut m = manifest(Level::Bronze, 4, j.today);
    m.commentaries[0].references[0].page = 13;
    let refused = j
        .submit(Level::Bronze, m.clone())
        .then_expect_error("evidence_rules_failed");
    assert_eq!(failures(refused.clone()), ["references_valid"]);
    assert!(
        refused
            .to_string()
            .contains("page 13 of \"SECRET-EVIDENCE-1\", which has 12 pages"),
        "{refused}"
    );
    m.commentaries[0].references[0].document = "Missing document".into();
    assert!(
        j.submit(Level::Bronze, m.clone())
            .then_expect_error("evidence_rules_failed")
            .to_string()
            .contains("not among the documents")
    );
    m.commentaries.remove(0);
    assert_eq!(
        failures(
            j.submit(Level::Bronze, m)
                .then_expect_error("evidence_rules_failed")
        ),
        ["commentary_every_criterion"]
    );
}

#[test]
fn only_face_to_face_anonymised_evidence_and_a_warning_for_one_department() {
    let j = Journey::new("2025-09-10");
    let mut m = manifest(Level::Bronze, 4, j.today);
    m.documents[0].face_to_face = false;
    m.documents[1].anonymised = false;
    let e = eligibility(&framework(), &m, j.today);
    let bronze = e.at(Level::Bronze).expect("bronze");
    let failed: Vec<&str> = bronze
        .rules
        .iter()
        .filter(|r| !r.passed)
        .map(|r| r.code.as_str())
        .collect();
    assert_eq!(failed, ["face_to_face_only", "anonymised"]);
    for d in &mut m.documents {
        d.host_department = "Pharmacy".into();
        d.face_to_face = true;
        d.anonymised = true;
    }
    let e = eligibility(&framework(), &m, j.today);
    let bronze = e.at(Level::Bronze).expect("bronze");
    assert!(
        bronze.eligible,
        "a single department is a warning, not a refusal"
    );
    let variety = bronze
        .rules
        .iter()
        .find(|r| r.code == "variety_of_departments")
        .expect("the rule");
    assert!(!variety.passed && variety.warning);
}

#[test]
fn one_open_application_one_per_cycle_only_in_an_open_cycle_and_never_in_the_pause() {
    let mut j = Journey::new("2025-09-10");
    j.drop_in("2025-09-01");
    let submitted = manifest(Level::Bronze, 4, j.today);
    j.submitted(Level::Bronze, submitted);
    j.submit(Level::Bronze, manifest(Level::Bronze, 4, j.today))
        .then_expect_error("application_already_open");
    let late = Journey::new("2025-09-20");
    late.submit(Level::Bronze, manifest(Level::Bronze, 4, late.today))
        .then_expect_error("cycle_not_open");
    let paused = Journey::new("2026-01-10");
    paused
        .submit(Level::Bronze, manifest(Level::Bronze, 4, paused.today))
        .then_expect_error("programme_paused");
}

#[test]
fn a_decision_is_within_its_window_no_higher_than_sought_or_eligible_and_issues_the_award() {
    let mut j = Journey::new("2025-09-10");
    j.drop_in("2025-09-01");
    let submitted = manifest(Level::Silver, 8, j.today);
    j.submitted(Level::Silver, submitted);
    let number = CertificateNumber::from_random(77);
    let decision = |level: Option<Level>, feedback: &str| {
        Command::Application(ApplicationCommand::Decide(DecideApplication {
            application_id: "app-1".into(),
            award: level,
            certificate_number: number.clone(),
            feedback: feedback.into(),
            framework: framework(),
        }))
    };
    j.when(decision(Some(Level::Silver), "Good work"))
        .then_expect_error("outside_decision_window");
    j.today = date("2025-12-05");
    j.when(decision(Some(Level::Gold), "Good work"))
        .then_expect_error("level_above_sought");
    j.when(decision(Some(Level::Silver), " "))
        .then_expect_error("feedback_required");
    let events = j.and(decision(
        Some(Level::Silver),
        "SECRET-FEEDBACK: strong induction evidence",
    ));
    assert!(
        matches!(&events[1], Event::AwardIssued { certificate_number, level: Level::Silver, awarded_on, framework_version: Some(v), .. }
        if *certificate_number == number && *awarded_on == date("2025-12-05") && v == "sample-1")
    );
    j.when(decision(None, "again"))
        .then_expect_error("application_already_decided");
    j.today = date("2025-12-16");
    assert_eq!(
        wexqs::domain::status_as_of(
            &j.state.awards[&number],
            &j.state.programme,
            date("2026-11-24")
        )
        .status,
        wexqs::domain::Status::Valid
    );
}

#[test]
fn a_decision_cannot_award_above_what_the_evidence_supports() {
    let mut j = Journey::new("2025-09-10");
    j.drop_in("2025-09-01");
    let submitted = manifest(Level::Silver, 8, j.today);
    j.submitted(Level::Silver, submitted);
    j.today = date("2025-12-05");
    // Judged against a framework with a silver criterion the commentary does not answer, the
    // evidence supports bronze only.
    let mut stricter = framework();
    stricter.criteria.push(wexqs::domain::framework::Criterion {
        id: "DP9".into(),
        section: wexqs::domain::framework::Section::DuringPlacement,
        level: Level::Silver,
        text: "A further silver criterion.".into(),
    });
    let decision = |level| {
        Command::Application(ApplicationCommand::Decide(DecideApplication {
            application_id: "app-1".into(),
            award: Some(level),
            certificate_number: CertificateNumber::from_random(5),
            feedback: "Promising".into(),
            framework: stricter.clone(),
        }))
    };
    let refused = j
        .when(decision(Level::Silver))
        .then_expect_error("level_above_eligible");
    assert!(refused.to_string().contains("supports bronze"), "{refused}");
    j.and(decision(Level::Bronze));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_journey_through_the_api_and_no_private_word_on_any_public_route() {
    let app = sqlite_app().await;
    app.clock.set(at(2025, 9, 10));
    let org = app
        .organisation("Fenmarsh Hospitals NHS Foundation Trust", Some("ZF1"))
        .await;
    let drop_in = app
        .admin_post(
            &format!("/v1/admin/organisations/{org}/drop-ins"),
            json!({"attended_on": "2025-09-01"}),
        )
        .await;
    assert_eq!(drop_in.status(), 201);

    let id = an_application_refused_then_corrected(&app, &org).await;
    let number = decided_silver(&app, &id).await;
    assert_no_private_word_on_any_public_route(&app, &number).await;
    // A reviewer sees it all.
    let private: Value = Client::send(app.as_reviewer().request(
        reqwest::Method::GET,
        &format!("/v1/admin/applications/{id}"),
    ))
    .await
    .json()
    .await
    .expect("JSON");
    assert!(private.to_string().contains("SECRET-FEEDBACK"));
    let framework: Value = app.read_json("/v1/framework").await;
    assert_eq!(framework["sample"], true);
    assert_eq!(framework["criteria"].as_array().map(Vec::len), Some(24));
}

/// A gold application for `org` whose evidence breaks two rules is refused, naming both; once
/// corrected it is accepted, eligible for gold: its id.
async fn an_application_refused_then_corrected(app: &TestApp, org: &str) -> String {
    let today = date("2025-09-10");
    let mut gold = manifest(Level::Gold, 11, today);
    gold.commentaries[0].references[0].page = 13;
    let body = |m: &Manifest| json!({"organisation_id": org, "cycle_id": "2025-26-cycle-2", "level_sought": "gold", "manifest": m});
    let refused = app.admin_post("/v1/admin/applications", body(&gold)).await;
    assert_eq!(refused.status(), 422);
    let problem: Value = refused.json().await.expect("JSON");
    assert_eq!(problem["code"], "evidence_rules_failed");
    let codes: Vec<&str> = problem["failures"]
        .as_array()
        .expect("failures")
        .iter()
        .map(|f| f["code"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        codes,
        ["documents_minimum", "references_valid"],
        "{problem}"
    );

    let corrected = manifest(Level::Gold, 12, today);
    let submitted = app
        .admin_post("/v1/admin/applications", body(&corrected))
        .await;
    assert_eq!(submitted.status(), 201);
    let application: Value = submitted.json().await.expect("JSON");
    let id = application["application_id"]
        .as_str()
        .expect("an id")
        .to_owned();
    assert_eq!(application["eligibility"]["highest"], "gold");
    id
}

/// The reviewer awards the application `id` silver (a private feedback with it): the award is
/// valid, of the framework's version, with a credential: its number.
async fn decided_silver(app: &TestApp, id: &str) -> String {
    app.clock.set(at(2025, 12, 5));
    let decided = Client::send(
        app.as_reviewer()
            .request(reqwest::Method::POST, &format!("/v1/admin/applications/{id}/decision"))
            .json(&json!({"decision": "awarded", "level": "silver", "feedback": "SECRET-FEEDBACK: silver this cycle; gold needs more departments"})),
    )
    .await;
    assert_eq!(decided.status(), 200);
    let decided: Value = decided.json().await.expect("JSON");
    let number = decided["decision"]["outcome"]["certificate_number"]
        .as_str()
        .expect("a number")
        .to_owned();
    let v = app.verification(&number, None).await;
    assert_eq!(
        (v["status"].as_str(), v["award"]["level"].as_str()),
        (Some("valid"), Some("silver"))
    );
    assert_eq!(v["award"]["framework_version"], "sample-1");
    assert_eq!(
        app.get(&format!("/v1/awards/{number}/credential"))
            .await
            .status(),
        200
    );
    number
}

/// Crawls every public route and page, and the PDF's text: no evidence, commentary or feedback
/// anywhere.
async fn assert_no_private_word_on_any_public_route(app: &TestApp, number: &str) {
    let mut paths: Vec<String> = wexqs::http::routes()
        .filter(|(m, p)| *m == "get" && !p.starts_with("/v1/admin"))
        .map(|(_, p)| {
            p.replace("{certificate_number}", number)
                .replace("{list_id}", "1")
                .replace("{level}", "silver")
        })
        .collect();
    paths.extend([
        "/?q=fenmarsh".to_owned(),
        "/v1/register?q=fenmarsh".to_owned(),
        format!("/v1/awards/{number}/verification?at=2026-01-01"),
        format!("/oembed?url={}/verify/{number}", app.base()),
    ]);
    for path in &paths {
        let response = app.get(path).await;
        let bytes = response.bytes().await.expect("a body");
        let text = String::from_utf8_lossy(&bytes);
        for secret in [
            "SECRET-EVIDENCE",
            "SECRET-COMMENTARY",
            "SECRET-FEEDBACK",
            "Radiology",
            "Estates and facilities",
        ] {
            assert!(!text.contains(secret), "{path} shows {secret}");
        }
    }
    // The PDF's text too.
    let pdf = app
        .get(&format!("/v1/awards/{number}/certificate.pdf"))
        .await
        .bytes()
        .await
        .expect("a PDF");
    assert!(!String::from_utf8_lossy(&pdf).contains("SECRET"));
}

#[test]
fn wexqs_applications_check_prints_the_checklist_the_way_the_guidance_reads() {
    let dir = temp_dir();
    let file = dir.path().join("manifest.json");
    std::fs::write(
        &file,
        serde_json::to_vec(&manifest(Level::Gold, 11, date("2025-09-10"))).expect("JSON"),
    )
    .expect("written");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wexqs"))
        .args(["applications", "check"])
        .arg(&file)
        .args(["--on", "2025-09-10"])
        .output()
        .expect("wexqs runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Silver: eligible"), "{text}");
    assert!(text.contains("Gold: not eligible"), "{text}");
    assert!(
        text.contains("FAIL documents_minimum: Gold needs at least 12 completed documents across the application; this one has 11"),
        "{text}"
    );
    assert!(text.contains("the evidence supports Silver"), "{text}");
}

/// The shipped demonstration calendar and sample manifest let the journey be tried on the day a
/// registry is first started: on the day they were written and, moved, on a later one.
#[test]
fn the_demo_journey_calendar_and_sample_manifest_go_from_drop_in_to_award_on_the_first_day() {
    let calendar = Calendar::parse(include_str!("../../data/programme-calendar-open.json"))
        .expect("the demo calendar parses");
    let sample: Manifest = serde_json::from_str(include_str!("../../data/manifest-sample.json"))
        .expect("the sample manifest parses");
    for today in ["2026-11-25", "2027-03-10"] {
        let checked = eligibility(&framework(), &sample, date(today));
        assert_eq!(checked.highest, Some(Level::Silver), "on {today}");

        let mut g = given_no_events().on(today);
        for c in calendar.commands_on(date(today)) {
            g.and(c);
        }
        let org = OrganisationId(uuid::Uuid::from_u128(7));
        g.and(Command::Organisation(OrganisationCommand::Register {
            organisation_id: org,
            name: "Riverside Community Health NHS Trust"
                .parse()
                .expect("a name"),
            ods_code: None,
            region: Region::NorthWest,
            kind: OrganisationKind::NhsTrust,
        }));
        g.and(Command::Application(ApplicationCommand::RecordDropIn {
            organisation_id: org,
            attended_on: date(today),
        }));
        g.and(Command::Application(ApplicationCommand::Submit(
            SubmitApplication {
                application_id: "journey".into(),
                organisation_id: org,
                cycle_id: "demo-journey".into(),
                level_sought: Level::Silver,
                manifest: sample.clone(),
                framework: framework(),
            },
        )));
        let decided = g.and(Command::Application(ApplicationCommand::Decide(
            DecideApplication {
                application_id: "journey".into(),
                award: Some(Level::Silver),
                certificate_number: CertificateNumber::from_random(42),
                feedback: "Clear evidence across every section.".into(),
                framework: framework(),
            },
        )));
        assert!(
            decided.iter().any(|e| matches!(
                e,
                Event::AwardIssued {
                    level: Level::Silver,
                    ..
                }
            )),
            "on {today}: {decided:?}"
        );
    }
}
