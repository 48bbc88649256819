//! Admin routes for the programme: pausing, resuming and sunsetting it from a day, and scheduling
//! a cycle; each answers with the programme as it now stands.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::AppState;
use super::admin::{authorise, idempotency, parse, parse_body, parse_date, replayed};
use super::error::ApiError;
use super::views::ProgrammeView;
use crate::domain::{Command, Cycle, ProgrammeCommand, ProgrammePhase, Reason};
use crate::service::Role;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgrammeChangeBody {
    effective_from: String,
    reason: String,
}

async fn change_programme(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
    phase: ProgrammePhase,
) -> Result<HttpResponse, ApiError> {
    let actor = authorise(&req, &state, Role::Admin).await?;
    let input: ProgrammeChangeBody = parse_body(&body)?;
    let effective_from = parse_date("effective_from", &input.effective_from)?;
    let reason: Reason = parse(&input.reason)?;
    let command = Command::change_programme(phase, effective_from, reason);
    let outcome = state
        .registry
        .execute(&actor, command, idempotency(&req, &body)?)
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

pub async fn pause(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    change_programme(req, state, body, ProgrammePhase::Paused).await
}

pub async fn resume(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    change_programme(req, state, body, ProgrammePhase::Running).await
}

pub async fn sunset(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    change_programme(req, state, body, ProgrammePhase::Sunset).await
}

pub async fn schedule_cycle(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let actor = authorise(&req, &state, Role::Admin).await?;
    let cycle: Cycle = parse_body(&body)?;
    let outcome = state
        .registry
        .execute(
            &actor,
            Command::Programme(ProgrammeCommand::ScheduleCycle(cycle)),
            idempotency(&req, &body)?,
        )
        .await?;
    let mut response = programme_response(&state);
    *response.status_mut() = StatusCode::CREATED;
    Ok(replayed(response, &outcome))
}
