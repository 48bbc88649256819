//! `cargo xtask load`: the load half of the benchmark suite (see BENCHMARKS.md).
//!
//! Builds a register of N awards with `wexqs import`, serves it from one core, loads each public
//! route from the other core with wrk, and prints every figure as a ratio against a baseline
//! measured in the same run on the same cores: the bare actix-web route of `benches/bare.rs` for
//! HTTP, and Digital Bazaar's verifier (tests/interop/verifier/, pinned npm packages) on the same
//! credential for `POST /v1/verify`. Also the import's time and peak memory, the server's memory
//! with the register loaded and while 8 clients download each open data export at once (against
//! the export's size), `wexqs rebuild` and `wexqs log verify`, and p50/p99 latency at half of
//! each route's peak (hey, at a fixed rate).
//!
//! Tools: wrk and hey (Debian packages), taskset (util-linux), GNU time (a command's peak
//! memory), curl, Node.js with tests/interop/verifier/'s packages; installed with apt-get /
//! npm ci when missing.

mod measure;
mod observability;
mod register_run;
mod report;
mod same_bytes;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::json::Json;
use crate::shell::{
    Result, TempDir, apt_install, cargo, copy, executable, found, run, same_bytes, say, target_dir,
};
use measure::{bare_baseline, cores, load_cpu};
use observability::observability;
use register_run::{Run, register_run, verify_only_run};
use report::{report, thousands, write_json};

pub const HELP: &str = "\
cargo xtask load [OPTIONS]: the public routes under load, each figure a ratio against a
baseline measured in the same run (BENCHMARKS.md).

    --awards N[,N...]   register sizes (default 10000,100000)
    --db NAME           sqlite, postgres or both (default sqlite)
    --seconds N         seconds per measurement (default 5)
    --json FILE         also write the figures to this file
    --interleave        measure the bare route again just before each route and take each ratio
                        against that (for a machine other work shares)
    --no-build          use the release binaries already built (no cargo build)
    --quick             only the routes, the searches and the memory: no POST /v1/verify against
                        the npm verifier, no latency at half of peak
    --observability     only the cost of logging and metrics: the verification route with logs at
                        info and metrics on against logs at warn and --metrics-bind none, side by
                        side (--awards: its first size only; the info log in /dev/shm)
    --log-on-disk       --observability with the info log in the work folder on disk
    --rounds N          alternating rounds of each route against its same bytes, and of
                        --observability (default 5)
    --route NAME        only the routes whose names contain NAME (repeatable; for example
                        --route verification --route logo)
    --only-verify       only POST /v1/verify against the npm verifier, on each register size

    cargo xtask load --awards 10000 --db postgres --seconds 3";

const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const REGIONS: [&str; 7] = [
    "east_of_england",
    "london",
    "midlands",
    "north_east_and_yorkshire",
    "north_west",
    "south_east",
    "south_west",
];
const LEVELS: [&str; 3] = ["bronze", "silver", "gold"];
const VERIFIER: &str = "tests/interop/verifier";
const SERVER_CPU: &str = "0";

#[derive(Debug)]
struct Options {
    awards: Vec<usize>,
    databases: Vec<&'static str>,
    seconds: u64,
    json: Option<PathBuf>,
    interleave: bool,
    no_build: bool,
    observability: bool,
    log_on_disk: bool,
    rounds: usize,
    only: Vec<String>,
    quick: bool,
    only_verify: bool,
}

fn options(args: &[String]) -> Result<Options> {
    let mut o = Options {
        awards: vec![10_000, 100_000],
        databases: vec!["sqlite"],
        seconds: 5,
        json: None,
        interleave: false,
        no_build: false,
        observability: false,
        log_on_disk: false,
        rounds: 5,
        only: Vec::new(),
        quick: false,
        only_verify: false,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs a value (see `cargo xtask load --help`)"))
        };
        let positive = |name: &str, text: &str| {
            text.parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{name} takes a number above 0, not {text:?}"))
        };
        match arg.as_str() {
            "--awards" => {
                let sizes = value()?;
                o.awards = sizes
                    .split(',')
                    .map(|n| positive("--awards", n.trim()).map(|n| n as usize))
                    .collect::<Result<_>>()?;
            }
            "--db" => {
                o.databases = match value()?.as_str() {
                    "sqlite" => vec!["sqlite"],
                    "postgres" => vec!["postgres"],
                    "both" => vec!["sqlite", "postgres"],
                    other => {
                        return Err(format!(
                            "--db takes sqlite, postgres or both, not {other:?}"
                        ));
                    }
                }
            }
            "--seconds" => o.seconds = positive("--seconds", &value()?)?,
            "--rounds" => o.rounds = positive("--rounds", &value()?)? as usize,
            "--route" => o.only.push(value()?),
            "--json" => o.json = Some(PathBuf::from(value()?)),
            "--interleave" => o.interleave = true,
            "--no-build" => o.no_build = true,
            "--observability" => o.observability = true,
            "--log-on-disk" => o.log_on_disk = true,
            "--quick" => o.quick = true,
            "--only-verify" => o.only_verify = true,
            other => {
                return Err(format!(
                    "load takes no {other:?} (see `cargo xtask load --help`)"
                ));
            }
        }
    }
    Ok(o)
}

