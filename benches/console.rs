//! The console's pages at the size of a full register (100,000 awards by default), served over
//! real HTTP by the real application to a signed-in member of staff, one request at a time: each
//! page's p50 and p99 against its target (a search or list page within 10 ms at p50, the
//! dashboard within 50 ms) and as a ratio to a baseline measured in the same run, just before
//! it, on the same server (the public JSON verification answer, served from memory). Every
//! answer is checked to be a 200 holding what the page is for (a certificate number of the
//! register, an organisation's or application's id), so no page passes as an error page.
//!
//! The register is filled the fastest way `wexqs import` fills one (CSV rows through
//! `service::import`), on SQLite in a temporary folder, with the demonstration calendar (a
//! cycle open today, no pause), so that applications can be submitted too: one organisation in
//! twenty without an award applies (a drop-in session, then an application with its evidence),
//! and the latest changes are suspensions of awards, as a working day's would be.
//!
//! `cargo bench --bench console` (`WEXQS_BENCH_AWARDS` awards, default 100,000;
//! `WEXQS_BENCH_SECONDS` a page, default 3).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wexqs::domain::applications::{Commentary, EvidenceDocument, Manifest, Reference};
use wexqs::domain::calendar::Calendar;
use wexqs::domain::framework::{Framework, SAMPLE_FRAMEWORK};
use wexqs::domain::{
    ApplicationCommand, AwardCommand, CertificateNumber, Command, Level, OrganisationCommand,
    OrganisationId, OrganisationKind, Region, SubmitApplication,
};
use wexqs::http::{AppState, serve};
use wexqs::service::import::{import_commands, read_csv};
use wexqs::service::staff::NewStaff;
use wexqs::service::{Actor, Registry, seeded_rng};
use wexqs::startup::{self, Config};

/// The demonstration calendar: one cycle taking submissions up to today, no pause.
const OPEN_CALENDAR: &str = include_str!("../data/programme-calendar-open.json");

/// Words organisations' names are made of, so that a name's words are shared by many awards
/// (as "hospitals" and "trust" are in the register) and searches find many or few.
const PLACES: [&str; 16] = [
    "Fenmarsh",
    "Harlow",
    "Thameside",
    "Norbridge",
    "Cambourne",
    "Wensum",
    "Ashdown",
    "Kestrel",
    "Marlow",
    "Pennine",
    "Severn",
    "Tamar",
    "Wolds",
    "Dales",
    "Solent",
    "Mersey",
];
const KINDS: [&str; 5] = [
    "Hospitals NHS Foundation Trust",
    "Community Health NHS Trust",
    "Primary Care Network",
    "Hospice",
    "Ambulance Service NHS Trust",
];

/// The name of the `i`th award's organisation.
fn name_of(i: usize) -> String {
    format!("{} {} {i}", PLACES[i % 16], KINDS[(i / 16) % 5])
}

/// `n` awards, one organisation each, awarded over the 1,000 days before today: about a quarter
/// expired, a tenth expiring within 90 days; every third organisation has an ODS code.
fn csv_of(n: usize, today: chrono::NaiveDate) -> String {
    let mut text =
        String::from("organisation_name,ods_code,region,kind,level,awarded_on,issuer_name\n");
    for i in 0..n {
        let awarded = today - chrono::Duration::days(1 + (i as i64 * 7919) % 1_000);
        let code = if i % 3 == 0 {
            format!("C{i:06}")
        } else {
            String::new()
        };
        text.push_str(&format!(
            "{},{code},{},nhs_trust,{},{awarded},\n",
            name_of(i),
            Region::ALL[i % 7].as_str(),
            Level::ALL[i % 3].as_str()
        ));
    }
    text
}

