//! Webhooks and API tokens in the console (admins only): the webhook subscriptions with their
//! state, making one (its signing secret shown on the answering page once, never again) and
//! deleting one after a confirm step; the API tokens with their last use, making one (the token
//! shown once) and revoking one. Each change is the service's own (`create_webhook`,
//! `delete_webhook`, `create_token`, `revoke_token`), as the API and CLI make it, recorded in the
//! signed-in person's name.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::frame::{Frame, message, page, see_other};
use super::session::{ConsoleForm, Staff};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::AdminOnly;
use crate::http::route::Route;
use crate::service::Role;
use crate::service::webhooks::EVENT_TYPES;

/// The routes this file serves.
pub(crate) const ROUTES: &[Route] = &[
    Route::get("/console/integrations", |r| r.to(show)),
    Route::post("/console/integrations/webhooks", |r| r.to(create_webhook)),
    Route::get("/console/integrations/webhooks/{webhook_id}/delete", |r| {
        r.to(confirm_delete)
    }),
    Route::post("/console/integrations/webhooks/{webhook_id}/delete", |r| {
        r.to(delete_webhook)
    }),
    Route::post("/console/integrations/tokens", |r| r.to(create_token)),
    Route::post("/console/integrations/tokens/{token_id}/revoke", |r| {
        r.to(revoke_token)
    }),
];

#[derive(Debug)]
struct WebhookRow {
    id: String,
    target: String,
    events: String,
    status: String,
    reason: String,
    failures: u32,
}

#[derive(Debug)]
struct TokenRow {
    id: String,
    name: String,
    role: String,
    created_at: String,
    last_used_at: String,
    revoked_at: Option<String>,
}

/// What was made and is shown this once: what it is, and its secret.
#[derive(Debug)]
struct ShownOnce {
    what: &'static str,
    name: String,
    secret: String,
}

/// What the two forms held when one was refused.
#[derive(Debug, Default, Clone)]
struct Forms {
    url: String,
    event_types: Vec<String>,
    token_name: String,
    token_role: String,
}

