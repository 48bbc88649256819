//! A console request's session and the checks it passes: from its head, before any body is
//! read (`admit`: the session cookie looked up, and a change refused unless it comes from the
//! console's own origin, by Fetch Metadata or `Origin`, with a session); then in the handler's
//! signature (`Staff<P>`: signed in, with a role `P` allows; a page asked for without a session
//! sends the browser to sign in); then once the body is read (`ConsoleForm<T>`: the session's
//! form token, compared in constant time).

use std::future::{Future, Ready, ready};
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::dev::{Payload, ServiceRequest};
use actix_web::http::{Method, StatusCode, header};
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, HttpResponse, web};
use serde::de::DeserializeOwned;

use super::frame::{message, see_other};
use crate::http::AppState;
use crate::http::extract::Policy;
pub(crate) use crate::service::sessions::Session;

/// The session cookie: `__Host-` so that it is sent only to this origin, over a secure
/// connection, for every path, and was set by this origin alone.
pub(crate) const COOKIE: &str = "__Host-wexqs-console";

/// Whether the browser said the request came from the console's own origin (read from
/// `Sec-Fetch-Site`, or failing that `Origin`, before the CORS layer sees the request).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SameOrigin(pub(crate) bool);

/// The mark a request carries once `Staff` checked its role: a form's body is read only then.
#[derive(Debug, Clone, Copy)]
struct RoleChecked;

/// Whether a path is the console's.
pub(crate) fn is_console(path: &str) -> bool {
    path == "/console" || path.starts_with("/console/")
}

/// Whether a console path is open without a session: signing in, and the sign-in page.
fn open_without_session(path: &str) -> bool {
    path.starts_with("/console/auth/") || path == "/console/sign-in"
}

/// Whether the browser says `headers`' request comes from `public_url`'s origin: by Fetch
/// Metadata where the browser sends it, else by `Origin`. A request that says neither is not
/// taken as coming from the console (every browser that can show it sends one or the other).
pub(crate) fn same_origin(headers: &header::HeaderMap, public_url: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin";
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return false;
    };
    origin == origin_of(public_url)
}

/// The origin (scheme, host and port) of a URL.
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(slash) => &url[..after_scheme + slash],
        None => url,
    }
}

/// Whether a method changes something.
fn is_change(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD)
}

/// The session cookie's value, if the request carries one (`Cookie: a=1; b=2`, RFC 6265).
fn cookie_value(req: &ServiceRequest) -> Option<String> {
    cookie_in(req.headers())
}

pub(crate) fn cookie_in(headers: &header::HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim_matches('"').to_owned())
}

/// The `Set-Cookie` value that gives the browser a session's id.
pub(crate) fn set_cookie(id: &str) -> String {
    format!("{COOKIE}={id}; Path=/; Secure; HttpOnly; SameSite=Lax")
}

/// The `Set-Cookie` value that makes the browser forget the session's id.
pub(crate) fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// Looks up a console request's session from its head and refuses, unread, a change that does
/// not come from the console's origin with a session. `Err` is the answer to send.
pub(crate) async fn admit(req: &ServiceRequest, state: &AppState) -> Result<(), HttpResponse> {
    let base = crate::http::prefix::base_path(&state.public_url);
    let Some(console) = &state.console else {
        return Err(message(
            StatusCode::NOT_FOUND,
            base,
            "The console is not switched on",
            "This registry has no identity provider configured for its console. Its operators can switch it on (OPERATIONS.md, \"The console\").",
        ));
    };
    let change = is_change(req.method());
    if change && !req.extensions().get::<SameOrigin>().is_some_and(|s| s.0) {
        return Err(message(
            StatusCode::FORBIDDEN,
            base,
            "This change was not made from the console",
            "A change is made from the console's own pages. Nothing was changed. Open the console and try again.",
        ));
    }
    if open_without_session(req.path()) {
        return Ok(());
    }
    if let Some(id) = cookie_value(req) {
        match state.registry.session(&id, console.policy).await {
            Ok(Some(session)) => {
                req.extensions_mut().insert(session);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "a console session could not be read");
                return Err(message(
                    StatusCode::SERVICE_UNAVAILABLE,
                    base,
                    "The console is unavailable just now",
                    "Your session could not be read from the database. Nothing was changed. Try again in a minute.",
                ));
            }
        }
    }
    if change && req.extensions().get::<Session>().is_none() {
        return Err(message(
            StatusCode::FORBIDDEN,
            base,
            "You are not signed in",
            "Your session has ended, so nothing was changed. Sign in again, then make the change again.",
        ));
    }
    Ok(())
}

/// The signed-in person, with a role `P` allows.
#[derive(Debug)]
pub(crate) struct Staff<P> {
    pub(crate) session: Session,
    policy: PhantomData<P>,
}

