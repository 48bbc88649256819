//! API tokens: created and revoked as events (the secret shown once, stored only as a hash),
//! the bearer token of a request turned into the actor it stands for, with its last use
//! recorded (at most once a minute a token, `TokenUses`), and the list of every token, which
//! never shows a secret's hash.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, SecondsFormat, Utc};
use rand::Rng;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Actor, Registry, Role, ServiceError};
use crate::domain::Event;
use crate::error_codes::ErrorCode;
use crate::store::{EventStore, TokenRow, Write};

/// How often a token's last use is written at most: a busy client does not write on every
/// request.
const TOKEN_USE_EVERY: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// When this server last wrote each token's last use. One entry a token that has authenticated
/// a request here (a valid secret is needed to get one), so it holds no more entries than there
/// are tokens. Each server keeps its own: several serving one database write a token's use at
/// most once a minute each. Its lock is held only to read or replace an entry.
#[derive(Debug, Default)]
pub(super) struct TokenUses {
    written: Mutex<HashMap<String, DateTime<Utc>>>,
}

impl TokenUses {
    /// Whether a use at `now` is to be written, noting it as written if so: the first use a
    /// server sees, then the first a minute or more after the last written (or one before it,
    /// should the clock have gone back).
    fn due(&self, token_id: &str, now: DateTime<Utc>) -> bool {
        let mut written = self
            .written
            .lock()
            .expect("the token uses' lock is never poisoned");
        let due = written
            .get(token_id)
            .is_none_or(|last| now < *last || now - *last >= TOKEN_USE_EVERY);
        if due {
            written.insert(token_id.to_owned(), now);
        }
        due
    }
}

/// An API token as the programme team's list shows it: never its secret or the secret's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct TokenSummary {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) role: String,
    pub(crate) created_at: String,
    pub(crate) revoked_at: Option<String>,
    /// When it last authenticated a request, to the minute at worst (`TOKEN_USE_EVERY`).
    pub(crate) last_used_at: Option<String>,
}

impl From<TokenRow> for TokenSummary {
    fn from(row: TokenRow) -> TokenSummary {
        TokenSummary {
            id: row.token_id,
            name: row.name,
            role: row.role,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
            last_used_at: row.last_used_at,
        }
    }
}

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
            last_used_at: None,
        };
        self.append_plain(
            actor,
            vec![Event::ApiTokenCreated {
                token_id: token_id.clone(),
                role: role.as_str().to_owned(),
                name: Some(name.to_owned()),
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
        self.note_token_use(id).await;
        Ok(Actor {
            id: super::actors::token_actor(id),
            role,
        })
    }

    /// Records that the token `token_id` authenticated a request now, unless this server wrote
    /// its use less than a minute ago. A failure to write is logged and does not refuse the
    /// request: the last use is a convenience for the programme team, not a rule.
    async fn note_token_use(&self, token_id: &str) {
        let now = self.now();
        if !self.token_uses.due(token_id, now) {
            return;
        }
        let at = now.to_rfc3339_opts(SecondsFormat::Secs, true);
        if let Err(e) = self.log.store.record_token_use(token_id, &at).await {
            tracing::warn!(token_id, error = %e, "a token's last use could not be recorded");
        }
    }

    /// Every API token, oldest first, with its last use; never a secret's hash.
    pub(crate) async fn tokens(&self) -> Result<Vec<TokenSummary>, ServiceError> {
        let rows = self.log.store.tokens().await?;
        Ok(rows.into_iter().map(TokenSummary::from).collect())
    }
}

/// The SHA-256 of a secret someone presents (a token's, a console session's id, a sign-in's
/// `state`), as stored in its place: the secret itself never is.
pub(crate) fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}
