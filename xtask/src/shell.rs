//! Running other programs for the tasks, as the shell scripts they replace did: each command's
//! output goes straight to the terminal, a failure names the command, and what needs root runs
//! through `sudo` unless we are root already. Nothing here downloads anything itself.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

/// What a task reports when it stops: printed after `xtask: `, then the exit status is 1.
pub type Result<T = ()> = std::result::Result<T, String>;

/// The project's folder (the workspace's root, which holds xtask/).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ sits in the project's folder")
        .to_path_buf()
}

/// Cargo's build folder: `CARGO_TARGET_DIR` when set, else target/ in the project's folder.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .filter(|dir| !dir.is_empty())
        .map_or_else(|| root().join("target"), PathBuf::from)
}

/// A step's heading, as every task prints them.
pub fn say(text: impl std::fmt::Display) {
    println!("== {text}");
}

/// The cargo that runs us (`CARGO`), so a pinned toolchain stays pinned.
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Whether `program` is an executable file on the `PATH` (what `command -v` finds).
pub fn found(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| executable(&dir.join(program))))
}

/// Whether `path` is a file someone may execute.
pub fn executable(path: &Path) -> bool {
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A command as it would be typed, for messages.
pub fn shown(command: &Command) -> String {
    let mut line = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        let _ = write!(line, " {}", arg.to_string_lossy());
    }
    line
}

/// Runs a command to its end with the terminal as its output; an error unless it succeeds.
pub fn run(command: &mut Command) -> Result {
    let status = status(command)?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", shown(command)))
    }
}

/// Runs a command to its end with the terminal as its output: how it ended.
pub fn status(command: &mut Command) -> Result<ExitStatus> {
    command
        .status()
        .map_err(|e| format!("`{}` could not start: {e}", shown(command)))
}

/// Whether a command runs and succeeds, its output thrown away (a check, as `cmd >/dev/null 2>&1`).
pub fn quietly_succeeds(command: &mut Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A command's standard output when it succeeds (trimmed, as `$(...)` gives it); its errors go to
/// the terminal.
pub fn output(command: &mut Command) -> Result<String> {
    let out = command
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("`{}` could not start: {e}", shown(command)))?;
    if !out.status.success() {
        return Err(format!("`{}` failed ({})", shown(command), out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// `program args` as root: itself when we are root, else through sudo.
pub fn as_root<S: AsRef<OsStr>>(program: &str, args: &[S]) -> Result<Command> {
    let root = output(Command::new("id").arg("-u")).is_ok_and(|uid| uid == "0");
    let mut command = if root {
        Command::new(program)
    } else if found("sudo") {
        let mut sudo = Command::new("sudo");
        sudo.arg(program);
        sudo
    } else {
        let mut wanted = Command::new(program);
        wanted.args(args);
        return Err(format!(
            "cargo xtask needs root (or sudo) to run: {}",
            shown(&wanted)
        ));
    };
    command.args(args);
    Ok(command)
}

/// Installs Debian packages with apt-get (as root or through sudo).
pub fn apt_install(packages: &[&str]) -> Result {
    say(format!(
        "installing {} (Debian packages)",
        packages.join(" ")
    ));
    run(&mut as_root("apt-get", &["update", "-q"])?)?;
    let mut install = vec![
        "DEBIAN_FRONTEND=noninteractive",
        "apt-get",
        "install",
        "-y",
        "-q",
    ];
    install.extend_from_slice(packages);
    run(&mut as_root("env", install.as_slice())?)
}

/// Whether two files hold the same bytes (`cmp -s`): false when either cannot be read.
pub fn same_bytes(a: &Path, b: &Path) -> bool {
    match (std::fs::read(a), std::fs::read(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Copies a file, naming both ends when it cannot.
pub fn copy(from: &Path, to: &Path) -> Result {
    std::fs::copy(from, to)
        .map(drop)
        .map_err(|e| format!("copying {} to {}: {e}", from.display(), to.display()))
}

/// Removes a folder and all it holds; one that is not there is fine.
pub fn remove_dir(dir: &Path) -> Result {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(format!("removing {}: {e}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// A fresh folder in the system's temporary folder, removed with all it holds when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> Result<Self> {
        Self::new_in(&std::env::temp_dir(), prefix)
    }

    /// A fresh folder in `base`.
    pub fn new_in(base: &Path, prefix: &str) -> Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        for attempt in 0..100u32 {
            let dir = base.join(format!(
                "{prefix}{}-{nanos:x}-{attempt}",
                std::process::id()
            ));
            match std::fs::create_dir(&dir) {
                Ok(()) => return Ok(Self(dir)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(format!("making a folder in {}: {e}", base.display())),
            }
        }
        Err(format!("no free folder name in {}", base.display()))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port on 127.0.0.1 that nothing listens on now.
pub fn free_port() -> Result<u16> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("finding a free port: {e}"))
}

/// The status code of `GET path` on 127.0.0.1:`port` (HTTP/1.0, so the server closes), or
/// nothing when no answer came within `timeout`.
pub fn http_status(port: u16, path: &str, timeout: Duration) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.set_write_timeout(Some(timeout)).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    let line = std::str::from_utf8(&head).ok()?;
    line.strip_prefix("HTTP/1.")?.get(2..5)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shown_command_reads_as_typed() {
        let mut command = Command::new("cargo");
        command.args(["test", "--", "outage::"]);
        assert_eq!(shown(&command), "cargo test -- outage::");
    }

    #[test]
    fn a_temporary_folder_goes_when_dropped() {
        let dir = TempDir::new("xtask-test-").expect("a folder");
        let path = dir.path().to_path_buf();
        std::fs::write(path.join("file"), b"x").expect("written");
        drop(dir);
        assert!(!path.exists());
    }

    #[test]
    fn the_shell_is_found_and_a_made_up_program_is_not() {
        assert!(found("sh"));
        assert!(!found("no-such-program-anywhere"));
    }
}
