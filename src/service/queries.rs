//! Named reads, all from memory so they go on while the database is away: an award, its verdict
//! on a date, the programme, a page of the register, the log's events, the forgiving
//! look-ups (`domain::search`) for a mistyped number or name, and the programme team's lists of
//! organisations and applications.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;
use serde::Serialize;

use super::{Registry, ServiceError};
use crate::domain::events::DecisionOutcome;
use crate::domain::state::Application;
use crate::domain::types::search_key;
use crate::domain::{
    Award, CertificateNumber, Level, Name, Organisation, OrganisationId, Programme, State, Status,
    search, status_as_of,
};
use crate::error_codes::ErrorCode;
use crate::store::{AwardRow, EventStore, RegisterQuery, StoredEvent};

impl Registry {
    /// An award (shared, not copied) and the programme it is judged under.
    pub fn award(&self, number: &CertificateNumber) -> Option<(Arc<Award>, Programme)> {
        self.read_cache(|c| {
            c.state
                .awards
                .get(number)
                .map(|a| (a.clone(), c.state.programme.clone()))
        })
    }

    /// The id of the key the log says is active, if any.
    pub(crate) fn active_key_id(&self) -> Option<String> {
        self.read_cache(|c| c.state.active_key().map(|k| k.key_id.clone()))
    }

    /// The address the log records for the registry, if any.
    pub(crate) fn public_url(&self) -> Option<crate::domain::PublicUrl> {
        self.read_cache(|c| c.state.public_url.clone())
    }

    pub(crate) fn programme(&self) -> Programme {
        self.read_cache(|c| c.state.programme.clone())
    }

    /// A page of the register with each award's status today, from memory: the register stays
    /// searchable while the database is away. The same matches, order and pages as the
    /// projection tables give (`EventStore::search`; a test holds the two together).
    pub fn search(&self, query: RegisterQuery) -> (Vec<(AwardRow, Status)>, u64) {
        let register = self.register_index();
        let (from, limit) = (query.offset as usize, query.limit as usize);
        let mut rows = Vec::new();
        let mut total = 0;
        for (i, row) in register.matching(&query).enumerate() {
            if i >= from && rows.len() < limit {
                rows.push(row);
            }
            total += 1;
        }
        let today = self.today();
        let page = self.read_cache(|c| {
            rows.into_iter()
                .filter_map(|row| {
                    // The row as the index holds it; its status as of the state now.
                    let award = c.state.awards.get(&row.award.certificate_number)?;
                    let status = status_as_of(award, &c.state.programme, today).status;
                    Some((crate::projection::award_row(row.award), status))
                })
                .collect()
        });
        (page, total)
    }

    pub(crate) async fn events(
        &self,
        from: u64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, ServiceError> {
        use crate::limits::MAX_POSITION;
        if from > MAX_POSITION {
            return Err(ServiceError::Invalid {
                code: ErrorCode::PositionOutOfRange,
                message: format!("a log position is 0 to {MAX_POSITION}; {from} is not"),
            });
        }
        Ok(self.log.store.read(from, limit).await?)
    }

    /// Awards in the register one slip away from `input`: one character changed, or two
    /// neighbours swapped. For a number whose check character does not match.
    pub(crate) fn near_misses(&self, input: &str) -> Vec<(String, String)> {
        let candidates = search::near_miss_candidates(input);
        self.read_cache(|c| search::registered(&c.state, &candidates))
    }

    /// Awards whose organisation's name matches `query` allowing a slip in each word (one
    /// wrong letter in a short word, two in a long one): for a search with no exact match.
    /// Drawn from the candidates the register index narrows to, within a fixed budget, and kept
    /// per query until the register moves (`RegisterIndex::near_names`).
    pub fn fuzzy_matches(&self, query: &str, limit: usize) -> Vec<(String, String)> {
        self.register_index().near_names(query, limit).to_vec()
    }

    // Reads for the admin API and the import.

    /// An organisation, by its id.
    /// The organisation's current award's number, if it holds one.
    pub(crate) fn current_award_of(&self, id: OrganisationId) -> Option<CertificateNumber> {
        self.read_cache(|c| {
            c.state
                .current_award(id)
                .map(|a| a.certificate_number.clone())
        })
    }

    pub(crate) fn organisation(&self, id: &OrganisationId) -> Option<Organisation> {
        self.read_cache(|c| c.state.organisations.get(id).cloned())
    }

    /// The days an organisation attended a drop-in session (none when it has not).
    pub(crate) fn drop_ins(&self, organisation_id: &OrganisationId) -> Vec<NaiveDate> {
        self.read_cache(|c| {
            c.state
                .drop_ins
                .get(organisation_id)
                .cloned()
                .unwrap_or_default()
        })
    }

    /// An application, by its id.
    pub(crate) fn application(&self, id: &str) -> Option<Application> {
        self.read_cache(|c| c.state.applications.get(id).cloned())
    }

    /// The registered organisations as an import finds them: by ODS code those that have one,
    /// by their name's search key (`domain::types::search_key`) those that have none.
    pub(crate) fn organisations_by_ods_and_name(&self) -> OrganisationsByKey {
        self.read_cache(|c| {
            let organisations = c.state.organisations.values();
            OrganisationsByKey {
                by_ods: organisations
                    .clone()
                    .filter_map(|o| o.ods_code.as_ref().map(|code| (code.to_string(), o.id)))
                    .collect(),
                by_name: organisations
                    .filter(|o| o.ods_code.is_none())
                    .map(|o| (search_key(o.name.as_str()), o.id))
                    .collect(),
            }
        })
    }
}

/// The registered organisations by ODS code, and by name's search key for those without one.
#[derive(Debug, Clone, Default)]
pub(crate) struct OrganisationsByKey {
    pub(crate) by_ods: HashMap<String, OrganisationId>,
    pub(crate) by_name: HashMap<String, OrganisationId>,
}

impl Registry {
    // Named reads for the command line.

