//! Signed verification receipts: `GET /v1/awards/{n}/receipt` answers what
//! `GET /v1/awards/{n}/verification` answers, signed as a JWS (`credentials::receipt`) by the
//! registry's active key, with the time of the check and the latest checkpoint, so that a third
//! party can keep proof of what the register said and when.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use chrono::{NaiveDate, SecondsFormat};
use serde::Deserialize;

use super::error::ApiError;
use super::views::{Inclusion, VerificationView};
use super::{AppState, parse_number};
use crate::domain::status_as_of;
use crate::error_codes::ErrorCode;
use crate::service::uk_date;

#[derive(Debug, Deserialize)]
pub struct AtQuery {
    at: Option<String>,
}

/// The day asked about, if any.
pub fn parse_at(at: Option<&str>) -> Result<Option<NaiveDate>, ApiError> {
    at.map(|s| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
            ApiError::new(
                ErrorCode::DateInvalid,
                format!("'at' is a date written YYYY-MM-DD, such as 2026-01-31; {s:?} is not"),
            )
        })
    })
    .transpose()
}

/// The verification answer, signed.
pub async fn receipt(
    _req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<AtQuery>,
) -> Result<HttpResponse, ApiError> {
    let number = parse_number(&path)?;
    let at = parse_at(query.at.as_deref())?;
    let (award, programme) = state.registry.award(&number).ok_or_else(|| {
        ApiError::new(
            ErrorCode::AwardNotFound,
            format!("no award with the certificate number {number} is in the register"),
        )
    })?;
    let signing = state.registry.signing().ok_or_else(|| {
        ApiError::new(
            ErrorCode::NoSigningKey,
            "this registry has no signing key configured yet",
        )
    })?;
    let now = state.registry.now();
    let checked_at = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    let date = at.unwrap_or_else(|| uk_date(now));
    let verdict = status_as_of(&award, &programme, date);
    let mut view = VerificationView::of(
        &award,
        verdict,
        &programme,
        &state.public_url,
        checked_at.clone(),
    );
    let b64 = |h: &[u8]| base64::engine::general_purpose::STANDARD.encode(h);
    let checkpoint = state.registry.latest_checkpoint();
    if let Some((size, root)) = checkpoint
        && let Some(proof) = state.registry.inclusion_proof(view.log.position, size)
    {
        view.log.inclusion = Some(Inclusion {
            checkpoint_size: size,
            checkpoint_root: b64(&root),
            leaf_index: view.log.position,
            proof: proof.iter().map(|h| b64(h)).collect(),
        });
    }
    let payload = serde_json::json!({
        "iss": signing.did,
        "sub": number.to_string(),
        "iat": now.timestamp(),
        "checked_at": checked_at,
        "checkpoint": checkpoint.map(|(size, root)| serde_json::json!({
            "size": size,
            "root": b64(&root),
        })),
        "verification": view,
    });
    let kid = format!("{}#{}", signing.did, signing.key_id);
    let jws = crate::credentials::receipt::sign(&payload, &signing.key, &kid);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type(crate::credentials::receipt::CONTENT_TYPE)
        .body(jws))
}
