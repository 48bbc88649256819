//! Public routes: no login, CORS open, cacheable. The register, a presented credential's check,
//! the levels, the status list, the DID document, the programme, health and the API description
//! (an award and what is under it are `awards`).

use std::time::Duration;

use actix_web::http::header::{self, EntityTag};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::AppState;
use super::conditional::{MAX_AGE, cached_as};
use super::error::ApiError;
use super::route::Route;
use super::views::{ProgrammeView, RegisterItem, RegisterPage};
use crate::domain::{Level, Region, Status};
use crate::error_codes::ErrorCode;
use crate::service::Registry;
use crate::service::search::{self, SearchRequest};

/// The public routes of this file.
pub(crate) const ROUTES: &[Route] = &[
    Route::post("/v1/verify", |r| r.to(check_presented)),
    Route::get("/v1/register", |r| r.to(register)),
    Route::get("/v1/achievements/{level}", |r| r.to(achievement)),
    Route::get("/v1/status-lists/{list_id}", |r| r.to(status_list)),
    Route::get("/.well-known/did.json", |r| r.to(did_json)),
    Route::get("/did.json", |r| r.to(did_json)),
    Route::get("/v1/programme", |r| r.to(programme)),
    Route::get("/healthz", |r| r.to(healthz)),
    Route::get("/readyz", |r| r.to(readyz)),
    Route::get("/openapi.json", |r| r.to(openapi)),
];

#[derive(Debug, Deserialize)]
pub(crate) struct RegisterParams {
    q: Option<String>,
    level: Option<String>,
    status: Option<String>,
    region: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
}

impl RegisterParams {
    /// The search the parameters ask for, with its page and page size; refused if any
    /// parameter is out of bounds or not one of its values.
    fn search_request(self) -> Result<(SearchRequest, u32, u32), ApiError> {
        let level = self
            .level
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<Level>())
            .transpose()?;
        let region = self
            .region
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<Region>())
            .transpose()?;
        let status = match self.status.filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(Status::parse(&s).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::StatusInvalid,
                    format!(
                        "status must be one of {}, not {s:?}",
                        Status::ALL.map(|s| s.as_str()).join(", ")
                    ),
                )
            })?),
        };
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(20);
        if page == 0
            || page > crate::limits::MAX_REGISTER_PAGE
            || !(1..=crate::limits::MAX_REGISTER_PER_PAGE).contains(&per_page)
        {
            return Err(ApiError::new(
                ErrorCode::PageInvalid,
                "page counts from 1; per_page is 1 to 100",
            ));
        }
        let q = self.q.as_deref().map(str::trim).unwrap_or_default();
        if q.chars().count() > crate::limits::MAX_SEARCH_CHARS {
            return Err(ApiError::new(
                ErrorCode::QueryTooLong,
                "a search is at most 200 characters",
            ));
        }
        search::check_text(q)
            .map_err(|rule| ApiError::new(ErrorCode::QueryWithoutLetters, rule))?;
        let request = SearchRequest {
            text: q.to_owned(),
            level,
            region,
            status,
            limit: per_page,
            offset: (page - 1) * per_page,
        };
        Ok((request, page, per_page))
    }
}

pub(crate) async fn register(
    state: web::Data<AppState>,
    params: web::Query<RegisterParams>,
) -> Result<HttpResponse, ApiError> {
    let (request, page, per_page) = params.into_inner().search_request()?;
    let answered = |body: web::Bytes| {
        HttpResponse::Ok()
            .insert_header((
                header::CACHE_CONTROL,
                format!("public, max-age={}", MAX_AGE / 2),
            ))
            .content_type("application/json")
            .body(body)
    };
    // Read before the search, so an answer is never kept as of a version older than it.
    let version = super::conditional::answers_version(&state, state.registry.today());
    let asked = format!("{request:?} {page} {per_page}");
    if let Some(kept) = state.searches.get(version, &asked) {
        return Ok(answered(kept));
    }
    let found = search::search_off_workers(state.registry.clone(), request)
        .await
        .map_err(|e| super::error::internal(&e))?;
    let (rows, total, near_matches) = (found.rows, found.total, found.near);
    let did_you_mean: Vec<serde_json::Value> = found
        .did_you_mean
        .into_iter()
        .map(|(n, name)| serde_json::json!({"certificate_number": n, "organisation_name": name}))
        .collect();
    let items = rows
        .into_iter()
        .map(|(row, status)| RegisterItem::of(row, status, &state.public_url))
        .collect();
    let body = RegisterPage {
        items,
        page,
        per_page,
        total,
        pages: total.div_ceil(u64::from(per_page)),
        near_matches,
        did_you_mean,
        license: crate::render::export::licence_json(),
    };
    let body = web::Bytes::from(serde_json::to_vec(&body).map_err(|e| super::error::internal(&e))?);
    state.searches.keep(version, asked, body.clone());
    Ok(answered(body))
}

