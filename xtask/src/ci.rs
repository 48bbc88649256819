//! `cargo xtask ci`, what CI runs (through .ci/run): format and lints, then the README's test
//! command (`cargo xtask test`, which installs and starts what the tests use and runs cargo test;
//! PostgreSQL tests must run here, never skip), then the API against its document
//! (`cargo xtask api-check`) and the parsers of outside bytes under the fuzzer
//! (`cargo xtask fuzz`), each for a fixed time.

use std::process::Command;

use crate::shell::{Result, cargo, quietly_succeeds, run, say};

pub const HELP: &str = "\
cargo xtask ci [lint|after-tests]: what CI runs: cargo fmt --check, cargo clippy (-D warnings),
then `cargo xtask test`, `cargo xtask api-check` and `cargo xtask fuzz`, each with its defaults.
`lint` runs only the first two, `after-tests` only the last two (.ci/run calls the test
command itself between them).";

/// A command as CI runs it: no colours, and the tests know they are in CI.
fn in_ci(mut command: Command) -> Command {
    command.env("CI", "true").env("CARGO_TERM_COLOR", "never");
    command
}

fn cargo_ci(args: &[&str]) -> Command {
    let mut command = in_ci(cargo());
    command.args(args);
    command
}

pub fn main(args: &[String]) -> Result {
    match args {
        [] => {
            lint()?;
            say("cargo xtask test");
            run(&mut cargo_ci(&["xtask", "test"]))?;
            after_tests()
        }
        [stage] if stage == "lint" => lint(),
        [stage] if stage == "after-tests" => after_tests(),
        [arg, ..] => Err(format!(
            "ci takes nothing, `lint` or `after-tests`, not {arg:?} (see `cargo xtask ci --help`)"
        )),
    }
}

/// Format and lints, with the components installed if this toolchain lacks them.
fn lint() -> Result {
    if !quietly_succeeds(&mut cargo_ci(&["fmt", "--version"]))
        || !quietly_succeeds(&mut cargo_ci(&["clippy", "--version"]))
    {
        let mut rustup = in_ci(Command::new("rustup"));
        run(rustup.args(["component", "add", "rustfmt", "clippy"]))?;
    }
    say("cargo fmt --all --check");
    run(&mut cargo_ci(&["fmt", "--all", "--check"]))?;
    say("cargo clippy --workspace --all-targets -- -D warnings");
    run(&mut cargo_ci(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))
}

/// What runs once the tests have passed: the API against its document, then the fuzzer.
fn after_tests() -> Result {
    // schemathesis runs from a virtualenv under target/ (pinned in
    // tests/api-check/requirements.txt).
    crate::test::python_venv(&["python3-venv"])?;
    say("cargo xtask api-check");
    run(&mut cargo_ci(&["xtask", "api-check"]))?;

    // cargo-fuzz is installed by the task if missing.
    say("cargo xtask fuzz");
    run(&mut cargo_ci(&["xtask", "fuzz"]))
}
