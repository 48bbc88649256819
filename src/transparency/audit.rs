//! Auditing a log: recompute every leaf and the Merkle tree from the entries, check the signed
//! checkpoint and its consistency with the last one seen, and report the first divergence by
//! position. `wexqs audit URL` does it to a registry over HTTP; `wexqs log verify` to the local
//! database.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::transparency::merkle::{Hash, ProofError, Tree, leaf_hash, verify_consistency};
use crate::transparency::note;

/// What an auditor remembers between runs: the last checkpoint it accepted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct AuditState {
    pub(crate) size: u64,
    pub(crate) root: String,
}

/// The result of an audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Finding {
    Consistent { size: u64, root: Hash },
    Divergence { position: u64, what: String },
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum AuditError {
    #[error("cannot reach the registry: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the registry answered {status} for {url}")]
    Status { status: u16, url: String },
    #[error("{0}")]
    Note(#[from] note::NoteError),
    #[error("the entries are not in the expected shape: {0}")]
    Shape(String),
}

#[derive(Debug, Deserialize)]
struct Entries {
    entries: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    position: u64,
    leaf_hash: String,
    #[serde(default)]
    payload: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ConsistencyProof {
    proof: Vec<String>,
}

fn b64(s: &str) -> Result<Vec<u8>, AuditError> {
    STANDARD
        .decode(s)
        .map_err(|_| AuditError::Shape(format!("{s:?} is not base64")))
}

async fn get_text(client: &reqwest::Client, url: &str) -> Result<String, AuditError> {
    let response = client.get(url).send().await?;
    if !response.status().is_success() {
        return Err(AuditError::Status {
            status: response.status().as_u16(),
            url: url.to_owned(),
        });
    }
    Ok(response.text().await?)
}

/// Audits the registry at `base`, given what was seen last time; progress is reported as
/// entries are read.
pub(crate) async fn audit(
    base: &str,
    last: Option<&AuditState>,
    progress: impl FnMut(u64, u64),
) -> Result<Finding, AuditError> {
    let base = base.trim_end_matches('/');
    let client = reqwest::Client::new();
    let key = get_text(&client, &format!("{base}/v1/log/key")).await?;
    let signed = get_text(&client, &format!("{base}/v1/log/checkpoint")).await?;
    let body = note::open(&signed, key.trim())?;
    let (_, size, root) = note::parse_checkpoint(body)?;

    let mut tree = Tree::new();
    if let Some(divergence) = read_entries(&client, base, size, &mut tree, progress).await? {
        return Ok(divergence);
    }
    let computed = tree.root(size).unwrap_or_default();
    if computed != root {
        return Ok(Finding::Divergence {
            position: size,
            what: "the entries do not produce the signed checkpoint's root".into(),
        });
    }
    if let Some(last) = last
        && let Some(divergence) =
            check_against_last(&client, base, last, &tree, size, &root).await?
    {
        return Ok(divergence);
    }
    Ok(Finding::Consistent { size, root })
}

/// Reads the log's first `size` entries into `tree`, a page at a time, checking each entry's
/// position and, where its content is served, its leaf hash; the first divergence found, if any.
async fn read_entries(
    client: &reqwest::Client,
    base: &str,
    size: u64,
    tree: &mut Tree,
    mut progress: impl FnMut(u64, u64),
) -> Result<Option<Finding>, AuditError> {
    while tree.size() < size {
        let start = tree.size();
        let limit = (size - start).min(1000);
        let page: Entries = serde_json::from_str(
            &get_text(
                client,
                &format!("{base}/v1/log/entries?start={start}&limit={limit}"),
            )
            .await?,
        )
        .map_err(|e| AuditError::Shape(e.to_string()))?;
        if page.entries.is_empty() {
            return Ok(Some(Finding::Divergence {
                position: start,
                what: format!(
                    "the log ends at {start} entries, but its checkpoint says {size}: entries were removed"
                ),
            }));
        }
        if let Some(divergence) = add_page(page, size, tree)? {
            return Ok(Some(divergence));
        }
        progress(tree.size(), size);
    }
    Ok(None)
}

/// Adds a page of entries to `tree` (up to `size`), each at the position it must be and with the
/// leaf hash its content gives; the first divergence found, if any.
fn add_page(page: Entries, size: u64, tree: &mut Tree) -> Result<Option<Finding>, AuditError> {
    for entry in page.entries {
        if entry.position != tree.size() {
            return Ok(Some(Finding::Divergence {
                position: tree.size(),
                what: format!("expected entry {}, got {}", tree.size(), entry.position),
            }));
        }
        let served: Hash = b64(&entry.leaf_hash)?
            .try_into()
            .map_err(|_| AuditError::Shape("a leaf hash is not 32 bytes".into()))?;
        if let Some(payload) = &entry.payload
            && leaf_hash(payload.as_bytes()) != served
        {
            return Ok(Some(Finding::Divergence {
                position: entry.position,
                what: "the entry's content does not match its leaf hash".into(),
            }));
        }
        tree.push(served);
        if tree.size() == size {
            break;
        }
    }
    Ok(None)
}

/// Holds the log of `size` with `root` to what the last audit saw: it has not shrunk, its first
/// entries give the same root, and the registry proves the new checkpoint extends the old one.
async fn check_against_last(
    client: &reqwest::Client,
    base: &str,
    last: &AuditState,
    tree: &Tree,
    size: u64,
    root: &[u8],
) -> Result<Option<Finding>, AuditError> {
    let old_root = b64(&last.root)?;
    if size < last.size {
        return Ok(Some(Finding::Divergence {
            position: size,
            what: format!(
                "the log shrank from {} to {size} entries since the last audit",
                last.size
            ),
        }));
    }
    if tree.root(last.size).map(|r| r.to_vec()) != Some(old_root.clone()) {
        return Ok(Some(Finding::Divergence {
            position: last.size,
            what: "the first entries no longer produce the root seen last time".into(),
        }));
    }
    if size > last.size {
        let proof: ConsistencyProof = serde_json::from_str(
            &get_text(
                client,
                &format!(
                    "{base}/v1/log/proofs/consistency?from={}&to={size}",
                    last.size
                ),
            )
            .await?,
        )
        .map_err(|e| AuditError::Shape(e.to_string()))?;
        let proof: Vec<Vec<u8>> = proof
            .proof
            .iter()
            .map(|p| b64(p))
            .collect::<Result<_, _>>()?;
        if verify_consistency(last.size, size, &proof, &old_root, root).is_err() {
            return Ok(Some(Finding::Divergence {
                position: last.size,
                what: "the new checkpoint is not consistent with the one seen last time".into(),
            }));
        }
    }
    Ok(None)
}

/// Whether the tree of `size` with `root` extends the one checkpointed at `last_size` with
/// `last_root`, by the consistency proof `proof`: checked before a new checkpoint is signed, so
/// that the log never signs a history that rewrites one it signed before.
pub(crate) fn check_extends(
    last_size: u64,
    last_root: &[u8],
    size: u64,
    root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    let proof: Vec<Vec<u8>> = proof.iter().map(|h| h.to_vec()).collect();
    verify_consistency(last_size, size, &proof, last_root, root)
}
