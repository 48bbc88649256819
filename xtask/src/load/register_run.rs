//! One run of `cargo xtask load`: a register of N awards on one database, imported, rebuilt and
//! verified, then served and loaded route by route, each figure beside its baseline.

use std::path::Path;
use std::process::Stdio;

use super::measure::{
    Env, export_downloads, get, hey_at, memory_mb, peak_mb_of, serve, verifier_rate, wexqs_command,
    wrk,
};
use super::observability::scrape_every_second;
use super::report::thousands;
use super::same_bytes::{alternate, capture, replay};
use super::{fresh_database, write_csv};
use crate::json::{Json, string_at};
use crate::shell::{Result, TempDir, free_port, output, run, say};

/// A folder in memory (tmpfs) for the server's log where there is one, else `work`.
fn memory_folder(work: &Path) -> &Path {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() { shm } else { work }
}

/// The variables a run's commands drop from the environment.
const REMOVE: [&str; 1] = ["WEXQS_CALENDAR"];

/// What every run shares.
pub(super) struct Run<'a> {
    pub wexqs: &'a Path,
    pub bare: &'a Path,
    pub interleave: bool,
    pub rounds: usize,
    /// Only the routes whose names contain one of these (all when empty).
    pub only: &'a [String],
    pub seconds: u64,
    pub bare_rps: f64,
    pub work: &'a Path,
    pub quick: bool,
}

/// A register of `n` awards on `db`: its commands' costs, its routes' rates (and, unless quick,
/// `POST /v1/verify` against the npm verifier and the latency at half of each peak), its
/// searches, its exports and the server's memory.
pub(super) fn register_run(r: &Run, db: &str, n: usize) -> Result<Json> {
    say(format!("{} awards on {db}", thousands(n as f64)));
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let env = new_registry(r, db, n, &base, port)?;
    let (import, rebuild, log_verify) = command_costs(r, n, &env)?;

    // Served as in service: the access log at info (to a file in memory, so that a disk's
    // writing-back does not take a core) and the metrics on, scraped every second.
    let log_dir = TempDir::new_in(memory_folder(r.work), "wexqs-bench-log-")?;
    let log_path = log_dir.path().join("server.log");
    let log =
        std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let metrics_bind = format!("127.0.0.1:{}", free_port()?);
    let server = serve(
        r.wexqs,
        &env,
        &REMOVE,
        port,
        &["--metrics-bind", &metrics_bind],
        log.into(),
    )?;
    let stop_scraping = scrape_every_second(format!("http://{metrics_bind}/metrics"));
    let (rss_start, _) = memory_mb(server.pid());
    say("the exports, downloaded at once by 8 clients");
    let exports = export_downloads(&base, server.pid(), 8)?;
    let number = middle_award(&base, n)?;
    let record = get(&format!("{base}/v1/awards/{number}"), 10)?;
    // The record's first "id" is its organisation's.
    let organisation = string_at(&record, "id")
        .ok_or_else(|| format!("no organisation in the award's record: {record}"))?
        .to_owned();
    let award = |tail: &str| format!("/v1/awards/{number}{tail}");
    let routes = [
        ("healthz", "/healthz".to_owned()),
        ("verification", award("/verification")),
        ("record", award("")),
        ("badge.svg", award("/badge.svg")),
        ("verify page", format!("/verify/{number}")),
        (
            "register search",
            format!("/v1/register?q=Bench+Trust+{}&limit=1", n / 3),
        ),
        ("credential", award("/credential")),
        ("logo.svg", award("/logo.svg")),
        ("logo.png", award("/logo.png")),
        ("qr.svg", award("/qr.svg")),
        ("qr.png", award("/qr.png")),
        ("receipt", award("/receipt")),
        ("feed.atom", "/v1/feed.atom".to_owned()),
        (
            "organisation feed",
            format!("/v1/organisations/{organisation}/feed.atom"),
        ),
    ];
    let routes: Vec<_> = routes
        .into_iter()
        .filter(|(name, _)| r.only.is_empty() || r.only.iter().any(|o| name.contains(o.as_str())))
        .collect();
    let mut results = route_rates(r, &base, &routes)?;
    if !r.quick {
        results.set("POST /v1/verify", verify_rate(r, &base, &number)?);
    }
    searches(&base, n, r.seconds, &mut results)?;
    if !r.quick {
        latency_at_half_peak(r, &base, &routes, &mut results)?;
    }
    let (rss_end, hwm) = memory_mb(server.pid());
    stop_scraping();
    drop(server);
    let log_lines = std::fs::read(&log_path)
        .map(|bytes| bytes.iter().filter(|b| **b == b'\n').count())
        .unwrap_or(0);
    Ok(Json::object()
        .with("awards", n)
        .with("database", db)
        .with("routes", results)
        .with("log_lines", log_lines)
        .with("import", import)
        .with("rebuild", rebuild)
        .with("log_verify", log_verify)
        .with(
            "server_mb",
            Json::object()
                .with("after_start", rss_start)
                .with("after_load", rss_end)
                .with("peak", hwm),
        )
        .with("exports", exports))
}

