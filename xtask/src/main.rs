//! `cargo xtask`: the project's chores as one Rust program (the alias is in .cargo/config.toml),
//! in the manner of rust-analyzer's xtask: the test set-up and tests, CI, the API check, the
//! fuzzer, the load benchmark and a test OpenID Provider. The standard library only, so it builds
//! in seconds on a fresh machine; each task runs from the project's folder, wherever it is
//! started.

mod api_check;
mod ci;
mod fuzz;
mod json;
mod load;
mod oidc_provider;
mod shell;
mod test;

use std::process::ExitCode;

const HELP: &str = "\
cargo xtask TASK [ARGS...]: the project's chores.

Tasks:
    test [ARGS...]    install and start what the tests use, then `cargo test -- ARGS...`
                      (the README's test command; `cargo xtask test outage::` for some tests)
    ci                what CI runs: fmt, clippy, test, api-check and fuzz
    api-check         the HTTP API against openapi/openapi.yaml with schemathesis
    fuzz              every parser of outside bytes under libFuzzer for a while
    load              the public routes under load against a bare baseline (BENCHMARKS.md)
    oidc-provider     a test OpenID Provider on 127.0.0.1:9400 for trying the console's sign-in

`cargo xtask TASK --help` says more about each.";

/// A task: its name, its help and what runs it.
type Task = (&'static str, &'static str, fn(&[String]) -> shell::Result);

const TASKS: [Task; 6] = [
    ("test", test::HELP, test::main),
    ("ci", ci::HELP, ci::main),
    ("api-check", api_check::HELP, api_check::main),
    ("fuzz", fuzz::HELP, fuzz::main),
    ("load", load::HELP, load::main),
    ("oidc-provider", oidc_provider::HELP, oidc_provider::main),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(name) = args.first() else {
        eprintln!("{HELP}");
        return ExitCode::from(2);
    };
    if matches!(name.as_str(), "-h" | "--help" | "help") {
        println!("{HELP}");
        return ExitCode::SUCCESS;
    }
    let Some((_, help, task)) = TASKS.iter().find(|(task, ..)| *task == name.as_str()) else {
        let names: Vec<&str> = TASKS.iter().map(|(task, ..)| *task).collect();
        eprintln!(
            "xtask: no task {name:?}; the tasks are {} (`cargo xtask --help`)",
            names.join(", ")
        );
        return ExitCode::from(2);
    };
    let rest = &args[1..];
    if matches!(rest.first().map(String::as_str), Some("-h" | "--help")) {
        println!("{help}");
        return ExitCode::SUCCESS;
    }
    if let Err(e) = std::env::set_current_dir(shell::root()) {
        eprintln!("xtask: cannot enter {}: {e}", shell::root().display());
        return ExitCode::FAILURE;
    }
    match task(rest) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}
