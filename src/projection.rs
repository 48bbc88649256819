//! Projections: the rows of the `organisations` and `awards` tables, a pure function of the
//! state. The writer stores the rows an append touches in the same transaction; `rebuild` stores
//! them all from a replay, which must give identical tables.

use std::collections::HashSet;

use crate::domain::types::search_key;
use crate::domain::{Award, CertificateNumber, Event, Organisation, OrganisationId, State};
use crate::store::{AwardRow, OrganisationRow, Write};

pub(crate) fn organisation_row(o: &Organisation) -> OrganisationRow {
    OrganisationRow {
        organisation_id: o.id.to_string(),
        name: o.name.to_string(),
        search_key: search_key(o.name.as_str()),
        ods_code: o.ods_code.as_ref().map(ToString::to_string),
        region: o.region.as_str().to_owned(),
        kind: o.kind.as_str().to_owned(),
    }
}

pub(crate) fn award_row(a: &Award) -> AwardRow {
    AwardRow {
        certificate_number: a.certificate_number.to_string(),
        compact_number: a.certificate_number.compact(),
        organisation_id: a.organisation_id.to_string(),
        organisation_name: a.organisation_name.to_string(),
        search_key: search_key(a.organisation_name.as_str()),
        ods_code: a.ods_code.as_ref().map(ToString::to_string),
        region: a.region.as_str().to_owned(),
        level: a.level.as_str().to_owned(),
        awarded_on: a.awarded_on.to_string(),
        valid_until: a.valid_until.to_string(),
        expires_on: a.expires_on().to_string(),
        standing: a.standing.as_str().to_owned(),
        issuer_name: a.issuer_name.to_string(),
    }
}

/// The rows `events` change, read from `after`: the state once they are applied.
pub(crate) fn writes_for(after: &State, events: &[Event]) -> Vec<Write> {
    let (orgs, awards) = touched(events);
    let mut writes: Vec<Write> = Vec::with_capacity(orgs.len() + awards.len());
    writes.extend(organisation_writes(after, &orgs));
    writes.extend(award_writes(after, &awards));
    writes
}

/// The organisations and the awards whose rows `events` change, each once, where first named:
/// an import names every award twice, its issue and then, after every issue, its credential.
pub(crate) fn touched(events: &[Event]) -> (Vec<OrganisationId>, Vec<CertificateNumber>) {
    let mut orgs: Vec<OrganisationId> = Vec::new();
    let mut awards: Vec<CertificateNumber> = Vec::new();
    let mut seen_orgs = HashSet::new();
    let mut seen_awards = HashSet::new();
    for event in events {
        match event {
            Event::OrganisationRegistered {
                organisation_id, ..
            }
            | Event::OrganisationAmended {
                organisation_id, ..
            } => {
                if seen_orgs.insert(*organisation_id) {
                    orgs.push(*organisation_id);
                }
            }
            other => {
                if let Some(n) = other.certificate_number()
                    && seen_awards.insert(n)
                {
                    awards.push(n.clone());
                }
            }
        }
    }
    (orgs, awards)
}

/// The rows of the organisations `ids`, as `after` holds them.
pub(crate) fn organisation_writes<'a>(
    after: &'a State,
    ids: &'a [OrganisationId],
) -> impl Iterator<Item = Write> + 'a {
    ids.iter()
        .filter_map(|id| after.organisations.get(id))
        .map(|o| Write::Organisation(organisation_row(o)))
}

/// The rows of the awards `numbers`, as `after` holds them.
pub(crate) fn award_writes<'a>(
    after: &'a State,
    numbers: &'a [CertificateNumber],
) -> impl Iterator<Item = Write> + 'a {
    numbers
        .iter()
        .filter_map(|n| after.awards.get(n))
        .map(|a| Write::Award(award_row(a)))
}

/// Every projection row of a state, in the order the store lists them.
pub fn all_rows(state: &State) -> (Vec<OrganisationRow>, Vec<AwardRow>) {
    let mut orgs: Vec<OrganisationRow> =
        state.organisations.values().map(organisation_row).collect();
    orgs.sort_by(|a, b| a.organisation_id.cmp(&b.organisation_id));
    let mut awards: Vec<AwardRow> = state.awards.values().map(|a| award_row(a)).collect();
    awards.sort_by(|a, b| a.certificate_number.cmp(&b.certificate_number));
    (orgs, awards)
}

/// A scratch copy of just the part of `state` that `events` touch (their organisations with all
/// their awards, the programme), to apply them to without copying the whole register.
pub(crate) fn scratch_for(state: &State, events: &[Event]) -> State {
    let mut scratch = State::default();
    scratch.programme = state.programme.clone();
    scratch.keys = state.keys.clone();
    scratch.public_url = state.public_url.clone();
    scratch.size = state.size;
    for event in events {
        let org_id = match event {
            Event::OrganisationRegistered {
                organisation_id, ..
            }
            | Event::OrganisationAmended {
                organisation_id, ..
            }
            | Event::AwardIssued {
                organisation_id, ..
            } => *organisation_id,
            other => match other.certificate_number().and_then(|n| state.awards.get(n)) {
                Some(award) => award.organisation_id,
                None => continue,
            },
        };
        if let Some(org) = state.organisations.get(&org_id) {
            for number in &org.awards {
                if let Some(award) = state.awards.get(number) {
                    scratch.awards.insert(number.clone(), award.clone());
                }
            }
            scratch.insert_organisation(org.clone());
        }
    }
    scratch
}