impl<P> std::ops::Deref for Staff<P> {
    type Target = Session;
    fn deref(&self) -> &Session {
        &self.session
    }
}

impl<P: Policy> FromRequest for Staff<P> {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let base = req
            .app_data::<web::Data<AppState>>()
            .map(|s| crate::http::prefix::base_path(&s.public_url).to_owned())
            .unwrap_or_default();
        let session = req.extensions().get::<Session>().cloned();
        ready(match session {
            None => {
                let wanted = req
                    .uri()
                    .path_and_query()
                    .map_or("/console", |p| p.as_str());
                let to = format!(
                    "{base}/console/sign-in?return_to={}",
                    crate::escape::url_component(wanted)
                );
                Err(refusal(see_other(&to)))
            }
            Some(session) if !P::allows(session.actor.role) => Err(refusal(message(
                StatusCode::FORBIDDEN,
                &base,
                "Your role does not allow this",
                &format!(
                    "You are signed in as a {}; this needs an admin. Nothing was changed.",
                    session.member.role.as_str()
                ),
            ))),
            Some(session) => {
                req.extensions_mut().insert(RoleChecked);
                Ok(Staff {
                    session,
                    policy: PhantomData,
                })
            }
        })
    }
}

fn refusal(response: HttpResponse) -> actix_web::Error {
    actix_web::error::InternalError::from_response("console refusal", response).into()
}

/// What a form's extractor needs of its request before it reads the body: the base path, and
/// the session `Staff` checked (none when no `Staff` came first: then nothing is read).
fn checked_session(req: &HttpRequest) -> (String, Option<Session>) {
    let base = req
        .app_data::<web::Data<AppState>>()
        .map(|s| crate::http::prefix::base_path(&s.public_url).to_owned())
        .unwrap_or_default();
    let checked = req.extensions().get::<RoleChecked>().is_some();
    let session = checked
        .then(|| req.extensions().get::<Session>().cloned())
        .flatten();
    (base, session)
}

fn not_signed_in(base: &str) -> actix_web::Error {
    refusal(message(
        StatusCode::FORBIDDEN,
        base,
        "You are not signed in",
        "Nothing was changed. Sign in, then try again.",
    ))
}

/// Refuses a form whose token is not the session's (compared in constant time).
fn token_holds(base: &str, session: &Session, token: &[u8]) -> Result<(), actix_web::Error> {
    let matches: bool = subtle::ConstantTimeEq::ct_eq(token, session.form_token.as_bytes()).into();
    if matches {
        return Ok(());
    }
    Err(refusal(message(
        StatusCode::FORBIDDEN,
        base,
        "This form has expired",
        "The form was not made by your current session (it may be from before you last signed in). Nothing was changed. Reload the page and try again.",
    )))
}

/// A console form's fields, read once the signed-in person's role was checked, its form token
/// the session's.
#[derive(Debug)]
pub(crate) struct ConsoleForm<T>(pub(crate) T);

impl<T: DeserializeOwned + 'static> FromRequest for ConsoleForm<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (base, session) = checked_session(req);
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let session = session.ok_or_else(|| not_signed_in(&base))?;
            let bytes = bytes.await?;
            let token = form_urlencoded::parse(&bytes)
                .find(|(k, _)| k == "form_token")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            token_holds(&base, &session, token.as_bytes())?;
            let value = serde_urlencoded::from_bytes::<T>(&bytes).map_err(|e| {
                tracing::info!(error = %e, "a console form could not be read");
                refusal(message(
                    StatusCode::BAD_REQUEST,
                    &base,
                    "The form could not be read",
                    "Nothing was changed. Go back, reload the page and try again.",
                ))
            })?;
            Ok(ConsoleForm(value))
        })
    }
}

/// A console upload's fields (`multipart/form-data`, a file among them), read once the
/// signed-in person's role was checked (at most `limits::MAX_BODY`, as `web::Bytes` reads it),
/// its form token the session's.
#[derive(Debug)]
pub(crate) struct ConsoleUpload(pub(crate) Vec<super::multipart::Part>);

impl FromRequest for ConsoleUpload {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (base, session) = checked_session(req);
        let boundary = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(super::multipart::boundary);
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let session = session.ok_or_else(|| not_signed_in(&base))?;
            let unreadable = || {
                refusal(message(
                    StatusCode::BAD_REQUEST,
                    &base,
                    "The file could not be read",
                    "Nothing was changed. Go back, choose the file again and send it.",
                ))
            };
            let boundary = boundary.ok_or_else(unreadable)?;
            let bytes = bytes.await?;
            let parts = super::multipart::parts(&boundary, &bytes).ok_or_else(unreadable)?;
            let token = parts
                .iter()
                .find(|p| p.name == "form_token")
                .map(|p| p.body.as_slice())
                .unwrap_or_default();
            token_holds(&base, &session, token)?;
            Ok(ConsoleUpload(parts))
        })
    }
}
