//! The log's high-water mark, kept outside the database, and the **behind** state it guards.
//! Before a checkpoint is published it is written to a file in the state folder (temporary file,
//! fsync, rename, fsync of the folder), and a later checkpoint seen in the database raises it.
//! A log shorter than the mark, not consistent with it, or whose stored hashes do not follow
//! from its entries puts the instance in the behind state: it signs nothing, appends nothing
//! (`StoreError::LogBehind`), and its HTTP answers are 503 `log_behind_published_checkpoint`
//! until the database holds the published log again (`wexqs log reenter`). Invariant: the mark
//! only ever grows, and every checkpoint this instance signs is recorded in it first.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use super::Registry;
use crate::store::EventStore;
use crate::transparency::merkle::Hash;

/// The file, in the state folder, holding the latest checkpoint this instance published or saw
/// published (a C2SP signed note).
pub(crate) const MARK_FILE: &str = "published-checkpoint";

/// The highest checkpoint known to have been published: its size and root, and its note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mark {
    pub(crate) size: u64,
    pub(crate) root: Hash,
    pub(crate) note: String,
}

impl Mark {
    /// The mark a signed checkpoint note sets (its signature is not checked here).
    pub(crate) fn of_note(note: &str) -> Result<Mark, String> {
        let body = note.split("\n\n").next().unwrap_or_default();
        let (_, size, root) = crate::transparency::note::parse_checkpoint(&format!("{body}\n"))
            .map_err(|e| format!("not a checkpoint: {e}"))?;
        Ok(Mark {
            size,
            root,
            note: note.to_owned(),
        })
    }
}

/// Where the mark is kept.
#[derive(Debug, Clone)]
pub(crate) struct MarkFile {
    path: PathBuf,
}

