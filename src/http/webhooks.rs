//! Admin routes for webhook subscriptions (register, list, show, delete, rotate the secret, the
//! delivery history, replay), and the renderer of a delivery's `data` from the public views:
//! the award's verification answer or the programme's state, never anything private. A secret
//! is in the answer that makes it (create, rotate) and in no other.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use chrono::SecondsFormat;
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use super::extract::{AdminOnly, Caller, JsonOnly};
use super::route::Route;
use super::views::{ProgrammeSummary, VerificationView};
use crate::domain::status_as_of;
use crate::error_codes::ErrorCode;
use crate::service::webhooks::{Render, Subject};
use crate::service::{Registry, uk_date};

/// The routes this file serves.
pub(crate) const ROUTES: &[Route] = &[
    Route::post("/v1/admin/webhooks", |r| r.to(create)),
    Route::get("/v1/admin/webhooks", |r| r.to(list)),
    Route::get("/v1/admin/webhooks/{webhook_id}", |r| r.to(show)),
    Route::delete("/v1/admin/webhooks/{webhook_id}", |r| r.to(delete)),
    Route::post("/v1/admin/webhooks/{webhook_id}/rotate-secret", |r| {
        r.to(rotate_secret)
    }),
    Route::get("/v1/admin/webhooks/{webhook_id}/deliveries", |r| {
        r.to(deliveries)
    }),
    Route::post("/v1/admin/webhooks/{webhook_id}/replay", |r| r.to(replay)),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewWebhook {
    url: String,
    event_types: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Replay {
    from: u64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct DeliveriesQuery {
    limit: Option<u32>,
}

pub(crate) async fn create(
    caller: Caller<AdminOnly>,
    state: web::Data<AppState>,
    JsonOnly(new): JsonOnly<NewWebhook>,
) -> Result<HttpResponse, ApiError> {
    let (subscription, secret) = state
        .registry
        .create_webhook(&caller, &new.url, &new.event_types, &state.webhooks)
        .await?;
    let mut answer = serde_json::to_value(&subscription).expect("a subscription serialises");
    // The full URL, like the secret, only in this answer: every other shows its origin.
    answer["url"] = reqwest::Url::parse(&new.url)
        .map(String::from)
        .unwrap_or(new.url)
        .into();
    answer["secret"] = secret.into();
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header((
            "Location",
            format!("{}/v1/admin/webhooks/{}", state.public_url, subscription.id),
        ))
        .json(answer))
}

pub(crate) async fn list(
    _: Caller<AdminOnly>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let items = state.registry.webhooks().await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({ "items": items })))
}

pub(crate) async fn show(
    _: Caller<AdminOnly>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let subscription = state.registry.webhook(&path).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(subscription))
}

pub(crate) async fn delete(
    caller: Caller<AdminOnly>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.registry.delete_webhook(&caller, &path).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub(crate) async fn rotate_secret(
    caller: Caller<AdminOnly>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (secret, subscription) = state
        .registry
        .rotate_webhook_secret(&caller, &path, &state.webhooks)
        .await?;
    let mut answer = serde_json::to_value(&subscription).expect("a subscription serialises");
    answer["secret"] = secret.into();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(answer))
}

pub(crate) async fn deliveries(
    _: Caller<AdminOnly>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<DeliveriesQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=crate::limits::MAX_DELIVERIES_PAGE).contains(&limit) {
        return Err(ApiError::new(
            ErrorCode::LimitInvalid,
            "limit is 1 to 1,000 deliveries",
        ));
    }
    let items = state.registry.webhook_deliveries(&path, limit).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({ "items": items })))
}

pub(crate) async fn replay(
    caller: Caller<AdminOnly>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    JsonOnly(replay): JsonOnly<Replay>,
) -> Result<HttpResponse, ApiError> {
    if replay.from > i64::MAX as u64 {
        return Err(ApiError::new(
            ErrorCode::PositionOutOfRange,
            "a log position is 0 to 2^63-1",
        ));
    }
    let subscription = state
        .registry
        .replay_webhook(&caller, &path, replay.from)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(subscription))
}

/// A delivery's `data`: what the public verification route answers about the award today
/// (without the inclusion proof, which the receiver can ask for), or the programme's state.
pub(crate) fn renderer(public_url: &str) -> Render {
    let public_url = public_url.trim_end_matches('/').to_owned();
    Arc::new(move |registry: &Registry, subject: &Subject| {
        let now = registry.now();
        let today = uk_date(now);
        match subject {
            Subject::Award(number) => {
                let (award, programme) = registry.award(number)?;
                let verdict = status_as_of(&award, &programme, today);
                let view = VerificationView::of(
                    &award,
                    verdict,
                    &programme,
                    &public_url,
                    now.to_rfc3339_opts(SecondsFormat::Secs, true),
                );
                serde_json::to_value(view).ok()
            }
            Subject::Programme => {
                serde_json::to_value(ProgrammeSummary::of(&registry.programme(), today)).ok()
            }
        }
    })
}
