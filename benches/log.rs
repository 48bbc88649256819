//! Whole-log work on a large log, as ratios against a baseline measured in the same run: (a)
//! reading every event row and decoding its payload into the event type, (b) the rebuild of the
//! projections (`wexqs rebuild`'s path, `Maintenance::rebuild_projections`) and (c) the log's
//! verification (`store::check_log`, and `Maintenance::check_log`, the whole of
//! `wexqs log verify`: the stored tree and checkpoints checked after it). Each runs in a child process of its own, so
//! its peak memory (VmHWM) is its own. The log (organisations, each with one award, appended
//! through the store in big batches) is 300,000 events on a SQLite file, and on PostgreSQL too
//! when `WEXQS_BENCH_PG` names a database URL.
//!
//! `cargo bench --bench log` (`WEXQS_BENCH_EVENTS=1000000` for a larger log).

use std::process::Command as Process;
use std::time::Instant;

use chrono::NaiveDate;
use uuid::Uuid;
use wexqs::domain::{
    AwardSource, CertificateNumber, Event, Level, OrganisationId, OrganisationKind, Region,
};
use wexqs::service::Maintenance;
use wexqs::startup::{self, Pooling};
use wexqs::store::{AppendRequest, EventStore, NewEvent, Store, check_log};

/// The environment variable that makes this binary a child running one measurement.
const CHILD: &str = "WEXQS_BENCH_LOG_CHILD";

/// An organisation registered and its award issued: two events of one stream.
fn organisation_with_award(i: u64) -> Vec<Event> {
    let organisation_id = OrganisationId(Uuid::from_u128(u128::from(i) + 1));
    let name = format!("Bench Trust {i}").parse().expect("a name");
    let awarded_on = NaiveDate::from_ymd_opt(2025, 1, 1).expect("a date");
    vec![
        Event::OrganisationRegistered {
            organisation_id,
            name: "Bench Trust".parse().expect("a name"),
            ods_code: None,
            region: Region::London,
            kind: OrganisationKind::Other,
        },
        Event::AwardIssued {
            certificate_number: CertificateNumber::from_random(u128::from(i) * 7_919 + 13),
            organisation_id,
            organisation_name: name,
            ods_code: None,
            region: Region::London,
            level: Level::Silver,
            awarded_on,
            valid_until: NaiveDate::from_ymd_opt(2027, 1, 1).expect("a date"),
            issuer_name: "NHS England".into(),
            scheme: "WEQS".into(),
            framework_version: None,
            source: AwardSource::Issued,
        },
    ]
}

/// Appends `events` events (rounded up to whole organisations) in transactions of 10,000.
async fn build_log(store: &Store, events: u64) {
    const PER_TRANSACTION: u64 = 10_000;
    let organisations = events.div_ceil(2);
    let mut i = 0;
    while i < organisations {
        let upto = (i + PER_TRANSACTION / 2).min(organisations);
        let batch = (i..upto)
            .map(|o| AppendRequest {
                events: organisation_with_award(o)
                    .into_iter()
                    .enumerate()
                    .map(|(k, e)| {
                        NewEvent::new(
                            e,
                            Uuid::from_u128((u128::from(o) << 1) + k as u128 + 1),
                            "2025-01-01T09:00:00.000000Z".into(),
                            "cli".into(),
                        )
                    })
                    .collect(),
                ..AppendRequest::default()
            })
            .collect();
        for result in store.append_batch(batch).await.expect("appended") {
            result.expect("no conflict");
        }
        i = upto;
    }
}

/// Peak resident memory of this process so far, in MiB.
fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// The database as `wexqs rebuild` and `wexqs log verify` open it.
async fn maintenance(url: &str) -> Maintenance {
    startup::open_maintenance(url, Pooling::COMMAND, startup::Migrations::Apply)
        .await
        .expect("open the database")
}

/// One measurement, in this (child) process: prints its seconds and peak memory.
async fn child(what: &str, url: &str) {
    let store = Store::open(url).await.expect("open the store");
    let start = Instant::now();
    let events = match what {
        "read" => {
            let mut events = 0u64;
            loop {
                let page = store.read(events, 2_000).await.expect("read");
                if page.is_empty() {
                    break events;
                }
                for e in &page {
                    std::hint::black_box(e.envelope().expect("decodes"));
                }
                events += page.len() as u64;
            }
        }
        "rebuild" => maintenance(url)
            .await
            .rebuild_projections(|_| {})
            .await
            .expect("rebuilt"),
        "verify" => {
            let check = check_log(&store, |_| {}).await.expect("verified");
            assert_eq!(check.problem, None, "the log is consistent");
            check.size
        }
        "verify-all" => {
            let report = maintenance(url)
                .await
                .check_log(|_| {})
                .await
                .expect("verified");
            assert_eq!(
                report.problem, None,
                "the log, its tree and checkpoints agree"
            );
            report.size
        }
        other => panic!("no measurement called {other}"),
    };
    println!(
        "{} {} {}",
        start.elapsed().as_secs_f64(),
        peak_mib(),
        events
    );
}

/// Runs one measurement in a child process: (seconds, peak MiB).
fn measure(what: &str, url: &str) -> (f64, f64) {
    let out = Process::new(std::env::current_exe().expect("this binary"))
        .env(CHILD, format!("{what} {url}"))
        .output()
        .expect("the child ran");
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut fields = text
        .split_whitespace()
        .map(|f| f.parse::<f64>().expect("a number"));
    let seconds = fields.next().expect("seconds");
    let peak = fields.next().expect("peak memory");
    (seconds, peak)
}

async fn run(label: &str, url: &str, events: u64) {
    let store = Store::open(url).await.expect("open the store");
    let start = Instant::now();
    build_log(&store, events).await;
    let size = store.head().await.expect("a head").size;
    println!(
        "{label}: built a log of {size} events in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    let (read, read_peak) = measure("read", url);
    println!("{label}: (a) read and decode every event {read:.2} s, peak {read_peak:.0} MiB");
    for (what, name) in [
        ("rebuild", "(b) rebuild"),
        ("verify", "(c) log verify (check_log)"),
        (
            "verify-all",
            "(c') log verify (check_log, then the tree and checkpoints)",
        ),
    ] {
        let (seconds, peak) = measure(what, url);
        println!(
            "{label}: {name} {seconds:.2} s, peak {peak:.0} MiB; speed against (a) {:.2}x",
            read / seconds
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if let Ok(job) = std::env::var(CHILD) {
        let (what, url) = job.split_once(' ').expect("a measurement and a URL");
        child(what, url).await;
        return;
    }
    let events: u64 = std::env::var("WEXQS_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300_000);
    let dir = tempfile::tempdir().expect("a folder");
    let sqlite = format!("sqlite://{}", dir.path().join("log.db").display());
    run("sqlite", &sqlite, events).await;
    if let Ok(admin) = std::env::var("WEXQS_BENCH_PG") {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .expect("PostgreSQL");
        let base = admin
            .rsplit_once('/')
            .map_or(admin.as_str(), |(b, _)| b)
            .to_owned();
        let name = format!("wexqs_bench_log_{}", std::process::id());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("a bench database");
        run("postgres", &format!("{base}/{name}"), events).await;
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await;
    }
}
