//! The installed server started under `strace -f`, and the system calls a traced process made
//! against what a unit's `SystemCallFilter=` and `RestrictAddressFamilies=` allow, the groups
//! expanded as `systemd-analyze syscall-filter` lists them: a call outside fails the check.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use super::{DEPLOY, as_service, succeeds};

/// The address families the units allow (`RestrictAddressFamilies=`).
const FAMILIES: [&str; 3] = ["AF_INET", "AF_INET6", "AF_UNIX"];

/// The system calls and socket address families of an `strace -f` output.
fn traced(trace: &Path) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut calls = BTreeSet::new();
    let mut families = BTreeSet::new();
    for line in std::fs::read_to_string(trace).unwrap().lines() {
        let rest = line.split_once(' ').map_or(line, |(_, r)| r).trim_start();
        if rest.starts_with("---") || rest.starts_with("+++") {
            continue;
        }
        let name = match rest.strip_prefix("<... ") {
            Some(resumed) => resumed.split_whitespace().next().unwrap_or_default(),
            None => rest.split('(').next().unwrap_or_default(),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(args) = rest
            .strip_prefix("socket(")
            .or(rest.strip_prefix("socketpair("))
        {
            families.insert(args.split(',').next().unwrap().to_owned());
        }
        calls.insert(name.to_owned());
    }
    (calls, families)
}

/// The groups of `systemd-analyze syscall-filter`: each group's members (calls and groups).
fn syscall_groups() -> BTreeMap<String, Vec<String>> {
    let listing = succeeds("systemd-analyze", &["syscall-filter"]);
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current = None;
    for line in listing.lines() {
        if let Some(group) = line.strip_prefix('@') {
            current = Some(format!("@{}", group.trim()));
            groups.entry(current.clone().unwrap()).or_default();
        } else if !line.starts_with(' ') {
            current = None; // the ungrouped calls' section
        } else if let Some(group) = &current {
            let member = line.trim();
            if !member.is_empty() && !member.starts_with('#') {
                groups.get_mut(group).unwrap().push(member.to_owned());
            }
        }
    }
    groups
}

fn expand(name: &str, groups: &BTreeMap<String, Vec<String>>, into: &mut BTreeSet<String>) {
    match groups.get(name) {
        Some(members) => members.iter().for_each(|m| expand(m, groups, into)),
        None => {
            assert!(!name.starts_with('@'), "an unknown group {name}");
            into.insert(name.to_owned());
        }
    }
}

/// The system calls a unit's `SystemCallFilter=` lines allow: the first allows a list, each
/// `~` line after it takes some away.
fn allowed_calls(unit: &Path) -> BTreeSet<String> {
    let groups = syscall_groups();
    let mut allowed = BTreeSet::new();
    let mut lines = 0;
    for line in std::fs::read_to_string(unit).unwrap().lines() {
        let Some(value) = line.strip_prefix("SystemCallFilter=") else {
            continue;
        };
        lines += 1;
        let (deny, list) = match value.strip_prefix('~') {
            Some(list) => (true, list),
            None => (false, value),
        };
        let mut named = BTreeSet::new();
        list.split_whitespace()
            .for_each(|n| expand(n, &groups, &mut named));
        if deny {
            allowed.retain(|c| !named.contains(c));
        } else {
            allowed.extend(named);
        }
    }
    assert!(lines > 0, "{} has no SystemCallFilter=", unit.display());
    allowed
}

/// Checks that the calls and families of `trace` are all allowed by `unit`.
pub(super) fn assert_within_filter(trace: &Path, unit: &str, expected: &[&str]) {
    let (calls, families) = traced(trace);
    let allowed = allowed_calls(&Path::new(DEPLOY).join(unit));
    // The filter is read, not assumed: what a registry never does is outside it.
    for never in ["reboot", "mount", "setrlimit", "init_module", "ptrace"] {
        assert!(!allowed.contains(never), "{unit} allows {never}");
    }
    for call in expected {
        assert!(calls.contains(*call), "no {call} in the trace: {calls:?}");
    }
    let outside: Vec<_> = calls.iter().filter(|c| !allowed.contains(*c)).collect();
    assert!(
        outside.is_empty(),
        "{unit}'s SystemCallFilter= would refuse {outside:?} (seen {} calls: {calls:?})",
        calls.len()
    );
    let foreign: Vec<_> = families
        .iter()
        .filter(|f| !FAMILIES.contains(&f.as_str()))
        .collect();
    assert!(
        foreign.is_empty(),
        "{unit}'s RestrictAddressFamilies= would refuse {foreign:?}"
    );
    eprintln!(
        "{unit}: {} system calls seen, all within its filter; socket families {families:?}",
        calls.len()
    );
}

/// The installed server traced by strace (not one of strace's own short-lived test children).
fn server_under(strace: u32) -> Option<u32> {
    let children = std::fs::read_to_string(format!("/proc/{strace}/task/{strace}/children"))
        .unwrap_or_default();
    children
        .split_whitespace()
        .filter_map(|c| c.parse().ok())
        .find(|c: &u32| {
            std::fs::read_link(format!("/proc/{c}/exe"))
                .is_ok_and(|exe| exe == Path::new("/usr/bin/wexqs"))
        })
}

/// The traced server and strace, both killed when the test ends however it ends: strace
/// killed alone would leave its tracee running, as the service's user.
pub(super) struct Traced {
    pub strace: std::process::Child,
    pub server: u32,
}

impl Traced {
    fn kill_server(strace: u32) {
        if let Some(server) = server_under(strace) {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &server.to_string()])
                .output();
        }
    }
}

impl Drop for Traced {
    fn drop(&mut self) {
        Self::kill_server(self.strace.id());
        let _ = self.strace.kill();
        let _ = self.strace.wait();
    }
}

/// Starts the installed server as the service under `strace -f`, and its base URL.
pub(super) fn serve_traced(trace: &Path) -> (Traced, String) {
    use std::io::BufRead as _;
    let mut strace = as_service(
        "strace",
        &[
            "-f",
            "-qq",
            "-o",
            trace.to_str().unwrap(),
            "--",
            "/usr/bin/wexqs",
            "serve",
            "--bind",
            "127.0.0.1:0",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .expect("setpriv and strace run");
    let stderr = strace.stderr.take().unwrap();
    let mut traced = Traced { strace, server: 0 };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            eprintln!("installed server: {line}");
            if let Some(rest) = line.split("serving the registry on ").nth(1) {
                let base = rest.split_whitespace().next().unwrap_or_default();
                let _ = tx.send(base.to_owned());
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the installed server says where it listens");
    traced.server = server_under(traced.strace.id()).expect("strace runs /usr/bin/wexqs");
    (traced, base)
}
