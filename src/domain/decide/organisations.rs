//! The rules for organisations: registering one (with its first award) and amending one.

use crate::domain::DomainError;
use crate::domain::command::OrganisationCommand;
use crate::domain::events::Event;
use crate::domain::state::State;

pub(super) fn decide(
    state: &State,
    command: OrganisationCommand,
) -> Result<Vec<Event>, DomainError> {
    match command {
        OrganisationCommand::Register {
            organisation_id,
            name,
            ods_code,
            region,
            kind,
        } => {
            if state.organisations.contains_key(&organisation_id) {
                return Err(DomainError::OrganisationExists(organisation_id));
            }
            if let Some(ods) = &ods_code
                && state.organisation_by_ods(ods).is_some()
            {
                return Err(DomainError::OdsCodeTaken(ods.clone()));
            }
            Ok(vec![Event::OrganisationRegistered {
                organisation_id,
                name,
                ods_code,
                region,
                kind,
            }])
        }
        OrganisationCommand::Amend {
            organisation_id,
            name,
            ods_code,
            region,
            reason,
        } => {
            let org = state
                .organisations
                .get(&organisation_id)
                .ok_or(DomainError::OrganisationNotFound(organisation_id))?;
            if let Some(ods) = &ods_code
                && let Some(other) = state.organisation_by_ods(ods)
                && other.id != organisation_id
            {
                return Err(DomainError::OdsCodeTaken(ods.clone()));
            }
            let name = name.filter(|n| *n != org.name);
            let ods_code = ods_code.filter(|c| Some(c) != org.ods_code.as_ref());
            let region = region.filter(|r| *r != org.region);
            if name.is_none() && ods_code.is_none() && region.is_none() {
                return Err(DomainError::NothingToAmend);
            }
            Ok(vec![Event::OrganisationAmended {
                organisation_id,
                name,
                ods_code,
                region,
                reason,
            }])
        }
    }
}
