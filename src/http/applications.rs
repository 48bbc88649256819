//! The application journey's admin routes: drop-in sessions, applications with their evidence
//! manifest and eligibility checklist, and reviewers' decisions that issue awards. Everything here
//! is private and needs a token; the public framework route shows only the criteria.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use super::extract::{AdminOnly, AdminOrReviewer, Caller, Json};
use super::route::Route;
use super::writes::replayed;
use crate::domain::applications::{Manifest, eligibility};
use crate::domain::state::Application;
use crate::domain::{
    ApplicationCommand, Command, DecideApplication, Level, OrganisationId, SubmitApplication,
};
use crate::error_codes::ErrorCode;

/// The routes this file serves.
pub(crate) const ROUTES: &[Route] = &[
    Route::post("/v1/admin/organisations/{organisation_id}/drop-ins", |r| {
        r.to(record_drop_in)
    }),
    Route::post("/v1/admin/applications", |r| r.to(submit)),
    Route::get("/v1/admin/applications/{application_id}", |r| r.to(get)),
    Route::post("/v1/admin/applications/{application_id}/decision", |r| {
        r.to(decide)
    }),
    Route::get("/v1/framework", |r| r.to(framework)),
];

fn application_view(state: &AppState, application: &Application) -> serde_json::Value {
    let checklist = eligibility(
        &state.framework,
        &application.manifest,
        application.submitted_on,
    );
    json!({
        "application_id": application.application_id,
        "organisation_id": application.organisation_id,
        "cycle_id": application.cycle_id,
        "level_sought": application.level_sought,
        "submitted_on": application.submitted_on,
        "framework_version": application.framework_version,
        "manifest": application.manifest,
        "eligibility": checklist,
        "decision": application.decision,
    })
}

fn application(state: &AppState, id: &str) -> Result<Application, ApiError> {
    state
        .registry
        .application(id)
        .ok_or_else(|| crate::domain::DomainError::ApplicationNotFound(id.to_owned()).into())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DropIn {
    attended_on: NaiveDate,
}

/// Records a drop-in session an organisation attended.
pub(crate) async fn record_drop_in(
    caller: Caller<AdminOnly>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: Json<DropIn>,
) -> Result<HttpResponse, ApiError> {
    let organisation_id: OrganisationId = path.parse().map_err(ApiError::from)?;
    let outcome = state
        .registry
        .execute(
            &caller,
            Command::Application(ApplicationCommand::RecordDropIn {
                organisation_id,
                attended_on: body.value.attended_on,
            }),
            body.idempotency,
        )
        .await?;
    let days = state.registry.drop_ins(&organisation_id);
    let response = HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({"organisation_id": organisation_id, "drop_ins": days}));
    Ok(replayed(response, &outcome))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewApplication {
    organisation_id: String,
    cycle_id: String,
    level_sought: Level,
    manifest: Manifest,
}

/// Submits an application on the organisation's behalf; refused with every failing rule.
pub(crate) async fn submit(
    caller: Caller<AdminOnly>,
    state: web::Data<AppState>,
    body: Json<NewApplication>,
) -> Result<HttpResponse, ApiError> {
    let input = body.value;
    let application_id = state.registry.new_application_id();
    let outcome = state
        .registry
        .execute(
            &caller,
            Command::Application(ApplicationCommand::Submit(SubmitApplication {
                application_id,
                organisation_id: input.organisation_id.parse().map_err(ApiError::from)?,
                cycle_id: input.cycle_id,
                level_sought: input.level_sought,
                manifest: input.manifest,
                framework: (*state.framework).clone(),
            })),
            body.idempotency,
        )
        .await?;
    let id = outcome
        .events
        .iter()
        .find_map(|(_, e)| match e {
            crate::domain::Event::ApplicationSubmitted { application_id, .. } => {
                Some(application_id.clone())
            }
            _ => None,
        })
        .ok_or_else(|| ApiError::new(ErrorCode::Internal, "no application was recorded"))?;
    let view = application_view(&state, &application(&state, &id)?);
    let response = HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!(
                "{}/v1/admin/applications/{id}",
                super::prefix::base_path(&state.public_url)
            ),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(view);
    Ok(replayed(response, &outcome))
}

/// An application with its checklist (admin or reviewer).
pub(crate) async fn get(
    _: Caller<AdminOrReviewer>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let view = application_view(&state, &application(&state, &path)?);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(view))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DecisionBody {
    /// `awarded` or `not_awarded`.
    decision: String,
    #[serde(default)]
    level: Option<Level>,
    feedback: String,
}

/// A reviewer's decision; an award is issued (and its credential signed) in the same append.
pub(crate) async fn decide(
    caller: Caller<AdminOrReviewer>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: Json<DecisionBody>,
) -> Result<HttpResponse, ApiError> {
    let input = body.value;
    let award = match (input.decision.as_str(), input.level) {
        ("awarded", Some(level)) => Some(level),
        ("not_awarded", None) => None,
        ("awarded", None) => {
            return Err(ApiError::new(
                ErrorCode::LevelRequired,
                "an award needs a level: bronze, silver or gold",
            ));
        }
        _ => {
            return Err(ApiError::new(
                ErrorCode::DecisionInvalid,
                "decision is \"awarded\" (with a level) or \"not_awarded\" (without one)",
            ));
        }
    };
    let outcome = state
        .registry
        .execute(
            &caller,
            Command::Application(ApplicationCommand::Decide(DecideApplication {
                application_id: path.to_string(),
                award,
                certificate_number: state.registry.new_certificate_number(),
                feedback: input.feedback,
                framework: (*state.framework).clone(),
            })),
            body.idempotency,
        )
        .await?;
    let view = application_view(&state, &application(&state, &path)?);
    let response = HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(view);
    Ok(replayed(response, &outcome))
}

/// The framework's criteria (public: the criteria are not private, the evidence is).
pub(crate) async fn framework(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .json(&*state.framework)
}
