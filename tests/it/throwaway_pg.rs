//! A throwaway PostgreSQL cluster a test starts, stops and starts again: for outage tests, which
//! must never stop the shared server the other tests use. Debian's `initdb` and `pg_ctl`, run as
//! the `postgres` user when the tests run as root (initdb refuses root), with the data folder and
//! the unix socket in a temporary folder and TCP on a free port of 127.0.0.1.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A running (or stopped) cluster; stopped and deleted when dropped.
pub struct ThrowawayPg {
    bin: PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
    as_postgres: bool,
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
    pub fn start() -> Option<ThrowawayPg> {
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
        if as_postgres {
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown runs");
            assert!(
                status.success(),
                "the temporary folder is given to postgres"
            );
        }
        let pg = ThrowawayPg {
            bin,
            dir,
            port: crate::helpers::free_port(),
            as_postgres,
        };
        let data = pg.data().display().to_string();
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
        pg.start_again();
        Some(pg)
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
    pub fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let data = self.data().display().to_string();
        let log = self.dir.path().join("server.log").display().to_string();
        self.run(
            "pg_ctl",
            &["-D", &data, "-o", &options, "-l", &log, "-w", "start"],
        );
    }

    /// Stops the cluster at once, as a crash or a pulled cable would: no goodbye to clients.
    pub fn stop_immediately(&self) {
        let data = self.data().display().to_string();
        self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
    }

    /// The URL of the cluster's `postgres` database.
    pub fn url(&self) -> String {
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
