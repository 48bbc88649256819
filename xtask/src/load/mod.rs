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
mod report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::json::{Json, string_at};
use crate::shell::{
    Result, TempDir, apt_install, cargo, copy, executable, found, free_port, run, same_bytes, say,
    target_dir,
};
use measure::{
    Env, bare_baseline, cores, export_downloads, get, hey_at, load_cpu, memory_mb, peak_mb_of,
    serve, start_bare, verifier_rate, wexqs_command, wrk,
};
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
    --rounds N          alternating rounds of --observability (default 6)

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
    quick: bool,
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
        rounds: 6,
        quick: false,
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
            "--json" => o.json = Some(PathBuf::from(value()?)),
            "--interleave" => o.interleave = true,
            "--no-build" => o.no_build = true,
            "--observability" => o.observability = true,
            "--log-on-disk" => o.log_on_disk = true,
            "--quick" => o.quick = true,
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

fn searches(base: &str, n: usize, seconds: u64, results: &mut Json) -> Result {
    for (name, path) in [
        (
            "/v1/register?q=",
            format!("/v1/register?q=bench+trust+{}", n / 3),
        ),
        ("/?q=", format!("/?q=bench+trust+{}", n / 3)),
    ] {
        say(format!("wrk -c1 {path}"));
        results.set(
            &format!("search {name}"),
            wrk(&format!("{base}{path}"), seconds, 1, None)?,
        );
    }
    Ok(())
}

struct Run<'a> {
    wexqs: &'a Path,
    bare: Option<&'a Path>,
    seconds: u64,
    bare_rps: f64,
    work: &'a Path,
    quick: bool,
}

