//! Signed verification receipts: `GET /v1/awards/{n}/receipt` answers what
//! `GET /v1/awards/{n}/verification` answers, signed as a JWS (`credentials::receipt`) by the
//! registry's active key, with the time of the check and the latest checkpoint, so that a third
//! party can keep proof of what the register said and when.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use base64::Engine as _;
use chrono::SecondsFormat;

use super::AppState;
use super::error::ApiError;
use super::extract::{At, FoundAward};
use super::public::{no_signing_key, verification_view};
use crate::service::uk_date;

/// The verification answer, signed.
pub async fn receipt(
    state: web::Data<AppState>,
    At(at): At,
    FoundAward { award, programme }: FoundAward,
) -> Result<HttpResponse, ApiError> {
    let signing = state.registry.signing().ok_or_else(no_signing_key)?;
    let now = state.registry.now();
    let checked_at = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    let date = at.unwrap_or_else(|| uk_date(now));
    // Read once: the receipt's checkpoint is the one its inclusion proof is in.
    let checkpoint = state.registry.latest_checkpoint();
    let view = verification_view(
        &state,
        &award,
        &programme,
        date,
        checkpoint,
        checked_at.clone(),
    );
    let b64 = |h: &[u8]| base64::engine::general_purpose::STANDARD.encode(h);
    let checkpoint =
        checkpoint.map(|(size, root)| serde_json::json!({"size": size, "root": b64(&root)}));
    let payload = serde_json::json!({
        "iss": signing.did,
        "sub": award.certificate_number.to_string(),
        "iat": now.timestamp(),
        "checked_at": checked_at,
        "checkpoint": checkpoint,
        "verification": view,
    });
    let kid = format!("{}#{}", signing.did, signing.key_id);
    let jws = crate::credentials::receipt::sign(&payload, &signing.key, &kid);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type(crate::credentials::receipt::CONTENT_TYPE)
        .body(jws))
}
