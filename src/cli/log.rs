//! The log's commands: `wexqs log verify` (the local log, its tree and checkpoints), `wexqs log
//! reenter` (what the database lost from the published log, from a copy), `wexqs audit` (a
//! registry over HTTP), and `wexqs rebuild` (the projections from a fold).

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
    /// Re-enter the entries the database lost (a restore, a rollback or a failover behind the
    /// published checkpoint kept in the state folder) from a copy of the log, once they are
    /// checked to give the published root; the registry then resumes.
    Reenter {
        #[command(flatten)]
        db: DbArgs,
        /// The copy: the base URL of a registry serving the same log (its /v1/log/entries), or
        /// a file of entries in that shape (one JSON object with "entries", or one entry a
        /// line); private entries need their "payload" too.
        #[arg(long)]
        from: String,
    },
}

/// `wexqs log verify`: the first divergence of the local log, if any.
pub(super) async fn verify(db: DbArgs) -> anyhow::Result<ExitCode> {
    let database = db.maintenance().await?;
    let size = database.size().await?;
    let progress = bar(size, "checking the log");
    let report = database.check_log(|p| progress.set_position(p + 1)).await?;
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

/// `wexqs rebuild`: the projection tables from a fold of the log (or, with `check`, whether
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
        let folded = database
            .rebuild_projections(|p| progress.set_position(p + 1))
            .await?;
        progress.finish_and_clear();
        println!("rebuilt the projections from {folded} events");
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

/// `wexqs log reenter`: the entries between the database's end and the high-water mark, from
/// the copy `from`, checked and appended (`service::reentry`).
pub(super) async fn reenter(db: DbArgs, from: &str) -> anyhow::Result<ExitCode> {
    use crate::service::high_water::MarkFile;
    let dir = db.state_dir();
    let file = MarkFile::in_dir(&dir)
        .with_context(|| format!("cannot open the state folder {}", dir.display()))?;
    let mark = file.read().map_err(anyhow::Error::msg)?.with_context(|| {
        format!(
            "no published checkpoint is recorded in {}: nothing says what the log held",
            file.path().display()
        )
    })?;
    let database = db.maintenance().await?;
    let size = database.size().await?;
    let copy = if from.starts_with("http://") || from.starts_with("https://") {
        entries_from_registry(from, size, mark.size).await?
    } else {
        entries_from_file(Path::new(from))?
    };
    let done = database.reenter(&mark, &copy).await?;
    use base64::Engine as _;
    let root = base64::engine::general_purpose::STANDARD.encode(mark.root);
    if done.from == done.to {
        println!(
            "nothing to re-enter: the log's {} entries already give the published checkpoint at {}, root {root}",
            done.from, mark.size
        );
    } else {
        println!(
            "re-entered {} entries (positions {} to {}); the log gives the published checkpoint at {}, root {root}",
            done.to - done.from,
            done.from,
            done.to - 1,
            mark.size
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// One entry as `/v1/log/entries` answers it.
#[derive(Debug, serde::Deserialize)]
struct EntryJson {
    position: u64,
    leaf_hash: String,
    #[serde(default)]
    payload: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
struct EntriesJson {
    entries: Vec<EntryJson>,
}

impl EntryJson {
    fn parse(self) -> anyhow::Result<crate::service::reentry::CopiedEntry> {
        use base64::Engine as _;
        let leaf = base64::engine::general_purpose::STANDARD
            .decode(&self.leaf_hash)
            .ok()
            .and_then(|h| <[u8; 32]>::try_from(h).ok())
            .with_context(|| {
                format!(
                    "the leaf hash at {} is not 32 bytes of base64",
                    self.position
                )
            })?;
        Ok(crate::service::reentry::CopiedEntry {
            position: self.position,
            leaf_hash: leaf,
            payload: self.payload.map(String::into_bytes),
        })
    }
}

/// The entries `from..to` of the registry at `base`, a page at a time.
async fn entries_from_registry(
    base: &str,
    from: u64,
    to: u64,
) -> anyhow::Result<Vec<crate::service::reentry::CopiedEntry>> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()?;
    let base = base.trim_end_matches('/');
    let mut entries = Vec::new();
    let mut next = from;
    while next < to {
        let limit = (to - next).min(1_000);
        let url = format!("{base}/v1/log/entries?start={next}&limit={limit}");
        let response = client
            .get(&url)
            .send()
            .await
            .with_context(|| format!("cannot read {url}"))?;
        anyhow::ensure!(
            response.status().is_success(),
            "{url} answered {}",
            response.status()
        );
        let page: EntriesJson = response
            .json()
            .await
            .with_context(|| format!("{url} did not answer with entries"))?;
        let Some(last) = page.entries.last().map(|e| e.position) else {
            break;
        };
        for entry in page.entries {
            entries.push(entry.parse()?);
        }
        next = last + 1;
    }
    Ok(entries)
}

/// The entries in the file at `path`: one JSON object with "entries", or one entry a line.
fn entries_from_file(path: &Path) -> anyhow::Result<Vec<crate::service::reentry::CopiedEntry>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let entries: Vec<EntryJson> = match serde_json::from_str::<EntriesJson>(&text) {
        Ok(page) => page.entries,
        Err(_) => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()
            .with_context(|| format!("{} holds no entries", path.display()))?,
    };
    entries.into_iter().map(EntryJson::parse).collect()
}
