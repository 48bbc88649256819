//! A throwaway PostgreSQL cluster a test starts, stops and starts again: for outage tests, which
//! must never stop the shared server the other tests use. Debian's `initdb` and `pg_ctl`, run as
//! the `postgres` user when the tests run as root (initdb refuses root), with the data folder and
//! the unix socket in a temporary folder and TCP on a free port of 127.0.0.1. `start_with` gives
//! it settings of its own (TLS, more addresses), files in its folder and its own `pg_hba.conf`.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A running (or stopped) cluster; stopped and deleted when dropped.
pub(crate) struct ThrowawayPg {
    bin: PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
    as_postgres: bool,
    /// `-c name=value` settings it starts with, beyond the defaults.
    settings: Vec<String>,
}

/// What a cluster starts with beyond the defaults (`ThrowawayPg::start_with`).
#[derive(Default)]
pub(crate) struct Setup<'a> {
    /// Files put in the cluster's folder (name, contents), readable by the server alone.
    pub files: Vec<(&'a str, Vec<u8>)>,
    /// `name=value` settings; a file's name in a value stands for its path (`ssl_cert_file=
    /// server.crt`), as PostgreSQL resolves it relative to its data folder.
    pub settings: Vec<String>,
    /// The whole `pg_hba.conf` (default: initdb's, trusting everyone).
    pub hba: Option<&'a str>,
    /// SQL run as `postgres` over the unix socket once it has started.
    pub sql: Vec<String>,
}

/// The newest installed PostgreSQL's programs (`WEXQS_PG_BIN` overrides).
fn pg_bin() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("WEXQS_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

impl ThrowawayPg {
    /// Creates and starts a cluster. Fails the test when PostgreSQL's programs are missing,
    /// unless `WEXQS_SKIP_POSTGRES=1` outside CI (then `None`), like the other PostgreSQL tests.
    pub(crate) fn start() -> Option<ThrowawayPg> {
        ThrowawayPg::start_with(Setup::default())
    }

    /// Creates and starts a cluster with `setup` (see `start` for when it is `None`).
    pub(crate) fn start_with(setup: Setup<'_>) -> Option<ThrowawayPg> {
        let Some(bin) = pg_bin() else {
            if crate::helpers::skip_postgres() {
                return None;
            }
            panic!(
                "PostgreSQL's initdb and pg_ctl are not installed (looked in /usr/lib/postgresql/*/bin; \
                 set WEXQS_PG_BIN to their folder, or WEXQS_SKIP_POSTGRES=1 outside CI)"
            );
        };
        let dir = tempfile::tempdir().expect("a temporary folder");
        let as_postgres = running_as_root();
        let pg = ThrowawayPg {
            bin,
            dir,
            port: crate::helpers::free_port(),
            as_postgres,
            settings: setup.settings,
        };
        let data = pg.data().display().to_string();
        pg.give_to_postgres(pg.dir.path());
        pg.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "--no-instructions",
            ],
        );
        for (name, contents) in &setup.files {
            let path = pg.data().join(name);
            std::fs::write(&path, contents).expect("a file in the cluster's folder");
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .expect("the file made private");
            pg.give_to_postgres(&path);
        }
        if let Some(hba) = setup.hba {
            let path = pg.data().join("pg_hba.conf");
            std::fs::write(&path, hba).expect("pg_hba.conf written");
            pg.give_to_postgres(&path);
        }
        pg.start_again();
        for sql in &setup.sql {
            let socket = pg.dir.path().display().to_string();
            let port = pg.port.to_string();
            pg.run(
                "psql",
                &[
                    "-h",
                    &socket,
                    "-p",
                    &port,
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-q",
                    "-c",
                    sql,
                ],
            );
        }
        Some(pg)
    }

    /// Gives `path` to the `postgres` user when we are root (the server runs as it).
    fn give_to_postgres(&self, path: &std::path::Path) {
        if !self.as_postgres {
            return;
        }
        let status = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(path)
            .status()
            .expect("chown runs");
        assert!(status.success(), "{} is given to postgres", path.display());
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs one of PostgreSQL's programs (as `postgres` when we are root), failing loudly.
    fn run(&self, program: &str, args: &[&str]) {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let output = command
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{} runs: {e}", path.display()));
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}{}\nserver log: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
        );
    }

    /// Starts the (stopped) cluster and waits until it takes connections.
    pub(crate) fn start_again(&self) {
        self.start_again_with(&[]);
    }

    /// Starts the (stopped) cluster with `more` settings (`name=value`) beside its own, which
    /// they override (such as `ssl=off`), and waits until it takes connections.
    pub(crate) fn start_again_with(&self, more: &[&str]) {
        let mut options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        for setting in self
            .settings
            .iter()
            .map(String::as_str)
            .chain(more.iter().copied())
        {
            options.push_str(" -c ");
            options.push_str(setting);
        }
        let data = self.data().display().to_string();
        let log = self.dir.path().join("server.log").display().to_string();
        self.run(
            "pg_ctl",
            &["-D", &data, "-o", &options, "-l", &log, "-w", "start"],
        );
    }

    /// Stops the cluster at once, as a crash or a pulled cable would: no goodbye to clients.
    pub(crate) fn stop_immediately(&self) {
        let data = self.data().display().to_string();
        self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
    }

    /// The URL of the cluster's `postgres` database.
    pub(crate) fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for ThrowawayPg {
    fn drop(&mut self) {
        // Whatever state it is in; errors (already stopped) do not matter here.
        let data = self.data();
        let pg_ctl = self.bin.join("pg_ctl");
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&pg_ctl);
            c
        } else {
            Command::new(&pg_ctl)
        };
        let _ = command
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
