//! The fuzz targets' seeds and every input the fuzzer found a crash or hang with
//! (`fuzz/seeds/<target>/`, `fuzz/regressions/<target>/`), replayed through the targets' own
//! checks on stable Rust, without the fuzzer: a fixed crash stays fixed in `cargo test`.

use std::path::{Path, PathBuf};

// The fuzz crate's root, whose `pub` items are its own public surface there.
#[allow(unreachable_pub)]
#[path = "../../fuzz/src/lib.rs"]
mod checks;

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.is_file() && p.file_name().is_some_and(|n| n != ".gitkeep"));
    files.sort();
    files
}

#[test]
fn every_seed_and_every_input_the_fuzzer_broke_a_parser_with_passes_its_check() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut failures = Vec::new();
    let mut replayed = 0;
    for (target, check) in checks::CHECKS {
        let seeds = files(&fuzz.join("seeds").join(target));
        assert!(!seeds.is_empty(), "fuzz/seeds/{target}/ has seeds");
        for input in seeds
            .into_iter()
            .chain(files(&fuzz.join("regressions").join(target)))
        {
            let data = std::fs::read(&input).expect("a readable input");
            let started = std::time::Instant::now();
            if std::panic::catch_unwind(|| check(&data)).is_err() {
                failures.push(format!("{target}: {}", input.display()));
            }
            // The fuzzer calls an input slow at a second; a parser takes milliseconds.
            let took = started.elapsed();
            if took > std::time::Duration::from_secs(5) {
                failures.push(format!("{target}: {} took {took:?}", input.display()));
            }
            replayed += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {replayed} inputs fail their check:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
