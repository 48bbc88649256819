//! Views derived from the log, kept in one immutable `Snapshot` per `Version` (the log's size
//! and the UK day): when the log grows or the day turns, the next reader swaps in a new, empty
//! snapshot whole, and each view in it is built once, on first use, from the log as folded in
//! memory at exactly that size. So every derived view a reader gets from one snapshot is of the
//! same log, and nothing decides staleness but the version. Invariant: a view is kept in a
//! snapshot only when it was built under the cache's read lock from a state of the snapshot's
//! size; a reader that finds the log already moved past its snapshot builds a view for itself
//! and keeps nothing.

use std::sync::{Arc, Mutex, OnceLock};

use chrono::NaiveDate;

use super::Registry;
use super::dashboard::Tally;
use super::feeds::ChangeIndex;
use super::lists::{ApplicationIndex, OrganisationIndex};
use super::log::{Cache, Log};
use super::register_index::RegisterIndex;

/// What a snapshot and everything derived from it reflects: the log's size and the UK day.
/// Adapters' caches of answers key on it too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Version {
    pub(crate) log_size: u64,
    pub(crate) day: NaiveDate,
}

/// The derived views of one `Version`, each built on first use.
pub(super) struct Snapshot {
    version: Version,
    /// The register's award rows in the register's order, indexed for search.
    pub(super) register: OnceLock<Arc<RegisterIndex>>,
    /// Every public change in log order (the feeds' pages).
    pub(super) changes: OnceLock<Arc<ChangeIndex>>,
    /// The awards counted by level and status on the day, and those expiring soon (the
    /// console's dashboard).
    pub(super) tally: OnceLock<Arc<Tally>>,
    /// The organisations in the programme team's order, each with its current award's status
    /// on the day.
    pub(super) organisations: OnceLock<Arc<OrganisationIndex>>,
    /// The applications in the programme team's order.
    pub(super) applications: OnceLock<Arc<ApplicationIndex>>,
}

impl Snapshot {
    fn new(version: Version) -> Snapshot {
        Snapshot {
            version,
            register: OnceLock::new(),
            changes: OnceLock::new(),
            tally: OnceLock::new(),
            organisations: OnceLock::new(),
            applications: OnceLock::new(),
        }
    }
}

/// The current snapshot.
///
/// `current` (a `Mutex`) is held only to compare a version and swap or clone the `Arc`, never
/// while a view is built, and no other lock is taken under it. A view is built inside its
/// `OnceLock` while the log's cache is read-locked (lock order: cache, then the view's
/// `OnceLock`), so one reader builds a view and the others wanting it wait for that one.
pub(super) struct Views {
    current: Mutex<Option<Arc<Snapshot>>>,
}

impl Views {
    pub(super) fn new() -> Views {
        Views {
            current: Mutex::new(None),
        }
    }

    /// The snapshot of `version`: the current one if it is of that version, else a new one,
    /// which becomes current.
    pub(super) fn at(&self, version: Version) -> Arc<Snapshot> {
        let mut current = self.current.lock().expect("never poisoned");
        match current.as_ref() {
            Some(snapshot) if snapshot.version == version => snapshot.clone(),
            _ => current.insert(Arc::new(Snapshot::new(version))).clone(),
        }
    }

    /// Drops the current snapshot (the log is read again from its start, and the same size
    /// may then be another log).
    pub(super) fn clear(&self) {
        *self.current.lock().expect("never poisoned") = None;
    }
}

/// The views a snapshot holds, each as the registry's readers get it.
impl Registry {
    /// Every award's projection row in the register's order, indexed for search: the current
    /// snapshot's (`snapshot::Views`), built once a log size and day.
    pub(super) fn register_index(&self) -> Arc<RegisterIndex> {
        let snapshot = self.snapshot();
        derived(&self.log, &snapshot, &snapshot.register, |c| {
            // The awards themselves, shared: the index copies none of their text.
            let awards = c.state.awards.values().cloned().collect();
            RegisterIndex::new(awards, snapshot.version.day.to_string())
        })
    }

    /// Every public change as of the log's current size: the current snapshot's
    /// (`snapshot::Views`), built once a log size and day.
    pub(super) fn change_index(&self) -> Arc<ChangeIndex> {
        let snapshot = self.snapshot();
        derived(&self.log, &snapshot, &snapshot.changes, |c| {
            ChangeIndex::of(
                c.state.size,
                c.state.awards.values(),
                &c.state.programme.changes,
                &c.state.cycles_scheduled,
            )
        })
    }
}

impl Registry {
    /// The awards by level and status today and those expiring soon: the current snapshot's,
    /// folded from every award once a log size and day.
    pub(super) fn register_tally(&self) -> Arc<Tally> {
        let snapshot = self.snapshot();
        let day = snapshot.version.day;
        derived(&self.log, &snapshot, &snapshot.tally, |c| {
            Tally::of(&c.state, day)
        })
    }

    /// The organisations as the programme team's lists order them: the current snapshot's.
    pub(super) fn organisation_index(&self) -> Arc<OrganisationIndex> {
        let snapshot = self.snapshot();
        let day = snapshot.version.day;
        derived(&self.log, &snapshot, &snapshot.organisations, |c| {
            OrganisationIndex::of(&c.state, day)
        })
    }

    /// The applications as the programme team's lists order them: the current snapshot's.
    pub(super) fn application_index(&self) -> Arc<ApplicationIndex> {
        let snapshot = self.snapshot();
        derived(&self.log, &snapshot, &snapshot.applications, |c| {
            ApplicationIndex::of(&c.state)
        })
    }
}

/// The view `cell` of `snapshot`, built by `build` from the log in memory if it is not yet, and
/// kept if the log is still at the snapshot's size.
fn derived<T>(
    log: &Log,
    snapshot: &Snapshot,
    cell: &OnceLock<Arc<T>>,
    build: impl FnOnce(&Cache) -> T,
) -> Arc<T> {
    if let Some(view) = cell.get() {
        return view.clone();
    }
    log.read(|c| {
        if c.state.size == snapshot.version.log_size {
            cell.get_or_init(|| Arc::new(build(c))).clone()
        } else {
            Arc::new(build(c))
        }
    })
}
