//! The registry's vital signs for the metrics (`http::metrics`): read at scrape time from what
//! the registry already holds (the log in memory, the latest checkpoint, the status list last
//! signed, the webhook subscriptions as stored, the connection pool, the behind state) and from
//! the `last-backup` file `wexqs backup` leaves in the state folder. Nothing here is kept up to
//! date between scrapes, so a registry nobody scrapes pays nothing for it.

use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;

use chrono::{DateTime, Utc};

use super::Registry;

/// The name of the file in the state folder that `wexqs backup` writes on success: the time of
/// the backup (RFC 3339), then where it went.
pub(crate) const LAST_BACKUP_FILE: &str = "last-backup";

/// What a scrape reports about the registry, as of `now`.
#[derive(Debug, Clone)]
pub(crate) struct Vitals {
    /// Entries in the log this instance has read.
    pub(crate) log_size: u64,
    /// Seconds since the latest signed checkpoint was signed (`None`: none signed yet).
    pub(crate) checkpoint_age_seconds: Option<f64>,
    /// Entries the latest checkpoint covers.
    pub(crate) checkpoint_size: Option<u64>,
    /// Seconds since the latest entry was recorded (`None`: an empty log).
    pub(crate) last_append_age_seconds: Option<f64>,
    /// Seconds since the start of the validity of the status list served now.
    pub(crate) status_list_age_seconds: Option<f64>,
    /// Each webhook subscription (`None`: the database did not answer).
    pub(crate) webhooks: Option<Vec<WebhookVitals>>,
    /// The database answered its last look.
    pub(crate) database_up: bool,
    /// Connections the pool holds open, of them idle, and the most it opens.
    pub(crate) pool_size: u32,
    pub(crate) pool_idle: usize,
    pub(crate) pool_max: u32,
    /// Since the process started: waits for a pooled connection that timed out, and answers
    /// that said the database was unavailable.
    pub(crate) pool_timeouts: u64,
    pub(crate) database_errors: u64,
    /// The registry is behind its published log (serving 503s until the entries are re-entered).
    pub(crate) behind: bool,
    /// The last signing of a checkpoint failed.
    pub(crate) checkpoint_failing: bool,
    /// Unix time of the last good `wexqs backup` (`None`: no record of one in the state folder).
    pub(crate) last_backup_time: Option<f64>,
}

/// One webhook subscription's delivery state.
#[derive(Debug, Clone)]
pub(crate) struct WebhookVitals {
    pub(crate) id: String,
    /// Log entries after the last one it has been sent (or judged not to want).
    pub(crate) backlog: u64,
    /// Failed deliveries in a row.
    pub(crate) consecutive_failures: u32,
    pub(crate) disabled: bool,
}

impl Registry {
    /// The registry's vital signs now; `state_dir` is where `wexqs backup` records its last good
    /// backup.
    pub(crate) async fn vitals(&self, state_dir: Option<&Path>) -> Vitals {
        let now = self.now();
        let log_size = self.size();
        let age = |at: DateTime<Utc>| (now - at).num_milliseconds() as f64 / 1000.0;
        let (checkpoint_age_seconds, checkpoint_size) = match self.transparency.latest() {
            Some(c) => (
                DateTime::parse_from_rfc3339(&c.signed_at)
                    .ok()
                    .map(|t| age(t.with_timezone(&Utc))),
                Some(c.size),
            ),
            None => (None, None),
        };
        let last_append_age_seconds = self
            .read_cache(|c| c.recorded_at.last().copied())
            .and_then(|s| DateTime::from_timestamp(s, 0).filter(|_| s > 0))
            .map(age);
        let status_list_age_seconds = self.status_list_valid_from().map(age);
        let webhooks = self.log.store.webhooks().await.ok().map(|rows| {
            rows.into_iter()
                .map(|w| WebhookVitals {
                    backlog: log_size.saturating_sub(w.next_position),
                    consecutive_failures: w.failures,
                    disabled: w.status == "disabled",
                    id: w.id,
                })
                .collect()
        });
        let (pool_size, pool_idle, pool_max) = self.log.store.pool_state();
        let errors = &crate::store::DATABASE_ERRORS;
        Vitals {
            log_size,
            checkpoint_age_seconds,
            checkpoint_size,
            last_append_age_seconds,
            status_list_age_seconds,
            webhooks,
            database_up: self.outage().is_none(),
            pool_size,
            pool_idle,
            pool_max,
            pool_timeouts: errors.pool_timeouts.load(Relaxed),
            database_errors: errors.unavailable.load(Relaxed),
            behind: self.behind().is_some(),
            checkpoint_failing: self.checkpoint_failure().is_some(),
            last_backup_time: state_dir.and_then(last_backup_time),
        }
    }

    /// The start of the validity of the status list served now: the one last signed, or, when
    /// none has been asked for yet, the one that would be signed now.
    fn status_list_valid_from(&self) -> Option<DateTime<Utc>> {
        let cached = self.signer.status_list().as_ref().and_then(|(tag, _, _)| {
            let day = tag.rsplit('-').next()?;
            chrono::NaiveDate::parse_from_str(day, "%Y%m%d").ok()
        });
        match cached {
            Some(day) => Some(day.and_hms_opt(0, 0, 0)?.and_utc()),
            None => {
                self.signing()?;
                Some(crate::credentials::credential::status_list_period(self.now()).0)
            }
        }
    }
}

/// The time of the last good backup recorded in `state_dir`, as unix seconds.
pub(crate) fn last_backup_time(state_dir: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(state_dir.join(LAST_BACKUP_FILE)).ok()?;
    let first = text.lines().next()?.trim();
    let at = DateTime::parse_from_rfc3339(first).ok()?;
    Some(at.timestamp_millis() as f64 / 1000.0)
}

/// Records a good backup to `to`, taken at `at`, in `state_dir` (written whole, then renamed
/// into place, so a scrape never reads half of it).
pub(crate) fn record_backup(state_dir: &Path, at: DateTime<Utc>, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(state_dir)?;
    let path = state_dir.join(LAST_BACKUP_FILE);
    let partial = state_dir.join(format!("{LAST_BACKUP_FILE}.partial"));
    std::fs::write(
        &partial,
        format!(
            "{}\n{}\n",
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            to.display()
        ),
    )?;
    std::fs::rename(partial, path)
}
