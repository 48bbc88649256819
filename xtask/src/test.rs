//! `cargo xtask test`: the README's test command. Makes sure this machine has what the tests use,
//! then runs `cargo test`:
//! - PostgreSQL on 127.0.0.1:5432 with the database `test` (installed if missing, started if
//!   stopped, with trust authentication for 127.0.0.1);
//! - Debian's chromium (the browser walk), poppler-utils (the PDF read back), Go with
//!   golang.org/x/mod (Go's own checkpoint and proof checks), Node.js and npm, jq (the README's
//!   examples, run by the tests, pick values out of answers with it), and LibreOffice Calc
//!   without its desktop (`soffice --headless` opens the CSV export as a spreadsheet would);
//!   nginx (the reverse-proxy setup), prometheus (`promtool` checks the alert rules), openssl (a
//!   test certificate authority for PostgreSQL's TLS), systemd, adduser and strace (the Debian
//!   package installed, its unit scored and its system calls checked); curl (the README's
//!   examples and the installed package are asked with it);
//! - cargo-deb, pinned, from the crate registry (`cargo install --locked`), which builds it;
//! - the pinned npm packages of tests/interop/verifier/, tests/browser/ and tests/oidc/ (the
//!   OpenID Provider the console's sign-in is tested against) (`npm ci`, again only when a lock
//!   changed);
//! - the pinned Python libraries of tests/python-requirements.txt (feedparser, icalendar, PyJWT,
//!   cryptography) in a virtualenv under the target folder, again only when the pins changed.
//!
//! System packages come from apt-get, as root or through sudo, and cargo-deb from the crate
//! registry; nothing is downloaded from anywhere else. Once this has run, `cargo test` alone is
//! enough.

use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::shell::{
    Result, apt_install, as_root, cargo, copy, executable, found, output, quietly_succeeds,
    remove_dir, run, same_bytes, say, status, target_dir,
};

pub const HELP: &str = "\
cargo xtask test [ARGS...]: makes sure this machine has what the tests use (Debian packages,
PostgreSQL on 127.0.0.1:5432 with the database `test`, cargo-deb, the pinned npm packages and
Python libraries), then runs `cargo test -- ARGS...`.

    cargo xtask test              prepare, then every test
    cargo xtask test outage::     prepare, then the tests whose name has that filter";

/// The cargo-deb the tests build the Debian package with.
const CARGO_DEB_VERSION: &str = "3.8.0";

/// The folders whose pinned npm packages the tests run.
const NPM_FOLDERS: [&str; 3] = ["tests/interop/verifier", "tests/browser", "tests/oidc"];

/// Prepares the machine, then becomes `cargo test -- args` (its exit status is ours).
pub fn main(args: &[String]) -> Result {
    prepare()?;
    say("cargo test");
    let mut test = cargo();
    test.arg("test").arg("--").args(args);
    let error = test.exec();
    Err(format!("`cargo test` could not start: {error}"))
}

/// Everything the tests use, installed, started and up to date.
pub fn prepare() -> Result {
    debian_packages()?;
    postgresql()?;
    cargo_deb()?;
    npm_packages()?;
    python_libraries()
}

/// The Debian packages, installed together when any is missing.
fn debian_packages() -> Result {
    let needs: [(bool, &[&str]); 16] = [
        (found("pg_isready"), &["postgresql"]),
        (
            found("pg_dump") && found("pg_restore"),
            &["postgresql-client"],
        ),
        (executable(Path::new("/usr/bin/chromium")), &["chromium"]),
        (found("pdftotext") && found("pdftoppm"), &["poppler-utils"]),
        (found("go"), &["golang-go"]),
        (
            Path::new("/usr/share/gocode/src/golang.org/x/mod/sumdb/tlog").is_dir(),
            &["golang-golang-x-mod-dev"],
        ),
        (found("npm"), &["nodejs", "npm"]),
        (found("jq"), &["jq"]),
        (found("soffice"), &["libreoffice-calc-nogui"]),
        (
            found("nginx") || executable(Path::new("/usr/sbin/nginx")),
            &["nginx"],
        ),
        (found("promtool"), &["prometheus"]),
        (found("openssl"), &["openssl"]),
        (found("systemd-analyze"), &["systemd"]),
        (
            found("adduser") || executable(Path::new("/usr/sbin/adduser")),
            &["adduser"],
        ),
        (found("strace"), &["strace"]),
        (found("curl"), &["curl"]),
    ];
    let missing: Vec<&str> = needs
        .iter()
        .filter(|(present, _)| !present)
        .flat_map(|(_, packages)| packages.iter().copied())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    apt_install(&missing)
}