fn ensure_tools(only_wrk: bool) -> Result {
    let mut tools = vec![("wrk", "wrk"), ("taskset", "util-linux"), ("curl", "curl")];
    if !only_wrk {
        tools.extend([("hey", "hey"), ("node", "nodejs"), ("npm", "npm")]);
    }
    let mut missing: Vec<&str> = tools
        .iter()
        .filter(|(tool, _)| !found(tool))
        .map(|(_, package)| *package)
        .collect();
    if !executable(Path::new("/usr/bin/time")) {
        missing.push("time");
    }
    if !missing.is_empty() {
        apt_install(&missing)?;
    }
    if only_wrk {
        return Ok(());
    }
    let lock = Path::new(VERIFIER).join("package-lock.json");
    let stamp = Path::new(VERIFIER).join("node_modules/.installed-lock.json");
    if !same_bytes(&lock, &stamp) {
        say(format!("npm ci ({VERIFIER})"));
        run(Command::new("npm").args(["ci", "--prefix", VERIFIER, "--no-audit", "--no-fund"]))?;
        copy(&lock, &stamp)?;
    }
    Ok(())
}

fn build(skip: bool) -> Result<(PathBuf, PathBuf)> {
    if !skip {
        say("cargo build --release (wexqs and the bare baseline)");
        run(cargo().args(["build", "--release", "--bin", "wexqs", "--example", "bare"]))?;
    }
    let release = target_dir().join("release");
    // Cargo puts an example's binary in the profile's examples folder.
    let bare = release.join("examples").join("bare");
    Ok((release.join("wexqs"), bare))
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day since 1970-01-01, as YYYY-MM-DD.
fn civil_from_days(z: i64) -> String {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The import CSV of `n` awards, awarded within the two years before today and before the
/// pause (January 2026), so every award is valid and its credential verifies.
fn write_csv(path: &Path, n: usize) -> Result {
    let today = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| (d.as_secs() / 86_400) as i64);
    let start = days_from_civil(2024, 12, 1).max(today - 700);
    let span = (days_from_civil(2025, 12, 31) - start).max(1);
    let mut csv =
        String::from("organisation_name,ods_code,region,kind,level,awarded_on,issuer_name\n");
    for i in 0..n {
        let awarded = civil_from_days(start + (i as i64) % span);
        csv.push_str(&format!(
            "Bench Trust {i},,{},nhs_trust,{},{awarded},\n",
            REGIONS[i % 7],
            LEVELS[i % 3]
        ));
    }
    std::fs::write(path, csv).map_err(|e| format!("{}: {e}", path.display()))
}

fn fresh_database(db: &str, name: &str, data_dir: &Path) -> Result<String> {
    if db == "sqlite" {
        return Ok(format!("sqlite://{}/registry.db", data_dir.display()));
    }
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        run(Command::new("psql").args([PG_ADMIN, "-qc", &sql]))?;
    }
    Ok(format!("postgres://postgres@127.0.0.1:5432/{name}"))
}

