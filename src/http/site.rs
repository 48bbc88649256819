//! The site's own pages and the answers people get when something is wrong: the accessibility
//! statement and the privacy notice a public body publishes, and the HTML pages (or compact
//! cards, inside an embed) for a 404 or a 429 on the routes people open. API routes keep
//! problem+json; a person's browser never gets raw JSON for a mistyped address or a pause.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::AppState;
use super::error::ApiError;
use super::html::{ICON_INVALID, ICON_WARNING, html, render};
use super::route::Route;
use crate::error_codes::ErrorCode;

/// The routes this file serves.
pub(crate) const ROUTES: &[Route] = &[
    Route::get("/accessibility", |r| r.to(accessibility)),
    Route::get("/privacy", |r| r.to(privacy)),
];

/// When the accessibility statement was prepared and last reviewed, and the site last tested.
pub(crate) const ACCESSIBILITY_PREPARED: &str = "2 December 2026";
pub(crate) const ACCESSIBILITY_REVIEWED: &str = "2 December 2026";
/// When the privacy notice was last updated.
pub(crate) const PRIVACY_UPDATED: &str = "2 December 2026";

#[derive(Template)]
#[template(path = "accessibility.html")]
struct AccessibilityPage {
    public_url: String,
    base: String,
    prepared: &'static str,
    reviewed: &'static str,
}

#[derive(Template)]
#[template(path = "privacy.html")]
struct PrivacyPage {
    public_url: String,
    base: String,
    updated: &'static str,
}

/// `/accessibility`: the accessibility statement, in the GOV.UK pattern.
pub(crate) async fn accessibility(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let page = AccessibilityPage {
        public_url: state.public_url.clone(),
        base: super::prefix::base_path(&state.public_url).to_owned(),
        prepared: ACCESSIBILITY_PREPARED,
        reviewed: ACCESSIBILITY_REVIEWED,
    };
    Ok(html(
        StatusCode::OK,
        render(&page)?,
        "public, max-age=3600".into(),
    ))
}

/// `/privacy`: what the register makes public, what it keeps private, for how long, and who is
/// responsible.
pub(crate) async fn privacy(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let page = PrivacyPage {
        public_url: state.public_url.clone(),
        base: super::prefix::base_path(&state.public_url).to_owned(),
        updated: PRIVACY_UPDATED,
    };
    Ok(html(
        StatusCode::OK,
        render(&page)?,
        "public, max-age=3600".into(),
    ))
}

/// Whether a path is one people open in a browser (a page, a verification page, the embed
/// card): its refusals are pages, not problem+json. `/achievements/{level}` is a page unless
/// the client asks for JSON (a verifier dereferencing an achievement's id).
pub(crate) fn for_people(path: &str, headers: &HeaderMap) -> bool {
    let page = matches!(
        path,
        "/" | "/docs" | "/accessibility" | "/privacy" | "/verify" | "/embed"
    ) || path.starts_with("/verify/")
        || path.starts_with("/embed/");
    let achievement = path.starts_with("/achievements/")
        && !path.ends_with(".svg")
        && !path.ends_with(".png")
        && !wants_json(headers);
    page || achievement
}

/// Whether a request names a JSON type and not HTML (a browser always names HTML).
pub(crate) fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    accept.contains("json") && !accept.contains("text/html")
}

/// Whether a browser asks for a page: its `Accept` names HTML.
fn browser(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.to_ascii_lowercase().contains("text/html"))
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    base: &'a str,
    status: &'static str,
    icon: &'static str,
    headline: &'a str,
    subline: &'a str,
    explanation: &'a str,
}

#[derive(Template)]
#[template(path = "embed_message.html")]
struct EmbedMessage<'a> {
    base: &'a str,
    status: &'static str,
    icon: &'static str,
    headline: &'a str,
    subline: &'a str,
    link: &'a str,
    link_words: &'a str,
}

/// A page (or, under `/embed/`, a compact card) saying what went wrong and what to do.
fn message(
    path: &str,
    status: StatusCode,
    (headline, subline, explanation): (&str, &str, &str),
    public_url: &str,
) -> HttpResponse {
    let (class, icon) = if status == StatusCode::TOO_MANY_REQUESTS {
        ("suspended", ICON_WARNING)
    } else {
        ("not_found", ICON_INVALID)
    };
    let body = if path.starts_with("/embed") {
        render(&EmbedMessage {
            base: super::prefix::base_path(public_url),
            status: class,
            icon,
            headline,
            subline,
            link: &format!("{public_url}/"),
            link_words: "Search the register",
        })
    } else {
        render(&MessagePage {
            base: super::prefix::base_path(public_url),
            status: class,
            icon,
            headline,
            subline,
            explanation,
        })
    };
    match body {
        Ok(body) => html(status, body, "no-store".into()),
        Err(e) => actix_web::ResponseError::error_response(&e),
    }
}

/// The compact card an embed shows for a number that is not an award here (at the snippet's
/// size, in the card's style): 404 for an unknown number, 400 for a mistyped one.
pub(crate) fn embed_not_found(status: StatusCode, public_url: &str) -> HttpResponse {
    message(
        "/embed/",
        status,
        (
            "No such award: check the number",
            "No award with this certificate number is in the register",
            "",
        ),
        public_url,
    )
}

/// The page a person gets for an address that names no page.
pub(crate) fn page_not_found(req: &HttpRequest, public_url: &str) -> HttpResponse {
    let words = (
        "Page not found",
        "There is no page at this address",
        "Check the address, or search the register for an organisation, an ODS code or a \
         certificate number.",
    );
    let mut response = message(req.path(), StatusCode::NOT_FOUND, words, public_url);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("public, max-age=60"),
    );
    response
}

/// The answer to a path no route serves: a page when a person asks (a path people open, or any
/// path outside the API from a browser), else problem+json.
pub(crate) async fn no_such_route(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let path = req.path();
    let problem = || {
        actix_web::ResponseError::error_response(&ApiError::new(
            ErrorCode::RouteNotFound,
            "there is no such route; the routes are listed at /openapi.json",
        ))
    };
    if path.starts_with("/v1/") || !(for_people(path, req.headers()) || browser(req.headers())) {
        return problem();
    }
    if !(path.starts_with("/verify") || path.starts_with("/embed")) {
        return page_not_found(&req, &state.public_url);
    }
    let words = (
        "No such award: check the number",
        "This address has no certificate number in it",
        "Check the certificate number: it is sixteen letters and digits in four groups, such \
         as FDXE-J5BM-RRNV-PEDM, printed on the certificate. Type it into the search of the \
         register, or scan the certificate's QR code again.",
    );
    let mut response = message(path, StatusCode::NOT_FOUND, words, &state.public_url);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("public, max-age=60"),
    );
    response
}

/// The 429 a person gets on a page: what happened and how long to wait, with `Retry-After`.
pub(crate) fn rate_limited_page(path: &str, seconds: u64, public_url: &str) -> HttpResponse {
    let wait = if seconds <= 1 {
        "a second".to_owned()
    } else {
        format!("{seconds} seconds")
    };
    let subline = format!("Wait {wait}, then try again");
    let explanation = "This address has asked for many pages in a short time, so the register \
                       is pausing its answers to it. Wait a minute and try again: nothing is \
                       wrong with the award or the page.";
    let mut response = message(
        path,
        StatusCode::TOO_MANY_REQUESTS,
        ("Too many requests", &subline, explanation),
        public_url,
    );
    if let Ok(v) = header::HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}
