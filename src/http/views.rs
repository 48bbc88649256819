//! The public JSON bodies. Only public facts appear here: nothing from an event marked private,
//! no actor, no contact, no evidence.

use chrono::NaiveDate;
use serde::Serialize;

use crate::domain::state::{HistoryEntry, ProgrammeChange};
use crate::domain::verdict::{ProgrammeNotice, history_as_of, programme_notice, scheduled_message};
use crate::domain::{Award, Cycle, Organisation, Programme, ProgrammePhase, Status, Verdict};
use crate::service::search::Listed;

#[derive(Debug, Serialize)]
pub(crate) struct OrganisationView {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) ods_code: Option<String>,
    pub(crate) region: &'static str,
    pub(crate) region_name: &'static str,
    pub(crate) kind: &'static str,
}

impl OrganisationView {
    pub(crate) fn of(o: &Organisation) -> Self {
        OrganisationView {
            id: o.id.to_string(),
            name: o.name.to_string(),
            ods_code: o.ods_code.as_ref().map(ToString::to_string),
            region: o.region.as_str(),
            region_name: o.region.name(),
            kind: o.kind.as_str(),
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct AwardOrganisation {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) ods_code: Option<String>,
    pub(crate) region: &'static str,
    pub(crate) region_name: &'static str,
}

#[derive(Debug, Serialize)]
pub(crate) struct Links {
    #[serde(rename = "self")]
    pub(crate) this: String,
    pub(crate) verification: String,
    pub(crate) page: String,
}

impl Links {
    pub(crate) fn of(public_url: &str, number: &str) -> Links {
        // Root-relative, under the public URL's path when it has one.
        let base = super::prefix::base_path(public_url);
        Links {
            this: format!("{base}/v1/awards/{number}"),
            verification: format!("{base}/v1/awards/{number}/verification"),
            page: format!("{public_url}/verify/{number}"),
        }
    }
}

/// An award's public record with its history.
#[derive(Debug, Serialize)]
pub(crate) struct AwardView<'a> {
    pub(crate) certificate_number: String,
    pub(crate) organisation: AwardOrganisation,
    pub(crate) level: &'static str,
    pub(crate) awarded_on: NaiveDate,
    pub(crate) valid_until: NaiveDate,
    pub(crate) expires_on: NaiveDate,
    pub(crate) issuer: Issuer,
    pub(crate) scheme: &'a str,
    pub(crate) framework_version: Option<&'a str>,
    /// The award's status on the day the answer is about (today for the award's record).
    pub(crate) status: Status,
    /// The award's changes, in log order (in a verification answer, those in effect on its day).
    pub(crate) history: Vec<&'a HistoryEntry>,
    /// The log position of the award's latest event, whatever day an answer is about: its
    /// version, the number in its `ETag` and what `If-Match` names. (A verification answer's
    /// `log.position` is the latest event its history lists, which its inclusion proof covers.)
    pub(crate) log_position: u64,
    pub(crate) links: Links,
}

#[derive(Debug, Serialize)]
pub(crate) struct Issuer {
    pub(crate) name: String,
}

impl<'a> AwardView<'a> {
    pub(crate) fn of(award: &'a Award, status: Status, public_url: &str) -> Self {
        let number = award.certificate_number.to_string();
        AwardView {
            organisation: AwardOrganisation {
                id: award.organisation_id.to_string(),
                name: award.organisation_name.to_string(),
                ods_code: award.ods_code.as_ref().map(ToString::to_string),
                region: award.region.as_str(),
                region_name: award.region.name(),
            },
            level: award.level.as_str(),
            awarded_on: award.awarded_on,
            valid_until: award.valid_until,
            expires_on: award.expires_on(),
            issuer: Issuer {
                name: award.issuer_name.to_string(),
            },
            scheme: &award.scheme,
            framework_version: award.framework_version.as_deref(),
            status,
            history: award.history.iter().collect(),
            log_position: award.last_position,
            links: Links::of(public_url, &number),
            certificate_number: number,
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct ProgrammeSummary {
    pub(crate) phase: ProgrammePhase,
    pub(crate) since: Option<NaiveDate>,
    pub(crate) accepting_new_awards: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) notice: Option<ProgrammeNotice>,
}

impl ProgrammeSummary {
    pub(crate) fn of(programme: &Programme, date: NaiveDate) -> Self {
        let state = programme.state_on(date);
        ProgrammeSummary {
            phase: state.phase,
            since: state.since,
            accepting_new_awards: state.phase == ProgrammePhase::Running,
            notice: programme_notice(programme, date),
        }
    }
}

/// The answer to "is this award real and valid on this day?".
#[derive(Debug, Serialize)]
pub(crate) struct VerificationView<'a> {
    pub(crate) certificate_number: String,
    pub(crate) status: Status,
    pub(crate) valid: bool,
    pub(crate) as_of: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) status_since: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) superseded_by: Option<String>,
    pub(crate) award: AwardView<'a>,
    pub(crate) programme: ProgrammeSummary,
    pub(crate) log: LogRef,
    pub(crate) checked_at: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct LogRef {
    /// The position in the registry's log of the latest event the answer's history lists.
    pub(crate) position: u64,
    /// The positions of the events the answer's history lists, in order.
    pub(crate) positions: Vec<u64>,
    /// An RFC 9162 inclusion proof of the event at `position` in the latest signed checkpoint
    /// (once a checkpoint covers it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) inclusion: Option<Inclusion>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Inclusion {
    pub(crate) checkpoint_size: u64,
    pub(crate) checkpoint_root: String,
    pub(crate) leaf_index: u64,
    /// Base64 hashes, leaf level first.
    pub(crate) proof: Vec<String>,
}

impl<'a> VerificationView<'a> {
    /// The answer about the day of `verdict`, every part of it as the award stood that day: the
    /// inner award's status, the history (`history_as_of`) and the log positions of what it
    /// lists, so that no field of one answer contradicts another.
    pub(crate) fn of(
        award: &'a Award,
        verdict: Verdict,
        programme: &Programme,
        public_url: &str,
        checked_at: String,
    ) -> Self {
        let mut view = AwardView::of(award, verdict.status, public_url);
        view.history = history_as_of(award, verdict.as_of);
        let positions: Vec<u64> = view.history.iter().map(|h| h.position).collect();
        // The issue is always listed, so there is a last position; the award's own is the
        // fallback only for a record with no history at all, which the fold never makes.
        let listed = positions.last().copied().unwrap_or(award.last_position);
        VerificationView {
            certificate_number: award.certificate_number.to_string(),
            status: verdict.status,
            valid: verdict.valid,
            as_of: verdict.as_of,
            reason: verdict.reason,
            status_since: verdict.status_since,
            superseded_by: verdict.superseded_by.map(|n| n.to_string()),
            log: LogRef {
                position: listed,
                positions,
                inclusion: None,
            },
            award: view,
            programme: ProgrammeSummary::of(programme, verdict.as_of),
            checked_at,
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct RegisterItem {
    pub(crate) certificate_number: String,
    pub(crate) organisation_name: String,
    pub(crate) ods_code: Option<String>,
    pub(crate) region: String,
    pub(crate) level: String,
    pub(crate) awarded_on: String,
    pub(crate) valid_until: String,
    pub(crate) status: Status,
    pub(crate) links: Links,
}

impl RegisterItem {
    pub(crate) fn of(row: Listed, status: Status, public_url: &str) -> Self {
        RegisterItem {
            links: Links::of(public_url, &row.certificate_number),
            certificate_number: row.certificate_number,
            organisation_name: row.organisation_name,
            ods_code: row.ods_code,
            region: row.region,
            level: row.level,
            awarded_on: row.awarded_on,
            valid_until: row.valid_until,
            status,
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct RegisterPage {
    pub(crate) items: Vec<RegisterItem>,
    pub(crate) page: u32,
    pub(crate) per_page: u32,
    pub(crate) total: u64,
    pub(crate) pages: u64,
    /// Whether `items` are near matches: nothing matched `q` exactly, and these awards are one
    /// slip away (by name, or by number for a mistyped certificate number).
    pub(crate) near_matches: bool,
    /// The near matches as number and name (kept for clients written before they were items).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) did_you_mean: Vec<serde_json::Value>,
    /// The licence of the data (the Open Government Licence v3.0) and its attribution.
    pub(crate) license: serde_json::Value,
}

/// `/v1/programme`: the state today, every change (past and recorded ahead), the changes still to
/// come with what each will do in words, and the cycles.
#[derive(Debug, Serialize)]
pub(crate) struct ProgrammeView<'a> {
    pub(crate) today: NaiveDate,
    #[serde(flatten)]
    pub(crate) summary: ProgrammeSummary,
    pub(crate) changes: &'a [ProgrammeChange],
    pub(crate) scheduled: Vec<ScheduledChange<'a>>,
    pub(crate) cycles: &'a [Cycle],
}

impl<'a> ProgrammeView<'a> {
    pub(crate) fn of(programme: &'a Programme, today: NaiveDate) -> Self {
        ProgrammeView {
            today,
            summary: ProgrammeSummary::of(programme, today),
            changes: &programme.changes,
            scheduled: programme
                .scheduled_after(today)
                .map(|change| ScheduledChange {
                    phase: change.phase,
                    effective_from: change.effective_from,
                    reason: change.reason.as_str(),
                    message: scheduled_message(change),
                })
                .collect(),
            cycles: &programme.cycles,
        }
    }
}

/// A pause, resumption or end recorded to take effect after today.
#[derive(Debug, Serialize)]
pub(crate) struct ScheduledChange<'a> {
    pub(crate) phase: ProgrammePhase,
    pub(crate) effective_from: NaiveDate,
    pub(crate) reason: &'a str,
    pub(crate) message: String,
}
