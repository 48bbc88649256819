//! What handlers take instead of reading the request by hand: the caller with the role a route
//! needs (`Caller<AdminOnly>`, `Caller<AdminOrReviewer>`: the permission is in the handler's
//! signature), a bounded JSON body with its `Idempotency-Key` (`Json`, `JsonOrEmpty`, `Body`),
//! the award version a change was made against (`IfMatch`), and the award a path names
//! (`FoundAward`).
//!
//! The caller is known before any body is read: `guard::admit` checks an admin request's token
//! from its head and keeps its actor in the request; `Caller` checks the role from it at once
//! (no await), and each handler takes its `Caller` first. actix-web polls a handler's extractors
//! in order and stops at the first refusal, so a caller without the role is refused before the
//! body's extractor is polled; and a body extractor refuses, unread, a request whose caller no
//! one has checked.

use std::future::{Future, Ready, ready};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, web};
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::ApiError;
use crate::domain::state::IssuedCredential;
use crate::domain::{Award, CertificateNumber, Programme};
use crate::error_codes::ErrorCode;
use crate::service::{Actor, Idempotency, Role, ServiceError, request_hash};

/// Who may call a route.
pub(crate) trait Policy {
    /// Whether an actor of `role` may.
    fn allows(role: Role) -> bool;
}

/// Admins only: every write, and the webhooks.
#[derive(Debug)]
pub(crate) struct AdminOnly;

/// Admins and reviewers: the private reads, and a reviewer's decision.
#[derive(Debug)]
pub(crate) struct AdminOrReviewer;

impl Policy for AdminOnly {
    fn allows(role: Role) -> bool {
        role == Role::Admin
    }
}

impl Policy for AdminOrReviewer {
    fn allows(_: Role) -> bool {
        true
    }
}

/// The caller of an admin route, whose role `P` allows: 401 without a valid bearer token, 403
/// when its role may not.
#[derive(Debug)]
pub(crate) struct Caller<P> {
    pub(crate) actor: Actor,
    policy: PhantomData<P>,
}

/// The mark a request carries once its caller's role was checked: a body is read only then.
#[derive(Debug, Clone, Copy)]
struct RoleChecked;

impl<P: Policy> FromRequest for Caller<P> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // `guard::admit` has known the caller from the head of every admin request; a request
        // it has not seen has no caller.
        let known = req.extensions().get::<Actor>().cloned();
        ready(match known {
            None => Err(ServiceError::Unauthenticated.into()),
            Some(actor) if !P::allows(actor.role) => {
                Err(ServiceError::Forbidden(actor.role.as_str()).into())
            }
            Some(actor) => {
                req.extensions_mut().insert(RoleChecked);
                Ok(Caller {
                    actor,
                    policy: PhantomData,
                })
            }
        })
    }
}

impl<P> std::ops::Deref for Caller<P> {
    type Target = Actor;
    fn deref(&self) -> &Actor {
        &self.actor
    }
}

/// The token of an `Authorization: Bearer TOKEN` header; the scheme's name is read without
/// regard to case (RFC 9110 §11.1), and any run of spaces may follow it.
pub(super) fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// A write's body as it came (at most `limits::MAX_BODY`, as `web::Bytes` reads it), with its
/// `Idempotency-Key`, if one was sent (hashed with the method, the path and the body).
#[derive(Debug)]
pub(crate) struct Body {
    pub(crate) bytes: web::Bytes,
    pub(crate) idempotency: Option<Idempotency>,
}

impl FromRequest for Body {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Body, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        read_body(req, payload, true)
    }
}

