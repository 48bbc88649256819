//! The register as open data: `GET /v1/exports/register.csv` and `.json`, every award's public
//! fields and status today, with headers saying the log size and the checkpoint it reflects and
//! a detached Ed25519 signature over the exact bytes of the body, by the registry's active key
//! (named in did.json). Rendered once, on the blocking pool, straight from one reading of the
//! state into the body's one buffer, which is then sent without a copy.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use base64::Engine as _;
use ed25519_dalek::Signer as _;

use super::AppState;
use super::error::ApiError;
use crate::error_codes::ErrorCode;
use crate::render::export;

/// The headers an export carries beside its body.
pub const LOG_SIZE: &str = "Wexqs-Log-Size";
pub const CHECKPOINT_SIZE: &str = "Wexqs-Checkpoint-Size";
pub const CHECKPOINT_ROOT: &str = "Wexqs-Checkpoint-Root";
pub const AS_OF: &str = "Wexqs-As-Of";
pub const SIGNATURE: &str = "Wexqs-Signature";
pub const SIGNATURE_KEY: &str = "Wexqs-Signature-Key";

#[derive(Debug, Clone, Copy)]
enum Format {
    Csv,
    Json,
}

async fn export_as(state: web::Data<AppState>, format: Format) -> Result<HttpResponse, ApiError> {
    let signing = state.registry.signing().ok_or_else(|| {
        ApiError::new(
            ErrorCode::NoSigningKey,
            "this registry has no signing key configured yet",
        )
    })?;
    let registry = state.registry.clone();
    let public_url = state.public_url.clone();
    let b64 = |h: &[u8]| base64::engine::general_purpose::STANDARD.encode(h);
    // The checkpoint is read first: the log it reflects is at least as long.
    let checkpoint = registry.latest_checkpoint().map(|(s, r)| (s, b64(&r)));
    let (body, reflects) = web::block(move || {
        registry.export_with(|log_size, as_of, rows| {
            let reflects = export::Reflects {
                log_size,
                checkpoint,
                as_of,
            };
            let body = match format {
                Format::Csv => export::csv(rows, as_of, &public_url),
                Format::Json => export::json(rows, &reflects, &public_url),
            };
            (body, reflects)
        })
    })
    .await
    .map_err(|e| super::error::internal(&e))?;
    let signature = b64(&signing.key.sign(&body).to_bytes());
    let content_type = match format {
        Format::Csv => "text/csv; charset=utf-8; header=present",
        Format::Json => "application/json",
    };
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .insert_header((LOG_SIZE, reflects.log_size.to_string()))
        .insert_header((AS_OF, reflects.as_of.to_string()))
        .insert_header((SIGNATURE, signature))
        .insert_header((SIGNATURE_KEY, format!("{}#{}", signing.did, signing.key_id)));
    if let Some((size, root)) = &reflects.checkpoint {
        response
            .insert_header((CHECKPOINT_SIZE, size.to_string()))
            .insert_header((CHECKPOINT_ROOT, root.clone()));
    }
    Ok(response.content_type(content_type).body(body))
}

pub async fn register_csv(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    export_as(state, Format::Csv).await
}

pub async fn register_json(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    export_as(state, Format::Json).await
}