/// Evidence that passes every rule at `level`, as the sample framework asks for it.
fn manifest(framework: &Framework, level: Level, submitted: chrono::NaiveDate) -> Manifest {
    let departments = ["Radiology", "Pharmacy", "Estates and facilities"];
    Manifest {
        documents: (1..=12)
            .map(|i| EvidenceDocument {
                name: format!("Placement record {i}"),
                pages: 12,
                dated: submitted - chrono::Duration::days(30),
                host_department: departments[i % 3].into(),
                completed: true,
                anonymised: true,
                face_to_face: true,
            })
            .collect(),
        commentaries: framework
            .criteria_for(level)
            .map(|c| Commentary {
                criterion: c.id.clone(),
                text: format!("How we meet {}", c.id),
                references: vec![Reference {
                    document: "Placement record 1".into(),
                    page: 3,
                }],
            })
            .collect(),
    }
}

/// `count` organisations registered without an award, each with a drop-in session a week ago
/// and an application for the open cycle: their ids and the applications' ids.
async fn applications(registry: &Registry, count: usize) -> Vec<(OrganisationId, String)> {
    let framework = Framework::parse(SAMPLE_FRAMEWORK).expect("the sample framework");
    let today = registry.today();
    // The demonstration calendar's one cycle.
    let cycle_id = "demo-journey".to_owned();
    let mut made = Vec::with_capacity(count);
    let mut commands = Vec::new();
    for i in 0..count {
        let organisation_id = registry.new_organisation_id();
        let application_id = format!("bench-application-{i:06}");
        let level = Level::ALL[i % 3];
        commands.push(Command::Organisation(OrganisationCommand::Register {
            organisation_id,
            name: format!("{} Applicant Trust {i}", PLACES[i % 16])
                .parse()
                .expect("a name"),
            ods_code: None,
            region: Region::ALL[i % 7],
            kind: OrganisationKind::NhsTrust,
        }));
        commands.push(Command::Application(ApplicationCommand::RecordDropIn {
            organisation_id,
            attended_on: today - chrono::Duration::days(7),
        }));
        commands.push(Command::Application(ApplicationCommand::Submit(
            SubmitApplication {
                application_id: application_id.clone(),
                organisation_id,
                cycle_id: cycle_id.clone(),
                level_sought: level,
                manifest: manifest(&framework, level, today),
                framework: framework.clone(),
            },
        )));
        made.push((organisation_id, application_id));
        if commands.len() >= 3_000 {
            registry
                .execute_all(&Actor::cli(), std::mem::take(&mut commands), None)
                .await
                .expect("the applications are taken");
        }
    }
    if !commands.is_empty() {
        registry
            .execute_all(&Actor::cli(), commands, None)
            .await
            .expect("the applications are taken");
    }
    made
}

/// One page to time: its name, its path, and a text its answer must hold.
struct Probe {
    name: &'static str,
    path: String,
    must_hold: String,
    /// The p50 it should answer within, in milliseconds.
    target_ms: f64,
}

/// A browser signed in to the console.
struct Browser {
    base: String,
    cookie: String,
    http: reqwest::Client,
}

impl Browser {
    /// One request: how long it took, and its body, checked to be a 200.
    async fn get(&self, path: &str) -> (Duration, String) {
        let mut start = Instant::now();
        let request = || {
            self.http
                .get(format!("{}{path}", self.base))
                .header(reqwest::header::COOKIE, &self.cookie)
                .send()
        };
        let response = match request().await {
            Ok(response) => response,
            // A kept-alive connection the server closed as it was reused: once more, afresh.
            Err(e) if e.is_request() => {
                start = Instant::now();
                request().await.expect("answered")
            }
            Err(e) => panic!("{path}: {e}"),
        };
        let status = response.status();
        let body = response.text().await.expect("a body");
        let took = start.elapsed();
        assert_eq!(status, reqwest::StatusCode::OK, "{path}: {body}");
        (took, body)
    }

    /// Requests `path` one at a time for `seconds`: the times, sorted.
    async fn time(&self, path: &str, seconds: f64) -> Vec<Duration> {
        let mut samples = Vec::new();
        let start = Instant::now();
        while start.elapsed().as_secs_f64() < seconds || samples.len() < 5 {
            samples.push(self.get(path).await.0);
        }
        samples.sort();
        samples
    }
}

fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    let i = ((sorted.len() as f64 * q) as usize).min(sorted.len() - 1);
    sorted[i].as_secs_f64() * 1000.0
}

