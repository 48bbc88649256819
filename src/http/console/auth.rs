//! Signing in and out of the console: the sign-in page, the start of a sign-in (sent on to the
//! identity provider), the provider's callback (a session opened, its id in a `__Host-` cookie
//! that is new at every sign-in) and sign-out (the session ended in the database, so the old
//! cookie opens nothing on any instance). Beginning and finishing sign-ins are rate-limited by
//! client address.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::frame::{message, page, see_other};
use super::session::{ConsoleForm, Staff, clear_cookie, set_cookie};
use crate::error_codes::{ErrorCode, ErrorKind};
use crate::http::AppState;
use crate::http::extract::AdminOrReviewer;
use crate::http::route::Route;
use crate::service::ServiceError;
use crate::service::sign_in::SignedIn;

/// The routes this file serves.
pub(crate) const ROUTES: &[Route] = &[
    Route::get("/console/sign-in", |r| r.to(sign_in_page)),
    Route::get("/console/auth/start", |r| r.to(start)),
    Route::get("/console/auth/callback", |r| r.to(callback)),
    Route::post("/console/sign-out", |r| r.to(sign_out)),
];

#[derive(Debug, Deserialize)]
pub(crate) struct ReturnTo {
    #[serde(default)]
    return_to: Option<String>,
    #[serde(default)]
    signed_out: Option<String>,
}

/// A console path to return to after signing in: only a path of the console itself, so the
/// sign-in can never send a browser elsewhere.
fn console_path(asked: Option<&str>) -> String {
    match asked {
        Some(p)
            if (p == "/console" || p.starts_with("/console/") || p.starts_with("/console?"))
                && !p.contains("//")
                && !p.contains('\\')
                && p.chars().all(|c| c.is_ascii_graphic()) =>
        {
            p.to_owned()
        }
        _ => "/console".to_owned(),
    }
}

#[derive(Template)]
#[template(path = "console/sign_in.html")]
struct SignInPage {
    base: String,
    start: String,
    signed_out: bool,
}

pub(crate) async fn sign_in_page(
    state: web::Data<AppState>,
    query: web::Query<ReturnTo>,
) -> HttpResponse {
    let base = crate::http::prefix::base_path(&state.public_url).to_owned();
    let return_to = console_path(query.return_to.as_deref());
    page(
        StatusCode::OK,
        &SignInPage {
            start: format!(
                "{base}/console/auth/start?return_to={}",
                crate::escape::url_component(&return_to)
            ),
            base,
            signed_out: query.signed_out.is_some(),
        },
    )
}

/// Too many sign-ins from this address just now: the page to answer, if so.
fn too_many(state: &AppState, req: &HttpRequest, base: &str) -> Option<HttpResponse> {
    let console = state.console.as_ref()?;
    let client = crate::http::client::client_ip(req)?;
    let seconds = crate::http::limiter::wait_of(&console.sign_ins, client)?;
    let mut response = message(
        StatusCode::TOO_MANY_REQUESTS,
        base,
        "Too many sign-ins from this address",
        &format!("Wait {seconds} seconds, then sign in again."),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
    Some(response)
}

pub(crate) async fn start(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<ReturnTo>,
) -> HttpResponse {
    let base = crate::http::prefix::base_path(&state.public_url).to_owned();
    if let Some(refusal) = too_many(&state, &req, &base) {
        return refusal;
    }
    let Some(console) = &state.console else {
        return not_switched_on(&base);
    };
    let return_to = console_path(query.return_to.as_deref());
    match console.sign_in.begin(&state.registry, &return_to).await {
        Ok(to) => see_other(&to),
        Err(e) => refused(&base, &e),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Callback {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

pub(crate) async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<Callback>,
) -> HttpResponse {
    let base = crate::http::prefix::base_path(&state.public_url).to_owned();
    if let Some(refusal) = too_many(&state, &req, &base) {
        return refusal;
    }
    let Some(console) = &state.console else {
        return not_switched_on(&base);
    };
    if let Some(error) = &query.error {
        let said = query.error_description.as_deref().unwrap_or(error);
        return message(
            StatusCode::BAD_REQUEST,
            &base,
            "The identity provider did not sign you in",
            &format!("It said: {said}. Nothing was changed; you can sign in again."),
        );
    }
    let (Some(code), Some(sign_in)) = (&query.code, &query.state) else {
        return message(
            StatusCode::BAD_REQUEST,
            &base,
            "This is not a sign-in",
            "The address is missing the code and state an identity provider sends back. Start again from the sign-in page.",
        );
    };
    match console
        .sign_in
        .finish(&state.registry, code, sign_in, query.iss.as_deref())
        .await
    {
        Ok(SignedIn::Session { id, return_to, .. }) => {
            let mut response = see_other(&format!("{base}{return_to}"));
            if let Ok(value) = header::HeaderValue::from_str(&set_cookie(&id)) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Ok(SignedIn::NotListed { subject, name }) => message(
            StatusCode::FORBIDDEN,
            &base,
            "You are not on the console's staff list",
            &format!(
                "Your identity provider signed you in{}, but only the people on the staff list may use the console. Ask an admin to add you, giving them your subject: {subject}",
                name.map(|n| format!(" as {n}")).unwrap_or_default()
            ),
        ),
        Err(e) => refused(&base, &e),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct NoFields {}

pub(crate) async fn sign_out(
    staff: Staff<AdminOrReviewer>,
    state: web::Data<AppState>,
    _: ConsoleForm<NoFields>,
) -> HttpResponse {
    let base = crate::http::prefix::base_path(&state.public_url).to_owned();
    if let Err(e) = state.registry.end_session(&staff.session).await {
        return refused(&base, &e);
    }
    let mut response = see_other(&format!("{base}/console/sign-in?signed_out=1"));
    if let Ok(value) = header::HeaderValue::from_str(&clear_cookie()) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

fn not_switched_on(base: &str) -> HttpResponse {
    message(
        StatusCode::NOT_FOUND,
        base,
        "The console is not switched on",
        "This registry has no identity provider configured for its console.",
    )
}

/// The page for a sign-in the service refused, or could not finish.
fn refused(base: &str, e: &ServiceError) -> HttpResponse {
    let (status, headline) = match e {
        ServiceError::Invalid { code, .. } if code.kind() == ErrorKind::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            "The identity provider cannot be reached",
        ),
        ServiceError::Invalid {
            code: ErrorCode::SignInRefused,
            ..
        } => (StatusCode::BAD_REQUEST, "The sign-in did not hold"),
        ServiceError::Unavailable { .. } => (
            StatusCode::SERVICE_UNAVAILABLE,
            "The console is unavailable just now",
        ),
        _ => {
            tracing::error!(error = %e, "a console sign-in failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong")
        }
    };
    let said = match e {
        ServiceError::Invalid { message, .. } => format!("{message}. You have not been signed in."),
        _ => "Nothing was changed, and you have not been signed in. Try again in a minute.".into(),
    };
    message(status, base, headline, &said)
}
