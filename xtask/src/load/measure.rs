//! The load benchmark's measuring instruments: wrk and hey pinned to the load core, curl for
//! answers and downloads, GNU time for a command's peak memory, /proc for a server's, and the
//! servers themselves, started on the server core and stopped when dropped.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{SERVER_CPU, VERIFIER};
use crate::json::{Json, scalar_at};
use crate::shell::{Result, free_port, output, say};

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

pub fn load_cpu() -> &'static str {
    if cores() > 1 { "1" } else { "0" }
}

/// The body of a GET (curl, failing on an error status).
pub fn get(url: &str, timeout_s: u32) -> Result<String> {
    output(
        Command::new("curl")
            .args(["-fsS", "--max-time", &timeout_s.to_string(), url])
            .stderr(Stdio::null()),
    )
}

pub fn answers(url: &str) -> bool {
    get(url, 2).is_ok()
}

pub fn wait_until_up(url: &str, process: &mut Child, seconds: u64) -> Result {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        if process.try_wait().ok().flatten().is_some() {
            return Err(format!("the server stopped while starting ({url})"));
        }
        if answers(url) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("{url} did not answer within {seconds} s"))
}

/// A server or baseline, stopped (SIGTERM, then SIGKILL after 30 s) when dropped.
pub struct Process(Child);