    /// Whether any organisation is registered (the demo loads only into an empty register).
    pub(crate) fn has_organisations(&self) -> bool {
        self.read_cache(|c| !c.state.organisations.is_empty())
    }

    /// Every signing key the log has published, oldest first, with its state.
    pub(crate) fn signing_keys(&self) -> Vec<crate::domain::state::SigningKey> {
        self.read_cache(|c| c.state.keys.clone())
    }

    /// Whether the log has published the signing key `key_id`.
    pub(crate) fn knows_key(&self, key_id: &str) -> bool {
        self.read_cache(|c| c.state.keys.iter().any(|k| k.key_id == key_id))
    }
}

/// One page of a list, and how many the whole list holds.
#[derive(Debug, Clone)]
pub(crate) struct Page<T> {
    pub(crate) items: Vec<T>,
    pub(crate) total: u64,
}

/// Where a page starts in a list (counting from 0) and how many it holds at most.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageOf {
    pub(crate) from: u64,
    pub(crate) limit: u32,
}

impl PageOf {
    /// The page of `rows` this asks for, with how many there were, counting them as they come.
    pub(super) fn of_filtered<T>(self, rows: impl Iterator<Item = T>) -> Page<T> {
        let from = usize::try_from(self.from).unwrap_or(usize::MAX);
        let limit = self.limit as usize;
        let mut items = Vec::new();
        let mut total = 0;
        for (i, row) in rows.enumerate() {
            if i >= from && items.len() < limit {
                items.push(row);
            }
            total += 1;
        }
        Page { items, total }
    }
}

/// Which organisations a list holds, by their award: those with an award valid or suspended
/// today (`Current`), those without one (`None`: never awarded, or their last award expired,
/// was revoked or not yet valid), or all (`Any`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum AwardFilter {
    None,
    Current,
    #[default]
    Any,
}

impl AwardFilter {
    /// The words a filter is written in, as a refusal names them.
    pub(crate) const WORDS: &'static str = "none, current or any";

    pub(crate) fn parse(text: &str) -> Option<AwardFilter> {
        match text {
            "none" => Some(AwardFilter::None),
            "current" => Some(AwardFilter::Current),
            "any" => Some(AwardFilter::Any),
            _ => None,
        }
    }

    pub(super) fn admits(self, award: Option<&CurrentAward>) -> bool {
        let held = award.is_some_and(|a| matches!(a.status, Status::Valid | Status::Suspended));
        match self {
            AwardFilter::None => !held,
            AwardFilter::Current => held,
            AwardFilter::Any => true,
        }
    }
}

/// A search of the organisations: `text` (already trimmed; none matches all) is found in the
/// name or the ODS code, whatever the case.
#[derive(Debug, Clone)]
pub(crate) struct OrganisationQuery {
    pub(crate) text: Option<String>,
    pub(crate) award: AwardFilter,
    pub(crate) page: PageOf,
}

/// An organisation's current award (`State::current_award`: its newest neither revoked nor
/// superseded) and its status today.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct CurrentAward {
    pub(crate) certificate_number: CertificateNumber,
    pub(crate) level: Level,
    pub(crate) status: Status,
}

/// An organisation as the programme team's list shows it.
#[derive(Debug, Clone)]
pub(crate) struct ListedOrganisation {
    pub(crate) organisation: Organisation,
    pub(crate) current_award: Option<CurrentAward>,
}

