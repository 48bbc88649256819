//! The verdict: whether an award is valid on a date, computed from its history and the
//! programme's, never from whether a batch job ran.

use chrono::NaiveDate;
use serde::Serialize;

use super::state::{Award, AwardChange, HistoryEntry, Programme, ProgrammeChange, ProgrammePhase};
use super::types::{CertificateNumber, long_date};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Valid,
    Expired,
    Suspended,
    Revoked,
    Superseded,
    NotYetValid,
}

impl Status {
    pub(crate) const ALL: [Status; 6] = [
        Status::Valid,
        Status::Expired,
        Status::Suspended,
        Status::Revoked,
        Status::Superseded,
        Status::NotYetValid,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Valid => "valid",
            Status::Expired => "expired",
            Status::Suspended => "suspended",
            Status::Revoked => "revoked",
            Status::Superseded => "superseded",
            Status::NotYetValid => "not_yet_valid",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// The programme's notice shown beside a verdict while it is not running normally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProgrammeNotice {
    pub(crate) phase: ProgrammePhase,
    pub since: NaiveDate,
    pub new_awards: bool,
    pub existing_awards_valid_until_expiry: bool,
    pub(crate) message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub status: Status,
    pub valid: bool,
    pub(crate) as_of: NaiveDate,
    /// Why the award is not valid, in words, where a reason applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The day the current status began, where it is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) status_since: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) superseded_by: Option<CertificateNumber>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub programme_notice: Option<ProgrammeNotice>,
}

impl Verdict {
    /// The one date a student or parent needs beside this verdict, with its label: "Valid
    /// until" only while the award is valid; for any other status the day that status began
    /// ("Revoked on", "Suspended since", "Replaced on") or, for an expired award, "Was valid
    /// until", so that a date never makes a non-current award look current.
    pub(crate) fn dates(&self, award: &Award) -> (&'static str, NaiveDate) {
        let since = self.status_since.unwrap_or(self.as_of);
        match self.status {
            Status::Valid => ("Valid until", award.valid_until),
            Status::Expired => ("Was valid until", award.valid_until),
            Status::Suspended => ("Suspended since", since),
            Status::Revoked => ("Revoked on", since),
            Status::Superseded => ("Replaced on", since),
            Status::NotYetValid => ("Valid from", award.awarded_on),
        }
    }

    /// `dates` as one phrase: "Revoked on 24 November 2026".
    pub(crate) fn dates_in_words(&self, award: &Award) -> String {
        let (label, day) = self.dates(award);
        format!("{label} {}", long_date(day))
    }

    /// The word a copy of the award (its PDF certificate) is marked with when the award is not
    /// valid; none while it is.
    pub(crate) fn mark(&self) -> Option<&'static str> {
        match self.status {
            Status::Valid => None,
            Status::Expired => Some("EXPIRED"),
            Status::Suspended => Some("SUSPENDED"),
            Status::Revoked => Some("REVOKED"),
            Status::Superseded => Some("SUPERSEDED"),
            Status::NotYetValid => Some("NOT YET VALID"),
        }
    }
}

/// The programme's notice on a date, if it is paused or has ended.
pub(crate) fn programme_notice(programme: &Programme, date: NaiveDate) -> Option<ProgrammeNotice> {
    let state = programme.state_on(date);
    let since = state.since?;
    let message = match state.phase {
        ProgrammePhase::Running => return None,
        ProgrammePhase::Paused => format!(
            "The Work Experience Quality Standard has been paused since {} until further notice. No new awards are being made; existing awards remain valid until their expiry date.",
            long_date(since)
        ),
        ProgrammePhase::Sunset => format!(
            "The Work Experience Quality Standard ended on {}. No new awards are made; existing awards remain valid until their expiry date.",
            long_date(since)
        ),
    };
    Some(ProgrammeNotice {
        phase: state.phase,
        since,
        new_awards: false,
        existing_awards_valid_until_expiry: true,
        message,
    })
}

