//! Console sessions: opened at sign-in with a fresh 256-bit id (the cookie's value, kept in the
//! database only as its SHA-256), ended by sign-out or expiry. A session is looked up on each
//! request: it ends when idle longer than `SessionPolicy::idle` or older than
//! `SessionPolicy::absolute` (by the registry's clock, so tests can move time), and means nothing
//! once its person is off the staff list; their role is read from the list each time, so a
//! change of role takes effect at once.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;

use super::staff::staff_actor;
use super::tokens::hash_secret;
use super::{Actor, Registry, ServiceError};
use crate::domain::staff::{StaffId, StaffMember};
use crate::store::SessionRow;

/// How long a session lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Ended after this long without a request.
    pub idle: Duration,
    /// Ended this long after sign-in, however busy.
    pub absolute: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle: Duration::from_secs(30 * 60),
            absolute: Duration::from_secs(10 * 60 * 60),
        }
    }
}

/// A request's session, its person still on the staff list.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) member: StaffMember,
    pub(crate) actor: Actor,
    /// The token every form of the session carries, checked on every change.
    pub(crate) form_token: String,
    id_hash: String,
}

/// A session's last-seen time is written at most this often, so reading pages does not write
/// on every request.
const TOUCH_EVERY_MS: i64 = 60_000;

impl Registry {
    /// Opens a session for `member`: the new session id, for the cookie, shown only now.
    pub(crate) async fn open_session(&self, member: &StaffMember) -> Result<String, ServiceError> {
        let (id, form_token) = {
            let mut rng = self
                .rng
                .lock()
                .expect("the random source's lock is never poisoned");
            let id: [u8; 32] = rng.r#gen();
            let form: [u8; 32] = rng.r#gen();
            (URL_SAFE_NO_PAD.encode(id), URL_SAFE_NO_PAD.encode(form))
        };
        let now = self.now().timestamp_millis();
        self.log
            .store
            .open_session(&SessionRow {
                id_hash: hash_secret(&id),
                staff_id: member.staff_id.as_str().to_owned(),
                form_token,
                created_at: now,
                last_seen_at: now,
            })
            .await?;
        Ok(id)
    }

    /// The session with this id, if it is open, within its policy and its person still listed;
    /// an expired session is ended on the way.
    pub(crate) async fn session(
        &self,
        id: &str,
        policy: SessionPolicy,
    ) -> Result<Option<Session>, ServiceError> {
        if id.len() != 43 {
            return Ok(None);
        }
        let id_hash = hash_secret(id);
        let Some(row) = self.log.store.session(&id_hash).await? else {
            return Ok(None);
        };
        let now = self.now().timestamp_millis();
        let idle = millis(policy.idle);
        let absolute = millis(policy.absolute);
        if now - row.last_seen_at > idle || now - row.created_at > absolute {
            self.log.store.end_session(&id_hash).await?;
            return Ok(None);
        }
        let Some(member) = row
            .staff_id
            .parse::<StaffId>()
            .ok()
            .and_then(|id| self.staff_member(&id))
        else {
            self.log.store.end_session(&id_hash).await?;
            return Ok(None);
        };
        if now - row.last_seen_at >= TOUCH_EVERY_MS {
            self.log.store.touch_session(&id_hash, now).await?;
        }
        Ok(Some(Session {
            actor: staff_actor(&member),
            member,
            form_token: row.form_token,
            id_hash,
        }))
    }

    /// Ends a session, for every instance sharing the database.
    pub(crate) async fn end_session(&self, session: &Session) -> Result<(), ServiceError> {
        self.log.store.end_session(&session.id_hash).await?;
        Ok(())
    }

    /// Ends the session with this id, if there is one (a sign-in ends the session the browser
    /// came with, so no id outlives a sign-in).
    pub(crate) async fn end_session_by_id(&self, id: &str) -> Result<(), ServiceError> {
        self.log.store.end_session(&hash_secret(id)).await?;
        Ok(())
    }

    /// Removes sign-ins never finished and sessions past their policy (the background task).
    pub(crate) async fn sweep_sessions(&self, policy: SessionPolicy) -> Result<(), ServiceError> {
        let now = self.now().timestamp_millis();
        self.log
            .store
            .sweep_sessions(
                now - super::sign_in::SIGN_IN_WINDOW_MS,
                now - millis(policy.idle),
                now - millis(policy.absolute),
            )
            .await?;
        Ok(())
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
