//! Admin routes that change an existing award: suspend, reinstate, revoke and amend. Each
//! states the version it read (`If-Match`, required: 428 without it, 412 when stale), takes a
//! short public `reason` (public and permanent: the award's history, the feed, webhooks and the
//! public log) and an optional `private_note`, kept in a private event that only admins and
//! reviewers read.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use super::extract::{AdminOnly, Caller, IfMatch, Json, JsonOrEmpty, Number};
use super::route::Route;
use super::writes::{award_response, parse, private_note, public_reason};
use crate::domain::{AwardCommand, Command};
use crate::service::Idempotency;

/// The routes this file serves.
pub(crate) const ROUTES: &[Route] = &[
    Route::post("/v1/admin/awards/{certificate_number}/suspend", |r| {
        r.to(suspend)
    }),
    Route::post("/v1/admin/awards/{certificate_number}/reinstate", |r| {
        r.to(reinstate)
    }),
    Route::post("/v1/admin/awards/{certificate_number}/revoke", |r| {
        r.to(revoke)
    }),
    Route::post("/v1/admin/awards/{certificate_number}/amend", |r| {
        r.to(amend_award)
    }),
];

/// The body of a suspension or revocation: a public `reason`, and a `private_note` beside it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReasonBody {
    reason: String,
    #[serde(default)]
    private_note: Option<String>,
}

/// The one path of every change to an existing award: the caller, the number and the version
/// it read are in hand (the extractors), the body in `command`; appended, answered with the award
/// as it now stands.
async fn change_award(
    caller: Caller<AdminOnly>,
    state: web::Data<AppState>,
    Number(number): Number,
    command: Command,
    idempotency: Option<Idempotency>,
) -> Result<HttpResponse, ApiError> {
    let outcome = state
        .registry
        .execute(&caller, command, idempotency)
        .await?;
    award_response(&state, &number, StatusCode::OK, &outcome)
}

pub(crate) async fn suspend(
    caller: Caller<AdminOnly>,
    state: web::Data<AppState>,
    number: Number,
    IfMatch(expected): IfMatch,
    body: Json<ReasonBody>,
) -> Result<HttpResponse, ApiError> {
    let command = Command::Award(AwardCommand::Suspend {
        certificate_number: number.0.clone(),
        reason: public_reason(&body.value.reason)?,
        private_note: private_note(body.value.private_note)?,
        expected: Some(expected),
    });
    change_award(caller, state, number, command, body.idempotency).await
}

pub(crate) async fn revoke(
    caller: Caller<AdminOnly>,
    state: web::Data<AppState>,
    number: Number,
    IfMatch(expected): IfMatch,
    body: Json<ReasonBody>,
) -> Result<HttpResponse, ApiError> {
    let command = Command::Award(AwardCommand::Revoke {
        certificate_number: number.0.clone(),
        reason: public_reason(&body.value.reason)?,
        private_note: private_note(body.value.private_note)?,
        expected: Some(expected),
    });
    change_award(caller, state, number, command, body.idempotency).await
}

/// The body of a reinstatement, which may be empty: an optional public `reason` (kept in the
/// award's history) and an optional `private_note`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReinstateBody {
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    private_note: Option<String>,
}

pub(crate) async fn reinstate(
    caller: Caller<AdminOnly>,
    state: web::Data<AppState>,
    number: Number,
    IfMatch(expected): IfMatch,
    body: JsonOrEmpty<ReinstateBody>,
) -> Result<HttpResponse, ApiError> {
    let command = Command::Award(AwardCommand::Reinstate {
        certificate_number: number.0.clone(),
        reason: body
            .value
            .reason
            .filter(|r| !r.trim().is_empty())
            .map(|r| public_reason(&r))
            .transpose()?,
        private_note: private_note(body.value.private_note)?,
        expected: Some(expected),
    });
    change_award(caller, state, number, command, body.idempotency).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AwardAmendment {
    organisation_name: String,
    reason: String,
    #[serde(default)]
    private_note: Option<String>,
}

pub(crate) async fn amend_award(
    caller: Caller<AdminOnly>,
    state: web::Data<AppState>,
    number: Number,
    IfMatch(expected): IfMatch,
    body: Json<AwardAmendment>,
) -> Result<HttpResponse, ApiError> {
    let command = Command::Award(AwardCommand::Amend {
        certificate_number: number.0.clone(),
        organisation_name: parse(&body.value.organisation_name)?,
        reason: public_reason(&body.value.reason)?,
        private_note: private_note(body.value.private_note)?,
        expected: Some(expected),
    });
    change_award(caller, state, number, command, body.idempotency).await
}
