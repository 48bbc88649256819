//! The Debian package (`cargo deb`, assets/deploy/debian/): its units scored by `systemd-analyze
//! security`, its settings file against the options, its contents listed with `dpkg-deb`, and the
//! package installed with `dpkg -i`: the installed binary serves as the `wexqs` user from
//! /var/lib/wexqs, the backup script writes a dated backup and keeps the newest, every system
//! call they make is one the unit's `SystemCallFilter=` allows, and `dpkg --purge` takes it all
//! away. Nothing here runs under a real systemd: the unit's user, folder and settings are
//! reproduced with `setpriv`.
//!
//! The package is built once per run. By default it packages the binary this test run built
//! (`cargo deb --no-build`, same code, seconds); `WEXQS_DEB_RELEASE=1` makes it `cargo deb` as
//! a release is made (a release build, many minutes). Installing needs root: a test run that is
//! not root fails, unless `WEXQS_SKIP_DPKG=1` says on purpose to leave the install out.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::helpers::text;
use syscalls::{assert_within_filter, serve_traced};

mod syscalls;

const DEPLOY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/deploy/debian");
const USER: &str = "wexqs";
const STATE: &str = "/var/lib/wexqs";
const ENV_FILE: &str = "/etc/wexqs/wexqs.env";

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} runs (`cargo xtask test` installs it): {e}"))
}

fn succeeds(program: &str, args: &[&str]) -> String {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "{program} {args:?}: {}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The `.deb`, built once per test run.
fn package() -> &'static Path {
    static PACKAGE: OnceLock<PathBuf> = OnceLock::new();
    PACKAGE.get_or_init(|| {
        let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("deb");
        let _ = std::fs::remove_dir_all(&out_dir);
        std::fs::create_dir_all(&out_dir).unwrap();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut command = Command::new(cargo);
        command
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["deb", "--output"])
            .arg(&out_dir);
        if std::env::var_os("WEXQS_DEB_RELEASE").is_none() {
            // The binary this run built: target/debug/wexqs (or target/release/ for --release).
            let built = Path::new(env!("CARGO_BIN_EXE_wexqs"));
            let profile = built
                .parent()
                .and_then(Path::file_name)
                .and_then(|p| p.to_str())
                .expect("the binary's profile folder");
            let profile = if profile == "debug" { "dev" } else { profile };
            command.args(["--no-build", "--fast", "--profile", profile]);
        }
        let started = Instant::now();
        let out = command
            .output()
            .expect("cargo deb runs (`cargo xtask test` installs cargo-deb)");
        assert!(
            out.status.success(),
            "cargo deb: {}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        eprintln!(
            "built the Debian package in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        std::fs::read_dir(&out_dir)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "deb"))
            .expect("cargo deb wrote a .deb")
    })
}

/// `systemd-analyze security --offline=true`'s overall exposure of a unit file (0 to 10).
fn exposure(unit: &Path) -> f64 {
    let out = run(
        "systemd-analyze",
        &["security", "--offline=true", unit.to_str().unwrap()],
    );
    let report = format!("{}{}", text(&out.stdout), text(&out.stderr));
    let line = report
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no overall exposure in:\n{report}"));
    let value = line
        .rsplit(':')
        .next()
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no number in {line:?}"));
    eprintln!("{}: {value}", unit.display());
    value
}

#[test]
fn units_score_two_or_below_in_systemd_analyze_security() {
    for unit in ["wexqs.service", "wexqs-backup.service"] {
        let path = Path::new(DEPLOY).join(unit);
        let score = exposure(&path);
        assert!(
            score <= 2.0,
            "{unit} is exposed at {score}, above 2.0:\n{}",
            succeeds(
                "systemd-analyze",
                &["security", "--offline=true", path.to_str().unwrap()]
            )
        );
    }
    // The same check finds an unhardened unit exposed: the score is read, not assumed.
    let bare = tempfile::Builder::new()
        .suffix(".service")
        .tempfile()
        .unwrap();
    std::fs::write(bare.path(), "[Service]\nExecStart=/usr/bin/wexqs serve\n").unwrap();
    assert!(exposure(bare.path()) > 8.0);
}

/// Every option with an environment variable (`env = "…"` in src/cli/), and the log filter.
fn settings() -> BTreeSet<String> {
    let mut names = BTreeSet::from(["WEXQS_LOG".to_owned()]);
    let cli = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cli");
    for entry in std::fs::read_dir(cli).unwrap() {
        let source = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for piece in source.split("env = \"").skip(1) {
            names.insert(piece.split('"').next().unwrap().to_owned());
        }
    }
    names
}

