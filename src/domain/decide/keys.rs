//! The rules for the registry's signing keys (add, retire, revoke) and its recorded address.

use crate::domain::events::Event;
use crate::domain::state::State;
use crate::domain::{Command, DomainError};

use super::Context;

pub(super) fn decide(
    state: &State,
    command: Command,
    _ctx: &Context,
) -> Result<Vec<Event>, DomainError> {
    match command {
        Command::AddSigningKey {
            key_id,
            public_key_multibase,
        } => {
            if state.keys.iter().any(|k| k.key_id == key_id) {
                return Err(DomainError::KeyIdTaken(key_id));
            }
            Ok(vec![Event::SigningKeyAdded {
                key_id,
                public_key_multibase,
            }])
        }
        Command::RecordRegistryAddress { public_url } => match &state.public_url {
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
        },
        Command::ChangeRegistryAddress { public_url, reason } => match &state.public_url {
            None => Err(DomainError::RegistryAddressNotRecorded),
            Some(recorded) if *recorded == public_url => {
                Err(DomainError::RegistryAddressUnchanged(public_url))
            }
            Some(recorded) => Ok(vec![Event::RegistryAddressRecorded {
                public_url,
                previous: Some(recorded.clone()),
                reason: Some(reason),
            }]),
        },
        Command::RetireSigningKey { key_id, at } => {
            let key = state
                .keys
                .iter()
                .find(|k| k.key_id == key_id)
                .ok_or_else(|| DomainError::KeyNotFound(key_id.clone()))?;
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
        Command::RevokeSigningKey {
            key_id,
            compromised_since,
            reason,
        } => {
            let key = state
                .keys
                .iter()
                .find(|k| k.key_id == key_id)
                .ok_or_else(|| DomainError::KeyNotFound(key_id.clone()))?;
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
        other => {
            unreachable!("`decide` dispatches only key and address commands here, not {other:?}")
        }
    }
}
