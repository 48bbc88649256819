//! Who did what: an award's trail (every event about it, private notes included, each with the
//! person or token that caused it and when), and the whole log filtered (by person, dates and
//! award), newest first, for the console. Names come from the staff list and the tokens
//! (`actor_name`), never from what the event's maker typed. A filtered read is bounded: it
//! reads the log from the store a page at a time, newest first, and stops after
//! `AUDIT_SCAN_LIMIT` events, saying where, so no request reads the whole of a long log.

use super::{Registry, ServiceError};
use crate::domain::events::organisation_stream;
use crate::domain::{CertificateNumber, Event};
use crate::store::EventStore as _;

/// How many of an organisation's events an award's trail reads at most.
const TRAIL_LIMIT: u32 = 500;

/// One event in an award's trail.
#[derive(Debug, Clone)]
pub(crate) struct TrailEntry {
    pub(crate) position: u64,
    pub(crate) recorded_at: String,
    pub(crate) actor: String,
    /// The person or token behind `actor`, by name, where known.
    pub(crate) actor_name: Option<String>,
    pub(crate) event: Event,
}

impl Registry {
    /// Every event about the award, newest first, with who caused it.
    pub(crate) async fn award_trail(
        &self,
        number: &CertificateNumber,
    ) -> Result<Vec<TrailEntry>, ServiceError> {
        let Some((award, _)) = self.award(number) else {
            return Ok(Vec::new());
        };
        let stream = organisation_stream(award.organisation_id);
        let stored = self.log.store.stream_events(&stream, TRAIL_LIMIT).await?;
        let mut trail = Vec::new();
        for s in stored {
            let event = s.envelope()?.event;
            if about_award(&event) != Some(number) {
                continue;
            }
            trail.push(TrailEntry {
                position: s.position,
                recorded_at: s.recorded_at.clone(),
                actor_name: self.actor_name(&s.actor).await?,
                actor: s.actor,
                event,
            });
        }
        Ok(trail)
    }
}

/// The most events one filtered read of the log looks at.
pub(crate) const AUDIT_SCAN_LIMIT: u64 = 20_000;

/// The events read from the store at once while filtering.
const AUDIT_READ_PAGE: u32 = 500;

/// Which events of the log to show.
#[derive(Debug, Clone, Default)]
pub(crate) struct AuditFilter {
    /// An actor id (`staff:…`, a token's id), or part of a person's or token's name.
    pub(crate) person: Option<String>,
    /// The first and last days recorded (UTC), inclusive.
    pub(crate) from: Option<chrono::NaiveDate>,
    pub(crate) to: Option<chrono::NaiveDate>,
    pub(crate) certificate_number: Option<CertificateNumber>,
}

impl AuditFilter {
    fn matches(&self, entry: &TrailEntry) -> bool {
        let day = entry.recorded_at.get(..10).unwrap_or_default();
        let day_ok = |bound: Option<chrono::NaiveDate>, after: bool| {
            bound.is_none_or(|b| {
                let b = b.to_string();
                if after {
                    day >= b.as_str()
                } else {
                    day <= b.as_str()
                }
            })
        };
        let person_ok = self.person.as_deref().is_none_or(|p| {
            let p = p.trim().to_lowercase();
            entry.actor.to_lowercase() == p
                || entry
                    .actor_name
                    .as_deref()
                    .is_some_and(|n| n.to_lowercase().contains(&p))
        });
        let award_ok = self
            .certificate_number
            .as_ref()
            .is_none_or(|n| about_award(&entry.event) == Some(n));
        day_ok(self.from, true) && day_ok(self.to, false) && person_ok && award_ok
    }
}

/// A page of the filtered log, newest first.
#[derive(Debug, Clone)]
pub(crate) struct AuditPage {
    pub(crate) entries: Vec<TrailEntry>,
    /// Where the next page begins (the events before this position), if there may be more.
    pub(crate) next_before: Option<u64>,
    /// True when the read stopped at `AUDIT_SCAN_LIMIT` events before filling the page.
    pub(crate) stopped_early: bool,
    /// How many events were looked at.
    pub(crate) scanned: u64,
}

impl Registry {
    /// At most `limit` events matching `filter`, newest first, from before log position
    /// `before` (the whole log when absent), looking at no more than `AUDIT_SCAN_LIMIT`.
    pub(crate) async fn audit(
        &self,
        filter: &AuditFilter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<AuditPage, ServiceError> {
        let mut end = before.unwrap_or(u64::MAX).min(self.size());
        let mut entries = Vec::new();
        let mut scanned = 0;
        // Each actor named once a read: a token's name is a query of the database.
        let mut names: std::collections::HashMap<String, Option<String>> =
            std::collections::HashMap::new();
        // The first read is one page's worth, which is all an unfiltered page needs (each
        // event read is decoded); a filter that passes over events reads on in larger pieces.
        let mut piece = u64::try_from(limit)
            .unwrap_or(u64::MAX)
            .clamp(1, u64::from(AUDIT_READ_PAGE));
        while end > 0 && entries.len() < limit && scanned < AUDIT_SCAN_LIMIT {
            let room = (AUDIT_SCAN_LIMIT - scanned).min(piece);
            piece = u64::from(AUDIT_READ_PAGE);
            let start = end.saturating_sub(room);
            let count = u32::try_from(end - start).unwrap_or(AUDIT_READ_PAGE);
            let stored = self.log.store.read(start, count).await?;
            let mut next_end = start;
            for s in stored.into_iter().rev() {
                if s.position >= end {
                    continue;
                }
                scanned += 1;
                next_end = s.position;
                let actor_name = match names.get(&s.actor) {
                    Some(known) => known.clone(),
                    None => {
                        let named = self.actor_name(&s.actor).await?;
                        names.insert(s.actor.clone(), named.clone());
                        named
                    }
                };
                let entry = TrailEntry {
                    position: s.position,
                    recorded_at: s.recorded_at.clone(),
                    actor_name,
                    event: s.envelope()?.event,
                    actor: s.actor,
                };
                if filter.matches(&entry) {
                    entries.push(entry);
                    if entries.len() == limit {
                        break;
                    }
                }
            }
            end = next_end;
        }
        let stopped_early = end > 0 && entries.len() < limit;
        Ok(AuditPage {
            next_before: (end > 0).then_some(end),
            entries,
            stopped_early,
            scanned,
        })
    }
}

/// The award an event is about, private notes included (`Event::certificate_number` lists only
/// the events an award's public views are made of).
fn about_award(event: &Event) -> Option<&CertificateNumber> {
    match event {
        Event::AwardNoteRecorded {
            certificate_number, ..
        } => Some(certificate_number),
        other => other.certificate_number(),
    }
}
