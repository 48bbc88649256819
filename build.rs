//! Names the commit a binary is built from, for `wexqs --version`: `WEXQS_BUILD_COMMIT` when it
//! is set (a release built from a tarball), else `git rev-parse --short HEAD`, else `unknown`.
//! It reruns when HEAD moves (HEAD itself, the branch it names, or the packed refs change), not
//! on every build. A tree with uncommitted changes is not marked: telling would mean rerunning
//! whenever any file changes.

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

fn watch(path: &Path) {
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=WEXQS_BUILD_COMMIT");
    let given = std::env::var("WEXQS_BUILD_COMMIT")
        .ok()
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    let commit = given.or_else(|| {
        let git_dir = PathBuf::from(git(&["rev-parse", "--absolute-git-dir"])?);
        let common = git(&["rev-parse", "--path-format=absolute", "--git-common-dir"])
            .map_or_else(|| git_dir.clone(), PathBuf::from);
        watch(&git_dir.join("HEAD"));
        if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watch(&common.join(&reference));
            watch(&git_dir.join(&reference));
        }
        watch(&common.join("packed-refs"));
        git(&["rev-parse", "--short=12", "HEAD"])
    });
    println!(
        "cargo:rustc-env=WEXQS_COMMIT={}",
        commit.as_deref().unwrap_or("unknown")
    );
}