#[test]
fn settings_file_names_every_setting() {
    let file = std::fs::read_to_string(Path::new(DEPLOY).join("wexqs.env")).unwrap();
    let named: BTreeSet<&str> = file
        .lines()
        .map(|l| l.trim_start_matches('#'))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .filter(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .collect();
    let settings = settings();
    assert!(settings.len() > 20, "found the options: {settings:?}");
    let missing: Vec<_> = settings
        .iter()
        .filter(|s| !named.contains(s.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "assets/deploy/debian/wexqs.env names no line for {missing:?} (every setting, commented with its default)"
    );
}

#[test]
fn package_lists_the_binary_units_settings_and_scripts() {
    let deb = package().to_str().unwrap();
    let info = succeeds("dpkg-deb", &["--info", deb]);
    for expected in [
        "Package: wexqs",
        "Architecture: amd64",
        "adduser",
        "postinst",
        "postrm",
        "conffiles",
    ] {
        assert!(info.contains(expected), "no {expected:?} in:\n{info}");
    }
    let conffiles = succeeds("dpkg-deb", &["--field", deb, "Package"]);
    assert_eq!(conffiles.trim(), "wexqs");
    let contents = succeeds("dpkg-deb", &["--contents", deb]);
    let listed: BTreeMap<&str, &str> = contents
        .lines()
        .filter_map(|l| {
            let mode = l.split_whitespace().next()?;
            let path = l.split_whitespace().last()?;
            Some((path, mode))
        })
        .collect();
    for (path, mode) in [
        ("./usr/bin/wexqs", "-rwxr-xr-x"),
        ("./usr/sbin/wexqs-admin", "-rwxr-xr-x"),
        ("./usr/lib/wexqs/wexqs-backup", "-rwxr-xr-x"),
        ("./etc/wexqs/wexqs.env", "-rw-r-----"),
        ("./usr/lib/systemd/system/wexqs.service", "-rw-r--r--"),
        (
            "./usr/lib/systemd/system/wexqs-backup.service",
            "-rw-r--r--",
        ),
        ("./usr/lib/systemd/system/wexqs-backup.timer", "-rw-r--r--"),
        ("./usr/share/doc/wexqs/OPERATIONS.md", "-rw-r--r--"),
    ] {
        assert_eq!(
            listed.get(path),
            Some(&mode),
            "{path} with mode {mode} in:\n{contents}"
        );
    }
    let control = tempfile::tempdir().unwrap();
    succeeds(
        "dpkg-deb",
        &["--control", deb, control.path().to_str().unwrap()],
    );
    let conffiles = std::fs::read_to_string(control.path().join("conffiles")).unwrap();
    assert_eq!(conffiles.trim(), ENV_FILE);
}

/// Whether the tests run as root (dpkg needs it).
fn root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn installed() -> bool {
    let out = run("dpkg-query", &["--show", "--showformat=${Status}", "wexqs"]);
    out.status.success() && text(&out.stdout).contains("installed")
}

/// Marks an install as this test's own: a wexqs installed otherwise is never purged here.
const MARK: &str = "/etc/wexqs/.installed-by-the-tests";

/// The package installed for one test: purged when it ends, however it ends.
struct Installed;

impl Installed {
    fn new(deb: &Path) -> (Self, String) {
        if installed() || Path::new("/etc/wexqs").exists() {
            assert!(
                Path::new(MARK).exists(),
                "a wexqs package (or /etc/wexqs) is on this machine already: this test installs and purges its own, so remove it first"
            );
            succeeds("dpkg", &["--purge", "wexqs"]);
        }
        let out = run("dpkg", &["--install", deb.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "dpkg -i: {}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        std::fs::write(MARK, "").unwrap();
        (Self, format!("{}{}", text(&out.stdout), text(&out.stderr)))
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        if installed() && Path::new(MARK).exists() {
            let _ = run("dpkg", &["--purge", "wexqs"]);
        }
    }
}

/// The settings as systemd's `EnvironmentFile=` reads them (KEY=value, `#` comments).
fn environment() -> Vec<(String, String)> {
    std::fs::read_to_string(ENV_FILE)
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
        .collect()
}

/// `program args…` as the service runs: the wexqs user and group, no new privileges, the state
/// folder as working directory, and the settings file's environment only.
fn as_service(program: &str, args: &[&str]) -> Command {
    let mut command = Command::new("setpriv");
    command
        .args([
            "--reuid",
            USER,
            "--regid",
            USER,
            "--init-groups",
            "--no-new-privs",
            "--",
            program,
        ])
        .args(args)
        .current_dir(STATE)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .envs(environment());
    command
}

/// The uid of a user.
fn uid_of(user: &str) -> u32 {
    let line = succeeds("getent", &["passwd", user]);
    line.split(':').nth(2).unwrap().parse().unwrap()
}

fn curl(args: &[&str]) -> String {
    succeeds(
        "curl",
        &[
            &["--silent", "--show-error", "--fail", "--max-time", "60"],
            args,
        ]
        .concat(),
    )
}

/// Every file and folder under `root`, with their owner and mode.
fn walk(root: &Path, into: &mut Vec<(PathBuf, u32, u32)>) {
    let meta = std::fs::symlink_metadata(root).unwrap();
    into.push((root.to_owned(), meta.uid(), meta.mode() & 0o7777));
    if meta.is_dir() {
        for entry in std::fs::read_dir(root).unwrap() {
            walk(&entry.unwrap().path(), into);
        }
    }
}

/// Runs the backup script as the service (`strace -f` into `trace`) with two older backups
/// present and `WEXQS_BACKUP_KEEP=2`: a dated backup with its manifest is made and the oldest
/// goes.
fn backup_as_the_timer_does(uid: u32, trace: &Path) {
    let backups = Path::new(STATE).join("backups");
    for old in [
        "registry-2020-01-01T000000Z.backup",
        "registry-2020-01-02T000000Z.backup",
    ] {
        for file in [old.to_owned(), format!("{old}.manifest.json")] {
            std::fs::write(backups.join(&file), "an older backup").unwrap();
            std::os::unix::fs::chown(backups.join(&file), Some(uid), None).unwrap();
            std::fs::set_permissions(backups.join(&file), PermissionsExt::from_mode(0o600))
                .unwrap();
        }
    }
    let out = as_service(
        "strace",
        &[
            "-f",
            "-qq",
            "-o",
            trace.to_str().unwrap(),
            "--",
            "/usr/lib/wexqs/wexqs-backup",
        ],
    )
    .env("WEXQS_BACKUP_KEEP", "2")
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "wexqs-backup: {}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let mut kept: Vec<String> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    kept.sort();
    assert_eq!(kept.len(), 4, "two backups and their manifests: {kept:?}");
    assert_eq!(kept[0], "registry-2020-01-02T000000Z.backup");
    let newest = &kept[2];
    assert!(
        newest.starts_with("registry-20") && newest.ends_with("Z.backup"),
        "{kept:?}"
    );
    assert_eq!(kept[3], format!("{newest}.manifest.json"));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(backups.join(&kept[3])).unwrap()).unwrap();
    assert!(manifest["log"]["size"].as_u64().unwrap() > 0, "{manifest}");
}

/// What postinst made: the user, its folder, the settings' owner: the user's id.
fn assert_the_user_and_its_folder() -> u32 {
    let passwd = succeeds("getent", &["passwd", USER]);
    assert!(
        passwd.trim().ends_with(":/var/lib/wexqs:/usr/sbin/nologin"),
        "{passwd}"
    );
    let uid = uid_of(USER);
    assert!(uid < 1000, "a system user: {uid}");
    let state = std::fs::metadata(STATE).unwrap();
    assert_eq!((state.uid(), state.mode() & 0o777), (uid, 0o700));
    let settings = std::fs::metadata(ENV_FILE).unwrap();
    assert_eq!((settings.uid(), settings.mode() & 0o777), (0, 0o640));
    assert_eq!(settings.gid(), std::fs::metadata(STATE).unwrap().gid());

    uid
}

/// The operator's first steps: the public URL in the settings, the first key (which only root
/// may ask `wexqs-admin` for), a token: the token.
fn the_operators_first_steps() -> String {
    let env = std::fs::read_to_string(ENV_FILE).unwrap();
    let url = "https://wexqs.example.org";
    assert!(env.contains("#WEXQS_PUBLIC_URL=https://wexqs.example.org"));
    std::fs::write(
        ENV_FILE,
        env.replace(
            "#WEXQS_PUBLIC_URL=https://wexqs.example.org",
            &format!("WEXQS_PUBLIC_URL={url}"),
        ),
    )
    .unwrap();
    succeeds("wexqs-admin", &["keys", "init"]);
    let not_root = run(
        "setpriv",
        &[
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "wexqs-admin",
            "keys",
            "list",
        ],
    );
    assert!(
        !not_root.status.success() && text(&not_root.stderr).contains("run it as root"),
        "wexqs-admin refuses anyone but root: {}",
        text(&not_root.stderr)
    );
    succeeds(
        "wexqs-admin",
        &[
            "tokens",
            "create",
            "--role",
            "admin",
            "--name",
            "package test",
        ],
    )
    .trim()
    .to_owned()
}

/// The server, traced, runs as the service's user, answers, signs for the public URL and takes
/// a write with `token`; the backup timer's script runs beside it; on SIGTERM, as systemd stops
/// it, the server exits cleanly, and strace with it.
fn serve_back_up_and_stop(uid: u32, token: &str, serve_trace: &Path, backup_trace: &Path) {
    let (mut traced, base) = serve_traced(serve_trace);
    let server = traced.server;
    let status = std::fs::read_to_string(format!("/proc/{server}/status")).unwrap();
    let uids = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(
        uids.split_whitespace().skip(1).collect::<Vec<_>>(),
        vec![uid.to_string(); 4],
        "the server runs as {USER}"
    );
    assert!(curl(&[&format!("{base}/healthz")]).contains("ok"));
    curl(&[&format!("{base}/readyz")]);
    let did = curl(&[&format!("{base}/.well-known/did.json")]);
    assert!(
        did.contains("did:web:wexqs.example.org"),
        "signs for the public URL: {did}"
    );
    let created = curl(&[
        "-X",
        "POST",
        "-H",
        &format!("Authorization: Bearer {token}"),
        "-H",
        "Content-Type: application/json",
        "--data",
        r#"{"name":"Packaged Trust","region":"london"}"#,
        &format!("{base}/v1/admin/organisations"),
    ]);
    assert!(created.contains("\"id\""), "{created}");

    // The backup timer's script, as the service, beside the running server.
    backup_as_the_timer_does(uid, backup_trace);

    // SIGTERM, as systemd stops it; the server exits and strace with it.
    succeeds("kill", &["-TERM", &server.to_string()]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let exit = loop {
        if let Some(exit) = traced.strace.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(exit.success(), "the server stopped cleanly: {exit}");
}

/// Purged: the settings, the state, the user and the files are gone.
fn assert_purged() {
    succeeds("dpkg", &["--purge", "wexqs"]);
    assert!(!installed());
    for gone in [
        "/etc/wexqs",
        STATE,
        "/usr/bin/wexqs",
        "/usr/sbin/wexqs-admin",
    ] {
        assert!(!Path::new(gone).exists(), "{gone} is left after purge");
    }
    assert!(
        !run("getent", &["passwd", USER]).status.success(),
        "the user is left"
    );
}

#[test]
fn installed_package_serves_as_its_own_user_backs_up_within_its_filter_and_purges() {
    if !root() {
        assert!(
            std::env::var_os("WEXQS_SKIP_DPKG").is_some(),
            "installing the Debian package needs root (dpkg -i, a system user); run the tests as root, or set WEXQS_SKIP_DPKG=1 to leave this test out on purpose"
        );
        eprintln!("WEXQS_SKIP_DPKG is set and this is not root: the package is not installed");
        return;
    }
    let (guard, said) = Installed::new(package());
    assert!(
        said.contains("wexqs-admin keys init"),
        "the install says what to do first:\n{said}"
    );

    let uid = assert_the_user_and_its_folder();
    let token = the_operators_first_steps();
    let traces = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(traces.path(), Some(uid), None).unwrap();
    let serve_trace = traces.path().join("serve.trace");
    let backup_trace = traces.path().join("backup.trace");
    serve_back_up_and_stop(uid, &token, &serve_trace, &backup_trace);

    // Everything in the state folder is the service's, and private.
    let mut files = Vec::new();
    walk(Path::new(STATE), &mut files);
    assert!(
        files.iter().any(|(p, ..)| p.ends_with("registry.db")),
        "{files:?}"
    );
    assert!(files.iter().any(|(p, ..)| p.ends_with("keys")), "{files:?}");
    for (path, owner, mode) in &files {
        assert_eq!(*owner, uid, "{} belongs to {USER}", path.display());
        assert_eq!(mode & 0o077, 0, "{} is private: {mode:o}", path.display());
    }

    assert_within_filter(
        &serve_trace,
        "wexqs.service",
        &["accept4", "epoll_wait", "fsync", "execve"],
    );
    assert_within_filter(&backup_trace, "wexqs-backup.service", &["execve", "unlink"]);

    assert_purged();
    drop(guard);
}
