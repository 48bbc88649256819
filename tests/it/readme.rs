//! The README stays true: the demo certificate numbers it shows exist with the statuses it says,
//! the mistyped one it shows is caught, and its webhook example runs as written.

use wexqs::domain::{CertificateNumber, State, Status, status_as_of};

use crate::harness::given_no_events;
use crate::helpers::{date, free_port, temp_dir, text};

const README: &str = include_str!("../../README.md");

fn demo_state(today: &str) -> State {
    let mut given = given_no_events().on(today);
    for command in wexqs::service::demo::commands() {
        given.and(command);
    }
    given.state
}

fn status(state: &State, number: &str, on: &str) -> Status {
    let number: CertificateNumber = number.parse().expect("a valid number");
    status_as_of(&state.awards[&number], &state.programme, date(on)).status
}

#[test]
fn the_readme_examples_are_what_the_demo_register_holds() {
    let state = demo_state("2026-11-24");
    for (number, on, expected) in [
        ("FDXE-J5BM-RRNV-PEDM", "2026-11-24", Status::Valid),
        ("FDXE-J5BM-RRNV-PEDM", "2027-01-05", Status::Valid),
        ("FDXE-J5BM-RRNV-PEDM", "2027-01-06", Status::Expired),
        ("B799-E2YM-288Z-0Q7S", "2026-11-24", Status::Suspended),
        ("0668-PPN1-4XEN-GDWT", "2026-11-24", Status::Revoked),
        ("HB0B-2ZC1-G4SX-H3TV", "2026-11-24", Status::Superseded),
        ("T42Z-TP9C-9ZXS-PX36", "2026-11-24", Status::Expired),
    ] {
        assert_eq!(status(&state, number, on), expected, "{number} on {on}");
    }

    let unknown: CertificateNumber = "0000-0000-0000-0000".parse().expect("well formed");
    assert!(!state.awards.contains_key(&unknown));
    assert_eq!(
        "FDXE-J5BM-RRNV-PEDA"
            .parse::<CertificateNumber>()
            .expect_err("a typo")
            .code,
        "certificate_number_check_failed"
    );

    // Every number the README shows is one of those above.
    let shown: std::collections::BTreeSet<&str> = README
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| {
            let groups: Vec<&str> = w.split('-').collect();
            groups.len() == 4
                && groups
                    .iter()
                    .all(|g| g.len() == 4 && g.chars().all(|c| c.is_ascii_alphanumeric()))
        })
        .collect();
    let known = [
        "FDXE-J5BM-RRNV-PEDM",
        "B799-E2YM-288Z-0Q7S",
        "0668-PPN1-4XEN-GDWT",
        "HB0B-2ZC1-G4SX-H3TV",
        "T42Z-TP9C-9ZXS-PX36",
        "0000-0000-0000-0000",
        "FDXE-J5BM-RRNV-PEDA",
    ];
    for number in shown {
        assert!(
            known.contains(&number),
            "the README shows {number}, which no test checks"
        );
    }
}

/// The first `sh` block after `heading` in the README.
fn readme_block(heading: &str) -> &'static str {
    let section = &README[README.find(heading).expect("the heading")..];
    let start = section.find("```sh\n").expect("a sh block") + "```sh\n".len();
    let end = start + section[start..].find("```").expect("the block's end");
    &section[start..end]
}

/// The webhook section, pasted into bash as it stands, against the real binary in a fresh
/// folder: only the ports (free ones rather than 8080 and 9000) and the binary (rather than
/// `cargo run`) differ. Every command must succeed and the receiver must print both deliveries.
#[test]
fn the_readme_webhook_example_runs_as_written() {
    for tool in ["bash", "curl", "jq", "python3", "timeout"] {
        let found = std::process::Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            found,
            "{tool} is needed to run the README's commands (`cargo xtask test` installs it)"
        );
    }
    let block = readme_block("### Webhooks: be told of changes");
    assert!(
        block.contains("--webhooks-allow-private-targets"),
        "{block}"
    );
    let (server, receiver) = (free_port(), free_port());
    let script = block
        .replace("cargo run -q --release --", env!("CARGO_BIN_EXE_wexqs"))
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{server}"))
        .replace("127.0.0.1:9000", &format!("127.0.0.1:{receiver}"))
        .replace("\"127.0.0.1\", 9000", &format!("\"127.0.0.1\", {receiver}"));
    // Whatever happens, the receiver and the server stop with the script.
    let wrapped =
        format!("set -eo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n{script}");
    let dir = temp_dir();
    let run = std::process::Command::new("timeout")
        .args(["300", "bash", "-c", &wrapped])
        .current_dir(dir.path())
        .env("WEXQS_BIND", format!("127.0.0.1:{server}"))
        .env_remove("DATABASE_URL")
        .env_remove("WEXQS_DATA_DIR")
        .output()
        .expect("bash runs");
    let (out, err) = (text(&run.stdout), text(&run.stderr));
    assert!(run.status.success(), "{out}\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    // The id the later commands use is a real one, and each answer is about it.
    let id = lines.first().copied().unwrap_or_default();
    assert!(id.len() >= 16 && id != "null", "{out}");
    assert!(
        out.matches(id).count() >= 4,
        "list, show and the deliveries name {id}: {out}"
    );
    for (kind, number) in [
        ("award.suspended", "B799-E2YM-288Z-0Q7S"),
        ("award.revoked", "0668-PPN1-4XEN-GDWT"),
    ] {
        // The receiver prints whole lines, but one may land inside another command's.
        let printed = format!("_{id} {kind} {number}\n");
        assert!(
            out.contains("received msg_") && out.contains(&printed),
            "the receiver printed no {kind} of {number}: {out}"
        );
    }
    assert!(out.contains("whsec_"), "the rotation's new secret: {out}");
    assert_eq!(
        lines.last(),
        Some(&"204"),
        "the subscription is deleted: {out}"
    );
}
