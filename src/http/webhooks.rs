//! Admin routes for webhook subscriptions (register, list, show, delete, rotate the secret, the
//! delivery history, replay), and the renderer of a delivery's `data` from the public views:
//! the award's verification answer or the programme's state, never anything private. A secret
//! is in the answer that makes it (create, rotate) and in no other.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::SecondsFormat;
use serde::Deserialize;

use super::AppState;
use super::admin::{authorise, parse_body};
use super::error::ApiError;
use super::views::{ProgrammeSummary, VerificationView};
use crate::domain::status_as_of;
use crate::error_codes::ErrorCode;
use crate::service::webhooks::{Render, Subject};
use crate::service::{Registry, Role, uk_date};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewWebhook {
    url: String,
    event_types: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Replay {
    from: u64,
}

#[derive(Debug, Deserialize)]
pub struct DeliveriesQuery {
    limit: Option<u32>,
}

pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let actor = authorise(&req, &state, Role::Admin).await?;
    let new: NewWebhook = parse_body(&body)?;
    let (subscription, secret) = state
        .registry
        .create_webhook(&actor, &new.url, &new.event_types, &state.webhooks)
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

pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    authorise(&req, &state, Role::Admin).await?;
    let items = state.registry.webhooks().await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({ "items": items })))
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    authorise(&req, &state, Role::Admin).await?;
    let subscription = state.registry.webhook(&path).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(subscription))
}

pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let actor = authorise(&req, &state, Role::Admin).await?;
    state.registry.delete_webhook(&actor, &path).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn rotate_secret(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let actor = authorise(&req, &state, Role::Admin).await?;
    let (secret, subscription) = state
        .registry
        .rotate_webhook_secret(&actor, &path, &state.webhooks)
        .await?;
    let mut answer = serde_json::to_value(&subscription).expect("a subscription serialises");
    answer["secret"] = secret.into();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(answer))
}

pub async fn deliveries(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<DeliveriesQuery>,
) -> Result<HttpResponse, ApiError> {
    authorise(&req, &state, Role::Admin).await?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
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

pub async fn replay(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let actor = authorise(&req, &state, Role::Admin).await?;
    let replay: Replay = parse_body(&body)?;
    if replay.from > i64::MAX as u64 {
        return Err(ApiError::new(
            ErrorCode::PositionOutOfRange,
            "a log position is 0 to 2^63-1",
        ));
    }
    let subscription = state
        .registry
        .replay_webhook(&actor, &path, replay.from)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(subscription))
}

/// A delivery's `data`: what the public verification route answers about the award today
/// (without the inclusion proof, which the receiver can ask for), or the programme's state.
pub fn renderer(public_url: &str) -> Render {
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
