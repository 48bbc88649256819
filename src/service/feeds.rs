//! Named reads for those who follow the register without polling it: the public changes newest
//! first (the Atom feeds), an organisation's awards (its calendar), and a snapshot of every
//! award with its status today (the open data exports). All from memory, so they
//! go on while the database is away; none of them can reach a private event, since they read
//! only awards' public histories and the programme's changes.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use chrono::NaiveDate;

use super::Registry;
use crate::domain::state::{AwardChange, ProgrammeChange};
use crate::domain::{Award, Level, OrganisationId, Status, status_as_of};
use crate::render::export::Row;

/// What a feed entry names of the award it is about (its public fields only).
#[derive(Debug, Clone)]
pub struct AwardSummary {
    pub certificate_number: String,
    pub organisation_id: OrganisationId,
    pub organisation_name: String,
    pub level: Level,
    pub awarded_on: NaiveDate,
    pub valid_until: NaiveDate,
}

impl AwardSummary {
    fn of(award: &Award) -> AwardSummary {
        AwardSummary {
            certificate_number: award.certificate_number.to_string(),
            organisation_id: award.organisation_id,
            organisation_name: award.organisation_name.to_string(),
            level: award.level,
            awarded_on: award.awarded_on,
            valid_until: award.valid_until,
        }
    }
}

/// One public change, at its log position.
#[derive(Debug, Clone)]
pub enum PublicChange {
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
}

impl PublicChange {
    pub fn position(&self) -> u64 {
        match self {
            PublicChange::Award { position, .. } | PublicChange::Programme { position, .. } => {
                *position
            }
        }
    }

    pub fn on(&self) -> NaiveDate {
        match self {
            PublicChange::Award { on, .. } => *on,
            PublicChange::Programme { change, .. } => change.effective_from,
        }
    }
}

/// A page of public changes, newest first, and the cursors of the pages beside it.
#[derive(Debug, Clone, Default)]
pub struct ChangesPage {
    pub entries: Vec<PublicChange>,
    /// The `before` cursor of the next (older) page, when there are older changes.
    pub older: Option<u64>,
    /// The previous (newer) page, when this is not the first: `Some(None)` is the first page,
    /// `Some(Some(p))` the page before `p`.
    pub newer: Option<Option<u64>>,
    /// The newest change of the whole feed (not only this page), for the feed's `updated`.
    pub newest_on: Option<NaiveDate>,
}

impl Registry {
    /// The public changes (of one organisation's awards, or of every award and the programme)
    /// older than `before`, newest first, at most `limit`.
    pub fn public_changes(
        &self,
        organisation: Option<OrganisationId>,
        before: Option<u64>,
        limit: usize,
    ) -> ChangesPage {
        let limit = limit.max(1);
        let before = before.unwrap_or(u64::MAX);
        self.read_cache(|c| {
            let awards: Vec<&Award> = match organisation {
                Some(id) => c
                    .state
                    .organisations
                    .get(&id)
                    .map(|o| {
                        o.awards
                            .iter()
                            .filter_map(|n| c.state.awards.get(n).map(|a| &**a))
                            .collect()
                    })
                    .unwrap_or_default(),
                None => c.state.awards.values().map(|a| &**a).collect(),
            };
            let programme: &[ProgrammeChange] = if organisation.is_some() {
                &[]
            } else {
                &c.state.programme.changes
            };
            let positions = || {
                awards
                    .iter()
                    .flat_map(|a| a.history.iter().map(|h| h.position))
                    .chain(programme.iter().map(|p| p.position))
            };
            let (chosen, older, newer) = choose_page(positions(), before, limit);
            let newest = positions().max();
            let (mut entries, newest_on) = entries_at(&awards, programme, &chosen, newest);
            entries.sort_unstable_by_key(|e| Reverse(e.position()));
            ChangesPage {
                entries,
                older,
                newer,
                newest_on,
            }
        })
    }

    /// An organisation's awards, oldest first, each with its status today (none when there is
    /// no such organisation).
    pub fn organisation_awards(
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
        | AwardChange::Reinstated { on }
        | AwardChange::Revoked { on, .. }
        | AwardChange::Superseded { on, .. }
        | AwardChange::Expired { on } => Some(*on),
        AwardChange::Amended { .. } => None,
    }
}

/// The positions of one page of changes, newest first: the `limit` newest below `before`; the
/// cursor of the page after it (older), if any; and of the page before it (newer): `None` when
/// nothing is newer, `Some(None)` when the newer page is the first. Only the `limit + 1`
/// newest below the cursor and the `limit + 1` oldest at or above it are kept, without
/// sorting the whole history.
fn choose_page(
    positions: impl Iterator<Item = u64>,
    before: u64,
    limit: usize,
) -> (Vec<u64>, Option<u64>, Option<Option<u64>>) {
    let mut page: BinaryHeap<Reverse<u64>> = BinaryHeap::new();
    let mut above: BinaryHeap<u64> = BinaryHeap::new();
    for p in positions {
        if p < before {
            page.push(Reverse(p));
            if page.len() > limit + 1 {
                page.pop();
            }
        } else {
            above.push(p);
            if above.len() > limit + 1 {
                above.pop();
            }
        }
    }
    let mut chosen: Vec<u64> = page.into_iter().map(|Reverse(p)| p).collect();
    chosen.sort_unstable_by(|a, b| b.cmp(a));
    let older = (chosen.len() > limit).then(|| chosen[limit - 1]);
    chosen.truncate(limit);
    let newer = (!above.is_empty()).then(|| {
        // The newer page holds the `limit` oldest changes at or above the cursor; its own
        // cursor is the one just above them, if any.
        (above.len() > limit)
            .then(|| above.peek().copied())
            .flatten()
    });
    (chosen, older, newer)
}

/// The changes at the `chosen` positions (sorted newest first), and the day the `newest`
/// change took effect.
fn entries_at(
    awards: &[&Award],
    programme: &[ProgrammeChange],
    chosen: &[u64],
    newest: Option<u64>,
) -> (Vec<PublicChange>, Option<NaiveDate>) {
    let mut entries = Vec::with_capacity(chosen.len());
    let mut newest_on = None;
    for a in awards {
        let mut last_day = a.awarded_on;
        for h in &a.history {
            let on = change_day(&h.change).unwrap_or(last_day);
            last_day = on;
            if Some(h.position) == newest {
                newest_on = Some(on);
            }
            if chosen.binary_search_by(|p| h.position.cmp(p)).is_ok() {
                entries.push(PublicChange::Award {
                    position: h.position,
                    award: AwardSummary::of(a),
                    change: h.change.clone(),
                    on,
                });
            }
        }
    }
    for p in programme {
        if Some(p.position) == newest {
            newest_on = Some(p.effective_from);
        }
        if chosen.binary_search_by(|q| p.position.cmp(q)).is_ok() {
            entries.push(PublicChange::Programme {
                position: p.position,
                change: p.clone(),
            });
        }
    }
    (entries, newest_on)
}
