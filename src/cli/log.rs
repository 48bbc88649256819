//! The log's commands: `wexqs log verify` (the local log, its tree and checkpoints), `wexqs
//! audit` (a registry over HTTP), and `wexqs rebuild` (the projections from a replay).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;

use super::*;

#[derive(Debug, Subcommand)]
pub(super) enum LogAction {
    /// Recompute every hash of the local log and report the first divergence.
    Verify {
        #[command(flatten)]
        db: DbArgs,
    },
}

/// `wexqs log verify`: the first divergence of the local log, if any.
pub(super) async fn verify(db: DbArgs) -> anyhow::Result<ExitCode> {
    let database = db.maintenance().await?;
    let size = database.size().await?;
    let progress = bar(size, "checking the log");
    let report = database
        .verify_log(|p| progress.set_position(p + 1))
        .await?;
    progress.finish_and_clear();
    match report.problem {
        None => println!(
            "the log is consistent: {} events, chain hash {}",
            report.size,
            hex::encode(&report.chain_hash)
        ),
        Some((position, what)) => {
            println!("the log diverges at position {position}: {what}");
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `wexqs rebuild`: the projection tables from a replay of the log (or, with `check`, whether
/// they agree with one).
pub(super) async fn rebuild(db: DbArgs, check: bool) -> anyhow::Result<ExitCode> {
    let database = db.maintenance().await?;
    let size = database.size().await?;
    let progress = bar(size, "replaying the log");
    if check {
        let agree = database
            .projections_agree(|p| progress.set_position(p + 1))
            .await?;
        progress.finish_and_clear();
        if agree {
            println!("the projections agree with the log ({size} events)");
        } else {
            println!("the projections differ from a replay of the log: run 'wexqs rebuild'");
            return Ok(ExitCode::FAILURE);
        }
    } else {
        let replayed = database
            .rebuild_projections(|p| progress.set_position(p + 1))
            .await?;
        progress.finish_and_clear();
        println!("rebuilt the projections from {replayed} events");
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn audit_command(url: &str, state: Option<&Path>) -> anyhow::Result<ExitCode> {
    use crate::transparency::audit::{AuditState, Finding, audit};
    let last: Option<AuditState> = match state {
        Some(path) if path.exists() => Some(serde_json::from_value(read_json(path)?)?),
        _ => None,
    };
    let progress = bar(0, "reading entries");
    let finding = audit(url, last.as_ref(), |done, total| {
        progress.set_length(total);
        progress.set_position(done);
    })
    .await?;
    progress.finish_and_clear();
    match finding {
        Finding::Consistent { size, root } => {
            use base64::Engine as _;
            let root = base64::engine::general_purpose::STANDARD.encode(root);
            println!("consistent: {size} entries, root {root}, checkpoint signature verified");
            if let Some(path) = state {
                std::fs::write(path, serde_json::to_vec_pretty(&AuditState { size, root })?)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Finding::Divergence { position, what } => {
            println!("divergence at position {position}: {what}");
            Ok(ExitCode::FAILURE)
        }
    }
}
