//! Whole registers in: `wexqs import` (CSV rows, all or none) and `wexqs demo` (the sample
//! register, into an empty one).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use super::*;

/// `wexqs demo`: loads the demo register into an empty one.
pub(super) async fn demo(signing: SigningArgs) -> anyhow::Result<()> {
    let registry = signing
        .registry_pooled(Unrecorded::Command, NoKey::Development, Pooling::COMMAND)
        .await?;
    if registry.has_organisations() {
        bail!("the register already has organisations; the demo loads only into an empty one");
    }
    let outcome = crate::service::demo::load(&registry).await?;
    println!(
        "loaded the demo register: {} events, {} awards",
        outcome.events.len(),
        outcome.issued().len()
    );
    Ok(())
}

pub(super) async fn import_command(signing: SigningArgs, file: &Path) -> anyhow::Result<ExitCode> {
    // Read a row at a time through a buffer: the file is never held whole.
    let reader =
        std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    let rows = match crate::service::import::read_csv(reader) {
        Ok(rows) => rows,
        Err(errors) => return Ok(report_rows(&errors)),
    };
    let registry = signing.registry().await?;
    let progress = bar(rows.len() as u64 * 2, "checking rows");
    let result =
        crate::service::import::import_commands(&registry, &Actor::cli(), rows, None, |n| {
            progress.set_position(n as u64)
        })
        .await;
    progress.finish_and_clear();
    match result {
        Ok(summary) => {
            println!(
                "imported {} awards ({} events, up to log position {})",
                summary.issued.len(),
                summary.events,
                summary.last_position.unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => Ok(report_rows(&errors)),
    }
}

fn report_rows(errors: &[crate::service::import::RowError]) -> ExitCode {
    for e in errors {
        eprintln!("line {}: {}: {}", e.line, e.code, e.message);
    }
    eprintln!(
        "{} row(s) cannot be imported; nothing was imported",
        errors.len()
    );
    ExitCode::FAILURE
}
