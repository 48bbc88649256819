//! `cargo xtask api-check`: property-based checks of the HTTP API against openapi/openapi.yaml
//! with schemathesis (pinned in tests/api-check/requirements.txt, installed into a virtualenv
//! under the target folder). Builds wexqs, serves the demo register on SQLite in a temporary
//! folder on a free port with the rate limit off, and runs schemathesis: the document's examples
//! on the public routes, then generated requests without a token and with an admin token. Fails
//! on any 5xx, on an example refused, and on any answer the document does not describe (status
//! code, content type, headers, body schema), on a request the document forbids that the server
//! takes, and on a method a route does not take answered with anything but 405.

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::shell::{
    Result, TempDir, cargo, copy, free_port, http_status, output, remove_dir, run, same_bytes, say,
    status, target_dir,
};

pub const HELP: &str = "\
cargo xtask api-check [--examples N] [--seed N|random]: the HTTP API against
openapi/openapi.yaml with schemathesis, on a demo server (about a minute or two).

    --examples N      cases per operation (default 40, or API_CHECK_EXAMPLES)
    --seed N|random   hypothesis's seed (default 20261125, or API_CHECK_SEED); `random` for a new
                      one, printed, to replay a failure";

const REQUIREMENTS: &str = "tests/api-check/requirements.txt";
const SETTINGS: &str = "tests/api-check/schemathesis.toml";

struct Options {
    examples: u32,
    seed: String,
}

fn options(args: &[String]) -> Result<Options> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut examples = env("API_CHECK_EXAMPLES").unwrap_or_else(|| "40".into());
    let mut seed = env("API_CHECK_SEED").unwrap_or_else(|| "20261125".into());
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let value = |name: &str, value: Option<&String>| {
            value
                .cloned()
                .ok_or_else(|| format!("{name} needs a value (see `cargo xtask api-check --help`)"))
        };
        match arg.as_str() {
            "--examples" => examples = value(arg, args.next())?,
            "--seed" => seed = value(arg, args.next())?,
            other => {
                return Err(format!(
                    "api-check takes no {other:?} (see `cargo xtask api-check --help`)"
                ));
            }
        }
    }
    let examples = examples
        .parse::<u32>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("--examples takes a number of cases above 0, not {examples:?}"))?;
    if seed != "random" && seed.parse::<u64>().is_err() {
        return Err(format!("--seed takes a number or `random`, not {seed:?}"));
    }
    Ok(Options { examples, seed })
}

/// The demo server, stopped when dropped.
struct Server(Child);

