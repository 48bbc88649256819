//! The rules for the registry's signing keys (add, retire, revoke) and its recorded address.

use crate::domain::DomainError;
use crate::domain::command::{AddressCommand, KeyCommand};
use crate::domain::events::Event;
use crate::domain::state::{SigningKey, State};
use crate::domain::types::{PublicUrl, Reason};

pub(super) fn decide_key(state: &State, command: KeyCommand) -> Result<Vec<Event>, DomainError> {
    match command {
        KeyCommand::Add {
            key_id,
            public_key_multibase,
        } => add_key(state, key_id, public_key_multibase),
        KeyCommand::Retire { key_id, at } => retire_key(state, key_id, at),
        KeyCommand::Revoke {
            key_id,
            compromised_since,
            reason,
        } => revoke_key(state, key_id, compromised_since, reason),
    }
}

pub(super) fn decide_address(
    state: &State,
    command: AddressCommand,
) -> Result<Vec<Event>, DomainError> {
    match command {
        AddressCommand::Record { public_url } => record_address(state, public_url),
        AddressCommand::Change { public_url, reason } => change_address(state, public_url, reason),
    }
}

/// Adds a signing key: key ids are never reused.
fn add_key(
    state: &State,
    key_id: String,
    public_key_multibase: String,
) -> Result<Vec<Event>, DomainError> {
    if state.keys.iter().any(|k| k.key_id == key_id) {
        return Err(DomainError::KeyIdTaken(key_id));
    }
    Ok(vec![Event::SigningKeyAdded {
        key_id,
        public_key_multibase,
    }])
}

/// Records the registry's address the first time; the same address again changes nothing, and
/// another is refused (moving is `change_address`).
fn record_address(state: &State, public_url: PublicUrl) -> Result<Vec<Event>, DomainError> {
    match &state.public_url {
        None => Ok(vec![Event::RegistryAddressRecorded {
            public_url,
            previous: None,
            reason: None,
        }]),
        Some(recorded) if *recorded == public_url => Ok(Vec::new()),
        Some(recorded) => Err(DomainError::RegistryAddressDiffers {
            recorded: recorded.clone(),
            given: public_url,
        }),
    }
}

/// Moves the registry to another address, saying why.
fn change_address(
    state: &State,
    public_url: PublicUrl,
    reason: Reason,
) -> Result<Vec<Event>, DomainError> {
    match &state.public_url {
        None => Err(DomainError::RegistryAddressNotRecorded),
        Some(recorded) if *recorded == public_url => {
            Err(DomainError::RegistryAddressUnchanged(public_url))
        }
        Some(recorded) => Ok(vec![Event::RegistryAddressRecorded {
            public_url,
            previous: Some(recorded.clone()),
            reason: Some(reason),
        }]),
    }
}

fn find_key<'a>(state: &'a State, key_id: &str) -> Result<&'a SigningKey, DomainError> {
    state
        .keys
        .iter()
        .find(|k| k.key_id == key_id)
        .ok_or_else(|| DomainError::KeyNotFound(key_id.to_owned()))
}

/// Retires a key that is active.
fn retire_key(state: &State, key_id: String, at: String) -> Result<Vec<Event>, DomainError> {
    let key = find_key(state, &key_id)?;
    if key.status() != "active" {
        return Err(DomainError::KeyNotActive {
            key_id,
            status: key.status(),
        });
    }
    Ok(vec![Event::SigningKeyRetired {
        key_id,
        retired_at: at,
    }])
}

/// Revokes a key not revoked yet, saying since when it was compromised.
fn revoke_key(
    state: &State,
    key_id: String,
    compromised_since: String,
    reason: Reason,
) -> Result<Vec<Event>, DomainError> {
    let key = find_key(state, &key_id)?;
    if key.revoked_since.is_some() {
        return Err(DomainError::KeyNotActive {
            key_id,
            status: "revoked",
        });
    }
    Ok(vec![Event::SigningKeyRevoked {
        key_id,
        compromised_since,
        reason,
    }])
}