impl Process {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.0.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// (resident now, peak resident) in MB, from /proc.
pub fn memory_mb(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |key: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS"), field("VmHWM"))
}

/// The number after `label` in `text`.
pub fn number_after(text: &str, label: &str) -> Option<f64> {
    let rest = text[text.find(label)? + label.len()..].trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// A latency as wrk prints it ("812.00us", "1.20ms", "2.01s"), in ms.
pub fn latency_ms(text: &str) -> Option<f64> {
    let (value, scale) = if let Some(v) = text.strip_suffix("us") {
        (v, 1e-3)
    } else if let Some(v) = text.strip_suffix("ms") {
        (v, 1.0)
    } else {
        (text.strip_suffix('s')?, 1e3)
    };
    value.parse::<f64>().ok().map(|v| v * scale)
}

/// Requests a second and the p50/p99 latency in ms of wrk pinned to the load core.
pub fn wrk(url: &str, seconds: u64, connections: u32, script: Option<&Path>) -> Result<Json> {
    let mut command = Command::new("taskset");
    command.args(["-c", load_cpu(), "wrk", "-t1"]).args([
        format!("-c{connections}"),
        format!("-d{seconds}s"),
        "--latency".into(),
    ]);
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    let out = output(command.arg(url))?;
    if out.contains("Non-2xx or 3xx responses") {
        return Err(format!("wrk saw error responses from {url}:\n{out}"));
    }
    let rps = number_after(&out, "Requests/sec:")
        .ok_or_else(|| format!("no Requests/sec in wrk's output:\n{out}"))?;
    let mut latency = BTreeMap::new();
    for line in out.lines().filter(|l| l.starts_with(char::is_whitespace)) {
        let mut words = line.split_whitespace();
        let (Some(pct), Some(value)) = (words.next(), words.next()) else {
            continue;
        };
        let pct = match pct {
            "50%" | "50.000%" => "50",
            "99%" | "99.000%" => "99",
            _ => continue,
        };
        if let Some(ms) = latency_ms(value) {
            latency.insert(pct, ms);
        }
    }
    Ok(Json::object()
        .with("rps", rps)
        .with("p50_ms", latency.get("50").copied())
        .with("p99_ms", latency.get("99").copied()))
}

/// The number of seconds hey reports for a percentile ("  50%% in 0.0012 secs").
pub fn hey_percentile(out: &str, pct: &str) -> Option<f64> {
    let at = out.find(&format!("{pct}%"))?;
    let rest = out[at + pct.len()..].trim_start_matches('%');
    number_after(rest.strip_prefix(" in")?, "")
}

/// p50/p99 latency in ms at a fixed request rate (hey, 16 workers at rate/16 each).
pub fn hey_at(url: &str, rate: f64, seconds: u64) -> Result<Json> {
    let workers = 16.0;
    let out = output(
        Command::new("taskset")
            .args([
                "-c",
                load_cpu(),
                "hey",
                "-z",
                &format!("{seconds}s"),
                "-c",
                "16",
            ])
            .args([
                "-q",
                &format!("{:.1}", (rate / workers).max(1.0)),
                "-m",
                "GET",
                url,
            ]),
    )?;
    let missing = || format!("hey's output lacks a figure:\n{out}");
    let achieved = number_after(&out, "Requests/sec:").ok_or_else(missing)?;
    let p50 = hey_percentile(&out, "50").ok_or_else(missing)? * 1e3;
    let p99 = hey_percentile(&out, "99").ok_or_else(missing)? * 1e3;
    Ok(Json::object()
        .with("rate", achieved)
        .with("p50_ms", p50)
        .with("p99_ms", p99))
}

pub type Env = Vec<(String, String)>;

/// The packaged service's unit file: the server is measured with the environment it sets.
const UNIT: &str = "assets/deploy/debian/wexqs.service";

/// Every `Environment=NAME=value` of the packaged unit (the C library's allocator settings):
/// the server is measured as the package runs it.
pub fn unit_environment() -> Result<Vec<(String, String)>> {
    let unit = std::fs::read_to_string(UNIT).map_err(|e| format!("{UNIT}: {e}"))?;
    Ok(unit
        .lines()
        .filter_map(|line| line.trim().strip_prefix("Environment="))
        .filter_map(|setting| setting.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect())
}

pub fn with_env(command: &mut Command, env: &Env, remove: &[&str]) {
    for name in remove {
        command.env_remove(name);
    }
    command.envs(env.iter().map(|(k, v)| (k, v)));
}

/// Runs a command to its end: (seconds, its peak resident memory in MB), through GNU time.
pub fn peak_mb_of(args: &[&str], env: &Env, remove: &[&str], work: &Path) -> Result<(f64, f64)> {
    let measured = work.join("peak-memory");
    let mut command = Command::new("/usr/bin/time");
    command
        .args(["-f", "%M", "-o"])
        .arg(&measured)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    with_env(&mut command, env, remove);
    let start = Instant::now();
    let out = command
        .output()
        .map_err(|e| format!("{} could not start: {e}", args.join(" ")))?;
    let seconds = start.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!(
            "{} failed:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let kb = std::fs::read_to_string(&measured)
        .ok()
        .and_then(|t| t.lines().last()?.trim().parse::<f64>().ok())
        .ok_or("GNU time wrote no peak memory")?;
    Ok((seconds, kb / 1024.0))
}

/// `wexqs` with its settings, its output thrown away.
pub fn wexqs_command(wexqs: &Path, args: &[&str], env: &Env, remove: &[&str]) -> Command {
    let mut command = Command::new(wexqs);
    command.args(args).stdout(Stdio::null());
    with_env(&mut command, env, remove);
    command
}

pub fn serve(
    wexqs: &Path,
    env: &Env,
    remove: &[&str],
    port: u16,
    extra: &[&str],
    log: Stdio,
) -> Result<Process> {
    let mut command = Command::new("taskset");
    command
        .args(["-c", SERVER_CPU])
        .arg(wexqs)
        .args([
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--workers",
            "1",
        ])
        .args(["--rate-limit", "0"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(log);
    for (name, value) in unit_environment()? {
        // The caller's own setting, if any, is measured instead.
        if std::env::var_os(&name).is_none() {
            command.env(name, value);
        }
    }
    with_env(&mut command, env, remove);
    let child = command
        .spawn()
        .map_err(|e| format!("{} could not start: {e}", wexqs.display()))?;
    let mut process = Process(child);
    wait_until_up(
        &format!("http://127.0.0.1:{port}/readyz"),
        &mut process.0,
        120,
    )?;
    Ok(process)
}

/// The bare baseline on `port`; with a capture folder, it also replays those answers.
pub fn start_bare(bare: &Path, port: u16, capture: Option<&Path>) -> Result<Process> {
    let child = Command::new("taskset")
        .args(["-c", SERVER_CPU])
        .arg(bare)
        .args([format!("127.0.0.1:{port}"), "1".into()])
        .args(capture)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{} could not start: {e}", bare.display()))?;
    let mut process = Process(child);
    wait_until_up(
        &format!("http://127.0.0.1:{port}/status"),
        &mut process.0,
        120,
    )?;
    Ok(process)
}

pub fn verifier_rate(bundle: &Path, seconds: u64) -> Result<f64> {
    let out = output(
        Command::new("taskset")
            .args(["-c", SERVER_CPU, "node", &format!("{VERIFIER}/bench.mjs")])
            .arg(bundle)
            .arg(seconds.to_string()),
    )?;
    if scalar_at(&out, "verified") != Some("true") {
        let why = Command::new("node")
            .arg(format!("{VERIFIER}/verify.mjs"))
            .arg(bundle)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        return Err(format!(
            "the npm verifier did not verify the credential: {why}"
        ));
    }
    scalar_at(&out, "per_second")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("the npm verifier gave no rate: {out}"))
}

/// One download with curl: (bytes, seconds to the first byte, seconds in all).
pub fn download(url: &str) -> Result<(f64, f64, f64)> {
    let out = output(Command::new("curl").args([
        "-fsS",
        "--max-time",
        "300",
        "-o",
        "/dev/null",
        "-w",
        "%{size_download} %{time_starttransfer} %{time_total}",
        url,
    ]))?;
    let figures: Vec<f64> = out
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    match figures.as_slice() {
        [bytes, first, total] => Ok((*bytes, *first, *total)),
        _ => Err(format!("curl's figures for {url}: {out}")),
    }
}

/// The server's memory while `clients` download each export at once, read as they come and
/// dropped. The baseline is the export's own size: what holding one whole would cost a
/// download. Also the first download's wait for its first byte (the signature is made then)
/// and a later one's.
pub fn export_downloads(base: &str, pid: u32, clients: usize) -> Result<Json> {
    let mut results = Json::object();
    for fmt in ["csv", "json"] {
        let url = format!("{base}/v1/exports/register.{fmt}");
        let (rss_before, _) = memory_mb(pid);
        let peak = Arc::new(Mutex::new(rss_before));
        let (stop, stopped) = mpsc::channel::<()>();
        let sampler = {
            let peak = Arc::clone(&peak);
            std::thread::spawn(move || {
                while stopped.recv_timeout(Duration::from_millis(5)).is_err() {
                    let now = memory_mb(pid).0;
                    if let Ok(mut peak) = peak.lock() {
                        *peak = peak.max(now);
                    }
                }
            })
        };
        let cold = download(&url); // the first: the export is hashed for its signature
        let warm: Vec<Result<(f64, f64, f64)>> = std::thread::scope(|scope| {
            let downloads: Vec<_> = (0..clients)
                .map(|_| scope.spawn(|| download(&url)))
                .collect();
            downloads
                .into_iter()
                .map(|d| {
                    d.join()
                        .unwrap_or_else(|_| Err("a download panicked".into()))
                })
                .collect()
        });
        let _ = stop.send(());
        let _ = sampler.join();
        let (bytes, cold_first, _) = cold?;
        let warm = warm.into_iter().collect::<Result<Vec<_>>>()?;
        let peak = *peak.lock().map_err(|_| "the sampler panicked")?;
        let size_mb = bytes / 1e6;
        let grew = peak - rss_before;
        let warm_first = warm.iter().map(|w| w.1).fold(0.0, f64::max);
        let warm_seconds = warm.iter().map(|w| w.2).fold(0.0, f64::max);
        results.set(
            fmt,
            Json::object()
                .with("export_mb", size_mb)
                .with("clients", clients)
                .with("rss_before_mb", rss_before)
                .with("rss_peak_mb", peak)
                .with("rss_growth_mb", grew)
                .with("ratio", if size_mb > 0.0 { grew / size_mb } else { 0.0 })
                .with("cold_first_byte_s", cold_first)
                .with("warm_first_byte_s", warm_first)
                .with("warm_seconds", warm_seconds),
        );
        say(format!(
            "  {fmt}: {size_mb:.1} MB; {clients} downloads at once grew the server by {grew:.1} MB \
             = {:.2}x one export; first byte {cold_first:.2} s cold, {warm_first:.3} s warm",
            grew / size_mb
        ));
    }
    Ok(results)
}

pub fn bare_baseline(bare: &Path, seconds: u64) -> Result<Json> {
    let port = free_port()?;
    let _process = start_bare(bare, port, None)?;
    let url = format!("http://127.0.0.1:{port}/status");
    wrk(&url, 1, 32, None)?;
    wrk(&url, seconds, 32, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn near(got: Option<f64>, want: f64) -> bool {
        got.is_some_and(|got| (got - want).abs() < 1e-9)
    }

    #[test]
    fn wrk_and_hey_figures_are_read() {
        assert!(near(latency_ms("812.00us"), 0.812));
        assert!(near(latency_ms("1.50ms"), 1.5));
        assert!(near(latency_ms("2.00s"), 2000.0));
        assert!(near(
            number_after("Requests/sec:  12345.67\n", "Requests/sec:"),
            12345.67
        ));
        let hey = "Latency distribution:\n  10%% in 0.0010 secs\n  50%% in 0.0021 secs\n  \
                   99%% in 0.0100 secs\n";
        assert!(near(hey_percentile(hey, "50"), 0.0021));
        assert!(near(hey_percentile(hey, "99"), 0.01));
    }
}
