//! The log's commands: `wexqs log verify` (the local log, its tree and checkpoints), `wexqs
//! audit` (a registry over HTTP), and `wexqs rebuild` (the projections from a replay).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;

use super::*;
use crate::store::verify_log;

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
    let s = db.open().await?;
    let size = s.head().await?.size;
    let progress = bar(size, "checking the log");
    let check = verify_log(&s, |p| progress.set_position(p + 1)).await?;
    progress.finish_and_clear();
    let problem = match check.problem {
        Some(p) => Some(p),
        None => crate::service::check_checkpoints(&s).await?,
    };
    match problem {
        None => println!(
            "the log is consistent: {} events, chain hash {}",
            check.size,
            hex::encode(&check.head.chain_hash)
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
    let s = db.open().await?;
    let size = s.head().await?.size;
    let progress = bar(size, "replaying the log");
    if check {
        let state = crate::service::fold_log(&s, |p| progress.set_position(p + 1)).await?;
        progress.finish_and_clear();
        let expected = crate::projection::all_rows(&state);
        if s.projections().await? == expected {
            println!("the projections agree with the log ({size} events)");
        } else {
            println!("the projections differ from a replay of the log: run 'wexqs rebuild'");
            return Ok(ExitCode::FAILURE);
        }
    } else {
        let replayed = Registry::rebuild(&s, |p| progress.set_position(p + 1)).await?;
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
