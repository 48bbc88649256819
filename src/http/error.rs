//! The HTTP layer's one error type: every refusal is `application/problem+json` (RFC 9457) with a
//! stable machine `code` from the one table (`crate::error_codes`), answered with the status of
//! its kind (`status_of`, the one mapping), and the rule in words. A 5xx logs its cause and says
//! nothing inside.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Map, Value, json};

use crate::domain::{DomainError, ParseError};
use crate::error_codes::{ErrorCode, ErrorKind};
use crate::service::Outage;
use crate::service::ServiceError;

pub(crate) const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug)]
pub struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: ErrorCode,
    pub(crate) detail: String,
    pub(crate) extra: Map<String, Value>,
    /// Seconds after which the same request may succeed (the `Retry-After` header).
    pub(crate) retry_after: Option<u64>,
}

/// Seconds a client is asked to wait before retrying during a database outage: long enough not
/// to hammer a database coming back, short enough that a person retrying by hand is not kept.
pub(crate) const OUTAGE_RETRY_AFTER: u64 = 5;

/// The HTTP status of each kind of refusal.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Gone => StatusCode::GONE,
        ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorKind::Timeout => StatusCode::REQUEST_TIMEOUT,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Precondition => StatusCode::PRECONDITION_FAILED,
        ErrorKind::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorKind::Rule => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorKind::NotImplemented => StatusCode::NOT_IMPLEMENTED,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

impl ApiError {
    /// A refusal with `code`, answered with the status of its kind.
    pub(crate) fn new(code: ErrorCode, detail: impl Into<String>) -> ApiError {
        ApiError {
            status: status_of(code.kind()),
            code,
            detail: detail.into(),
            extra: Map::new(),
            retry_after: None,
        }
    }

    /// Answers with `status` instead of the kind's: for the framework's own refusals, which keep
    /// the status it chose, and for a value in a path that names no page (a 404).
    pub(crate) fn with_status(mut self, status: StatusCode) -> ApiError {
        self.status = status;
        self
    }

    /// Asks the client to retry after `seconds` (sent as `Retry-After`).
    pub(crate) fn retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after = Some(seconds);
        self
    }

    /// A 503 while the database is behind the log this registry published: nothing is
    /// written, and no answer is given from memory that the database may no longer hold.
    pub(crate) fn log_behind(reason: &str) -> ApiError {
        ApiError::new(
            ErrorCode::LogBehindPublishedCheckpoint,
            format!(
                "the registry's database is behind the log it has published ({reason}); nothing \
                 was changed, and answers resume once the missing entries are re-entered"
            ),
        )
        .retry_after(30)
    }

    /// A 503 for a request the database is needed for while it is unavailable: the cause is
    /// logged, the caller is told what kind of outage it is and when to retry.
    pub(crate) fn database_unavailable(outage: Outage, cause: &str) -> ApiError {
        tracing::warn!(reason = outage.as_str(), error = %cause, "refused a request: the database is unavailable");
        let detail = match outage {
            Outage::Unreachable => "the registry's database cannot be reached just now",
            Outage::Full => "the registry's database has no space left just now",
            Outage::ReadOnly => "the registry's database takes no writes just now",
            Outage::Io => "the registry's database's disk is failing just now",
            Outage::Tls => "the registry's database refuses a secure connection just now",
        };
        ApiError::new(
            ErrorCode::DatabaseUnavailable,
            format!(
                "{detail}, so this cannot be done or recorded; nothing was changed. Verification, \
                 award records, the register and its pages are still answered. Try again later"
            ),
        )
        .with("reason", outage.as_str())
        .retry_after(OUTAGE_RETRY_AFTER)
    }

    pub(crate) fn with(mut self, key: &str, value: impl Into<Value>) -> ApiError {
        self.extra.insert(key.to_owned(), value.into());
        self
    }

    pub(crate) fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("type".into(), json!("about:blank"));
        body.insert(
            "title".into(),
            json!(self.status.canonical_reason().unwrap_or("Error")),
        );
        body.insert("status".into(), json!(self.status.as_u16()));
        body.insert("code".into(), json!(self.code));
        body.insert("detail".into(), json!(self.detail));
        for (k, v) in &self.extra {
            body.insert(k.clone(), v.clone());
        }
        Value::Object(body)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        let mut response = HttpResponse::build(self.status);
        response.content_type(PROBLEM_JSON);
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        response.body(self.body().to_string())
    }
}

impl From<ParseError> for ApiError {
    fn from(e: ParseError) -> Self {
        ApiError::new(e.code, e.message)
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        let problem = ApiError::new(e.error_code(), e.to_string());
        match e {
            DomainError::EvidenceRulesFailed { failures, .. } => problem.with(
                "failures",
                failures
                    .into_iter()
                    .map(|(code, message)| json!({"code": code, "message": message}))
                    .collect::<Vec<_>>(),
            ),
            _ => problem,
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Domain(d) => d.into(),
            ServiceError::Invalid { code, message } => ApiError::new(code, message),
            ServiceError::Conflict => ApiError::new(
                ErrorCode::ConcurrentChange,
                ServiceError::Conflict.to_string(),
            ),
            ServiceError::IdempotencyKeyReused => ApiError::new(
                ErrorCode::IdempotencyKeyReused,
                "this Idempotency-Key was already used with a different request; use a new key for a new request",
            ),
            ServiceError::Unauthenticated => ApiError::new(
                ErrorCode::Unauthenticated,
                "an admin route needs 'Authorization: Bearer TOKEN' with a token made by 'wexqs tokens create'",
            ),
            ServiceError::Forbidden(role) => ApiError::new(
                ErrorCode::Forbidden,
                format!("a {role} token may not do this; it needs an admin token"),
            ),
            ServiceError::Behind(reason) => ApiError::log_behind(&reason),
            ServiceError::Unavailable { outage, cause } => {
                ApiError::database_unavailable(outage, &cause)
            }
            ServiceError::Store(err) => internal(&err),
        }
    }
}

/// A 500 that logs its cause and tells the caller nothing about the inside.
pub(crate) fn internal(err: &dyn std::error::Error) -> ApiError {
    let mut chain = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    inconsistency(chain)
}

/// A 500 for something that cannot happen unless the registry is wrong (an append that recorded
/// something else than asked): logs `what` and tells the caller nothing about the inside.
pub(crate) fn inconsistency(what: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %what, "internal error");
    ApiError::new(
        ErrorCode::Internal,
        "something went wrong on our side; it has been logged",
    )
}

/// Turns the framework's own error responses (unknown route, wrong method, body too large, a
/// malformed header) into problem+json, so every error a client sees has one shape.
pub(crate) fn problem_for_framework_errors<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    // Our own answers (problem+json, and the HTML pages' own error pages) stay as they are.
    let ours = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| !v.as_bytes().starts_with(b"text/plain"));
    if ours {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (code, detail) = match status {
        StatusCode::NOT_FOUND => (
            ErrorCode::RouteNotFound,
            "there is no such route; see /openapi.json",
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            ErrorCode::MethodNotAllowed,
            "this route does not take that method; see /openapi.json",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (ErrorCode::BodyTooLarge, "the request body is too large"),
        s if s.is_server_error() => (ErrorCode::Internal, "something went wrong on our side"),
        _ => (ErrorCode::BadRequest, "the request is malformed"),
    };
    let problem = ApiError::new(code, detail).with_status(status);
    let (req, mut response) = res.into_parts();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    let response = response
        .set_body(problem.body().to_string())
        .map_into_boxed_body();
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, response).map_into_right_body(),
    ))
}