/// How many distinct certificate numbers of the register `body` names.
fn numbers_named(body: &str, register: &HashSet<String>) -> usize {
    let mut found = HashSet::new();
    let mut rest = body;
    while let Some(at) = rest.find("/console/awards/") {
        rest = &rest[at + "/console/awards/".len()..];
        if let Some(candidate) = rest.get(..19)
            && register.contains(candidate)
        {
            found.insert(candidate.to_owned());
        }
    }
    found.len()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("WEXQS_BENCH_AWARDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let seconds: f64 = std::env::var("WEXQS_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3.0);
    let dir = tempfile::tempdir().expect("a folder");
    let url = format!("sqlite://{}", dir.path().join("registry.db").display());
    let calendar = Calendar::parse(OPEN_CALENDAR).expect("the calendar");
    let registry = startup::start(Config::new(url, calendar).with_rng(seeded_rng(17)))
        .await
        .expect("start");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let base = format!("http://{}", listener.local_addr().expect("an address"));
    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    startup::sign_with_key(&registry, key, &base.parse().expect("an address"))
        .await
        .expect("signing");

    let filling = Instant::now();
    let rows = read_csv(csv_of(n, registry.today()).as_bytes()).expect("the rows parse");
    let issued = import_commands(&registry, &Actor::cli(), rows, None, |_| {})
        .await
        .expect("the import")
        .issued;
    assert_eq!(issued.len(), n, "every award imported");
    let applied = applications(&registry, (n / 20).max(10)).await;
    // The latest changes: a few suspensions, as the dashboard and the audit trail list them.
    let later = registry.today() + chrono::Duration::days(200);
    let suspended: Vec<CertificateNumber> = issued
        .iter()
        .filter(|number| {
            registry
                .award(number)
                .is_some_and(|(a, _)| a.valid_until > later)
        })
        .step_by((n / 40).max(1))
        .cloned()
        .collect();
    let suspensions = suspended
        .iter()
        .map(|number| {
            Command::Award(AwardCommand::Suspend {
                certificate_number: number.clone(),
                reason: "A complaint is being looked into"
                    .parse()
                    .expect("a reason"),
                private_note: None,
                expected: None,
            })
        })
        .collect();
    registry
        .execute_all(&Actor::cli(), suspensions, None)
        .await
        .expect("the suspensions");
    let staff_id = registry
        .add_staff(
            &Actor::cli(),
            NewStaff {
                issuer: "https://id.example.test".parse().expect("an issuer"),
                subject: "rhys".parse().expect("a subject"),
                name: "Rhys Reviewer".parse().expect("a name"),
                email: "rhys@example.test".parse().expect("an address"),
                role: "reviewer".parse().expect("a role"),
            },
        )
        .await
        .expect("a reviewer");
    let member = registry.staff_member(&staff_id).expect("on the staff list");
    let session = wexqs::testing::console_session(&registry, &member).await;
    println!(
        "{n} awards, {} applications, filled in {:.1} s",
        applied.len(),
        filling.elapsed().as_secs_f64()
    );

    let registry: Arc<Registry> = registry;
    let state = AppState::new(registry.clone(), &base).with_console(wexqs::testing::console(&base));
    tokio::spawn(serve(listener, state, 1, std::future::pending()));
    let browser = Browser {
        base: base.clone(),
        cookie: format!("__Host-wexqs-console={session}"),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client"),
    };
    let register: HashSet<String> = issued.iter().map(ToString::to_string).collect();

    let middle = &issued[n / 2];
    let middle_name = registry
        .award(middle)
        .expect("in the register")
        .0
        .organisation_name
        .as_str()
        .to_owned();
    let (_, application) = &applied[applied.len() / 2];
    let word = |s: &str| s.replace(' ', "+");
    let probes = [
        Probe {
            name: "dashboard",
            path: "/console".into(),
            must_hold: suspended[suspended.len() - 1].to_string(),
            target_ms: 50.0,
        },
        Probe {
            name: "awards: a name",
            path: format!("/console/awards?q={}", word(&middle_name)),
            must_hold: middle.to_string(),
            target_ms: 10.0,
        },
        Probe {
            name: "awards: a number",
            path: format!("/console/awards?q={middle}"),
            must_hold: middle.to_string(),
            target_ms: 10.0,
        },
        Probe {
            name: "awards: a word, level and status",
            path: "/console/awards?q=kestrel&level=gold&status=valid".into(),
            must_hold: String::new(),
            target_ms: 10.0,
        },
        Probe {
            name: "awards: level and status",
            path: "/console/awards?level=silver&status=valid".into(),
            must_hold: String::new(),
            target_ms: 10.0,
        },
        Probe {
            name: "awards: all, page 1",
            path: "/console/awards".into(),
            must_hold: String::new(),
            target_ms: 10.0,
        },
        Probe {
            name: "awards: all, a middle page",
            path: format!("/console/awards?page={}", (n / 100).max(1)),
            must_hold: String::new(),
            target_ms: 10.0,
        },
        Probe {
            name: "organisations: all",
            path: "/console/organisations".into(),
            must_hold: "/console/organisations/".into(),
            target_ms: 10.0,
        },
        Probe {
            name: "organisations: a name",
            path: format!("/console/organisations?q={}", word(&middle_name)),
            must_hold: middle.to_string(),
            target_ms: 10.0,
        },
        Probe {
            name: "organisations: a word, no award",
            path: "/console/organisations?q=applicant&award=none".into(),
            must_hold: "Applicant Trust".into(),
            target_ms: 10.0,
        },
        Probe {
            name: "applications: the queue",
            path: "/console/applications".into(),
            must_hold: "bench-application-000000".into(),
            target_ms: 10.0,
        },
        Probe {
            name: "applications: awaiting, a later page",
            path: format!(
                "/console/applications?state=awaiting_decision&page={}",
                applied.len() / 2 / 50 + 1
            ),
            must_hold: application.clone(),
            target_ms: 10.0,
        },
        Probe {
            name: "audit: the latest",
            path: "/console/audit".into(),
            must_hold: suspended[suspended.len() - 1].to_string(),
            target_ms: 10.0,
        },
    ];
    let baseline_path = format!("/v1/awards/{middle}/verification");

    // Warm up, and check every page answers with what it is for.
    for probe in &probes {
        let (_, body) = browser.get(&probe.path).await;
        assert!(
            body.contains(&probe.must_hold),
            "{}: the answer does not hold {:?}",
            probe.name,
            probe.must_hold
        );
        let named = numbers_named(&body, &register);
        let lists_awards = probe.name.starts_with("awards") || probe.name == "dashboard";
        assert!(
            !lists_awards || named > 0,
            "{}: the answer names no award of the register",
            probe.name
        );
        for _ in 0..5 {
            browser.get(&probe.path).await;
        }
    }
    browser.get(&baseline_path).await;

    println!(
        "{n} awards; each page loaded one request at a time for {seconds} s over loopback, \
         after the baseline (GET /v1/awards/{{n}}/verification) for {:.1} s:",
        seconds / 3.0
    );
    println!(
        "{:38} {:>9} {:>9} {:>7} {:>6} {:>13} {:>8}",
        "page", "p50 ms", "p99 ms", "target", "met", "base p50 ms", "ratio"
    );
    let mut all_met = true;
    for probe in &probes {
        let baseline = browser.time(&baseline_path, seconds / 3.0).await;
        let samples = browser.time(&probe.path, seconds).await;
        let (p50, p99) = (quantile_ms(&samples, 0.5), quantile_ms(&samples, 0.99));
        let base_p50 = quantile_ms(&baseline, 0.5);
        let met = p50 <= probe.target_ms;
        all_met &= met;
        println!(
            "{:38} {p50:9.3} {p99:9.3} {:>7} {:>6} {base_p50:13.3} {:7.1}x",
            probe.name,
            format!("{} ms", probe.target_ms),
            if met { "yes" } else { "NO" },
            p50 / base_p50,
        );
    }
    println!(
        "{}",
        if all_met {
            "every page within its target"
        } else {
            "some pages miss their target"
        }
    );
}
