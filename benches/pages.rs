//! Page serving time with 1,000 awards in the register, reported as a ratio against a baseline
//! measured in the same run (the JSON verification answer, served from memory) and as
//! milliseconds per request over loopback (an upper bound on server time).
//!
//! `cargo bench --bench pages` (`WEXQS_BENCH_N` requests per route, default 400).

use std::time::{Duration, Instant};

use wexqs::domain::calendar::{Calendar, DEFAULT_CALENDAR};
use wexqs::domain::{
    AwardCommand, AwardSource, CertificateNumber, Command, IssueAward, Level, OrganisationCommand,
    OrganisationKind, Region,
};
use wexqs::http::{AppState, serve};
use wexqs::service::{Actor, seeded_rng};
use wexqs::startup::{self, Config};

async fn time(client: &reqwest::Client, url: &str, n: usize) -> (f64, f64) {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        let response = client.get(url).send().await.expect("answered");
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        let _ = response.bytes().await.expect("a body");
        samples.push(start.elapsed());
    }
    samples.sort();
    let mean = samples.iter().sum::<Duration>().as_secs_f64() * 1000.0 / n as f64;
    let p95 = samples[n * 95 / 100].as_secs_f64() * 1000.0;
    (mean, p95)
}

/// Registers 1,000 organisations, each with an award: their certificate numbers.
async fn fill_register(registry: &wexqs::service::Registry) -> Vec<CertificateNumber> {
    let mut commands = Vec::new();
    let mut numbers: Vec<CertificateNumber> = Vec::new();
    for i in 0..1_000u32 {
        let organisation_id = registry.new_organisation_id();
        commands.push(Command::Organisation(OrganisationCommand::Register {
            organisation_id,
            name: format!("Bench Valley Hospitals {i} NHS Trust")
                .parse()
                .expect("a name"),
            ods_code: None,
            region: Region::ALL[i as usize % 7],
            kind: OrganisationKind::NhsTrust,
        }));
        let number = registry.new_certificate_number();
        numbers.push(number.clone());
        commands.push(Command::Award(AwardCommand::Issue(IssueAward {
            certificate_number: number,
            organisation_id,
            level: Level::ALL[i as usize % 3],
            awarded_on: chrono::NaiveDate::from_ymd_opt(2025, 1, 1).expect("a date")
                + chrono::Duration::days(i64::from(i % 300)),
            issuer_name: None,
            framework_version: None,
            source: AwardSource::Imported,
        })));
    }
    registry
        .execute_all(&Actor::cli(), commands, None)
        .await
        .expect("1,000 awards");
    numbers
}

/// The routes timed, by name: the baseline first, then the pages about the award `number`.
fn routes(base: &str, number: &CertificateNumber) -> [(&'static str, String); 7] {
    [
        (
            "JSON verification (baseline)",
            format!("{base}/v1/awards/{number}/verification"),
        ),
        (
            "verification page /verify/{n}",
            format!("{base}/verify/{number}"),
        ),
        ("register page /", format!("{base}/")),
        (
            "register search /?q=valley+500",
            format!("{base}/?q=valley+500"),
        ),
        (
            "register filter /?status=valid&region=london",
            format!("{base}/?status=valid&region=london"),
        ),
        ("embed card /embed/{n}", format!("{base}/embed/{number}")),
        (
            "badge /v1/awards/{n}/badge.svg",
            format!("{base}/v1/awards/{number}/badge.svg"),
        ),
    ]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("WEXQS_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let dir = tempfile::tempdir().expect("a folder");
    let url = format!("sqlite://{}", dir.path().join("r.db").display());
    let calendar = Calendar::parse(DEFAULT_CALENDAR).expect("the calendar");
    let registry = startup::start(Config::new(url, calendar).with_rng(seeded_rng(3)))
        .await
        .expect("start");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let base = format!("http://{}", listener.local_addr().expect("an address"));
    let key = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    startup::sign_with_key(&registry, key, &base.parse().expect("an address"))
        .await
        .expect("signing");
    let numbers = fill_register(&registry).await;
    tokio::spawn(serve(
        listener,
        AppState::new(registry, &base),
        2,
        std::future::pending(),
    ));
    let client = reqwest::Client::new();
    let routes = routes(&base, &numbers[500]);
    for (_, url) in &routes {
        time(&client, url, 20).await; // warm up
    }
    println!("1,000 awards, {n} sequential requests a route, loopback:");
    let mut baseline = None;
    for (name, url) in &routes {
        let (mean, p95) = time(&client, url, n).await;
        let baseline = *baseline.get_or_insert(mean);
        println!(
            "{name:48} mean {mean:6.3} ms  p95 {p95:6.3} ms  ratio to baseline {:.2}x",
            mean / baseline
        );
    }
}
