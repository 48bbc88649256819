//! Admin routes for the programme: pausing, resuming and sunsetting it from a day, and scheduling
//! a cycle; each answers with the programme as it now stands.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use super::extract::{AdminOnly, Caller, Json};
use super::route::Route;
use super::views::ProgrammeView;
use super::writes::{parse, parse_date, replayed};
use crate::domain::{Command, Cycle, ProgrammeCommand, ProgrammePhase, Reason};

/// The routes this file serves.
pub(crate) const ROUTES: &[Route] = &[
    Route::post("/v1/admin/programme/pause", |r| r.to(pause)),
    Route::post("/v1/admin/programme/resume", |r| r.to(resume)),
    Route::post("/v1/admin/programme/sunset", |r| r.to(sunset)),
    Route::post("/v1/admin/programme/cycles", |r| r.to(schedule_cycle)),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProgrammeChangeBody {
    effective_from: String,
    reason: String,
}

async fn change_programme(
    caller: Caller<AdminOnly>,
    state: web::Data<AppState>,
    body: Json<ProgrammeChangeBody>,
    phase: ProgrammePhase,
) -> Result<HttpResponse, ApiError> {
    let input = body.value;
    let effective_from = parse_date("effective_from", &input.effective_from)?;
    let reason: Reason = parse(&input.reason)?;
    let command = Command::change_programme(phase, effective_from, reason);
    let outcome = state
        .registry
        .execute(&caller, command, body.idempotency)
        .await?;
    Ok(replayed(programme_response(&state), &outcome))
}

fn programme_response(state: &AppState) -> HttpResponse {
    let programme = state.registry.programme();
    let today = state.registry.today();
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ProgrammeView::of(&programme, today))
}

pub(crate) async fn pause(
    caller: Caller<AdminOnly>,
    state: web::Data<AppState>,
    body: Json<ProgrammeChangeBody>,
) -> Result<HttpResponse, ApiError> {
    change_programme(caller, state, body, ProgrammePhase::Paused).await
}

pub(crate) async fn resume(
    caller: Caller<AdminOnly>,
    state: web::Data<AppState>,
    body: Json<ProgrammeChangeBody>,
) -> Result<HttpResponse, ApiError> {
    change_programme(caller, state, body, ProgrammePhase::Running).await
}

pub(crate) async fn sunset(
    caller: Caller<AdminOnly>,
    state: web::Data<AppState>,
    body: Json<ProgrammeChangeBody>,
) -> Result<HttpResponse, ApiError> {
    change_programme(caller, state, body, ProgrammePhase::Sunset).await
}

pub(crate) async fn schedule_cycle(
    caller: Caller<AdminOnly>,
    state: web::Data<AppState>,
    body: Json<Cycle>,
) -> Result<HttpResponse, ApiError> {
    let outcome = state
        .registry
        .execute(
            &caller,
            Command::Programme(ProgrammeCommand::ScheduleCycle(body.value)),
            body.idempotency,
        )
        .await?;
    let mut response = programme_response(&state);
    *response.status_mut() = StatusCode::CREATED;
    Ok(replayed(response, &outcome))
}
