//! Named reads for those who follow the register without polling it: the public changes newest
//! first (the Atom feeds: award changes, the programme's pauses and cycles, through an index
//! of every public change read again only when the log moves), an organisation's awards (its
//! calendar), and a snapshot of every award with its status today (the open data exports). All from memory, so they
//! go on while the database is away; none of them can reach a private event, since they read
//! only awards' public histories and the programme's changes.

use std::sync::Arc;

use chrono::NaiveDate;

use super::Registry;
use crate::domain::events::Cycle;
use crate::domain::state::{AwardChange, ProgrammeChange};
use crate::domain::{Award, Level, OrganisationId, Status, status_as_of};
use crate::render::export::Row;

/// What a feed entry names of the award it is about (its public fields only).
#[derive(Debug, Clone)]
pub(crate) struct AwardSummary {
    pub(crate) certificate_number: String,
    pub(crate) organisation_name: String,
    pub(crate) level: Level,
    pub(crate) valid_until: NaiveDate,
}

impl AwardSummary {
    fn of(award: &Award) -> AwardSummary {
        AwardSummary {
            certificate_number: award.certificate_number.to_string(),
            organisation_name: award.organisation_name.to_string(),
            level: award.level,
            valid_until: award.valid_until,
        }
    }
}

/// One public change, at its log position.
#[derive(Debug, Clone)]
pub(crate) enum PublicChange {
    Award {
        position: u64,
        award: AwardSummary,
        change: AwardChange,
        /// The day the change took effect, or for a change the log dates no day (an
        /// amendment), the latest day the award's history dates before it.
        on: NaiveDate,
    },
    Programme {
        position: u64,
        change: ProgrammeChange,
    },
    /// A cycle announced (or its dates changed), as it was scheduled then.
    Cycle { position: u64, cycle: Cycle },
}

impl PublicChange {
    pub(crate) fn position(&self) -> u64 {
        match self {
            PublicChange::Award { position, .. }
            | PublicChange::Programme { position, .. }
            | PublicChange::Cycle { position, .. } => *position,
        }
    }

    /// The day the change takes effect (a cycle: the day its submissions open).
    pub(crate) fn on(&self) -> NaiveDate {
        match self {
            PublicChange::Award { on, .. } => *on,
            PublicChange::Programme { change, .. } => change.effective_from,
            PublicChange::Cycle { cycle, .. } => cycle.submissions_open_on,
        }
    }
}

/// A page of public changes, newest first, and the cursors of the pages beside it.
#[derive(Debug, Clone, Default)]
pub(crate) struct ChangesPage {
    pub(crate) entries: Vec<PublicChange>,
    /// The `before` cursor of the next (older) page, when there are older changes.
    pub(crate) older: Option<u64>,
    /// The previous (newer) page, when this is not the first: `Some(None)` is the first page,
    /// `Some(Some(p))` the page before `p`.
    pub(crate) newer: Option<Option<u64>>,
    /// The newest change of the whole feed (not only this page), for the feed's `updated`.
    pub(crate) newest: Option<PublicChange>,
    /// The log size the page was read at (what its `ETag` names).
    pub(crate) log_size: u64,
}

/// Where a public change is found in the state it was read from.
#[derive(Debug, Clone)]
enum Found {
    Award {
        award: Arc<Award>,
        history: usize,
        on: NaiveDate,
    },
    Programme(ProgrammeChange),
    Cycle(Cycle),
}

/// Every public change of a reading of the state, in log order: a page is two binary
/// searches and its own entries, whatever the size of the register.
#[derive(Debug, Default)]
pub(crate) struct ChangeIndex {
    /// The log size it was read at.
    size: u64,
    positions: Vec<u64>,
    found: Vec<Found>,
}