/// What a change recorded ahead will do on the day it takes effect, in words, with that day.
pub(crate) fn scheduled_message(change: &ProgrammeChange) -> String {
    let on = long_date(change.effective_from);
    match change.phase {
        ProgrammePhase::Paused => format!(
            "The programme will pause on {on}: no new awards will be made from that day; existing awards remain valid until their expiry date."
        ),
        ProgrammePhase::Running => format!("The programme will resume making awards on {on}."),
        ProgrammePhase::Sunset => format!(
            "The Work Experience Quality Standard will end on {on}: no new awards will be made from that day; existing awards remain valid until their expiry date."
        ),
    }
}

/// The verdict on `award` as of the UK calendar day `date`. Changes count from the day they took
/// effect, so asking about an earlier day gives the answer that was true then.
pub fn status_as_of(award: &Award, programme: &Programme, date: NaiveDate) -> Verdict {
    let notice = programme_notice(programme, date);
    let verdict = |status: Status, reason: Option<String>, since: Option<NaiveDate>| Verdict {
        status,
        valid: status == Status::Valid,
        as_of: date,
        reason,
        status_since: since,
        superseded_by: None,
        programme_notice: notice.clone(),
    };

    // An award claiming a date on which the programme could make none is never valid.
    let on_award_date = programme.state_on(award.awarded_on);
    if on_award_date.phase != ProgrammePhase::Running {
        return verdict(
            Status::Revoked,
            Some(format!(
                "This record claims an award made on {}, when the programme was not making awards (paused or ended since {}). No such award can be valid.",
                long_date(award.awarded_on),
                long_date(on_award_date.since.unwrap_or(award.awarded_on))
            )),
            Some(award.awarded_on),
        );
    }
    if date < award.awarded_on {
        return verdict(
            Status::NotYetValid,
            Some(format!(
                "The award was made on {}.",
                long_date(award.awarded_on)
            )),
            None,
        );
    }

    let mut suspended: Option<(NaiveDate, String)> = None;
    for entry in &award.history {
        match &entry.change {
            AwardChange::Revoked { on, reason } if *on <= date => {
                return verdict(Status::Revoked, Some(reason.as_str().to_owned()), Some(*on));
            }
            AwardChange::Superseded { on, by } if *on <= date => {
                let mut v = verdict(
                    Status::Superseded,
                    Some(format!(
                        "Replaced by a newer award, certificate {by}, made on {}.",
                        long_date(*on)
                    )),
                    Some(*on),
                );
                v.superseded_by = Some(by.clone());
                return v;
            }
            AwardChange::Suspended { on, reason } if *on <= date => {
                suspended = Some((*on, reason.as_str().to_owned()));
            }
            AwardChange::Reinstated { on, .. } if *on <= date => suspended = None,
            _ => {}
        }
    }
    let expires_on = award.expires_on();
    if date >= expires_on {
        return verdict(
            Status::Expired,
            Some(format!(
                "Awards last two years; this one was valid until {}.",
                long_date(award.valid_until)
            )),
            Some(expires_on),
        );
    }
    if let Some((since, reason)) = suspended {
        return verdict(Status::Suspended, Some(reason), Some(since));
    }
    verdict(Status::Valid, None, Some(award.awarded_on))
}

/// The first day after `date` on which the verdict could change by the calendar alone (not by a
/// new event): the award date or the expiry date, whichever comes next.
pub(crate) fn next_calendar_change(award: &Award, date: NaiveDate) -> Option<NaiveDate> {
    [award.awarded_on, award.expires_on()]
        .into_iter()
        .find(|d| *d > date)
}

/// The award's history as it stood on `date`: the changes that had taken effect by then, in log
/// order. Its issue is always listed, since the award's dates come from it (an answer about a day
/// before the award says "not yet valid" and shows why), and so are corrections (a misspelt name
/// put right), which carry no date because they correct the record for every day.
pub(crate) fn history_as_of(award: &Award, date: NaiveDate) -> Vec<&HistoryEntry> {
    award
        .history
        .iter()
        .filter(|entry| match &entry.change {
            AwardChange::Issued { .. } | AwardChange::Amended { .. } => true,
            AwardChange::Suspended { on, .. }
            | AwardChange::Reinstated { on, .. }
            | AwardChange::Revoked { on, .. }
            | AwardChange::Superseded { on, .. }
            | AwardChange::Expired { on } => *on <= date,
        })
        .collect()
}
