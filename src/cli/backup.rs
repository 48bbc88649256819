//! `wexqs backup` and `wexqs restore`: a consistent, checked copy of the database with its
//! manifest, taken while servers run, and a copy put back in place while none do. The work is
//! `service::backup`'s; this file shows its progress and what was done.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use indicatif::ProgressBar;

use super::*;
use crate::service::backup::{self, Manifest, Progress};

/// A progress bar per stage, on standard error.
struct Bars {
    bar: Option<ProgressBar>,
}

impl Progress for Bars {
    fn stage(&mut self, what: &str, length: u64) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let shown = if length == 0 {
            let spinner = ProgressBar::new_spinner();
            spinner.set_message(what.to_owned());
            spinner.enable_steady_tick(std::time::Duration::from_millis(200));
            spinner
        } else {
            bar(length, what)
        };
        self.bar = Some(shown);
    }

    fn at(&mut self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// `wexqs backup --to FILE`.
pub(super) async fn backup_command(db: DbArgs, to: &Path) -> anyhow::Result<ExitCode> {
    let url = db.url()?;
    let database = db.maintenance().await?;
    let mut bars = Bars { bar: None };
    let manifest = backup::backup(&database, &url, to, &mut bars).await?;
    drop(bars);
    // What the metrics read as the time of the last good backup (`service::vitals`).
    let state_dir = db.state_dir();
    crate::service::vitals::record_backup(&state_dir, chrono::Utc::now(), to).with_context(
        || {
            format!(
                "the backup is good, but its time could not be recorded in {}",
                state_dir.display()
            )
        },
    )?;
    println!(
        "backed up {} events to {} ({} bytes, SHA-256 {})",
        manifest.log.size,
        to.display(),
        manifest.bytes,
        manifest.sha256
    );
    describe(&manifest);
    println!("manifest: {}", backup::manifest_path(to).display());
    println!("the signing keys are not in the backup: back up the keys folder separately");
    Ok(ExitCode::SUCCESS)
}

/// `wexqs restore --from FILE [--replace]`.
pub(super) async fn restore_command(
    db: DbArgs,
    from: &Path,
    replace: bool,
) -> anyhow::Result<ExitCode> {
    let url = db.url()?;
    let mut bars = Bars { bar: None };
    let manifest = backup::restore(from, &url, replace, &mut bars).await?;
    drop(bars);
    println!(
        "restored {} ({} events, taken {})",
        from.display(),
        manifest.log.size,
        manifest.created_at
    );
    describe(&manifest);
    println!(
        "start the servers with the keys folder the registry had (the keys are not in a backup); each checks the log against what the registry last published before it serves"
    );
    Ok(ExitCode::SUCCESS)
}

fn describe(manifest: &Manifest) {
    println!(
        "log: {} events, root {}",
        manifest.log.size, manifest.log.root
    );
    match &manifest.latest_checkpoint {
        Some(c) => println!(
            "latest checkpoint: {} events, root {}, signed {}",
            c.size, c.root, c.signed_at
        ),
        None => println!("latest checkpoint: none yet"),
    }
    for key in &manifest.keys {
        println!("key: {} ({})", key.key_id, key.status);
    }
}