fn register_run(r: &Run, db: &str, n: usize) -> Result<Json> {
    say(format!("{} awards on {db}", thousands(n as f64)));
    let data_dir = r.work.join(format!("{db}-{n}"));
    std::fs::create_dir(&data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
    let url = fresh_database(db, &format!("wexqs_bench_{n}"), &data_dir)?;
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let env: Env = vec![
        ("WEXQS_DATA_DIR".into(), data_dir.display().to_string()),
        ("DATABASE_URL".into(), url),
        ("WEXQS_PUBLIC_URL".into(), base.clone()),
        ("RUST_LOG".into(), "warn".into()),
    ];
    let remove = ["WEXQS_CALENDAR"];
    // `serve` refuses a registry without a signing key: make its first one.
    run(&mut wexqs_command(
        r.wexqs,
        &["keys", "init"],
        &env,
        &remove,
    ))?;
    drop(serve(r.wexqs, &env, &remove, port, &[], Stdio::null())?); // records the address

    let csv = r.work.join(format!("awards-{n}.csv"));
    write_csv(&csv, n)?;
    say(format!("wexqs import ({} rows)", thousands(n as f64)));
    let wexqs = r.wexqs.to_str().ok_or("the binary's path is not UTF-8")?;
    let csv_arg = csv.to_str().ok_or("the work folder's path is not UTF-8")?;
    let (import_s, import_mb) = peak_mb_of(&[wexqs, "import", csv_arg], &env, &remove, r.work)?;
    say(format!("  {import_s:.1} s, peak {import_mb:.0} MB"));
    say("wexqs rebuild, wexqs log verify");
    let (rebuild_s, rebuild_mb) = peak_mb_of(&[wexqs, "rebuild"], &env, &remove, r.work)?;
    let (verify_s, verify_mb) = peak_mb_of(&[wexqs, "log", "verify"], &env, &remove, r.work)?;

    let server = serve(r.wexqs, &env, &remove, port, &[], Stdio::null())?;
    let (rss_start, _) = memory_mb(server.pid());
    say("the exports, downloaded at once by 8 clients");
    let exports = export_downloads(&base, server.pid(), 8)?;
    let page = get(
        &format!("{base}/v1/register?q=Bench+Trust+{}&limit=1", n / 2),
        10,
    )?;
    let number = string_at(&page, "certificate_number")
        .ok_or_else(|| format!("no award in the register's answer: {page}"))?
        .to_owned();
    let routes = [
        ("healthz", "/healthz".to_owned()),
        ("verification", format!("/v1/awards/{number}/verification")),
        ("badge.svg", format!("/v1/awards/{number}/badge.svg")),
        ("verify page", format!("/verify/{number}")),
        ("record", format!("/v1/awards/{number}")),
        ("feed.atom", "/v1/feed.atom".to_owned()),
    ];
    let mut results = Json::object();
    {
        // On a machine other work shares, the bare route is measured again just before each
        // route, on the same cores, and each ratio is against that adjacent figure.
        let mut bare_server = None;
        let mut bare_url = None;
        if let Some(bare) = r.bare {
            let bare_port = free_port()?;
            bare_server = Some(start_bare(bare, bare_port)?);
            bare_url = Some(format!("http://127.0.0.1:{bare_port}/status"));
        }
        for (name, path) in &routes {
            say(format!("wrk {path}"));
            wrk(&format!("{base}{path}"), 1, 32, None)?; // warm
            let against = match &bare_url {
                Some(url) => wrk(url, r.seconds, 32, None)?.num("rps"),
                None => r.bare_rps,
            };
            let mut figures = wrk(&format!("{base}{path}"), r.seconds, 32, None)?;
            let rps = figures.num("rps");
            figures.set("bare_rps", against);
            figures.set("ratio", rps / against);
            say(format!(
                "  {} req/s = {:.2}x bare ({} req/s)",
                thousands(rps),
                rps / against,
                thousands(against)
            ));
            results.set(name, figures);
        }
        drop(bare_server);
    }

    if !r.quick {
        let credential = get(&format!("{base}/v1/awards/{number}/credential"), 10)?;
        let body = r.work.join("credential.json");
        std::fs::write(&body, &credential).map_err(|e| e.to_string())?;
        let script = r.work.join("post.lua");
        std::fs::write(
            &script,
            format!(
                "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n\
                 wrk.body = io.open(\"{}\", \"rb\"):read(\"*a\")\n",
                body.display()
            ),
        )
        .map_err(|e| e.to_string())?;
        say("wrk POST /v1/verify");
        let mut post = wrk(&format!("{base}/v1/verify"), r.seconds, 8, Some(&script))?;
        let did = get(&format!("{base}/.well-known/did.json"), 10)?;
        let list_url = string_at(&credential, "statusListCredential")
            .ok_or("the credential names no status list")?;
        let status_list = get(list_url, 10)?;
        let bundle = r.work.join("bundle.json");
        std::fs::write(
            &bundle,
            format!(
                "{{\"credential\": {credential}, \"did_document\": {did}, \"status_list\": {status_list}}}"
            ),
        )
        .map_err(|e| e.to_string())?;
        say("the npm verifier on the same credential");
        let npm_rate = verifier_rate(&bundle, r.seconds)?;
        let rps = post.num("rps");
        post.set("npm_per_second", npm_rate);
        post.set("ratio", rps / npm_rate);
        results.set("POST /v1/verify", post);
    }

    searches(&base, n, r.seconds, &mut results)?;

    if !r.quick {
        say("p50/p99 at half of peak (hey at a fixed rate)");
        for (name, path) in &routes {
            let half = results.get(name).map_or(0.0, |f| f.num("rps")) / 2.0;
            let at_half = hey_at(&format!("{base}{path}"), half, r.seconds)?;
            if let Some(figures) = results.get_mut(name) {
                figures.set("at_half_peak", at_half);
            }
        }
    }
    let (rss_end, hwm) = memory_mb(server.pid());
    drop(server);
    Ok(Json::object()
        .with("awards", n)
        .with("database", db)
        .with("routes", results)
        .with(
            "import",
            Json::object()
                .with("seconds", import_s)
                .with("peak_mb", import_mb)
                .with("awards_per_second", n as f64 / import_s),
        )
        .with(
            "rebuild",
            Json::object()
                .with("seconds", rebuild_s)
                .with("peak_mb", rebuild_mb),
        )
        .with(
            "log_verify",
            Json::object()
                .with("seconds", verify_s)
                .with("peak_mb", verify_mb),
        )
        .with(
            "server_mb",
            Json::object()
                .with("after_start", rss_start)
                .with("after_load", rss_end)
                .with("peak", hwm),
        )
        .with("exports", exports))
}

/// The cost of logging and metrics on the verification route: one server with logs at info (to
/// a file) and metrics on, scraped every second as Prometheus would, beside one with
/// WEXQS_LOG=warn and --metrics-bind none, both on the same register and the same core, loaded in
/// turn for several rounds (alternating which goes first). The ratio is on / off.
fn observability(o: &Options, wexqs: &Path, n: usize, work: &Path) -> Result<Json> {
    say(format!(
        "observability: {} awards on sqlite, {} rounds of {} s each way",
        thousands(n as f64),
        o.rounds,
        o.seconds
    ));
    let data_dir = work.join("observability");
    std::fs::create_dir(&data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
    let (port_on, port_off, metrics_port) = (free_port()?, free_port()?, free_port()?);
    let (base_on, base_off) = (
        format!("http://127.0.0.1:{port_on}"),
        format!("http://127.0.0.1:{port_off}"),
    );
    let common: Env = vec![
        ("WEXQS_DATA_DIR".into(), data_dir.display().to_string()),
        (
            "DATABASE_URL".into(),
            format!("sqlite://{}/registry.db", data_dir.display()),
        ),
        ("WEXQS_PUBLIC_URL".into(), base_on.clone()),
    ];
    let remove = ["WEXQS_CALENDAR", "RUST_LOG"];
    let with_log = |level: &str| {
        let mut env = common.clone();
        env.push(("WEXQS_LOG".into(), level.into()));
        env
    };
    let (quiet, loud) = (with_log("warn"), with_log("info"));
    // `serve` refuses a registry with no key.
    run(&mut wexqs_command(
        wexqs,
        &["keys", "init"],
        &quiet,
        &remove,
    ))?;
    drop(serve(wexqs, &quiet, &remove, port_on, &[], Stdio::null())?); // records the address
    let csv = work.join(format!("observability-{n}.csv"));
    write_csv(&csv, n)?;
    let wexqs_arg = wexqs.to_str().ok_or("the binary's path is not UTF-8")?;
    let csv_arg = csv.to_str().ok_or("the work folder's path is not UTF-8")?;
    peak_mb_of(&[wexqs_arg, "import", csv_arg], &quiet, &remove, work)?;

    // The log goes to memory (tmpfs) where there is one: the server's cost of logging is its
    // formatting, its write calls and their copies, all measured there; a disk's writing-back of
    // some 9 MB/s runs in kernel threads on whichever core is free, which on a machine of two
    // cores is the server's or wrk's (`--log-on-disk` measures that too).
    let shm = Path::new("/dev/shm");
    let in_memory = if o.log_on_disk || !shm.is_dir() {
        None
    } else {
        Some(TempDir::new_in(shm, "wexqs-bench-log-")?)
    };
    let log_path = in_memory
        .as_ref()
        .map_or(work, |dir| dir.path())
        .join("observability-info.log");
    say(format!("  the info log: {}", log_path.display()));
    let log =
        std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let metrics_bind = format!("127.0.0.1:{metrics_port}");
    let on = serve(
        wexqs,
        &loud,
        &remove,
        port_on,
        &["--metrics-bind", &metrics_bind],
        log.into(),
    )?;
    let off = serve(
        wexqs,
        &quiet,
        &remove,
        port_off,
        &["--metrics-bind", "none"],
        Stdio::null(),
    )?;
    let metrics_url = format!("http://{metrics_bind}/metrics");
    let (stop, stopped) = mpsc::channel::<()>();
    let scraper = {
        let url = metrics_url.clone();
        std::thread::spawn(move || {
            loop {
                let _ = get(&url, 10);
                if stopped.recv_timeout(Duration::from_secs(1)).is_ok() {
                    break;
                }
            }
        })
    };
    let measured = rounds(o, n, &base_on, &base_off, &metrics_url);
    let _ = stop.send(());
    let _ = scraper.join();
    drop(on);
    drop(off);
    let Rounds {
        mut ratios,
        on_rps,
        off_rps,
        metrics,
    } = measured?;
    let served: f64 = metrics
        .lines()
        .filter(|line| {
            line.starts_with("wexqs_http_requests_total{")
                && line.contains("route=\"/v1/awards/{certificate_number}/verification\"")
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    let log_lines = std::fs::read(&log_path)
        .map(|bytes| bytes.iter().filter(|b| **b == b'\n').count())
        .unwrap_or(0);
    drop(in_memory);
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    let total = on_rps.iter().sum::<f64>() / off_rps.iter().sum::<f64>();
    Ok(Json::object()
        .with("awards", n)
        .with("route", "/v1/awards/{certificate_number}/verification")
        .with("rounds", o.rounds)
        .with("seconds", o.seconds as f64)
        .with("on_rps", on_rps)
        .with("off_rps", off_rps)
        .with("ratios", ratios)
        .with("median_ratio", median)
        .with("ratio_of_sums", total)
        .with("verifications_counted", served)
        .with("log_lines", log_lines))
}

/// What the rounds of `--observability` measured, and the metrics after them.
struct Rounds {
    ratios: Vec<f64>,
    on_rps: Vec<f64>,
    off_rps: Vec<f64>,
    metrics: String,
}

/// The verification route loaded on each server in turn, `o.rounds` times.
fn rounds(
    o: &Options,
    n: usize,
    base_on: &str,
    base_off: &str,
    metrics_url: &str,
) -> Result<Rounds> {
    let page = get(
        &format!("{base_on}/v1/register?q=Bench+Trust+{}&limit=1", n / 2),
        10,
    )?;
    let number = string_at(&page, "certificate_number")
        .ok_or_else(|| format!("no award in the register's answer: {page}"))?;
    let path = format!("/v1/awards/{number}/verification");
    wrk(&format!("{base_on}{path}"), 1, 32, None)?; // warm
    wrk(&format!("{base_off}{path}"), 1, 32, None)?;
    let (mut ratios, mut on_rps, mut off_rps) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..o.rounds {
        let mut order = [("on", base_on), ("off", base_off)];
        if i % 2 == 1 {
            order.reverse();
        }
        let mut got = BTreeMap::new();
        for (name, base) in order {
            got.insert(
                name,
                wrk(&format!("{base}{path}"), o.seconds, 32, None)?.num("rps"),
            );
        }
        let (on, off) = (got["on"], got["off"]);
        ratios.push(on / off);
        on_rps.push(on);
        off_rps.push(off);
        say(format!(
            "  round {}: on {} req/s, off {} req/s = {:.3}",
            i + 1,
            thousands(on),
            thousands(off),
            on / off
        ));
    }
    Ok(Rounds {
        ratios,
        on_rps,
        off_rps,
        metrics: get(metrics_url, 10)?,
    })
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
    say("the bare actix-web baseline");
    let bare_result = bare_baseline(&bare, o.seconds)?;
    let work = TempDir::new("wexqs-bench-")?;
    let settings = Run {
        wexqs: &wexqs,
        bare: o.interleave.then_some(bare.as_path()),
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
