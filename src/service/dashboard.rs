//! The console's dashboard, read in one go: the awards by level and status today, those expiring
//! within 90 days, the latest changes (with who made them), the webhook subscriptions that are
//! failing, and how old the latest signed checkpoint is.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use super::audit::TrailEntry;
use super::webhooks::Subscription;
use super::{Registry, ServiceError};
use crate::domain::{CertificateNumber, Level, Status, status_as_of};
use crate::store::EventStore as _;

/// Days ahead the dashboard lists expiries for.
pub(crate) const EXPIRING_WITHIN_DAYS: i64 = 90;

/// How many recent changes the dashboard lists.
const RECENT: u64 = 15;

/// One award expiring soon.
#[derive(Debug, Clone)]
pub(crate) struct Expiring {
    pub(crate) number: CertificateNumber,
    pub(crate) organisation: String,
    pub(crate) level: Level,
    pub(crate) valid_until: NaiveDate,
}

#[derive(Debug)]
pub(crate) struct Dashboard {
    /// The counts by level and status today, and the awards expiring soon.
    pub(crate) tally: Arc<Tally>,
    pub(crate) recent: Vec<TrailEntry>,
    pub(crate) failing_webhooks: Vec<Subscription>,
    /// The latest checkpoint's size and when it was signed.
    pub(crate) checkpoint: Option<(u64, Option<DateTime<Utc>>)>,
    pub(crate) log_size: u64,
}

/// The register at a glance on one day: the counts by level and status and the awards
/// expiring soon, folded from every award once a `snapshot::Version` (log size and day), as
/// `Registry::register_tally` keeps it.
#[derive(Debug)]
pub(crate) struct Tally {
    /// (level, status, how many) for every pair with at least one award, by level then status.
    pub(crate) counts: Vec<(Level, Status, usize)>,
    /// The valid awards expiring within `EXPIRING_WITHIN_DAYS`, soonest first.
    pub(crate) expiring: Vec<Expiring>,
}

impl Tally {
    /// Every award of `state` judged on `today`.
    pub(super) fn of(state: &crate::domain::State, today: NaiveDate) -> Tally {
        let until = today + chrono::Duration::days(EXPIRING_WITHIN_DAYS);
        let mut counts: Vec<(Level, Status, usize)> = Vec::new();
        let mut expiring = Vec::new();
        for award in state.awards.values() {
            let status = status_as_of(award, &state.programme, today).status;
            match counts
                .iter_mut()
                .find(|(l, s, _)| *l == award.level && *s == status)
            {
                Some((_, _, n)) => *n += 1,
                None => counts.push((award.level, status, 1)),
            }
            if status == Status::Valid && award.valid_until <= until {
                expiring.push(Expiring {
                    number: award.certificate_number.clone(),
                    organisation: award.organisation_name.as_str().to_owned(),
                    level: award.level,
                    valid_until: award.valid_until,
                });
            }
        }
        counts.sort_by_key(|(l, s, _)| (*l, s.as_str()));
        // Stable: awards expiring on the same day stay in the register's order of numbers.
        expiring.sort_by_key(|e| e.valid_until);
        Tally { counts, expiring }
    }
}

impl Registry {
    pub(crate) async fn dashboard(&self) -> Result<Dashboard, ServiceError> {
        let tally = self.register_tally();
        let log_size = self.size();
        let from = log_size.saturating_sub(RECENT);
        let mut recent = Vec::new();
        for s in self.log.store.read(from, RECENT as u32).await? {
            let event = s.envelope()?.event;
            // A credential is signed with every issue: the issue says it.
            if matches!(event, crate::domain::Event::CredentialIssued { .. }) {
                continue;
            }
            recent.push(TrailEntry {
                position: s.position,
                recorded_at: s.recorded_at.clone(),
                actor_name: self.actor_name(&s.actor).await?,
                actor: s.actor,
                event,
            });
        }
        recent.reverse();
        let failing_webhooks = self
            .webhooks()
            .await?
            .into_iter()
            .filter(|w| w.status != "active" || w.consecutive_failures > 0)
            .collect();
        let checkpoint = self.transparency.with_latest(|latest| {
            latest.map(|c| {
                let signed = DateTime::parse_from_rfc3339(&c.signed_at)
                    .ok()
                    .map(|t| t.with_timezone(&Utc));
                (c.size, signed)
            })
        });
        Ok(Dashboard {
            tally,
            recent,
            failing_webhooks,
            checkpoint,
            log_size,
        })
    }
}
