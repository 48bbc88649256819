//! What an import holds per row, and how it reads its rows. `wexqs import` of a large CSV file,
//! its peak resident memory read from the running process, against an import of a few rows into
//! a register set up the same way. Rows are read one at a time and kept only as what the import
//! needs of them, and the append is written a piece at a time (within its one transaction) as
//! it is made, not held whole.

use std::process::Command;
use std::time::Duration;

use crate::helpers::{Backend, fresh_db, start_server, temp_dir, text};

/// The most the import of one more row may add to the process's peak resident memory. An
/// import once held about 21 kB a row, then 13 kB with each credential kept as its text, then
/// 10 kB with the credentials' text left in the log: the one all-or-nothing append's events,
/// credentials and projection rows were held together until the transaction committed. Written
/// a piece at a time within that one transaction, it holds about 4 kB a row, which is the
/// register itself (the state the import decided, and the registry's own after it), and 5 kB
/// since what memory folds of each piece is kept until the commit, so that the import is not
/// read back. The bound sits between 5 and 10, with room for the allocator's variance on a
/// busy machine.
const MAX_KB_PER_ROW: u64 = 7;

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

#[test]
fn rows_read_one_at_a_time_keep_their_lines_and_a_malformed_body_is_refused_whole() {
    use wexqs::error_codes::ErrorCode;
    use wexqs::service::import::{read_csv, read_json};
    let row = |name: &str, level: &str| {
        serde_json::json!({"organisation_name": name, "region": "london", "level": level,
                           "awarded_on": "2025-03-01"})
    };
    let body = serde_json::json!({"awards": [row("Good Trust", "gold"), row("Bad Level Trust", "platinum"),
                                             row("Also Good", "bronze")]});
    let rows = read_json(body.to_string().as_bytes()).expect("the JSON reads");
    assert_eq!((rows.len(), rows.accepted()), (3, 2));
    assert_eq!(rows.errors().len(), 1);
    assert_eq!(rows.errors()[0].line, 2, "{:?}", rows.errors());
    for refused in [
        r#"{"awards": [], "extra": 1}"#,
        r#"{"rows": []}"#,
        r#"{}"#,
        r#"{"awards": [{"organisation_name": "X Trust"}]}"#,
        r#"{"awards": []} trailing"#,
        r#"[]"#,
    ] {
        assert!(
            read_json(refused.as_bytes()).is_err(),
            "{refused} is refused"
        );
    }

    let csv = "organisation_name,ods_code,region,kind,level,awarded_on,issuer_name\n\
               Good Trust,,london,,gold,2025-03-01,\n\
               Short Row,london\n\
               Bad Date Trust,,london,,gold,2025-13-01,\n";
    let rows = read_csv(csv.as_bytes()).expect("the header reads");
    assert_eq!((rows.len(), rows.accepted()), (3, 1));
    let lines: Vec<(usize, ErrorCode)> = rows.errors().iter().map(|e| (e.line, e.code)).collect();
    assert_eq!(
        lines,
        [(3, ErrorCode::RowMalformed), (4, ErrorCode::DateInvalid)]
    );
}