/// A fresh database and data folder for the run, with a signing key and its address recorded:
/// the environment its commands run in.
fn new_registry(r: &Run, db: &str, n: usize, base: &str, port: u16) -> Result<Env> {
    let data_dir = r.work.join(format!("{db}-{n}"));
    std::fs::create_dir(&data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
    let url = fresh_database(db, &format!("wexqs_bench_{n}"), &data_dir)?;
    let env: Env = vec![
        ("WEXQS_DATA_DIR".into(), data_dir.display().to_string()),
        ("DATABASE_URL".into(), url),
        ("WEXQS_PUBLIC_URL".into(), base.to_owned()),
        ("RUST_LOG".into(), "warn".into()),
    ];
    // `serve` refuses a registry without a signing key: make its first one.
    run(&mut wexqs_command(
        r.wexqs,
        &["keys", "init"],
        &env,
        &REMOVE,
    ))?;
    drop(serve(r.wexqs, &env, &REMOVE, port, &[], Stdio::null())?); // records the address
    Ok(env)
}

/// The time and peak memory of `wexqs import` (of `n` awards), `wexqs rebuild` and
/// `wexqs log verify`.
fn command_costs(r: &Run, n: usize, env: &Env) -> Result<(Json, Json, Json)> {
    let csv = r.work.join(format!("awards-{n}.csv"));
    write_csv(&csv, n)?;
    say(format!("wexqs import ({} rows)", thousands(n as f64)));
    let wexqs = r.wexqs.to_str().ok_or("the binary's path is not UTF-8")?;
    let csv_arg = csv.to_str().ok_or("the work folder's path is not UTF-8")?;
    let (import_s, import_mb) = peak_mb_of(&[wexqs, "import", csv_arg], env, &REMOVE, r.work)?;
    say(format!("  {import_s:.1} s, peak {import_mb:.0} MB"));
    say("wexqs rebuild, wexqs log verify");
    let (rebuild_s, rebuild_mb) = peak_mb_of(&[wexqs, "rebuild"], env, &REMOVE, r.work)?;
    let (verify_s, verify_mb) = peak_mb_of(&[wexqs, "log", "verify"], env, &REMOVE, r.work)?;
    Ok((
        Json::object()
            .with("seconds", import_s)
            .with("peak_mb", import_mb)
            .with("awards_per_second", n as f64 / import_s),
        Json::object()
            .with("seconds", rebuild_s)
            .with("peak_mb", rebuild_mb),
        Json::object()
            .with("seconds", verify_s)
            .with("peak_mb", verify_mb),
    ))
}

/// Each route's rate with 32 connections against the same bytes replayed from memory (five or
/// more alternating rounds, the median), and beside the bare route's rate.
fn route_rates(r: &Run, base: &str, routes: &[(&str, String)]) -> Result<Json> {
    let folder = r.work.join("captured");
    capture(base, routes, &folder)?;
    let (_replay, limit) = replay(r.bare, routes, &folder)?;
    let bare_url = format!("{limit}/status");
    let mut results = Json::object();
    for (name, path) in routes {
        say(format!("wrk {path}"));
        // On a machine other work shares, the bare route is measured again just before each
        // route, on the same cores, and the bare ratio is against that adjacent figure.
        let against = if r.interleave {
            wrk(&bare_url, r.seconds, 32, None)?.num("rps")
        } else {
            r.bare_rps
        };
        let mut figures = alternate(
            &format!("{base}{path}"),
            &format!("{limit}{path}"),
            r.seconds,
            r.rounds,
            32,
        )?;
        let rps = figures.num("rps");
        figures.set("bare_rps", against);
        figures.set("ratio", rps / against);
        results.set(name, figures);
    }
    Ok(results)
}

/// `POST /v1/verify` of the award `number`'s credential, against the npm verifier's rate on
/// the same credential.
fn verify_rate(r: &Run, base: &str, number: &str) -> Result<Json> {
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
    // Measured only once the answer is the one a verifier wants: a fast refusal would flatter.
    let answer = output(
        std::process::Command::new("curl")
            .args([
                "-fsS",
                "--max-time",
                "10",
                "-H",
                "Content-Type: application/json",
            ])
            .arg("--data-binary")
            .arg(format!("@{}", body.display()))
            .arg(format!("{base}/v1/verify")),
    )?;
    if !answer.contains("\"verdict\":\"valid\"") {
        return Err(format!(
            "POST /v1/verify did not find the served credential valid: {answer}"
        ));
    }
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
    Ok(post)
}

/// p50/p99 of each route at half of its peak rate, added to its figures.
fn latency_at_half_peak(
    r: &Run,
    base: &str,
    routes: &[(&str, String)],
    results: &mut Json,
) -> Result {
    say("p50/p99 at half of peak (hey at a fixed rate)");
    for (name, path) in routes {
        let half = results.get(name).map_or(0.0, |f| f.num("rps")) / 2.0;
        let at_half = hey_at(&format!("{base}{path}"), half, r.seconds)?;
        if let Some(figures) = results.get_mut(name) {
            figures.set("at_half_peak", at_half);
        }
    }
    Ok(())
}

/// A search of the register by one client at a time, through the API and through the page.
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

/// `--only-verify`: a register of `n` awards on `db`, imported and served, and only
/// `POST /v1/verify` of one of its credentials against the npm verifier on the same credential.
pub(super) fn verify_only_run(r: &Run, db: &str, n: usize) -> Result<Json> {
    say(format!(
        "{} awards on {db}: POST /v1/verify only",
        thousands(n as f64)
    ));
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let env = new_registry(r, db, n, &base, port)?;
    let csv = r.work.join(format!("awards-{n}.csv"));
    write_csv(&csv, n)?;
    let csv_arg = csv.to_str().ok_or("the work folder's path is not UTF-8")?;
    say(format!("wexqs import ({} rows)", thousands(n as f64)));
    run(&mut wexqs_command(
        r.wexqs,
        &["import", csv_arg],
        &env,
        &REMOVE,
    ))?;
    let server = serve(r.wexqs, &env, &REMOVE, port, &[], Stdio::null())?;
    let number = middle_award(&base, n)?;
    let post = verify_rate(r, &base, &number)?;
    drop(server);
    Ok(Json::object()
        .with("awards", n)
        .with("database", db)
        .with("routes", Json::object().with("POST /v1/verify", post)))
}

/// The certificate number of the award in the middle of a register of `n` (found by its
/// organisation's name, as the import's CSV names them).
fn middle_award(base: &str, n: usize) -> Result<String> {
    let page = get(
        &format!("{base}/v1/register?q=Bench+Trust+{}&limit=1", n / 2),
        10,
    )?;
    string_at(&page, "certificate_number")
        .map(str::to_owned)
        .ok_or_else(|| format!("no award in the register's answer: {page}"))
}