/// Reads a body once its caller's role was checked, with its `Idempotency-Key` when `keyed`
/// (a route that takes none does not look at the header).
fn read_body(
    req: &HttpRequest,
    payload: &mut Payload,
    keyed: bool,
) -> Pin<Box<dyn Future<Output = Result<Body, actix_web::Error>>>> {
    if req.extensions().get::<RoleChecked>().is_none() {
        // No caller checked (a handler that takes its body before its `Caller`): nothing is read.
        let refusal = ApiError::from(ServiceError::Unauthenticated);
        return Box::pin(ready(Err(refusal.into())));
    }
    let req = req.clone();
    let bytes = web::Bytes::from_request(&req, payload);
    Box::pin(async move {
        let bytes = bytes.await?;
        let idempotency = if keyed {
            idempotency(&req, &bytes)?
        } else {
            None
        };
        Ok(Body { bytes, idempotency })
    })
}

/// The `Idempotency-Key` of a write whose body is `body`, if it sent one.
fn idempotency(req: &HttpRequest, body: &[u8]) -> Result<Option<Idempotency>, ApiError> {
    let Some(value) = req.headers().get("Idempotency-Key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| (1..=crate::limits::MAX_IDEMPOTENCY_KEY).contains(&k.len()))
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::IdempotencyKeyInvalid,
                "an Idempotency-Key is 1 to 255 visible ASCII characters",
            )
        })?;
    Ok(Some(Idempotency {
        key: key.to_owned(),
        request_hash: request_hash(&[
            req.method().as_str().as_bytes(),
            req.path().as_bytes(),
            body,
        ]),
    }))
}

/// A write's JSON body read as a `T` (400 `body_malformed` when it is not one), with its
/// `Idempotency-Key`.
#[derive(Debug)]
pub(crate) struct Json<T> {
    pub(crate) value: T,
    pub(crate) idempotency: Option<Idempotency>,
}

/// As `Json`, but an empty body (or one of white space only) is `T::default()`.
#[derive(Debug)]
pub(crate) struct JsonOrEmpty<T> {
    pub(crate) value: T,
    pub(crate) idempotency: Option<Idempotency>,
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Json<T>, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = Body::from_request(req, payload);
        Box::pin(async move {
            let body = body.await?;
            Ok(Json {
                value: parse_json(&body.bytes)?,
                idempotency: body.idempotency,
            })
        })
    }
}

impl<T: DeserializeOwned + Default + 'static> FromRequest for JsonOrEmpty<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<JsonOrEmpty<T>, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = Body::from_request(req, payload);
        Box::pin(async move {
            let body = body.await?;
            let value = if body.bytes.iter().all(u8::is_ascii_whitespace) {
                T::default()
            } else {
                parse_json(&body.bytes)?
            };
            Ok(JsonOrEmpty {
                value,
                idempotency: body.idempotency,
            })
        })
    }
}

/// A JSON body read as a `T`, on a route that takes no `Idempotency-Key`.
#[derive(Debug)]
pub(crate) struct JsonOnly<T>(pub(crate) T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonOnly<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<JsonOnly<T>, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(req, payload, false);
        Box::pin(async move { Ok(JsonOnly(parse_json(&body.await?.bytes)?)) })
    }
}

/// `body` read as a `T`, or the refusal saying why not.
fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(body_malformed)
}

/// The refusal of a body that is not the JSON a route takes.
pub(super) fn body_malformed(e: serde_json::Error) -> ApiError {
    ApiError::new(
        ErrorCode::BodyMalformed,
        format!("the request body is not the JSON this route takes: {e}"),
    )
}

/// The award version the caller last read, from `If-Match: "<ETag>"`: required on every change
/// to an existing award, so that no change is made to a version its maker never saw (428 when
/// it is missing, or `*`, which names no version; 412 when it is stale, which the service
/// decides).
#[derive(Debug, Clone, Copy)]
pub(crate) struct IfMatch(pub(crate) u64);

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = Ready<Result<IfMatch, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(if_match(req).map(IfMatch))
    }
}

