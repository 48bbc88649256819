//! `cargo xtask load --observability`: the cost of logging and metrics on the verification
//! route, one server with them on beside one with them off, on the same register.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use super::measure::{Env, get, peak_mb_of, serve, wexqs_command, wrk};
use super::report::thousands;
use super::{Options, write_csv};
use crate::json::{Json, string_at};
use crate::shell::{Result, TempDir, free_port, run, say};

/// The variables the servers and commands drop from the environment.
const REMOVE: [&str; 2] = ["WEXQS_CALENDAR", "RUST_LOG"];

/// The cost of logging and metrics on the verification route: one server with logs at info (to
/// a file) and metrics on, scraped every second as Prometheus would, beside one with
/// WEXQS_LOG=warn and --metrics-bind none, both on the same register and the same core, loaded in
/// turn for several rounds (alternating which goes first). The ratio is on / off.
pub(super) fn observability(o: &Options, wexqs: &Path, n: usize, work: &Path) -> Result<Json> {
    say(format!(
        "observability: {} awards on sqlite, {} rounds of {} s each way",
        thousands(n as f64),
        o.rounds,
        o.seconds
    ));
    let (port_on, port_off, metrics_port) = (free_port()?, free_port()?, free_port()?);
    let (base_on, base_off) = (
        format!("http://127.0.0.1:{port_on}"),
        format!("http://127.0.0.1:{port_off}"),
    );
    let (quiet, loud) = imported_register(wexqs, n, work, &base_on, port_on)?;
    let (in_memory, log_path) = info_log(o, work)?;
    say(format!("  the info log: {}", log_path.display()));
    let log =
        std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let metrics_bind = format!("127.0.0.1:{metrics_port}");
    let on = serve(
        wexqs,
        &loud,
        &REMOVE,
        port_on,
        &["--metrics-bind", &metrics_bind],
        log.into(),
    )?;
    let off = serve(
        wexqs,
        &quiet,
        &REMOVE,
        port_off,
        &["--metrics-bind", "none"],
        Stdio::null(),
    )?;
    let metrics_url = format!("http://{metrics_bind}/metrics");
    let stop_scraping = scrape_every_second(metrics_url.clone());
    let measured = rounds(o, n, &base_on, &base_off, &metrics_url);
    stop_scraping();
    drop(on);
    drop(off);
    let Rounds {
        mut ratios,
        on_rps,
        off_rps,
        metrics,
    } = measured?;
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
        .with("verifications_counted", verifications_counted(&metrics))
        .with("log_lines", log_lines))
}

/// A register of `n` awards in `work`, with a signing key and its address (`base_on`)
/// recorded: the environments of the quiet server (logs at warn) and of the loud one (info).
fn imported_register(
    wexqs: &Path,
    n: usize,
    work: &Path,
    base_on: &str,
    port_on: u16,
) -> Result<(Env, Env)> {
    let data_dir = work.join("observability");
    std::fs::create_dir(&data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
    let common: Env = vec![
        ("WEXQS_DATA_DIR".into(), data_dir.display().to_string()),
        (
            "DATABASE_URL".into(),
            format!("sqlite://{}/registry.db", data_dir.display()),
        ),
        ("WEXQS_PUBLIC_URL".into(), base_on.to_owned()),
    ];
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
        &REMOVE,
    ))?;
    drop(serve(wexqs, &quiet, &REMOVE, port_on, &[], Stdio::null())?); // records the address
    let csv = work.join(format!("observability-{n}.csv"));
    write_csv(&csv, n)?;
    let wexqs_arg = wexqs.to_str().ok_or("the binary's path is not UTF-8")?;
    let csv_arg = csv.to_str().ok_or("the work folder's path is not UTF-8")?;
    peak_mb_of(&[wexqs_arg, "import", csv_arg], &quiet, &REMOVE, work)?;
    Ok((quiet, loud))
}

/// Where the loud server's log goes, and the folder in memory that holds it (if it is one).
fn info_log(o: &Options, work: &Path) -> Result<(Option<TempDir>, PathBuf)> {
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
    Ok((in_memory, log_path))
}

/// Scrapes `url` every second, as Prometheus would, on a thread of its own: the returned
/// function stops it and waits for it.
pub(super) fn scrape_every_second(url: String) -> impl FnOnce() {
    let (stop, stopped) = mpsc::channel::<()>();
    let scraper = std::thread::spawn(move || {
        loop {
            let _ = get(&url, 10);
            if stopped.recv_timeout(Duration::from_secs(1)).is_ok() {
                break;
            }
        }
    });
    move || {
        let _ = stop.send(());
        let _ = scraper.join();
    }
}

/// The verifications the request series counted, from the metrics text.
fn verifications_counted(metrics: &str) -> f64 {
    metrics
        .lines()
        .filter(|line| {
            line.starts_with("wexqs_http_requests_total{")
                && line.contains("route=\"/v1/awards/{certificate_number}/verification\"")
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
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
