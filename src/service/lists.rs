//! The programme team's lists kept in their order, once a snapshot `Version` (log size and day):
//! the organisations by their name's search key then id, each with its current award and that
//! award's status on the day, with every name and ODS code in lower case in one text to search;
//! and the applications by the day submitted then id, with their state. A page of a list is then
//! a scan of small entries (or one substring search over one text) and a copy of a page's
//! worth: no request sorts the list, works out every award's status or lowers every name.
//! Invariant: a page holds the same entries, in the same order, as filtering and sorting the
//! state would (`queries.rs` states the rules; the console's and the admin API's tests hold them).

use chrono::NaiveDate;
use memchr::memmem;

use super::queries::{ApplicationQuery, ApplicationState, CurrentAward, OrganisationQuery, Page};
use crate::domain::state::Application;
use crate::domain::types::search_key;
use crate::domain::{OrganisationId, State, status_as_of};

/// One organisation as the lists find it.
#[derive(Debug)]
pub(crate) struct OrganisationEntry {
    pub(crate) id: OrganisationId,
    pub(crate) current_award: Option<CurrentAward>,
}

/// Every organisation in the lists' order, and the text a search looks in.
#[derive(Debug)]
pub(crate) struct OrganisationIndex {
    entries: Vec<OrganisationEntry>,
    /// Each entry's name and ODS code in lower case, each followed by a line break (which no
    /// name or code holds, so a match never spans two of them), in the entries' order.
    text: String,
    /// Where each entry's part of `text` begins.
    starts: Vec<usize>,
}

impl OrganisationIndex {
    /// The organisations of `state`, their current awards judged on `today`.
    pub(super) fn of(state: &State, today: NaiveDate) -> OrganisationIndex {
        let mut sorted: Vec<(String, OrganisationId)> = state
            .organisations
            .values()
            .map(|o| (search_key(o.name.as_str()), o.id))
            .collect();
        sorted.sort_unstable();
        let mut entries = Vec::with_capacity(sorted.len());
        let mut text = String::new();
        let mut starts = Vec::with_capacity(sorted.len());
        for (_, id) in sorted {
            let Some(organisation) = state.organisations.get(&id) else {
                continue;
            };
            starts.push(text.len());
            text.push_str(&organisation.name.as_str().to_lowercase());
            text.push('\n');
            if let Some(code) = &organisation.ods_code {
                text.push_str(&code.as_str().to_lowercase());
            }
            text.push('\n');
            let current_award = state.current_award(id).map(|a| CurrentAward {
                certificate_number: a.certificate_number.clone(),
                level: a.level,
                status: status_as_of(a, &state.programme, today).status,
            });
            entries.push(OrganisationEntry { id, current_award });
        }
        OrganisationIndex {
            entries,
            text,
            starts,
        }
    }

    /// The page of entries `query` asks for (its text found, whatever the case, in the name or
    /// the ODS code; its award filter), with how many match in all.
    pub(crate) fn page(&self, query: &OrganisationQuery) -> Page<&OrganisationEntry> {
        let admitted = |e: &&OrganisationEntry| query.award.admits(e.current_award.as_ref());
        match query.text.as_deref().map(str::to_lowercase) {
            None => query.page.of_filtered(self.entries.iter().filter(admitted)),
            // No name or code holds a line break: a text with one finds nothing.
            Some(needle) if needle.contains('\n') => Page {
                items: Vec::new(),
                total: 0,
            },
            Some(needle) => query
                .page
                .of_filtered(self.holding(&needle).filter(admitted)),
        }
    }

    /// The entries whose name or ODS code holds `needle` (lower case, no line break), in order.
    fn holding<'a>(
        &'a self,
        needle: &str,
    ) -> impl Iterator<Item = &'a OrganisationEntry> + use<'a> {
        let finder = memmem::Finder::new(needle.as_bytes()).into_owned();
        let mut from = 0;
        std::iter::from_fn(move || {
            let at = from + finder.find(self.text.as_bytes().get(from..)?)?;
            let entry = self.starts.partition_point(|&s| s <= at) - 1;
            from = self
                .starts
                .get(entry + 1)
                .copied()
                .unwrap_or(self.text.len());
            self.entries.get(entry)
        })
    }
}

/// One application as the lists find it.
#[derive(Debug)]
pub(crate) struct ApplicationEntry {
    pub(crate) application_id: String,
    cycle_id: String,
    state: ApplicationState,
}

/// Every application in the order submitted (by day, then by id).
#[derive(Debug)]
pub(crate) struct ApplicationIndex {
    entries: Vec<ApplicationEntry>,
}

impl ApplicationIndex {
    pub(super) fn of(state: &State) -> ApplicationIndex {
        let mut sorted: Vec<&Application> = state.applications.values().collect();
        sorted.sort_by(|a, b| {
            a.submitted_on
                .cmp(&b.submitted_on)
                .then_with(|| a.application_id.cmp(&b.application_id))
        });
        ApplicationIndex {
            entries: sorted
                .into_iter()
                .map(|a| ApplicationEntry {
                    application_id: a.application_id.clone(),
                    cycle_id: a.cycle_id.clone(),
                    state: ApplicationState::of(a),
                })
                .collect(),
        }
    }

    /// The page `query` asks for, in the order submitted; with `awaiting_first`, those
    /// awaiting a decision come before the rest, each group in the order submitted.
    pub(crate) fn page(
        &self,
        query: &ApplicationQuery,
        awaiting_first: bool,
    ) -> Page<&ApplicationEntry> {
        let matching = |e: &&ApplicationEntry| {
            query.cycle_id.as_ref().is_none_or(|id| e.cycle_id == *id)
                && query.state.is_none_or(|s| e.state == s)
        };
        let all = self.entries.iter().filter(matching);
        if !awaiting_first {
            return query.page.of_filtered(all);
        }
        let awaiting = |e: &&ApplicationEntry| e.state == ApplicationState::AwaitingDecision;
        let first = all.clone().filter(awaiting);
        let rest = all.filter(move |e| !awaiting(e));
        query.page.of_filtered(first.chain(rest))
    }
}