impl MarkFile {
    /// The mark file in `state_dir`, which is created (readable by its owner alone) if need be.
    pub(crate) fn in_dir(state_dir: &Path) -> std::io::Result<MarkFile> {
        std::fs::create_dir_all(state_dir)?;
        Ok(MarkFile {
            path: state_dir.join(MARK_FILE),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The mark recorded, if any. A file that cannot be read or parsed is an error: a mark
    /// lost in silence would let a rollback through.
    pub(crate) fn read(&self) -> Result<Option<Mark>, String> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => Mark::of_note(&text)
                .map(Some)
                .map_err(|e| format!("the mark {} is unreadable: {e}", self.path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read the mark {}: {e}", self.path.display())),
        }
    }

    /// Records `mark` durably: written to a temporary file, flushed to disk, renamed over the
    /// old one, and the folder flushed, so that a crash leaves the old mark or the new one.
    pub(crate) fn record(&self, mark: &Mark) -> std::io::Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let temporary = dir.join(format!(".{MARK_FILE}.{}", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(mark.note.as_bytes())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temporary, &self.path)?;
        std::fs::File::open(dir)?.sync_all()
    }
}

/// The high-water part of the registry: the mark outside the database and the behind state.
pub(super) struct HighWater {
    /// Where the mark is kept (`None`: nowhere outside the database). Set at start; read (and
    /// cloned out, or held while the mark is written to it) by `raise_mark` and
    /// `check_against_mark`.
    file: RwLock<Option<MarkFile>>,
    /// The mark as last read or raised. Written only to raise it; `raise_mark` holds it while
    /// it records the new mark in `file` (lock order: `mark`, then `file`), so two raises
    /// never write the file out of order.
    mark: RwLock<Option<Mark>>,
    /// `Some(reason)` while the database is behind the published log. Held only to read or
    /// replace the reason.
    behind: Mutex<Option<String>>,
}

impl HighWater {
    pub(super) fn new(file: Option<MarkFile>) -> HighWater {
        HighWater {
            file: RwLock::new(file),
            mark: RwLock::new(None),
            behind: Mutex::new(None),
        }
    }

    fn set_behind(&self, reason: Option<String>) {
        *self.behind.lock().expect("never poisoned") = reason;
    }
}

impl Registry {
    /// The mark as last read or raised (`None`: no mark file is kept, or none recorded yet).
    pub(crate) fn mark(&self) -> Option<Mark> {
        self.high_water.mark.read().expect("never poisoned").clone()
    }

    /// Why this instance is behind its published log, if it is.
    pub(crate) fn behind(&self) -> Option<String> {
        self.high_water
            .behind
            .lock()
            .expect("never poisoned")
            .clone()
    }

    /// Enters the behind state (said once in the log, when it begins).
    pub(super) fn fall_behind(&self, reason: String) {
        let mut behind = self.high_water.behind.lock().expect("never poisoned");
        if behind.is_none() {
            tracing::error!(
                reason = %reason,
                "the database is behind the published log: signing nothing, refusing writes and \
                 answering 503 until the missing entries are re-entered ('wexqs log reenter')"
            );
        }
        *behind = Some(reason);
    }

    /// Raises the mark to `note` (a checkpoint this instance signs, or one it found signed in
    /// the database) if it is larger, writing it to the mark file first.
    pub(super) fn raise_mark(&self, note: &str) -> Result<(), String> {
        let new = Mark::of_note(note)?;
        let mut mark = self.high_water.mark.write().expect("never poisoned");
        if mark.as_ref().is_some_and(|m| m.size >= new.size) {
            return Ok(());
        }
        if let Some(file) = self
            .high_water
            .file
            .read()
            .expect("never poisoned")
            .as_ref()
        {
            file.record(&new).map_err(|e| {
                format!(
                    "cannot record the checkpoint at {} in {}: {e}",
                    new.size,
                    file.path().display()
                )
            })?;
        }
        *mark = Some(new);
        Ok(())
    }

    /// Reads the mark file again and checks the log in memory against it and against the latest
    /// checkpoint in the database: entering the behind state if it falls short.
    pub(super) fn check_against_mark(&self) {
        let file = self.high_water.file.read().expect("never poisoned").clone();
        if let Some(file) = file {
            match file.read() {
                Ok(Some(read)) => {
                    let mut mark = self.high_water.mark.write().expect("never poisoned");
                    if mark.as_ref().is_none_or(|m| m.size < read.size) {
                        *mark = Some(read);
                    }
                }
                Ok(None) => {}
                Err(e) => return self.fall_behind(e),
            }
        }
        if let Some(problem) = self.shortfall() {
            self.fall_behind(problem);
        }
    }

    /// What the log in memory lacks against the mark and the latest checkpoint in the database,
    /// or where its hashes broke while it was read (`None`: nothing).
    pub(super) fn shortfall(&self) -> Option<String> {
        if let Some(broken) = self.read_cache(|c| c.broken.clone()) {
            return Some(broken);
        }
        let stored = self.transparency.latest();
        let marks = [
            self.mark()
                .map(|m| (m.size, m.root.to_vec(), "the published checkpoint")),
            stored.map(|c| (c.size, c.root, "the latest checkpoint in the database")),
        ];
        for (size, root, what) in marks.into_iter().flatten() {
            let (have, at) = self.read_cache(|c| (c.tree.size(), c.tree.root(size)));
            if have < size {
                return Some(format!(
                    "the log has {have} entries but {what} covers {size}: entries were lost \
                     (a restore, a rollback or a failover)"
                ));
            }
            if at.map(|r| r.to_vec()) != Some(root) {
                return Some(format!(
                    "the log's first {size} entries do not give the root of {what}: an entry \
                     was changed"
                ));
            }
        }
        None
    }

    /// While behind: once the database holds at least what the mark covers, reads the whole log
    /// again and, if it is now consistent with the mark, resumes. Whether it resumed.
    pub(super) async fn try_resume(&self, database_size: u64) -> bool {
        let need = self.mark().map_or(0, |m| m.size);
        if database_size < need {
            return false;
        }
        if let Err(e) = self.reload().await {
            tracing::warn!(error = %e, "could not read the log again");
            return false;
        }
        if let Ok(Some(latest)) = self.log.store.checkpoints().await.map(|mut c| c.pop()) {
            self.transparency.set_latest(Some(latest));
        }
        match self.shortfall() {
            Some(problem) => {
                self.high_water.set_behind(Some(problem));
                false
            }
            None => {
                self.high_water.set_behind(None);
                tracing::info!(
                    size = self.size(),
                    "the log is consistent with the published checkpoint again: resuming"
                );
                true
            }
        }
    }
}
