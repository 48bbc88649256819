//! Named reads, all from memory so they go on while the database is away: an award, its verdict
//! on a date, the programme, a page of the register, the log's events, and the forgiving
//! look-ups (`domain::search`) for a mistyped number or name.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;

use super::{Registry, ServiceError};
use crate::domain::state::Application;
use crate::domain::types::search_key;
use crate::domain::{
    Award, CertificateNumber, Organisation, OrganisationId, Programme, Status, search, status_as_of,
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
        let matching = register.matching(&query);
        let total = matching.len() as u64;
        let today = self.today();
        let page = self.read_cache(|c| {
            matching
                .into_iter()
                .skip(query.offset as usize)
                .take(query.limit as usize)
                .filter_map(|row| {
                    let number: CertificateNumber = row.certificate_number.parse().ok()?;
                    let award = c.state.awards.get(&number)?;
                    let status = status_as_of(award, &c.state.programme, today).status;
                    Some((row.clone(), status))
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