/// Where an application stands, in the domain's words: no decision yet, or the decision's
/// outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ApplicationState {
    AwaitingDecision,
    Awarded,
    NotAwarded,
}

impl ApplicationState {
    /// The words a state is written in, as a refusal names them.
    pub(crate) const WORDS: &'static str = "awaiting_decision, awarded or not_awarded";

    pub(crate) fn parse(text: &str) -> Option<ApplicationState> {
        match text {
            "awaiting_decision" => Some(ApplicationState::AwaitingDecision),
            "awarded" => Some(ApplicationState::Awarded),
            "not_awarded" => Some(ApplicationState::NotAwarded),
            _ => None,
        }
    }

    pub(super) fn of(application: &Application) -> ApplicationState {
        match application.decision.as_ref().map(|d| &d.outcome) {
            None => ApplicationState::AwaitingDecision,
            Some(DecisionOutcome::Awarded { .. }) => ApplicationState::Awarded,
            Some(DecisionOutcome::NotAwarded) => ApplicationState::NotAwarded,
        }
    }
}

/// Which applications a list holds: those of a cycle, in a state, or all.
#[derive(Debug, Clone)]
pub(crate) struct ApplicationQuery {
    pub(crate) cycle_id: Option<String>,
    pub(crate) state: Option<ApplicationState>,
    pub(crate) page: PageOf,
}

/// An application as the programme team's list shows it (its evidence is read one at a time,
/// `Registry::application`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ListedApplication {
    pub(crate) application_id: String,
    pub(crate) organisation_id: OrganisationId,
    /// The organisation's name now (none only if the log names an organisation it never
    /// registered).
    pub(crate) organisation_name: Option<Name>,
    pub(crate) cycle_id: String,
    pub(crate) level_sought: Level,
    pub(crate) submitted_on: NaiveDate,
    pub(crate) state: ApplicationState,
    pub(crate) decided_on: Option<NaiveDate>,
    /// The award the decision issued, if it was awarded.
    pub(crate) certificate_number: Option<CertificateNumber>,
}

impl ListedApplication {
    fn of(state: &State, application: &Application) -> ListedApplication {
        let decision = application.decision.as_ref();
        ListedApplication {
            application_id: application.application_id.clone(),
            organisation_id: application.organisation_id,
            organisation_name: state
                .organisations
                .get(&application.organisation_id)
                .map(|o| o.name.clone()),
            cycle_id: application.cycle_id.clone(),
            level_sought: application.level_sought,
            submitted_on: application.submitted_on,
            state: ApplicationState::of(application),
            decided_on: decision.map(|d| d.decided_on),
            certificate_number: decision.and_then(|d| match &d.outcome {
                DecisionOutcome::Awarded {
                    certificate_number, ..
                } => Some(certificate_number.clone()),
                DecisionOutcome::NotAwarded => None,
            }),
        }
    }
}

impl Registry {
    // The programme team's lists, from memory.

    /// A page of the organisations `query` matches, by name (as the register orders names,
    /// then by id), each with its current award and that award's status today: from the
    /// snapshot's list (`lists::OrganisationIndex`).
    pub(crate) fn organisations_listed(
        &self,
        query: &OrganisationQuery,
    ) -> Page<ListedOrganisation> {
        let index = self.organisation_index();
        let page = index.page(query);
        self.read_cache(|c| Page {
            items: page
                .items
                .into_iter()
                .filter_map(|entry| {
                    Some(ListedOrganisation {
                        organisation: c.state.organisations.get(&entry.id)?.clone(),
                        current_award: entry.current_award.clone(),
                    })
                })
                .collect(),
            total: page.total,
        })
    }

    /// A page of the applications `query` matches, in the order they were submitted (by day,
    /// then by id).
    pub(crate) fn applications_listed(&self, query: &ApplicationQuery) -> Page<ListedApplication> {
        self.applications_page(query, false)
    }

    /// The queue: a page of the applications `query` matches, those awaiting a decision
    /// first, each group in the order submitted.
    pub(crate) fn applications_queue(&self, query: &ApplicationQuery) -> Page<ListedApplication> {
        self.applications_page(query, true)
    }

    fn applications_page(
        &self,
        query: &ApplicationQuery,
        awaiting_first: bool,
    ) -> Page<ListedApplication> {
        let index = self.application_index();
        let page = index.page(query, awaiting_first);
        self.read_cache(|c| Page {
            items: page
                .items
                .into_iter()
                .filter_map(|entry| {
                    let application = c.state.applications.get(&entry.application_id)?;
                    Some(ListedApplication::of(&c.state, application))
                })
                .collect(),
            total: page.total,
        })
    }
}
