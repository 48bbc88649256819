//! `cargo xtask fuzz`: fuzzes every parser of outside bytes for a while with cargo-fuzz
//! (libFuzzer), one target after another: certificate numbers, credential JSON and its canonical
//! form, baked PNGs and SVGs, import CSVs and evidence manifests (fuzz/src/lib.rs says what each
//! checks). Starts from the committed seeds (fuzz/seeds/<target>/) and the inputs that once broke
//! a target (fuzz/regressions/<target>/); what a run finds new is kept in a temporary folder,
//! not in the tree.
//!
//! A crash or a hang fails the run and leaves its input in fuzz/artifacts/<target>/: fix the
//! parser, then keep the input as fuzz/regressions/<target>/<name>; `cargo test` replays it
//! (tests/it/fuzz_regressions.rs) on stable Rust.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::shell::{Result, TempDir, cargo, quietly_succeeds, run, say, status, target_dir};

pub const HELP: &str = "\
cargo xtask fuzz [--seconds N] [--sanitizer NAME] [TARGET...]: each fuzz target under
libFuzzer for a while (cargo-fuzz, installed if missing), from its seeds and past crashers.

    --seconds N        seconds a target (default 40, or FUZZ_SECONDS)
    --sanitizer NAME   cargo fuzz's --sanitizer (default none, or FUZZ_SANITIZER)
    TARGET             certificate_number, credential_json, baked_png, baked_svg, import_csv,
                       evidence_manifest (default: all, 4 minutes in all)

    cargo xtask fuzz --seconds 600 credential_json    one target, longer";

const TARGETS: [&str; 6] = [
    "certificate_number",
    "credential_json",
    "baked_png",
    "baked_svg",
    "import_csv",
    "evidence_manifest",
];

const CARGO_FUZZ_VERSION: &str = "0.13.2";

struct Options {
    seconds: u64,
    sanitizer: String,
    targets: Vec<String>,
}

fn options(args: &[String]) -> Result<Options> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut seconds = env("FUZZ_SECONDS").unwrap_or_else(|| "40".into());
    let mut sanitizer = env("FUZZ_SANITIZER").unwrap_or_else(|| "none".into());
    let mut targets = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs a value (see `cargo xtask fuzz --help`)"))
        };
        match arg.as_str() {
            "--seconds" => seconds = value()?,
            "--sanitizer" => sanitizer = value()?,
            target if TARGETS.contains(&target) => targets.push(target.to_owned()),
            other => {
                return Err(format!(
                    "no fuzz target or option {other:?}; the targets are {} (see `cargo xtask fuzz --help`)",
                    TARGETS.join(", ")
                ));
            }
        }
    }
    let seconds = seconds
        .parse::<u64>()
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| format!("--seconds takes a number of seconds above 0, not {seconds:?}"))?;
    if targets.is_empty() {
        targets = TARGETS.iter().map(|t| (*t).to_owned()).collect();
    }
    Ok(Options {
        seconds,
        sanitizer,
        targets,
    })
}

/// `cargo fuzz ...`, run in fuzz/. cargo-fuzz passes libFuzzer's instrumentation flags, some of
/// them unstable (-Z); this project builds with stable Rust only, which takes them when told it
/// is bootstrapping.
fn cargo_in_fuzz() -> Command {
    let mut command = cargo();
    command.current_dir("fuzz").env("RUSTC_BOOTSTRAP", "1");
    command
}

pub fn main(args: &[String]) -> Result {
    let options = options(args)?;
    if !quietly_succeeds(cargo_in_fuzz().args(["fuzz", "--version"])) {
        say("installing cargo-fuzz");
        run(cargo_in_fuzz().args([
            "install",
            "cargo-fuzz",
            "--locked",
            "--version",
            CARGO_FUZZ_VERSION,
        ]))?;
    }
    build(&options)?;
    let mut failed = Vec::new();
    for target in &options.targets {
        if !fuzz(&options, target)? {
            failed.push(target.as_str());
        }
    }
    if !failed.is_empty() {
        return Err(format!(
            "fuzz: {} crashed or hung; the inputs are in fuzz/artifacts/ (see above)",
            failed.join(" ")
        ));
    }
    println!(
        "fuzz: {} target(s), {} s each, no crash and no hang",
        options.targets.len(),
        options.seconds
    );
    Ok(())
}

/// `cargo fuzz SUBCOMMAND` with the options' sanitizer, in the fuzz build's own folder beside
/// the main build's, so neither rebuilds the other.
fn cargo_fuzz(subcommand: &str, options: &Options) -> Command {
    let mut command = cargo_in_fuzz();
    command
        .args(["fuzz", subcommand])
        .args(["--sanitizer", options.sanitizer.as_str(), "--target-dir"])
        .arg(target_dir().join("fuzz"));
    command
}

/// Builds the targets (only the one asked for, if one is).
fn build(options: &Options) -> Result {
    say(format!(
        "cargo fuzz build (sanitizer: {})",
        options.sanitizer
    ));
    let started = Instant::now();
    let mut build = cargo_fuzz("build", options);
    if let [one] = options.targets.as_slice() {
        build.arg(one);
    }
    run(&mut build)?;
    println!("   built in {} s", started.elapsed().as_secs());
    Ok(())
}

/// Fuzzes `target` for the options' time: whether it passed (no crash and no hang). Its
/// libFuzzer statistics are printed when it passed, the end of its log when not.
fn fuzz(options: &Options, target: &str) -> Result<bool> {
    let corpus = TempDir::new("wexqs-fuzz-")?;
    let log_path = corpus.path().with_extension("log");
    let mut inputs = vec![PathBuf::from(format!("seeds/{target}"))];
    let regressions = PathBuf::from(format!("regressions/{target}"));
    if Path::new("fuzz").join(&regressions).is_dir() {
        inputs.push(regressions);
    }
    let artifacts = format!("artifacts/{target}/");
    std::fs::create_dir_all(Path::new("fuzz").join(&artifacts))
        .map_err(|e| format!("fuzz/{artifacts}: {e}"))?;
    say(format!("fuzzing {target} for {} s", options.seconds));
    let log = File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let mut fuzz = cargo_fuzz("run", options);
    // -timeout: an input taking over 10 s is a hang; -rss_limit_mb: 2 GiB is unbounded
    // growth.
    fuzz.arg(target)
        .arg(corpus.path())
        .args(&inputs)
        .arg("--")
        .arg(format!("-max_total_time={}", options.seconds))
        .args(["-timeout=10", "-rss_limit_mb=2048", "-print_final_stats=1"])
        .arg(format!("-artifact_prefix={artifacts}"))
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .stdin(Stdio::null());
    let passed = status(&mut fuzz)?.success();
    let logged = std::fs::read_to_string(&log_path).unwrap_or_default();
    let _ = std::fs::remove_file(&log_path);
    let lines: Vec<&str> = logged.lines().collect();
    if passed {
        for line in lines.iter().filter(|line| {
            line.starts_with("stat::number_of_executed_units") || line.starts_with("Done")
        }) {
            println!("   {line}");
        }
    } else {
        for line in &lines[lines.len().saturating_sub(60)..] {
            eprintln!("{line}");
        }
    }
    Ok(passed)
}