impl ChangeIndex {
    /// The changes of `awards` (their public histories), the programme's `changes` and the
    /// `cycles` scheduled.
    pub(super) fn of<'a>(
        size: u64,
        awards: impl Iterator<Item = &'a Arc<Award>>,
        programme: &[ProgrammeChange],
        cycles: &[(u64, Cycle)],
    ) -> ChangeIndex {
        let mut all: Vec<(u64, Found)> = Vec::new();
        for award in awards {
            let mut last_day = award.awarded_on;
            for (history, h) in award.history.iter().enumerate() {
                let on = change_day(&h.change).unwrap_or(last_day);
                last_day = on;
                all.push((
                    h.position,
                    Found::Award {
                        award: award.clone(),
                        history,
                        on,
                    },
                ));
            }
        }
        all.extend(
            programme
                .iter()
                .map(|p| (p.position, Found::Programme(p.clone()))),
        );
        all.extend(cycles.iter().map(|(p, c)| (*p, Found::Cycle(c.clone()))));
        all.sort_unstable_by_key(|(p, _)| *p);
        let (positions, found) = all.into_iter().unzip();
        ChangeIndex {
            size,
            positions,
            found,
        }
    }

    fn change(&self, i: usize) -> PublicChange {
        let position = self.positions[i];
        match &self.found[i] {
            Found::Award { award, history, on } => PublicChange::Award {
                position,
                award: AwardSummary::of(award),
                change: award.history[*history].change.clone(),
                on: *on,
            },
            Found::Programme(change) => PublicChange::Programme {
                position,
                change: change.clone(),
            },
            Found::Cycle(cycle) => PublicChange::Cycle {
                position,
                cycle: cycle.clone(),
            },
        }
    }

    /// The `limit` newest changes below `before`, newest first, with the cursors of the pages
    /// beside them.
    fn page(&self, before: u64, limit: usize) -> ChangesPage {
        let end = self.positions.partition_point(|p| *p < before);
        let start = end.saturating_sub(limit);
        let above = self.positions.len() - end;
        ChangesPage {
            entries: (start..end).rev().map(|i| self.change(i)).collect(),
            // The oldest of this page is the next page's cursor.
            older: (start > 0).then(|| self.positions[start]),
            // The newer page holds the `limit` oldest changes at or above the cursor; its own
            // cursor is the one just above them, if any.
            newer: (above > 0).then(|| (above > limit).then(|| self.positions[end + limit])),
            newest: (!self.positions.is_empty()).then(|| self.change(self.positions.len() - 1)),
            log_size: self.size,
        }
    }
}

impl Registry {
    /// The public changes (of one organisation's awards, or of every award, the programme and
    /// its cycles) older than `before`, newest first, at most `limit`.
    pub(crate) fn public_changes(
        &self,
        organisation: Option<OrganisationId>,
        before: Option<u64>,
        limit: usize,
    ) -> ChangesPage {
        let (limit, before) = (limit.max(1), before.unwrap_or(u64::MAX));
        match organisation {
            Some(id) => self
                .read_cache(|c| {
                    let awards = c.state.organisations.get(&id).map(|o| {
                        o.awards
                            .iter()
                            .filter_map(|n| c.state.awards.get(n))
                            .collect::<Vec<_>>()
                    });
                    ChangeIndex::of(
                        c.state.size,
                        awards.unwrap_or_default().into_iter(),
                        &[],
                        &[],
                    )
                })
                .page(before, limit),
            None => self.change_index().page(before, limit),
        }
    }

    /// When the event at `position` was recorded, if this instance has read it.
    pub(crate) fn recorded_at(&self, position: u64) -> Option<chrono::DateTime<chrono::Utc>> {
        let seconds = self.read_cache(|c| c.recorded_at.get(position as usize).copied())?;
        chrono::DateTime::from_timestamp(seconds, 0).filter(|_| seconds > 0)
    }

    /// An organisation's awards, oldest first, each with its status today (none when there is
    /// no such organisation).
    pub(crate) fn organisation_awards(
        &self,
        id: OrganisationId,
    ) -> Option<(String, Vec<(Award, Status)>)> {
        let today = self.today();
        self.read_cache(|c| {
            let organisation = c.state.organisations.get(&id)?;
            let awards = organisation
                .awards
                .iter()
                .filter_map(|n| c.state.awards.get(n))
                .map(|a| {
                    let status = status_as_of(a, &c.state.programme, today).status;
                    ((**a).clone(), status)
                })
                .collect();
            Some((organisation.name.to_string(), awards))
        })
    }

    /// Every award with its status today, in certificate number order, with the log size and
    /// the day they reflect: one consistent reading of the state, taken as shared pointers (a
    /// few bytes an award), so an export written from it holds no copy of the register and
    /// holds no lock while it is written.
    pub fn export_rows(&self) -> (u64, NaiveDate, Arc<[Row]>) {
        let today = self.today();
        self.read_cache(|c| {
            let rows = c
                .state
                .awards
                .values()
                .map(|a| (a.clone(), status_as_of(a, &c.state.programme, today).status))
                .collect();
            (c.state.size, today, rows)
        })
    }
}

/// The day a change took effect, when the log dates it.
fn change_day(change: &AwardChange) -> Option<NaiveDate> {
    match change {
        AwardChange::Issued { on, .. }
        | AwardChange::Suspended { on, .. }
        | AwardChange::Reinstated { on, .. }
        | AwardChange::Revoked { on, .. }
        | AwardChange::Superseded { on, .. }
        | AwardChange::Expired { on } => Some(*on),
        AwardChange::Amended { .. } => None,
    }
}
