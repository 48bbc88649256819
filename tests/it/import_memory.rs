//! What an import holds per row: `wexqs import` of a large CSV file, its peak resident memory
//! read from the running process, against an import of a few rows into a register set up the
//! same way. Each row's credential is kept as its text, not a parsed tree, and the stored events
//! are not held twice while the registry reads them back.

use std::process::Command;
use std::time::Duration;

use crate::helpers::{Backend, fresh_db, start_server, temp_dir, text};

/// The most the import of one more row may add to the process's peak resident memory. Before
/// the credentials were kept as text an import held about 21 kB a row; now about 13 kB. The bound
/// sits between, with room for the allocator's variance on a busy machine.
const MAX_KB_PER_ROW: u64 = 17;

fn csv_of(rows: usize) -> String {
    let mut text =
        String::from("organisation_name,ods_code,region,kind,level,awarded_on,issuer_name\n");
    for i in 0..rows {
        text.push_str(&format!(
            "Memory Community Health {i},,london,nhs_trust,{},2025-{:02}-{:02},\n",
            ["bronze", "silver", "gold"][i % 3],
            1 + i % 12,
            1 + i % 28
        ));
    }
    text
}

/// VmHWM (peak resident) of a running process, in kB.
fn peak_kb(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Imports `rows` rows into a fresh register whose address and key are set up (so every award
/// gets its signed credential), and answers the import's peak resident memory in kB: the last
/// reading before it ended (the peak only grows).
async fn import_peak(rows: usize) -> Option<u64> {
    let db = fresh_db(Backend::Sqlite).await?;
    let dir = temp_dir();
    let (mut server, _) = start_server(&db, dir.path()).await;
    server.kill().expect("the server stops");
    server.wait().expect("the server ended");
    let csv = dir.path().join("awards.csv");
    std::fs::write(&csv, csv_of(rows)).expect("written");
    let mut import = Command::new(env!("CARGO_BIN_EXE_wexqs"))
        .args(["import", csv.to_str().expect("a path")])
        .env("WEXQS_DATA_DIR", dir.path())
        .env("DATABASE_URL", &db.url)
        .env_remove("WEXQS_CALENDAR")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the import starts");
    let mut peak = 0;
    while import.try_wait().expect("the import runs").is_none() {
        if let Some(kb) = peak_kb(import.id()) {
            peak = peak.max(kb);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let out = import.wait_with_output().expect("its output");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!("imported {rows} awards")),
        "{}",
        text(&out.stdout)
    );
    Some(peak)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_holds_a_small_fixed_amount_per_row() {
    const ROWS: usize = 20_000;
    let Some(small) = import_peak(100).await else {
        return;
    };
    let large = import_peak(ROWS).await.expect("SQLite is always there");
    let per_row = large.saturating_sub(small) / (ROWS as u64 - 100);
    eprintln!(
        "an import of {ROWS} rows peaked at {large} kB, 100 rows at {small} kB: {per_row} kB a row"
    );
    assert!(
        per_row <= MAX_KB_PER_ROW,
        "an import of {ROWS} rows peaked at {large} kB ({small} kB for 100 rows): {per_row} kB a \
         row, over {MAX_KB_PER_ROW}"
    );
}
