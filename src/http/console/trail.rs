//! An event of the log in words, as the console shows it (an award's history, the dashboard's
//! latest changes, the audit trail): when, what, who (by name where the staff list or the
//! tokens know them, else the actor id) and whether the public can see it.

use crate::domain::{Event, ProgrammePhase};
use crate::service::audit::TrailEntry;

/// One entry of a trail, in words.
#[derive(Debug)]
pub(super) struct TrailLine {
    pub(super) position: u64,
    pub(super) recorded_at: String,
    pub(super) who: String,
    /// The actor id behind `who`.
    pub(super) actor: String,
    pub(super) what: String,
    pub(super) detail: String,
    pub(super) private: bool,
    /// The award the event is about, if any.
    pub(super) certificate_number: Option<String>,
}

impl TrailLine {
    pub(super) fn of(entry: &TrailEntry) -> TrailLine {
        let (what, detail) = describe(&entry.event);
        TrailLine {
            position: entry.position,
            recorded_at: entry.recorded_at.clone(),
            who: entry
                .actor_name
                .clone()
                .unwrap_or_else(|| entry.actor.clone()),
            actor: entry.actor.clone(),
            what,
            detail,
            private: entry.event.visibility() == crate::domain::Visibility::Private,
            certificate_number: entry.event.certificate_number().map(ToString::to_string),
        }
    }
}

/// The words for a programme phase, as a change into it.
pub(super) fn phase_words(phase: ProgrammePhase) -> &'static str {
    match phase {
        ProgrammePhase::Running => "Resumed",
        ProgrammePhase::Paused => "Paused",
        ProgrammePhase::Sunset => "Sunset",
    }
}

/// What an event did, in words, and its detail.
pub(super) fn describe(event: &Event) -> (String, String) {
    match event {
        Event::AwardIssued {
            level, awarded_on, ..
        } => (
            format!("Issued ({})", level.title()),
            format!("awarded on {awarded_on}"),
        ),
        Event::AwardSuspended { reason, .. } => ("Suspended".into(), reason.as_str().to_owned()),
        Event::AwardReinstated { reason, .. } => (
            "Reinstated".into(),
            reason
                .as_ref()
                .map(|r| r.as_str().to_owned())
                .unwrap_or_default(),
        ),
        Event::AwardRevoked { reason, .. } => ("Revoked".into(), reason.as_str().to_owned()),
        Event::AwardSuperseded { superseded_by, .. } => {
            ("Replaced".into(), format!("by {superseded_by}"))
        }
        Event::AwardAmended {
            organisation_name,
            reason,
            ..
        } => (
            "Amended".into(),
            format!("name now {organisation_name}: {}", reason.as_str()),
        ),
        Event::AwardNoteRecorded { note, .. } => ("Private note".into(), note.as_str().to_owned()),
        Event::AwardExpired { expired_on, .. } => ("Expired".into(), format!("on {expired_on}")),
        Event::CredentialIssued { key_id, .. } => {
            ("Credential signed".into(), format!("with key {key_id}"))
        }
        Event::CycleScheduled(cycle) => (
            "Cycle scheduled".into(),
            format!(
                "{} ({}): open {} to {}",
                cycle.name, cycle.cycle_id, cycle.submissions_open_on, cycle.submission_deadline
            ),
        ),
        Event::ProgrammePaused {
            effective_from,
            reason,
        } => (
            "Programme paused".into(),
            format!("from {effective_from}: {}", reason.as_str()),
        ),
        Event::ProgrammeResumed {
            effective_from,
            reason,
        } => (
            "Programme resumed".into(),
            format!("from {effective_from}: {}", reason.as_str()),
        ),
        Event::ProgrammeSunset {
            effective_from,
            reason,
        } => (
            "Programme sunset".into(),
            format!("from {effective_from}: {}", reason.as_str()),
        ),
        Event::StaffAdded(added) => (
            "Staff added".into(),
            format!(
                "{} ({}) as {}",
                added.name,
                added.email.as_str(),
                added.role.as_str()
            ),
        ),
        Event::StaffRoleChanged(changed) => (
            "Staff role changed".into(),
            format!(
                "staff {} now {}",
                changed.staff_id.as_str(),
                changed.role.as_str()
            ),
        ),
        Event::StaffRemoved(removed) => (
            "Staff removed".into(),
            format!("staff {}", removed.staff_id.as_str()),
        ),
        other => (other.event_type().replace('_', " "), String::new()),
    }
}