fn postgresql_is_up() -> bool {
    quietly_succeeds(Command::new("pg_isready").args(["-h", "127.0.0.1", "-p", "5432", "-q"]))
}

/// PostgreSQL: running on 127.0.0.1:5432, reachable as postgres without a password, with `test`.
fn postgresql() -> Result {
    if !postgresql_is_up() {
        say("starting PostgreSQL");
        let mut versions: Vec<String> = std::fs::read_dir("/etc/postgresql")
            .map(|dir| {
                dir.filter_map(|entry| entry.ok())
                    .map(|entry| entry.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        versions.sort();
        for version in &versions {
            let hba = format!("/etc/postgresql/{version}/main/pg_hba.conf");
            let trusted = r"^host\s+all\s+all\s+127\.0\.0\.1/32\s+trust";
            if quietly_succeeds(&mut as_root("test", &["-f", hba.as_str()])?)
                && !quietly_succeeds(&mut as_root("grep", &["-qE", trusted, hba.as_str()])?)
            {
                run(&mut as_root(
                    "sed",
                    &["-i", "1i host all all 127.0.0.1/32 trust", hba.as_str()],
                )?)?;
            }
            // A cluster that will not start is reported below, by the wait for the port.
            let _ = status(&mut as_root(
                "pg_ctlcluster",
                &[
                    "--skip-systemctl-redirect",
                    version.as_str(),
                    "main",
                    "start",
                ],
            )?);
        }
        for _ in 0..30 {
            if postgresql_is_up() {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    if !postgresql_is_up() {
        return Err("PostgreSQL is not reachable on 127.0.0.1:5432".into());
    }
    let psql = || {
        let mut psql = Command::new("psql");
        psql.args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres"]);
        psql
    };
    let exists = output(psql().args(["-tAc", "SELECT 1 FROM pg_database WHERE datname = 'test'"]))
        .is_ok_and(|found| found.lines().any(|line| line.contains('1')));
    if !exists {
        run(psql().args(["-qc", "CREATE DATABASE test"]))?;
    }
    Ok(())
}

/// cargo-deb (the Debian package the tests build and install), pinned, from the crate registry.
fn cargo_deb() -> Result {
    let installed = output(
        cargo()
            .args(["deb", "--version"])
            .stderr(std::process::Stdio::null()),
    );
    if installed.is_ok_and(|v| v == format!("cargo-deb {CARGO_DEB_VERSION}")) {
        return Ok(());
    }
    say(format!(
        "installing cargo-deb {CARGO_DEB_VERSION} (crate registry)"
    ));
    run(cargo().args([
        "install",
        "cargo-deb",
        "--locked",
        "--version",
        CARGO_DEB_VERSION,
    ]))
}

/// The pinned npm packages, reinstalled when a lock file changed since the last install.
fn npm_packages() -> Result {
    NPM_FOLDERS
        .iter()
        .try_for_each(|folder| npm_ci(Path::new(folder)))
}

/// `npm ci` in `folder` unless its lock file is the one last installed there.
pub fn npm_ci(folder: &Path) -> Result {
    let lock = folder.join("package-lock.json");
    let stamp = folder.join("node_modules/.installed-lock.json");
    if same_bytes(&lock, &stamp) {
        return Ok(());
    }
    say(format!("npm ci ({})", folder.display()));
    run(Command::new("npm")
        .arg("ci")
        .arg("--prefix")
        .arg(folder)
        .args(["--no-audit", "--no-fund"]))?;
    copy(&lock, &stamp)
}

/// The pinned Python libraries the tests read feeds, calendars, receipts and exports with, in
/// their own virtualenv (as the API check keeps schemathesis), reinstalled when the pins change.
fn python_libraries() -> Result {
    let pins = Path::new("tests/python-requirements.txt");
    let venv = target_dir().join("tests-python-venv");
    if same_bytes(pins, &venv.join("requirements.txt")) {
        return Ok(());
    }
    say(format!(
        "installing {} into {}",
        pins.display(),
        venv.display()
    ));
    python_venv(&["python3", "python3-venv"])?;
    remove_dir(&venv)?;
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    run(Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(pins))?;
    copy(pins, &venv.join("requirements.txt"))
}

/// Python 3 able to make a virtualenv (`venv` and `ensurepip`), else these Debian packages.
pub fn python_venv(packages: &[&str]) -> Result {
    let ready = found("python3")
        && quietly_succeeds(Command::new("python3").args(["-m", "venv", "--help"]))
        && quietly_succeeds(Command::new("python3").args(["-c", "import ensurepip"]));
    if ready {
        return Ok(());
    }
    apt_install(packages)
}
