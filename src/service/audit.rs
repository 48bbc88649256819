//! Who did what: an award's trail (every event about it, private notes included, each with the
//! person or token that caused it and when), for the console. Names come from the staff list
//! and the tokens (`actor_name`), never from what the event's maker typed.

use super::{Registry, ServiceError};
use crate::domain::events::organisation_stream;
use crate::domain::{CertificateNumber, Event};

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
            let about = match &event {
                // A private note names its award too (`certificate_number` lists only the
                // events an award's public views are made of).
                Event::AwardNoteRecorded {
                    certificate_number, ..
                } => Some(certificate_number),
                other => other.certificate_number(),
            };
            if about != Some(number) {
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
