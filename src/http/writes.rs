//! What the answers to writes share: a value parsed from a body's text with the rule in words,
//! the headers that say where a write landed in the log (`X-Log-Position`) and that an answer is
//! a repeat (`Idempotent-Replayed`), the award as a write left it, and the public reason and
//! private note a change of an award carries (the API and the console take them alike).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, ETag, EntityTag};
use chrono::NaiveDate;

use super::AppState;
use super::error::ApiError;
use super::views::AwardView;
use crate::domain::{CertificateNumber, PrivateNote, Reason, status_as_of};
use crate::error_codes::ErrorCode;
use crate::service::Outcome;

pub(crate) fn parse<T: std::str::FromStr<Err = crate::domain::ParseError>>(
    s: &str,
) -> Result<T, ApiError> {
    s.parse::<T>().map_err(ApiError::from)
}

pub(crate) fn parse_date(field: &str, s: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
        ApiError::new(
            ErrorCode::DateInvalid,
            format!("{field} is a date written YYYY-MM-DD, such as 2025-12-05; {s:?} is not"),
        )
    })
}

/// A write's answer with what it says about the append: the log position of its last event
/// (`X-Log-Position`, which a read on any instance may pass as `X-Wait-For-Position`), and,
/// for a repeated Idempotency-Key, that it is the first answer again.
pub(super) fn replayed(mut response: HttpResponse, outcome: &Outcome) -> HttpResponse {
    if let Some(position) = outcome.last_position() {
        mark_position(&mut response, position);
    }
    if outcome.replayed {
        mark_replayed(&mut response);
    }
    response
}

pub(super) fn mark_position(response: &mut HttpResponse, position: u64) {
    response.headers_mut().insert(
        super::freshness::LOG_POSITION,
        header::HeaderValue::from(position),
    );
}

/// Says that a response is the first answer to its Idempotency-Key again.
pub(super) fn mark_replayed(response: &mut HttpResponse) {
    response.headers_mut().insert(
        header::HeaderName::from_static("idempotent-replayed"),
        header::HeaderValue::from_static("true"),
    );
}

/// The award's current record, with its ETag, as the answer to a write.
pub(super) fn award_response(
    state: &AppState,
    number: &CertificateNumber,
    status: StatusCode,
    outcome: &Outcome,
) -> Result<HttpResponse, ApiError> {
    let (award, programme) = state.registry.award(number).ok_or_else(|| {
        super::error::inconsistency(format!(
            "award {number} was written but cannot be read back"
        ))
    })?;
    let today = state.registry.today();
    let view = AwardView::of(
        &award,
        status_as_of(&award, &programme, today).status,
        &state.public_url,
    );
    let response = HttpResponse::build(status)
        .insert_header(ETag(EntityTag::new_strong(format!(
            "{}-{today}",
            award.last_position
        ))))
        .insert_header((
            header::LOCATION,
            format!(
                "{}/v1/awards/{number}",
                super::prefix::base_path(&state.public_url)
            ),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(view);
    Ok(replayed(response, outcome))
}

/// The public reason for a change of an award: shown in its history, the feed, webhooks and the
/// public log for good, so short (`limits::MAX_PUBLIC_REASON_CHARS`); the detail goes in the
/// private note.
pub(crate) fn public_reason(raw: &str) -> Result<Reason, ApiError> {
    let reason: Reason = parse(raw)?;
    let max = crate::limits::MAX_PUBLIC_REASON_CHARS;
    if reason.as_str().chars().count() > max {
        return Err(ApiError::new(
            ErrorCode::ReasonInvalid,
            format!(
                "a reason for a change of an award is public and permanent, so at most {max} \
                 characters; put anything private or longer in private_note"
            ),
        ));
    }
    Ok(reason)
}

/// The private note beside a change, if one was written (blank counts as none).
pub(crate) fn private_note(raw: Option<String>) -> Result<Option<PrivateNote>, ApiError> {
    raw.filter(|n| !n.trim().is_empty())
        .map(|n| parse::<PrivateNote>(&n))
        .transpose()
}
