//! Admin routes that change an existing award: suspend, reinstate, revoke and amend. Each
//! states the version it read (`If-Match`, required: 428 without it, 412 when stale), takes a
//! short public `reason` (public and permanent: the award's history, the feed, webhooks and the
//! public log) and an optional `private_note`, kept in a private event that only admins and
//! reviewers read.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::admin::{authorise, award_response, idempotency, parse, parse_body};
use super::error::ApiError;
use super::{AppState, parse_number};
use crate::domain::{AwardCommand, CertificateNumber, Command, PrivateNote, Reason};
use crate::error_codes::ErrorCode;
use crate::service::Role;

/// The award version the caller last read, from `If-Match: "<ETag>"`: required on every change
/// to an existing award, so that no change is made to a version its maker never saw (428 when
/// it is missing, or `*`, which names no version; 412 when it is stale).
fn if_match(req: &HttpRequest) -> Result<u64, ApiError> {
    let required = || {
        ApiError::new(
            ErrorCode::PreconditionRequired,
            "a change to an existing award states the version it read: send If-Match with the \
             ETag of the award's record (GET /v1/awards/{certificate_number})",
        )
    };
    let Some(value) = req.headers().get(header::IF_MATCH) else {
        return Err(required());
    };
    let bad = || {
        ApiError::new(
            ErrorCode::IfMatchInvalid,
            "If-Match takes the award's ETag as the registry sent it, such as \"42-2026-11-24\"",
        )
    };
    let raw = value.to_str().map_err(|_| bad())?.trim();
    if raw == "*" {
        return Err(required());
    }
    let tag = raw.trim_start_matches("W/").trim_matches('"');
    let position = tag.split('-').next().unwrap_or_default();
    position.parse::<u64>().map_err(|_| bad())
}

/// The body of a suspension or revocation: a public `reason`, and a `private_note` beside it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    reason: String,
    #[serde(default)]
    private_note: Option<String>,
}

/// The public reason for a change of an award: shown in its history, the feed, webhooks and the
/// public log for good, so short (`limits::MAX_PUBLIC_REASON_CHARS`); the detail goes in the
/// private note.
fn public_reason(raw: &str) -> Result<Reason, ApiError> {
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
fn private_note(raw: Option<String>) -> Result<Option<PrivateNote>, ApiError> {
    raw.filter(|n| !n.trim().is_empty())
        .map(|n| parse::<PrivateNote>(&n))
        .transpose()
}

/// The one path of every change to an existing award: the caller, the number, the version it
/// read, then `command` (given those, it reads the body into the command), appended, answered
/// with the award as it now stands.
async fn change_award(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
    command: impl FnOnce(CertificateNumber, Option<u64>, &[u8]) -> Result<Command, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let actor = authorise(&req, &state, Role::Admin).await?;
    let number = parse_number(&path)?;
    let expected = Some(if_match(&req)?);
    let command = command(number.clone(), expected, &body)?;
    let outcome = state
        .registry
        .execute(&actor, command, idempotency(&req, &body)?)
        .await?;
    award_response(&state, &number, StatusCode::OK, &outcome)
}

pub async fn suspend(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    change_award(
        req,
        state,
        path,
        body,
        |certificate_number, expected, body| {
            let input: ReasonBody = parse_body(body)?;
            Ok(Command::Award(AwardCommand::Suspend {
                certificate_number,
                reason: public_reason(&input.reason)?,
                private_note: private_note(input.private_note)?,
                expected,
            }))
        },
    )
    .await
}

pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    change_award(
        req,
        state,
        path,
        body,
        |certificate_number, expected, body| {
            let input: ReasonBody = parse_body(body)?;
            Ok(Command::Award(AwardCommand::Revoke {
                certificate_number,
                reason: public_reason(&input.reason)?,
                private_note: private_note(input.private_note)?,
                expected,
            }))
        },
    )
    .await
}

/// The body of a reinstatement, which may be empty: an optional public `reason` (kept in the
/// award's history) and an optional `private_note`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReinstateBody {
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    private_note: Option<String>,
}

pub async fn reinstate(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    change_award(
        req,
        state,
        path,
        body,
        |certificate_number, expected, body| {
            let input: ReinstateBody = if body.iter().all(u8::is_ascii_whitespace) {
                ReinstateBody::default()
            } else {
                parse_body(body)?
            };
            Ok(Command::Award(AwardCommand::Reinstate {
                certificate_number,
                reason: input
                    .reason
                    .filter(|r| !r.trim().is_empty())
                    .map(|r| public_reason(&r))
                    .transpose()?,
                private_note: private_note(input.private_note)?,
                expected,
            }))
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwardAmendment {
    organisation_name: String,
    reason: String,
    #[serde(default)]
    private_note: Option<String>,
}

pub async fn amend_award(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    change_award(
        req,
        state,
        path,
        body,
        |certificate_number, expected, body| {
            let input: AwardAmendment = parse_body(body)?;
            Ok(Command::Award(AwardCommand::Amend {
                certificate_number,
                organisation_name: parse(&input.organisation_name)?,
                reason: public_reason(&input.reason)?,
                private_note: private_note(input.private_note)?,
                expected,
            }))
        },
    )
    .await
}