impl Drop for Server {
    /// SIGTERM, so it writes out the last of its log, then waits for it to end.
    fn drop(&mut self) {
        let term = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        if !term.is_ok_and(|s| s.success()) {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

pub fn main(args: &[String]) -> Result {
    let options = options(args)?;
    let target = target_dir();
    let venv = target.join("api-check-venv");
    install_schemathesis(&venv)?;

    say("cargo build (wexqs)");
    run(cargo().args(["build", "--quiet", "--bin", "wexqs"]))?;
    let wexqs = target.join("debug/wexqs");

    let work = TempDir::new("wexqs-api-check-")?;
    let port = free_port()?;
    let mut tokens = Command::new(&wexqs);
    tokens.args(["tokens", "create", "--role", "admin", "--name", "api-check"]);
    as_registry(&mut tokens, work.path());
    let token = output(&mut tokens)?;
    let log_path = work.path().join("server.log");
    let server = start_server(&wexqs, work.path(), port, &log_path)?;

    let checks = Schemathesis {
        options: &options,
        root: crate::shell::root(),
        target: &target,
        venv: &venv,
        work: work.path(),
        url: format!("http://127.0.0.1:{port}"),
    };
    let mut passed = checks.run_all(&token)?;
    drop(server);
    passed &= no_errors_logged(&server_log(&log_path));
    if !passed {
        return Err(
            "api-check: schemathesis found answers the document does not describe (above)".into(),
        );
    }
    println!("api-check: no 5xx and every answer as documented");
    Ok(())
}

/// The pinned schemathesis, in its own virtualenv, reinstalled when the pins change.
fn install_schemathesis(venv: &Path) -> Result {
    if !same_bytes(Path::new(REQUIREMENTS), &venv.join("requirements.txt")) {
        say(format!("installing schemathesis into {}", venv.display()));
        remove_dir(venv)?;
        run(Command::new("python3").args(["-m", "venv"]).arg(venv))?;
        run(Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(REQUIREMENTS))?;
        copy(Path::new(REQUIREMENTS), &venv.join("requirements.txt"))?;
    }
    Ok(())
}

/// `command` run on the registry in the temporary folder `work`, logging at `WEXQS_LOG`
/// (default `warn`).
fn as_registry(command: &mut Command, work: &Path) {
    let log_level = std::env::var("WEXQS_LOG").unwrap_or_else(|_| "warn".into());
    command
        .env("WEXQS_DATA_DIR", work.join("data"))
        .env("WEXQS_LOG", log_level);
}

fn server_log(log_path: &Path) -> String {
    std::fs::read_to_string(log_path).unwrap_or_default()
}

/// The demo server on `port`, logging to `log_path`, once it is ready.
fn start_server(wexqs: &Path, work: &Path, port: u16, log_path: &Path) -> Result<Server> {
    // The limits on clients are off: schemathesis sends thousands of requests from one address,
    // and its checks of a missing or wrong token expect 401, not the 429 a real flood of them
    // gets.
    let log = File::create(log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let mut serve = Command::new(wexqs);
    serve
        .args(["serve", "--demo", "--bind", &format!("127.0.0.1:{port}")])
        .args([
            "--rate-limit",
            "0",
            "--admin-failures-per-minute",
            "0",
            "--workers",
            "2",
        ])
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log);
    as_registry(&mut serve, work);
    let mut server = Server(
        serve
            .spawn()
            .map_err(|e| format!("{} could not start: {e}", wexqs.display()))?,
    );
    let ready = || http_status(port, "/readyz", Duration::from_secs(2)) == Some(200);
    for _ in 0..100 {
        if ready() {
            break;
        }
        if server.0.try_wait().ok().flatten().is_some() {
            eprint!("{}", server_log(log_path));
            return Err("the server stopped".into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    if !ready() {
        eprint!("{}", server_log(log_path));
        return Err("the server did not become ready".into());
    }
    Ok(server)
}

/// A panic or an internal error the answers did not show (actix's own notes of malformed
/// requests, which it refuses with a 4xx, are not ours): whether there was none.
fn no_errors_logged(logged: &str) -> bool {
    let errors: Vec<&str> = logged
        .lines()
        .filter(|line| line.contains("panicked") || line.contains("internal error"))
        .collect();
    if !errors.is_empty() {
        eprintln!("== the server logged errors:");
        for line in errors.iter().take(50) {
            eprintln!("{line}");
        }
    }
    errors.is_empty()
}

/// schemathesis, run against the server at `url`.
struct Schemathesis<'a> {
    options: &'a Options,
    root: std::path::PathBuf,
    target: &'a Path,
    venv: &'a Path,
    work: &'a Path,
    url: String,
}

impl Schemathesis<'_> {
    /// The three runs: the document's examples on the public routes, then generated requests
    /// without a token and with the admin `token`. Whether all passed.
    fn run_all(&self, token: &str) -> Result<bool> {
        let mut passed = true;
        say("schemathesis: the document's examples are accepted (public routes)");
        passed &= self.run(&[
            "--phases",
            "examples",
            "--checks",
            "all",
            "--exclude-tag",
            "admin",
        ])?;
        say(format!("schemathesis, no token ({})", self.url));
        passed &= self.generated(&["--report", "junit", self.report("public").as_str()])?;
        say("schemathesis, admin token");
        let bearer = format!("Authorization: Bearer {token}");
        passed &= self.generated(&[
            "-H",
            bearer.as_str(),
            "--report",
            "junit",
            self.report("admin").as_str(),
        ])?;
        Ok(passed)
    }

    fn run(&self, extra: &[&str]) -> Result<bool> {
        let mut command = Command::new("timeout");
        command
            .arg("300")
            .arg(self.venv.join("bin/schemathesis"))
            .arg("--config-file")
            .arg(self.root.join(SETTINGS))
            .arg("run")
            .arg(self.root.join("openapi/openapi.yaml"))
            .args([
                "--url",
                &self.url,
                "--max-examples",
                &self.options.examples.to_string(),
            ]);
        if self.options.seed != "random" {
            command.args(["--seed", &self.options.seed]);
        }
        // One worker: with more, hypothesis failed inside itself (an AST cache race), not the
        // server. From the temporary folder, so schemathesis's own cache stays out of the work
        // tree.
        command
            .args(["--workers", "1", "--request-timeout", "30"])
            .args(["--suppress-health-check", "too_slow,filter_too_much"])
            .args(extra)
            .current_dir(self.work)
            .stdin(Stdio::null());
        Ok(status(&mut command)?.success())
    }

    /// Generated requests: positive_data_acceptance is left out, since a schema cannot say
    /// which certificate numbers pass their check character, which log positions exist or which
    /// commands the programme's rules allow, so a request the schema allows may rightly be
    /// refused.
    fn generated(&self, extra: &[&str]) -> Result<bool> {
        let mut args = vec![
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    fn report(&self, name: &str) -> String {
        format!(
            "--report-junit-path={}",
            self.target.join(format!("api-check-{name}.xml")).display()
        )
    }
}
