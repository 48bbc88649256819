//! Reading one's own writes across instances: every instance follows the log by polling it, so
//! a record written through another instance (or by a command line on the same database) may
//! not be in this one's memory yet. Before a read runs, this middleware makes the instance
//! catch up once when the path names an award or organisation it does not hold, and waits
//! (bounded, `service::background::FRESHNESS_WAIT`) until it holds the position a request names
//! in `X-Wait-For-Position` (a write's `X-Log-Position`). It never answers by itself but for a
//! malformed position: the handler answers from memory as it then stands. While the registry is
//! behind its published log (`service::high_water`) it answers every route but the health and
//! readiness checks itself, with 503 `log_behind_published_checkpoint`: memory may hold what the
//! database lost, and a lost award must be called neither valid nor not real.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderName;
use actix_web::middleware::Next;
use actix_web::web;

use super::AppState;
use super::error::ApiError;
use crate::domain::{CertificateNumber, OrganisationId};
use crate::error_codes::ErrorCode;
use crate::service::Registry;

/// The header a write's answer carries: the log position of the last event it appended (or,
/// for a repeated Idempotency-Key, of the first attempt's).
pub(crate) const LOG_POSITION: HeaderName = HeaderName::from_static("x-log-position");
/// The header a read may carry to be answered only once the instance holds that position
/// (waiting at most about a second).
pub(crate) const WAIT_FOR_POSITION: HeaderName = HeaderName::from_static("x-wait-for-position");

/// The middleware: catch up on a miss, wait for a named position, then run the handler.
pub(crate) async fn fresh_reads(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let wait = wanted_position(&req)?;
    if let Some(state) = req.app_data::<web::Data<AppState>>() {
        let registry = &state.registry;
        if let Some(reason) = registry.behind()
            && !matches!(req.path(), "/healthz" | "/readyz")
        {
            return Err(ApiError::log_behind(&reason).into());
        }
        match wait {
            Some(position) => {
                registry.wait_for_position(position).await;
            }
            None if names_a_missing_record(registry, req.path()) => {
                registry.catch_up_on_miss().await
            }
            None => {}
        }
    }
    next.call(req).await
}

/// The position named by `X-Wait-For-Position`, if any; a malformed one is refused.
fn wanted_position(req: &ServiceRequest) -> Result<Option<u64>, ApiError> {
    let Some(value) = req.headers().get(WAIT_FOR_POSITION) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|p| *p <= crate::limits::MAX_POSITION)
        .map(Some)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::PositionOutOfRange,
                "X-Wait-For-Position is a log position (a write's X-Log-Position), 0 to 2^63-1",
            )
        })
}

/// Whether `path` names an award (`/v1/awards/{n}…`, `/verify/{n}`, `/embed/{n}`) or an
/// organisation (`/v1/organisations/{id}…`, `/v1/admin/organisations/{id}`) that is well
/// formed but not in memory. A malformed number or id is refused by the handler without a
/// look at the database: a wrong check character never costs one.
fn names_a_missing_record(registry: &Registry, path: &str) -> bool {
    let mut segments = path.trim_start_matches('/').split('/');
    let segments = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    );
    let award = |raw: &str| {
        raw.parse::<CertificateNumber>()
            .is_ok_and(|n| !registry.holds_award(&n))
    };
    let organisation = |raw: &str| {
        raw.parse::<OrganisationId>()
            .is_ok_and(|id| !registry.holds_organisation(&id))
    };
    match segments {
        (Some("v1"), Some("awards"), Some(n), _) | (Some("verify" | "embed"), Some(n), _, _) => {
            award(n)
        }
        (Some("v1"), Some("organisations"), Some(id), _)
        | (Some("v1"), Some("admin"), Some("organisations"), Some(id)) => organisation(id),
        _ => false,
    }
}