pub(crate) async fn programme(state: web::Data<AppState>) -> HttpResponse {
    let programme = state.registry.programme();
    let today = state.registry.today();
    let view = ProgrammeView::of(&programme, today);
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, format!("public, max-age={MAX_AGE}")))
        .json(view)
}

pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("application/json")
        .body(r#"{"status":"ok"}"#)
}

/// Ready when the database answers within a second, holds the log this registry published, and
/// the last checkpoint could be signed; when not, says why (`reason`: one of the outages,
/// `error`, `log_behind_published_checkpoint` or `checkpoint_signing_failed`).
pub(crate) async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if state.lifecycle.is_draining() {
        return HttpResponse::ServiceUnavailable()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(serde_json::json!({
                "status": "not_ready",
                "reason": "shutting_down",
                "detail": "this instance is shutting down: it finishes the requests it has and takes no new connections",
                "log_size": state.registry.size(),
                "store": state.registry.store_kind(),
            }));
    }
    // Why it is not ready: (reason, words for the answer).
    let failure = match database_failure(&state.registry).await {
        Some((reason, words)) => Some((
            reason,
            format!(
                "{words}; verification, award records, the register and pages are still answered \
                 from memory, and writes are refused (503) until it is back"
            ),
        )),
        None => registry_failure(&state.registry),
    };
    let ok = failure.is_none();
    let mut body = serde_json::json!({
        "status": if ok { "ready" } else { "not_ready" },
        "detail": "the database answers",
        "log_size": state.registry.size(),
        "store": state.registry.store_kind(),
    });
    if let Some((reason, words)) = failure {
        body["reason"] = reason.into();
        body["detail"] = words.into();
    }
    let mut response = if ok {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

/// Why the database is not ready, if it is not: (reason, words for the answer).
async fn database_failure(registry: &Registry) -> Option<(&'static str, &'static str)> {
    use crate::service::Outage;
    let check = tokio::time::timeout(Duration::from_secs(1), registry.database_ready()).await;
    // (reason, words for the answer, the error as logged).
    let failure = match check {
        Ok(Ok(())) => None,
        Ok(Err(e)) => {
            let words = match e.outage() {
                Some(Outage::Unreachable) => "the database cannot be reached",
                Some(Outage::Full) => "the database's disk is full",
                Some(Outage::ReadOnly) => "the database takes no writes",
                Some(Outage::Io) => "the database's disk fails to read or write",
                Some(Outage::Tls) => {
                    "no secure (TLS) connection to the database: it offers no TLS, or its \
                     certificate is not trusted or not for its host name"
                }
                None => "the database answered with an error",
            };
            Some((
                e.outage().map_or("error", Outage::as_str),
                words,
                e.to_string(),
            ))
        }
        Err(_) => {
            let words = "the database did not answer within a second";
            Some((Outage::Unreachable.as_str(), words, words.to_owned()))
        }
    };
    // Either way, why is logged inside the request that asked.
    if let Some((_, _, error)) = &failure {
        tracing::warn!(error = %error, "readiness check failed");
    }
    failure.map(|(reason, words, _)| (reason, words))
}

/// Behind its published log, without the log's active key, or unable to sign a checkpoint:
/// not ready either, saying why.
fn registry_failure(registry: &Registry) -> Option<(&'static str, String)> {
    if let Some(reason) = registry.behind() {
        return Some((
            ErrorCode::LogBehindPublishedCheckpoint.as_str(),
            format!(
                "the database is behind the log this registry has published: {reason}; \
                 nothing is written or answered until the missing entries are re-entered \
                 ('wexqs log reenter')"
            ),
        ));
    }
    if let Some(key_id) = registry.awaited_key() {
        return Some((
            ErrorCode::SigningKeyNotLoaded.as_str(),
            format!(
                "the log says the signing key {key_id} is active and this instance has not \
                 loaded it from its keys folder: it signs nothing (no credential, checkpoint \
                 or status list) and refuses writes that sign (503) until the key's file is \
                 there"
            ),
        ));
    }
    registry.checkpoint_failure().map(|why| {
        (
            "checkpoint_signing_failed",
            format!("the last checkpoint could not be signed: {why}"),
        )
    })
}

pub(crate) async fn openapi(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, format!("public, max-age={MAX_AGE}")))
        .body(state.openapi_json.clone())
}

/// The did:web document: the registry's keys, so anyone can check its signatures offline.
pub(crate) async fn did_json(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let document = state.registry.did_document().ok_or_else(no_signing_key)?;
    let body = serde_json::to_string(&document).map_err(|e| super::error::internal(&e))?;
    let tag = EntityTag::new_strong(format!("keys-{}", state.registry.keys_version()));
    Ok(cached_as(
        &req,
        tag,
        MAX_AGE * 5,
        "application/did+json",
        body,
    ))
}

pub(super) fn no_signing_key() -> ApiError {
    ApiError::new(
        ErrorCode::NoSigningKey,
        "this registry has no signing key configured yet",
    )
}