#[derive(Template)]
#[template(path = "console/integrations.html")]
struct IntegrationsPage {
    frame: Frame,
    webhooks: Vec<WebhookRow>,
    tokens: Vec<TokenRow>,
    /// Each event type, and whether the form ticks it.
    event_types: Vec<(&'static str, bool)>,
    shown_once: Option<ShownOnce>,
    done: Option<String>,
    /// Which form was refused (`webhook`, `token`, `revoke`) and why, in words.
    refused: Option<(&'static str, String)>,
    forms: Forms,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ShowQuery {
    #[serde(default)]
    done: Option<String>,
}

fn unavailable(base: &str, e: &crate::service::ServiceError) -> HttpResponse {
    tracing::warn!(error = %e, "a console page could not be read");
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        base,
        "The console is unavailable just now",
        "The page could not be read from the database. Nothing was changed. Try again in a minute.",
    )
}

async fn integrations_page(
    state: &AppState,
    staff: &Staff<AdminOnly>,
    status: StatusCode,
    done: Option<String>,
    shown_once: Option<ShownOnce>,
    refused: Option<(&'static str, String)>,
    forms: Forms,
) -> HttpResponse {
    let frame = Frame::new(state, staff, "integrations");
    let webhooks = match state.registry.webhooks().await {
        Ok(webhooks) => webhooks,
        Err(e) => return unavailable(&frame.base, &e),
    };
    let tokens = match state.registry.tokens().await {
        Ok(tokens) => tokens,
        Err(e) => return unavailable(&frame.base, &e),
    };
    page(
        status,
        &IntegrationsPage {
            frame,
            webhooks: webhooks
                .into_iter()
                .map(|w| WebhookRow {
                    id: w.id,
                    target: w.target,
                    events: w.event_types.join(", "),
                    status: w.status,
                    reason: w.disabled_reason.unwrap_or_default(),
                    failures: w.consecutive_failures,
                })
                .collect(),
            tokens: tokens
                .into_iter()
                .map(|t| TokenRow {
                    id: t.id,
                    name: t.name,
                    role: t.role,
                    created_at: t.created_at,
                    last_used_at: t.last_used_at.unwrap_or_else(|| "Never".into()),
                    revoked_at: t.revoked_at,
                })
                .collect(),
            event_types: EVENT_TYPES
                .iter()
                .map(|t| (*t, forms.event_types.iter().any(|e| e == t)))
                .collect(),
            shown_once,
            done,
            refused,
            forms,
        },
    )
}

pub(crate) async fn show(
    staff: Staff<AdminOnly>,
    state: web::Data<AppState>,
    query: web::Query<ShowQuery>,
) -> HttpResponse {
    let done = query.into_inner().done;
    integrations_page(
        &state,
        &staff,
        StatusCode::OK,
        done,
        None,
        None,
        Forms::default(),
    )
    .await
}

/// The webhook form's fields: `url`, and `event_types` once for each box ticked.
pub(crate) async fn create_webhook(
    staff: Staff<AdminOnly>,
    state: web::Data<AppState>,
    ConsoleForm(fields): ConsoleForm<Vec<(String, String)>>,
) -> HttpResponse {
    let field = |name: &'static str| {
        fields
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let url = field("url").next().unwrap_or_default().trim().to_owned();
    let event_types: Vec<String> = field("event_types").collect();
    let forms = Forms {
        url: url.clone(),
        event_types: event_types.clone(),
        ..Forms::default()
    };
    match state
        .registry
        .create_webhook(&staff.actor, &url, &event_types, &state.webhooks)
        .await
    {
        Ok((subscription, secret)) => {
            let shown = ShownOnce {
                what: "webhook",
                name: subscription.target,
                secret,
            };
            integrations_page(
                &state,
                &staff,
                StatusCode::CREATED,
                None,
                Some(shown),
                None,
                Forms::default(),
            )
            .await
        }
        Err(e) => {
            let refused = Some(("webhook", ApiError::from(e).detail));
            integrations_page(
                &state,
                &staff,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                None,
                refused,
                forms,
            )
            .await
        }
    }
}

#[derive(Template)]
#[template(path = "console/integrations_delete.html")]
struct ConfirmDeletePage {
    frame: Frame,
    id: String,
    target: String,
    events: String,
}

pub(crate) async fn confirm_delete(
    staff: Staff<AdminOnly>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    let frame = Frame::new(&state, &staff, "integrations");
    match state.registry.webhook(&path).await {
        Ok(subscription) => page(
            StatusCode::OK,
            &ConfirmDeletePage {
                frame,
                id: subscription.id,
                target: subscription.target,
                events: subscription.event_types.join(", "),
            },
        ),
        Err(e) => message(
            StatusCode::NOT_FOUND,
            &frame.base,
            "No such webhook subscription",
            &ApiError::from(e).detail,
        ),
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct DeleteForm {
    #[serde(default)]
    confirm: String,
}

pub(crate) async fn delete_webhook(
    staff: Staff<AdminOnly>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    ConsoleForm(form): ConsoleForm<DeleteForm>,
) -> HttpResponse {
    let base = crate::http::prefix::base_path(&state.public_url).to_owned();
    if form.confirm != "yes" {
        return see_other(&format!(
            "{base}/console/integrations/webhooks/{}/delete",
            crate::escape::url_component(&path)
        ));
    }
    match state.registry.delete_webhook(&staff.actor, &path).await {
        Ok(()) => see_other(&format!("{base}/console/integrations?done=webhook-deleted")),
        Err(e) => {
            let refused = Some(("webhook-delete", ApiError::from(e).detail));
            integrations_page(
                &state,
                &staff,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                None,
                refused,
                Forms::default(),
            )
            .await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct TokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
}

pub(crate) async fn create_token(
    staff: Staff<AdminOnly>,
    state: web::Data<AppState>,
    ConsoleForm(form): ConsoleForm<TokenForm>,
) -> HttpResponse {
    let forms = Forms {
        token_name: form.name.clone(),
        token_role: form.role.clone(),
        ..Forms::default()
    };
    let refuse = |words: String| Some(("token", words));
    let outcome = match Role::parse(&form.role) {
        None => Err(refuse("choose the token's role: admin or reviewer".into())),
        Some(role) => state
            .registry
            .create_token(&staff.actor, &form.name, role)
            .await
            .map_err(|e| refuse(ApiError::from(e).detail)),
    };
    match outcome {
        Ok((_, token)) => {
            let shown = ShownOnce {
                what: "token",
                name: form.name.trim().to_owned(),
                secret: token,
            };
            integrations_page(
                &state,
                &staff,
                StatusCode::CREATED,
                None,
                Some(shown),
                None,
                Forms::default(),
            )
            .await
        }
        Err(refused) => {
            integrations_page(
                &state,
                &staff,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                None,
                refused,
                forms,
            )
            .await
        }
    }
}

pub(crate) async fn revoke_token(
    staff: Staff<AdminOnly>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    ConsoleForm(_): ConsoleForm<DeleteForm>,
) -> HttpResponse {
    let base = crate::http::prefix::base_path(&state.public_url).to_owned();
    match state.registry.revoke_token(&staff.actor, &path).await {
        Ok(()) => see_other(&format!("{base}/console/integrations?done=token-revoked")),
        Err(e) => {
            let refused = Some(("revoke", ApiError::from(e).detail));
            integrations_page(
                &state,
                &staff,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                None,
                refused,
                Forms::default(),
            )
            .await
        }
    }
}
