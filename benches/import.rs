//! Import time and memory at two sizes, through the path `wexqs import` takes (CSV text parsed by
//! `service::import::read_csv`, rows checked and appended by `import_commands`, which decides
//! and writes a piece at a time through `Registry::execute_in_pieces`), into a fresh SQLite
//! registry started through `startup` and signing for a recorded address, as the command does.
//!
//! Each size runs in a child process of its own, so that peak memories (VmHWM) do not mix.
//! Reported: awards/s, the peak and what the import added to it per award, and two ratios
//! measured in the same run: the per-award cost at each size against the smallest (linear is
//! 1.0), and against the floor, signing one award's credential (ed25519 over its JCS form).
//!
//! `cargo bench --bench import` (10,000 and 100,000 awards; `WEXQS_BENCH_AWARDS=2000,20000`
//! changes the sizes; `WEXQS_BENCH_ODS=1` gives every row an ODS code, which the rules check
//! against the organisations registered before it).

use std::process::Command as Process;
use std::time::Instant;

use wexqs::domain::calendar::{Calendar, DEFAULT_CALENDAR};
use wexqs::domain::{Event, Level, PublicUrl, Region};
use wexqs::service::import::{import_commands, read_csv};
use wexqs::service::{Actor, seeded_rng};
use wexqs::startup::{self, Config, NoKey, Unrecorded};
use wexqs::store::EventStore;

const CHILD: &str = "WEXQS_BENCH_IMPORT_CHILD";
/// `WEXQS_BENCH_ODS=1`: every row has an ODS code (the child inherits it).
const ODS: &str = "WEXQS_BENCH_ODS";

/// N awards, one organisation each, awarded within the two years before today and before the
/// programme's pause (2026-01-01), so that every award is valid; with `ods`, each organisation
/// has an ODS code (checked against every organisation registered before it).
fn csv_of(n: usize, ods: bool) -> String {
    let today = chrono::Local::now().date_naive();
    let first = chrono::NaiveDate::from_ymd_opt(2024, 12, 1).expect("a date");
    let last = chrono::NaiveDate::from_ymd_opt(2025, 12, 31).expect("a date");
    let start = first.max(today - chrono::Duration::days(700));
    let span = (last - start).num_days().max(1);
    let mut text =
        String::from("organisation_name,ods_code,region,kind,level,awarded_on,issuer_name\n");
    for i in 0..n {
        let awarded = start + chrono::Duration::days(i as i64 % span);
        let code = if ods {
            format!("B{i:06}")
        } else {
            String::new()
        };
        text.push_str(&format!(
            "Bench Trust {i},{code},{},nhs_trust,{},{awarded},\n",
            Region::ALL[i % 7].as_str(),
            Level::ALL[i % 3].as_str()
        ));
    }
    text
}

/// VmHWM (peak resident) and VmRSS of this process, in kB.
fn memory_kb() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// One size, in this (child) process: prints `result <n> <seconds> <peak kB> <kB before>
/// <µs to sign one credential>`.
async fn child(n: usize) {
    let dir = tempfile::tempdir().expect("a folder");
    let url = format!("sqlite://{}", dir.path().join("registry.db").display());
    let calendar = Calendar::parse(DEFAULT_CALENDAR).expect("the calendar");
    let registry = startup::start(Config::new(url, calendar).with_rng(seeded_rng(11)))
        .await
        .expect("start");
    let address: PublicUrl = "https://bench.example".parse().expect("an address");
    startup::sign_for(
        &registry,
        Some(address),
        Unrecorded::Command,
        NoKey::Development,
        None,
        dir.path(),
    )
    .await
    .expect("signing");
    let text = csv_of(n, std::env::var(ODS).is_ok_and(|v| v == "1"));
    let (_, before_kb) = memory_kb();

    let start = Instant::now();
    let rows = read_csv(text.as_bytes()).expect("the rows parse");
    let summary = import_commands(&registry, &Actor::cli(), rows, None, |_| {})
        .await
        .expect("the import succeeds");
    let seconds = start.elapsed().as_secs_f64();
    let (peak_kb, _) = memory_kb();
    assert_eq!(summary.issued.len(), n, "every award imported");

    // The floor: signing one award's credential again, as the import did.
    // The credentials follow the awards: the import's last event is one.
    let last = summary.last_position.expect("the import appended");
    let credential = wexqs::testing::store(&registry)
        .read(last, 1)
        .await
        .expect("the import's last event")
        .iter()
        .find_map(|s| match s.envelope().expect("a stored event").event {
            Event::CredentialIssued { credential, .. } => Some(credential.value()),
            _ => None,
        })
        .expect("a credential");
    let mut unsigned = credential.clone();
    let proof = unsigned
        .as_object_mut()
        .and_then(|o| o.remove("proof"))
        .expect("a proof");
    // A proof set (an array, as Open Badges 3.0 requires) of one proof.
    let proof = match proof {
        serde_json::Value::Array(mut set) if !set.is_empty() => set.remove(0),
        one => one,
    };
    let method = proof["verificationMethod"].as_str().expect("a method");
    let created = proof["created"].as_str().expect("a date");
    let key = ed25519_dalek::SigningKey::from_bytes(&[5u8; 32]);
    let samples = 2_000;
    let start = Instant::now();
    for _ in 0..samples {
        std::hint::black_box(wexqs::credentials::credential::sign(
            &unsigned, &key, method, created,
        ));
    }
    let sign_us = start.elapsed().as_secs_f64() * 1e6 / f64::from(samples);
    println!("result {n} {seconds} {peak_kb} {before_kb} {sign_us}");
}

struct Run {
    n: usize,
    seconds: f64,
    peak_kb: f64,
    before_kb: f64,
    sign_us: f64,
}

fn run(n: usize) -> Run {
    let exe = std::env::current_exe().expect("this bench's path");
    let output = Process::new(exe)
        .env(CHILD, n.to_string())
        .output()
        .expect("the child runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the import of {n} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("result "))
        .expect("a result line");
    let f: Vec<f64> = line
        .split_whitespace()
        .map(|v| v.parse().expect("a number"))
        .collect();
    Run {
        n,
        seconds: f[1],
        peak_kb: f[2],
        before_kb: f[3],
        sign_us: f[4],
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if let Ok(n) = std::env::var(CHILD) {
        child(n.parse().expect("a number of awards")).await;
        return;
    }
    let sizes: Vec<usize> = std::env::var("WEXQS_BENCH_AWARDS")
        .unwrap_or_else(|_| "10000,100000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("sizes are numbers"))
        .collect();
    let with_ods = if std::env::var(ODS).is_ok_and(|v| v == "1") {
        ", every row with an ODS code"
    } else {
        ""
    };
    println!("wexqs import into a fresh SQLite registry{with_ods}, one child process per size:");
    let mut smallest: Option<f64> = None;
    for n in sizes {
        let r = run(n);
        let per_award_us = r.seconds * 1e6 / r.n as f64;
        let base = *smallest.get_or_insert(per_award_us);
        println!(
            "{:>9} awards: {:7.2} s, {:7.0} awards/s, peak {:6.0} MB ({:5.1} kB/award over the {:.0} MB before), \
             per award {:6.1} µs = {:.2} × the smallest size's, {:.1} × signing one credential ({:.1} µs)",
            r.n,
            r.seconds,
            r.n as f64 / r.seconds,
            r.peak_kb / 1024.0,
            (r.peak_kb - r.before_kb) / r.n as f64,
            r.before_kb / 1024.0,
            per_award_us,
            per_award_us / base,
            per_award_us / r.sign_us,
            r.sign_us,
        );
    }
}