fn if_match(req: &HttpRequest) -> Result<u64, ApiError> {
    let required = || {
        ApiError::new(
            ErrorCode::PreconditionRequired,
            "a change to an existing award states the version it read: send If-Match with the \
             ETag of the award's record (GET /v1/awards/{certificate_number})",
        )
    };
    let Some(value) = req.headers().get(header::IF_MATCH) else {
        return Err(required());
    };
    let bad = || {
        ApiError::new(
            ErrorCode::IfMatchInvalid,
            "If-Match takes the award's ETag as the registry sent it, such as \"42-2026-11-24\"",
        )
    };
    let raw = value.to_str().map_err(|_| bad())?.trim();
    if raw == "*" {
        return Err(required());
    }
    let tag = raw.trim_start_matches("W/").trim_matches('"');
    let position = tag.split('-').next().unwrap_or_default();
    position.parse::<u64>().map_err(|_| bad())
}

/// The certificate number in a route's `{certificate_number}`: 400 with the rule in words when
/// it is not one.
#[derive(Debug, Clone)]
pub(crate) struct Number(pub(crate) CertificateNumber);

impl FromRequest for Number {
    type Error = ApiError;
    type Future = Ready<Result<Number, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(parse_number(path_number(req)).map(Number))
    }
}

/// The award a route's `{certificate_number}` names, and the programme as it stands: 400 for a
/// number that is not one, 404 naming it when the register has none.
#[derive(Debug)]
pub(crate) struct FoundAward {
    pub(crate) award: Arc<Award>,
    pub(crate) programme: Programme,
}

impl FromRequest for FoundAward {
    type Error = ApiError;
    type Future = Ready<Result<FoundAward, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(state) = req.app_data::<web::Data<AppState>>() else {
            return ready(Err(super::error::inconsistency(
                "a route that names an award has no application state",
            )));
        };
        ready(
            find_award(state, path_number(req))
                .map(|(award, programme)| FoundAward { award, programme }),
        )
    }
}

/// What the path says in `{certificate_number}` (nothing, on a route without one).
fn path_number(req: &HttpRequest) -> &str {
    req.match_info()
        .get("certificate_number")
        .unwrap_or_default()
}

/// Parses a certificate number from a path, with the rule in words when it is not one.
pub(crate) fn parse_number(raw: &str) -> Result<CertificateNumber, ApiError> {
    raw.parse::<CertificateNumber>().map_err(ApiError::from)
}

/// The award with the certificate number written `raw` (in a path), and the programme as it
/// stands; a 404 naming the number when the register has none.
pub(crate) fn find_award(state: &AppState, raw: &str) -> Result<(Arc<Award>, Programme), ApiError> {
    let number = parse_number(raw)?;
    state.registry.award(&number).ok_or_else(|| {
        ApiError::new(
            ErrorCode::AwardNotFound,
            format!(
                "no award with the certificate number {number} is in the register: it is not a \
                 real award of this scheme, or the number is wrong"
            ),
        )
    })
}

/// The day a question is asked about (`?at=YYYY-MM-DD`), if one is named: 400 when it is not a
/// date.
#[derive(Debug, Clone, Copy)]
pub(crate) struct At(pub(crate) Option<chrono::NaiveDate>);

#[derive(Debug, serde::Deserialize)]
struct AtQuery {
    at: Option<String>,
}

impl FromRequest for At {
    type Error = actix_web::Error;
    type Future = Ready<Result<At, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let query = web::Query::<AtQuery>::from_request(req, payload).into_inner();
        ready(query.and_then(|q| Ok(At(parse_at(q.at.as_deref())?))))
    }
}

/// The day asked about in `?at=`, if any.
pub(crate) fn parse_at(at: Option<&str>) -> Result<Option<chrono::NaiveDate>, ApiError> {
    at.map(|s| {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
            ApiError::new(
                ErrorCode::DateInvalid,
                format!("'at' is a date written YYYY-MM-DD, such as 2026-01-31; {s:?} is not"),
            )
        })
    })
    .transpose()
}

/// The award's latest signed credential, or the 404 of an award that has none yet.
pub(crate) fn latest_credential(award: &Award) -> Result<&IssuedCredential, ApiError> {
    award.credentials.last().ok_or_else(|| {
        ApiError::new(
            ErrorCode::CredentialNotIssued,
            format!(
                "award {} has no signed credential yet",
                award.certificate_number
            ),
        )
    })
}
