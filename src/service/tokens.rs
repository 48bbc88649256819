//! API tokens: created and revoked as events (the secret shown once, stored only as a hash),
//! and the bearer token of a request turned into the actor it stands for.

use chrono::SecondsFormat;
use rand::Rng;
use sha2::{Digest, Sha256};

use super::{Actor, Registry, Role, ServiceError};
use crate::domain::Event;
use crate::error_codes::ErrorCode;
use crate::store::{EventStore, TokenRow, Write};

impl Registry {
    /// Creates an API token; returns its id and the token itself, which is shown once and stored
    /// only as a hash.
    pub async fn create_token(
        &self,
        actor: &Actor,
        name: &str,
        role: Role,
    ) -> Result<(String, String), ServiceError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(ServiceError::Invalid {
                code: ErrorCode::TokenNameInvalid,
                message: "a token's name is 1 to 100 characters saying whose it is".into(),
            });
        }
        let (token_id, secret) = {
            let mut rng = self
                .rng
                .lock()
                .expect("the random source's lock is never poisoned");
            let id: [u8; 6] = rng.r#gen();
            let secret: [u8; 32] = rng.r#gen();
            (hex::encode(id), hex::encode(secret))
        };
        let row = TokenRow {
            token_id: token_id.clone(),
            name: name.to_owned(),
            role: role.as_str().to_owned(),
            secret_hash: hash_secret(&secret),
            created_at: self.now().to_rfc3339_opts(SecondsFormat::Secs, true),
            revoked_at: None,
        };
        self.append_plain(
            actor,
            vec![Event::ApiTokenCreated {
                token_id: token_id.clone(),
                role: role.as_str().to_owned(),
            }],
            vec![Write::TokenCreated(row)],
        )
        .await?;
        let token = format!("wexqs_{token_id}_{secret}");
        Ok((token_id, token))
    }

    pub async fn revoke_token(&self, actor: &Actor, token_id: &str) -> Result<(), ServiceError> {
        match self.log.store.token(token_id).await? {
            Some(t) if t.revoked_at.is_none() => {}
            _ => {
                return Err(ServiceError::Invalid {
                    code: ErrorCode::TokenNotFound,
                    message: format!("no active token has the id {token_id:?}"),
                });
            }
        }
        self.append_plain(
            actor,
            vec![Event::ApiTokenRevoked {
                token_id: token_id.to_owned(),
            }],
            vec![Write::TokenRevoked {
                token_id: token_id.to_owned(),
                at: self.now().to_rfc3339_opts(SecondsFormat::Secs, true),
            }],
        )
        .await?;
        Ok(())
    }

    /// The actor a bearer token stands for.
    pub(crate) async fn authenticate(&self, token: &str) -> Result<Actor, ServiceError> {
        let rest = token
            .strip_prefix("wexqs_")
            .ok_or(ServiceError::Unauthenticated)?;
        let (id, secret) = rest.split_once('_').ok_or(ServiceError::Unauthenticated)?;
        let row = self
            .log
            .store
            .token(id)
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        let matches: bool = subtle::ConstantTimeEq::ct_eq(
            hash_secret(secret).as_bytes(),
            row.secret_hash.as_bytes(),
        )
        .into();
        if !matches || row.revoked_at.is_some() {
            return Err(ServiceError::Unauthenticated);
        }
        let role = Role::parse(&row.role).ok_or(ServiceError::Unauthenticated)?;
        Ok(Actor {
            id: format!("token:{id}"),
            role,
        })
    }
}

fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}