pub fn main(args: &[String]) -> Result {
    let o = options(args)?;
    if cores() < 2 {
        say("one core: server and load share it, so ratios are rougher");
    }
    ensure_tools(o.observability)?;
    let (wexqs, bare) = build(o.no_build)?;
    if o.observability {
        let n = o.awards[0];
        let work = TempDir::new("wexqs-bench-")?;
        let result = observability(&o, &wexqs, n, work.path())?;
        let list = |key: &str| match result.get(key) {
            Some(Json::List(items)) => items
                .iter()
                .map(|i| match i {
                    Json::Number(n) => thousands(*n),
                    _ => String::new(),
                })
                .collect::<Vec<_>>()
                .join(", "),
            _ => String::new(),
        };
        println!(
            "\nlogging at info and metrics on vs WEXQS_LOG=warn --metrics-bind none, \
             /v1/awards/{{certificate_number}}/verification, {} awards, {} rounds of {} s each \
             way (server on cpu {SERVER_CPU}, wrk on cpu {})",
            thousands(n as f64),
            o.rounds,
            o.seconds,
            load_cpu()
        );
        println!("on:  {} req/s", list("on_rps"));
        println!("off: {} req/s", list("off_rps"));
        println!(
            "ratio on/off: median {:.3}, of the sums {:.3} (bar: >= 0.95); {} verifications \
             counted in the metrics, {} log lines",
            result.num("median_ratio"),
            result.num("ratio_of_sums"),
            thousands(result.num("verifications_counted")),
            thousands(result.num("log_lines"))
        );
        if let Some(path) = &o.json {
            write_json(path, &Json::object().with("observability", result))?;
        }
        return Ok(());
    }
    if o.only_verify {
        return only_verify(&o, &wexqs, &bare);
    }
    for (name, value) in measure::unit_environment()? {
        match std::env::var(&name) {
            Ok(own) => say(format!(
                "the server runs with {name}={own} (yours; the package sets {value})"
            )),
            Err(_) => say(format!(
                "the server runs with {name}={value}, as the package's unit sets it"
            )),
        }
    }
    say("the bare actix-web baseline");
    let bare_result = bare_baseline(&bare, o.seconds)?;
    let work = TempDir::new("wexqs-bench-")?;
    let settings = Run {
        wexqs: &wexqs,
        bare: &bare,
        interleave: o.interleave,
        rounds: o.rounds,
        only: &o.only,
        seconds: o.seconds,
        bare_rps: bare_result.num("rps"),
        work: work.path(),
        quick: o.quick,
    };
    let mut runs = Vec::new();
    for &n in &o.awards {
        for db in &o.databases {
            runs.push(register_run(&settings, db, n)?);
        }
    }
    drop(work);
    report(&bare_result, &runs);
    if let Some(path) = &o.json {
        write_json(
            path,
            &Json::object()
                .with("bare", bare_result)
                .with("runs", Json::List(runs)),
        )?;
    }
    Ok(())
}

/// `--only-verify`: each register's `POST /v1/verify` rate against the npm verifier's.
fn only_verify(o: &Options, wexqs: &Path, bare: &Path) -> Result {
    let work = TempDir::new("wexqs-bench-")?;
    let settings = Run {
        wexqs,
        bare,
        interleave: false,
        rounds: o.rounds,
        only: &o.only,
        seconds: o.seconds,
        bare_rps: 0.0,
        work: work.path(),
        quick: false,
    };
    let mut runs = Vec::new();
    for &n in &o.awards {
        for db in &o.databases {
            runs.push(verify_only_run(&settings, db, n)?);
        }
    }
    drop(work);
    println!();
    for run in &runs {
        let post = run
            .get("routes")
            .and_then(|r| r.get("POST /v1/verify"))
            .cloned()
            .unwrap_or_else(Json::object);
        println!(
            "{} awards: POST /v1/verify {}/s a core vs the npm verifier {}/s a core = {:.1}x",
            thousands(run.num("awards")),
            thousands(post.num("rps")),
            thousands(post.num("npm_per_second")),
            post.num("ratio")
        );
    }
    if let Some(path) = &o.json {
        write_json(path, &Json::object().with("runs", Json::List(runs)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_thousands_read_as_people_write_them() {
        assert_eq!(civil_from_days(days_from_civil(2024, 12, 1)), "2024-12-01");
        assert_eq!(
            civil_from_days(days_from_civil(2025, 12, 31) + 1),
            "2026-01-01"
        );
        assert_eq!(civil_from_days(0), "1970-01-01");
        assert_eq!(thousands(1_234_567.8), "1,234,568");
        assert_eq!(thousands(999.0), "999");
    }

    #[test]
    fn arguments_are_read_and_bad_ones_refused() {
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let o = options(&args(&["--awards", "100,200", "--db", "both", "--quick"])).expect("valid");
        assert_eq!(o.awards, [100, 200]);
        assert_eq!(o.databases, ["sqlite", "postgres"]);
        assert!(o.quick && !o.interleave);
        assert!(options(&args(&["--db", "mysql"])).is_err());
        assert!(options(&args(&["--seconds", "0"])).is_err());
        assert!(options(&args(&["--awards"])).is_err());
        assert!(options(&args(&["--fast"])).is_err());
    }
}