/// The signed revocation status list.
pub(crate) async fn status_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if path.as_str() != crate::credentials::credential::STATUS_LIST_ID {
        return Err(ApiError::new(
            ErrorCode::StatusListNotFound,
            format!(
                "there is no status list {:?}; the registry keeps one, with the id {}",
                path.as_str(),
                crate::credentials::credential::STATUS_LIST_ID
            ),
        ));
    }
    let (tag, bytes) = state
        .registry
        .status_list_signed()
        .ok_or_else(no_signing_key)?;
    let body = String::from_utf8_lossy(&bytes).into_owned();
    let tag = EntityTag::new_strong(tag);
    Ok(cached_as(
        &req,
        tag,
        crate::credentials::credential::STATUS_LIST_TTL_MS / 1000,
        "application/vc+ld+json",
        body,
    ))
}

/// A presented credential sent as JSON of at most this many bytes (a credential the registry
/// issues is under 3 kB) is checked on the worker that read it: its checks cost about what
/// rendering a page does, bounded by its size, and the hop to the blocking pool and back cost
/// as much again. Larger JSON and baked images (inflated first) go to the blocking pool.
const CHECKED_IN_PLACE: usize = 16 * 1024;

/// Checks a presented credential (JSON, or baked into a PNG or an SVG), each check by name.
/// The body is read up to `MAX_PRESENTED` bytes and refused past it before anything is inflated;
/// the unwrapping and the checks of an image or of large JSON run on the blocking pool, a few at
/// a time, so a slow or large credential never holds up the workers that answer everyone else
/// (`CHECKED_IN_PLACE`).
pub(crate) async fn check_presented(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    use crate::credentials::check::{PresentedError, extract};
    use crate::limits::{MAX_PRESENTED, human_size};
    let too_large = || {
        ApiError::new(
            ErrorCode::BodyTooLarge,
            format!(
                "a presented credential or baked image is at most {}",
                human_size(MAX_PRESENTED)
            ),
        )
    };
    let body = read_bounded(&req, payload, MAX_PRESENTED)
        .await?
        .ok_or_else(too_large)?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_ascii_lowercase();
    let is_json = !content_type.starts_with("image/");
    let small_json = is_json && body.len() <= CHECKED_IN_PLACE;
    let _turn = state
        .verifications
        .acquire()
        .await
        .map_err(|e| super::error::internal(&e))?;
    let unread = |e: PresentedError| match e {
        PresentedError::UnsupportedType => {
            ApiError::new(ErrorCode::UnsupportedMediaType, e.to_string())
        }
        PresentedError::TooLarge => ApiError::new(ErrorCode::CredentialTooLarge, e.to_string()),
        other => ApiError::new(ErrorCode::CredentialUnreadable, other.to_string()),
    };
    let presented = if small_json {
        extract(&content_type, &body)
    } else {
        let body = body.clone();
        web::block(move || extract(&content_type, &body))
            .await
            .map_err(|e| super::error::internal(&e))?
    }
    .map_err(unread)?;
    // The award it names, with its credentials' signed text (read from the log unless kept).
    let named = state.registry.named_award(&presented).await?;
    let report = if small_json {
        let raw = is_json.then_some(&body[..]);
        state.registry.check_presented(&presented, raw, &named)
    } else {
        let registry = state.registry.clone();
        web::block(move || {
            let raw = is_json.then_some(&body[..]);
            registry.check_presented(&presented, raw, &named)
        })
        .await
        .map_err(|e| super::error::internal(&e))?
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(report))
}

/// A request body of at most `limit` bytes, or `None` when it is larger. A larger body is read
/// on and thrown away up to `MAX_BODY`, so that the client, still sending, gets the refusal
/// rather than a broken connection; one declared larger than that is refused unread.
pub(crate) async fn read_bounded(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Option<web::Bytes>, ApiError> {
    use futures_util::StreamExt as _;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > crate::limits::MAX_BODY as u64) {
        return Ok(None);
    }
    let mut body = web::BytesMut::new();
    let mut seen = 0usize;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(
                ErrorCode::BodyUnreadable,
                format!("the body cannot be read: {e}"),
            )
        })?;
        seen += chunk.len();
        if seen > crate::limits::MAX_BODY {
            return Ok(None);
        }
        if seen <= limit {
            body.extend_from_slice(&chunk);
        }
    }
    Ok((seen <= limit).then(|| body.freeze()))
}

/// The level named in a path, or a 404 saying which levels there are.
pub(crate) fn level_in_path(raw: &str) -> Result<Level, ApiError> {
    raw.parse::<Level>().map_err(|e| {
        ApiError::new(e.code, e.message).with_status(actix_web::http::StatusCode::NOT_FOUND)
    })
}

/// The Open Badges 3.0 `Achievement` of a level, exactly as the credentials embed it (its `id`
/// is `/achievements/{level}`, which answers with this same object to a request for JSON).
pub(crate) async fn achievement(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let level = level_in_path(&path)?;
    let body = crate::credentials::credential::achievement(level, &state.public_url);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((header::VARY, "Accept"))
        .json(body))
}
