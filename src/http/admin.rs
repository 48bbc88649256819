//! Admin routes: bearer tokens with a role; every write is one command to the service, honouring
//! `Idempotency-Key` (a retry returns the first result) and `If-Match` (the award's `ETag`).

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use super::extract::{AdminOnly, AdminOrReviewer, Body, Caller, Json, body_malformed};
use super::route::Route;
use super::views::OrganisationView;
use super::writes::{award_response, mark_position, mark_replayed, parse, parse_date, replayed};
use crate::domain::{
    AwardCommand, AwardSource, Command, IssueAward, Level, Name, OdsCode, OrganisationCommand,
    OrganisationId, OrganisationKind, Region,
};
use crate::error_codes::ErrorCode;
use crate::service::Outcome;
use crate::service::import::{import_commands, read_csv, read_json};

/// The routes this file serves.
pub(crate) const ROUTES: &[Route] = &[
    Route::post("/v1/admin/organisations", |r| r.to(create_organisation)),
    Route::get("/v1/admin/organisations/{organisation_id}", |r| {
        r.to(get_organisation)
    }),
    Route::post("/v1/admin/organisations/{organisation_id}/amend", |r| {
        r.to(amend_organisation)
    }),
    Route::post("/v1/admin/awards", |r| r.to(issue_award)),
    Route::post("/v1/admin/awards/import", |r| r.to(import_awards)),
    Route::post("/v1/admin/expiries", |r| r.to(expire_due)),
    Route::get("/v1/admin/events", |r| r.to(events)),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewOrganisation {
    name: String,
    #[serde(default)]
    ods_code: Option<String>,
    region: String,
    #[serde(default)]
    kind: Option<OrganisationKind>,
}

pub(crate) async fn create_organisation(
    caller: Caller<AdminOnly>,
    state: web::Data<AppState>,
    body: Json<NewOrganisation>,
) -> Result<HttpResponse, ApiError> {
    let input = body.value;
    let command = Command::Organisation(OrganisationCommand::Register {
        organisation_id: state.registry.new_organisation_id(),
        name: parse(&input.name)?,
        ods_code: input
            .ods_code
            .filter(|c| !c.trim().is_empty())
            .map(|c| parse::<OdsCode>(&c))
            .transpose()?,
        region: parse(&input.region)?,
        kind: input.kind.unwrap_or_default(),
    });
    let outcome = state
        .registry
        .execute(&caller, command, body.idempotency)
        .await?;
    let Some((
        _,
        crate::domain::Event::OrganisationRegistered {
            organisation_id, ..
        },
    )) = outcome.events.first()
    else {
        return Err(super::error::inconsistency(
            "registering an organisation recorded something else",
        ));
    };
    organisation_response(&state, *organisation_id, StatusCode::CREATED, &outcome)
}

fn organisation_response(
    state: &AppState,
    id: OrganisationId,
    status: StatusCode,
    outcome: &Outcome,
) -> Result<HttpResponse, ApiError> {
    let view = state.registry.organisation(&id).map(|o| {
        let mut v = serde_json::to_value(OrganisationView::of(&o)).unwrap_or_default();
        v["awards"] = serde_json::json!(o.awards);
        v["log_position"] = serde_json::json!(o.last_position);
        v
    });
    let view = view.ok_or(crate::domain::DomainError::OrganisationNotFound(id))?;
    let response = HttpResponse::build(status)
        .insert_header((
            header::LOCATION,
            format!(
                "{}/v1/admin/organisations/{id}",
                super::prefix::base_path(&state.public_url)
            ),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(view);
    Ok(replayed(response, outcome))
}

pub(crate) async fn get_organisation(
    _: Caller<AdminOrReviewer>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: OrganisationId = parse(&path)?;
    let none = Outcome {
        events: Vec::new(),
        replayed: false,
    };
    organisation_response(&state, id, StatusCode::OK, &none)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OrganisationAmendment {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    ods_code: Option<String>,
    #[serde(default)]
    region: Option<String>,
    reason: String,
}

pub(crate) async fn amend_organisation(
    caller: Caller<AdminOnly>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: Json<OrganisationAmendment>,
) -> Result<HttpResponse, ApiError> {
    let id: OrganisationId = parse(&path)?;
    let input = body.value;
    let command = Command::Organisation(OrganisationCommand::Amend {
        organisation_id: id,
        name: input.name.map(|n| parse::<Name>(&n)).transpose()?,
        ods_code: input.ods_code.map(|c| parse::<OdsCode>(&c)).transpose()?,
        region: input.region.map(|r| parse::<Region>(&r)).transpose()?,
        reason: parse(&input.reason)?,
    });
    let outcome = state
        .registry
        .execute(&caller, command, body.idempotency)
        .await?;
    organisation_response(&state, id, StatusCode::OK, &outcome)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewAward {
    organisation_id: String,
    level: String,
    awarded_on: String,
    #[serde(default)]
    issuer_name: Option<String>,
    #[serde(default)]
    framework_version: Option<String>,
}

pub(crate) async fn issue_award(
    caller: Caller<AdminOnly>,
    state: web::Data<AppState>,
    body: Json<NewAward>,
) -> Result<HttpResponse, ApiError> {
    let input = body.value;
    let command = Command::Award(AwardCommand::Issue(IssueAward {
        certificate_number: state.registry.new_certificate_number(),
        organisation_id: parse(&input.organisation_id)?,
        level: parse::<Level>(&input.level)?,
        awarded_on: parse_date("awarded_on", &input.awarded_on)?,
        issuer_name: input.issuer_name.filter(|s| !s.trim().is_empty()),
        // An award issued through the registry is judged against the framework it serves.
        framework_version: input
            .framework_version
            .filter(|s| !s.trim().is_empty())
            .or_else(|| Some(state.framework.version.clone())),
        source: AwardSource::Issued,
    }));
    let outcome = state
        .registry
        .execute(&caller, command, body.idempotency)
        .await?;
    let number = outcome
        .issued()
        .into_iter()
        .next()
        .ok_or_else(|| super::error::inconsistency("issuing an award recorded no award"))?;
    award_response(&state, &number, StatusCode::CREATED, &outcome)
}

/// Imports existing awards, as CSV (`text/csv`) or JSON (`{"awards": [...]}`), read a row at a
/// time: all or nothing, every bad row reported with its line.
pub(crate) async fn import_awards(
    caller: Caller<AdminOnly>,
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let Body {
        bytes: body,
        idempotency,
    } = body;
    let is_csv = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/csv"));
    // The body is held (up to the body limit) for its Idempotency-Key's hash; its rows are read
    // one at a time from it, each checked as it comes and kept only as what the import needs.
    let rows = if is_csv {
        std::str::from_utf8(&body)
            .map_err(|_| ApiError::new(ErrorCode::BodyMalformed, "the CSV is not UTF-8 text"))?;
        read_csv(&body[..]).map_err(row_errors)?
    } else {
        read_json(&body).map_err(body_malformed)?
    };
    if rows.is_empty() {
        return Err(ApiError::new(
            ErrorCode::ImportEmpty,
            "the import has no rows",
        ));
    }
    let summary = import_commands(&state.registry, &caller, rows, idempotency, |_| {})
        .await
        .map_err(row_errors)?;
    let awards: Vec<String> = summary.issued.iter().map(ToString::to_string).collect();
    let mut response = HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({
            "imported": awards.len(),
            "certificate_numbers": awards,
            "log_position": summary.last_position,
        }));
    if let Some(position) = summary.last_position {
        mark_position(&mut response, position);
    }
    if summary.replayed {
        mark_replayed(&mut response);
    }
    Ok(response)
}

fn row_errors(errors: Vec<crate::service::import::RowError>) -> ApiError {
    let first = errors
        .first()
        .map(|e| format!("line {}: {}", e.line, e.message))
        .unwrap_or_default();
    ApiError::new(
        ErrorCode::ImportRowsInvalid,
        format!(
            "{} row(s) cannot be imported, so nothing was imported; the first: {first}",
            errors.len()
        ),
    )
    .with("errors", serde_json::to_value(&errors).unwrap_or_default())
}

#[derive(Debug, Deserialize)]
pub(crate) struct FeedParams {
    from: Option<u64>,
    limit: Option<u32>,
}

/// The full event feed, private events included, each with who its actor is by name: for the
/// programme team and auditors.
pub(crate) async fn events(
    _: Caller<AdminOrReviewer>,
    state: web::Data<AppState>,
    params: web::Query<FeedParams>,
) -> Result<HttpResponse, ApiError> {
    let from = params.from.unwrap_or(0);
    let limit = params.limit.unwrap_or(100);
    if !(1..=crate::limits::MAX_EVENTS_PAGE).contains(&limit) {
        return Err(ApiError::new(
            ErrorCode::LimitInvalid,
            "limit is 1 to 1,000 events",
        ));
    }
    let events = state.registry.events(from, limit).await?;
    let next = events.last().map_or(from, |e| e.position + 1);
    // Each actor named once a page: a page's events have few actors between them.
    let mut names: std::collections::HashMap<&str, Option<String>> = Default::default();
    for e in &events {
        if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(&e.actor) {
            slot.insert(state.registry.actor_name(&e.actor).await?);
        }
    }
    let items: Vec<serde_json::Value> = events
        .iter()
        .map(|e| {
            serde_json::json!({
                "position": e.position,
                "event_id": e.event_id,
                "stream_id": e.stream_id,
                "stream_version": e.stream_version,
                "type": e.event_type,
                "schema_version": e.schema_version,
                "recorded_at": e.recorded_at,
                "actor": e.actor,
                "actor_name": names.get(e.actor.as_str()).cloned().flatten(),
                "visibility": e.visibility,
                "payload": serde_json::from_slice::<serde_json::Value>(&e.payload).unwrap_or_default(),
                "leaf_hash": hex::encode(&e.leaf_hash),
                "chain_hash": hex::encode(&e.chain_hash),
            })
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "events": items, "next": next })))
}

/// Records the expiries that have passed (the background task does this too).
pub(crate) async fn expire_due(
    _: Caller<AdminOnly>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let recorded = state.registry.expire_due().await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "recorded": recorded })))
}
