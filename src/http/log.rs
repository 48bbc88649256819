//! The transparency log's public routes: the latest signed checkpoint, its verifier key,
//! inclusion and consistency proofs, and the entries (private ones as their leaf hash only).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use super::route::Route;
use crate::domain::Visibility;
use crate::error_codes::ErrorCode;

/// The routes this file serves.
pub(crate) const ROUTES: &[Route] = &[
    Route::get("/v1/log/checkpoint", |r| r.to(checkpoint)),
    Route::get("/v1/log/key", |r| r.to(key)),
    Route::get("/v1/log/proofs/inclusion", |r| r.to(inclusion)),
    Route::get("/v1/log/proofs/consistency", |r| r.to(consistency)),
    Route::get("/v1/log/entries", |r| r.to(entries)),
];

fn b64(h: &[u8]) -> String {
    STANDARD.encode(h)
}

/// The latest checkpoint's size, from memory (the background task keeps it current), so that
/// proofs are answered while the database is away.
fn latest_size(state: &AppState) -> Result<u64, ApiError> {
    state
        .registry
        .latest_checkpoint()
        .map(|(size, _)| size)
        .ok_or_else(no_checkpoint)
}

fn no_checkpoint() -> ApiError {
    ApiError::new(
        ErrorCode::NoCheckpoint,
        "no checkpoint has been signed yet; try again in a second",
    )
    .retry_after(1)
}

/// The latest signed checkpoint (a C2SP signed note), the last one this instance signed or saw
/// signed: from memory, so auditors get it while the database is away.
pub(crate) async fn checkpoint(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let note = state
        .registry
        .latest_checkpoint_note()
        .ok_or_else(no_checkpoint)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=5"))
        .body(note))
}

/// The note verifier key that checks the checkpoints' signatures.
pub(crate) async fn key(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let key = state
        .registry
        .log_verifier_key()
        .ok_or_else(no_checkpoint)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(format!("{key}\n")))
}

#[derive(Debug, Deserialize)]
pub(crate) struct InclusionParams {
    index: u64,
    size: Option<u64>,
}

/// The inclusion proof of an entry in the tree of a size (default: the latest checkpoint's).
pub(crate) async fn inclusion(
    state: web::Data<AppState>,
    params: web::Query<InclusionParams>,
) -> Result<HttpResponse, ApiError> {
    let size = match params.size {
        Some(s) => s,
        None => latest_size(&state)?,
    };
    let registry = &state.registry;
    let proof = registry.inclusion_proof(params.index, size).ok_or_else(|| {
        ApiError::new(
            ErrorCode::ProofOutOfRange,
            format!("index must be below size, and size at most the log's ({}); got index {} and size {size}", registry.size(), params.index),
        )
    })?;
    let leaf = registry.leaf_hash(params.index).unwrap_or_default();
    let root = registry.tree_root(size).unwrap_or_default();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .json(json!({
            "index": params.index,
            "size": size,
            "leaf_hash": b64(&leaf),
            "root": b64(&root),
            "proof": proof.iter().map(|h| b64(h)).collect::<Vec<_>>(),
        })))
}

#[derive(Debug, Deserialize)]
pub(crate) struct ConsistencyParams {
    from: u64,
    to: Option<u64>,
}

/// The consistency proof between two sizes (default `to`: the latest checkpoint's).
pub(crate) async fn consistency(
    state: web::Data<AppState>,
    params: web::Query<ConsistencyParams>,
) -> Result<HttpResponse, ApiError> {
    let to = match params.to {
        Some(s) => s,
        None => latest_size(&state)?,
    };
    let registry = &state.registry;
    let proof = registry.consistency_proof(params.from, to).ok_or_else(|| {
        ApiError::new(
            ErrorCode::ProofOutOfRange,
            format!(
                "from must be 1 to `to`, and `to` at most the log's size ({}); got {} and {to}",
                registry.size(),
                params.from
            ),
        )
    })?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .json(json!({
            "from": params.from,
            "to": to,
            "first_root": b64(&registry.tree_root(params.from).unwrap_or_default()),
            "second_root": b64(&registry.tree_root(to).unwrap_or_default()),
            "proof": proof.iter().map(|h| b64(h)).collect::<Vec<_>>(),
        })))
}

#[derive(Debug, Deserialize)]
pub(crate) struct EntriesParams {
    start: Option<u64>,
    limit: Option<u32>,
}

/// The log's entries in order: public ones in full (`payload` holds the exact hashed bytes as
/// text), private ones as their leaf hash only.
pub(crate) async fn entries(
    state: web::Data<AppState>,
    params: web::Query<EntriesParams>,
) -> Result<HttpResponse, ApiError> {
    let start = params.start.unwrap_or(0);
    let limit = params.limit.unwrap_or(500);
    if !(1..=crate::limits::MAX_LOG_ENTRIES_PAGE).contains(&limit) {
        return Err(ApiError::new(
            ErrorCode::LimitInvalid,
            "limit is 1 to 1,000 entries",
        ));
    }
    let events = state.registry.events(start, limit).await?;
    let items: Vec<serde_json::Value> = events
        .iter()
        .map(|e| match e.visibility {
            Visibility::Public => json!({
                "position": e.position,
                "visibility": "public",
                "leaf_hash": b64(&e.leaf_hash),
                "payload": String::from_utf8_lossy(&e.payload),
            }),
            Visibility::Private => json!({
                "position": e.position,
                "visibility": "private",
                "leaf_hash": b64(&e.leaf_hash),
            }),
        })
        .collect();
    let next = events.last().map_or(start, |e| e.position + 1);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=5"))
        .json(json!({"entries": items, "next": next})))
}
