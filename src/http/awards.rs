//! The award resource: `/v1/awards/{n}` and every representation of one award under it, each
//! route declared here. The record, its verification answer, its signed receipt and its
//! credential are served here; the images (`images`), the badge (`embed`) and the calendar
//! (`feeds`) are rendered beside their kin and only routed from here.

use actix_web::http::header::{self, EntityTag};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use chrono::{NaiveDate, SecondsFormat};

use super::AppState;
use super::conditional::{MAX_AGE, cache_control, cached_as};
use super::error::ApiError;
use super::extract::{At, FoundAward};
use super::prepared::Answer;
use super::public::no_signing_key;
use super::route::Route;
use super::views::{AwardView, VerificationView};
use super::{embed, feeds, images};
use crate::domain::{Award, Programme, status_as_of};
use crate::service::uk_date;

/// Every route under `/v1/awards/{certificate_number}`.
pub(crate) const ROUTES: &[Route] = &[
    Route::get("/v1/awards/{certificate_number}", |r| r.to(award)),
    Route::get("/v1/awards/{certificate_number}/verification", |r| {
        r.to(verification)
    }),
    Route::get("/v1/awards/{certificate_number}/receipt", |r| r.to(receipt)),
    Route::get("/v1/awards/{certificate_number}/credential", |r| {
        r.to(credential)
    }),
    Route::get("/v1/awards/{certificate_number}/logo.svg", |r| {
        r.to(images::logo_svg)
    }),
    Route::get("/v1/awards/{certificate_number}/logo.png", |r| {
        r.to(images::logo_png)
    }),
    Route::get("/v1/awards/{certificate_number}/certificate.pdf", |r| {
        r.to(images::certificate_pdf)
    }),
    Route::get("/v1/awards/{certificate_number}/qr.svg", |r| {
        r.to(images::qr_svg)
    }),
    Route::get("/v1/awards/{certificate_number}/qr.png", |r| {
        r.to(images::qr_png)
    }),
    Route::get("/v1/awards/{certificate_number}/badge.svg", |r| {
        r.to(embed::badge_svg)
    }),
    Route::get("/v1/awards/{certificate_number}/calendar.ics", |r| {
        r.to(feeds::award_calendar)
    }),
];

pub(crate) async fn award(
    req: HttpRequest,
    state: web::Data<AppState>,
    FoundAward { award, programme }: FoundAward,
) -> Result<HttpResponse, ApiError> {
    let number = &award.certificate_number;
    let today = state.registry.today();
    let max_age = super::award_max_age(&state, &award);
    let tag = EntityTag::new_strong(format!("{}-{today}", award.last_position));
    if let Some(held) = super::not_modified(&req, &tag, cache_control(max_age)) {
        return Ok(held);
    }
    let version = super::answers_version(&state, today);
    let body = state
        .prepared
        .get_or_build(Answer::Record, number, version, || {
            let status = status_as_of(&award, &programme, today).status;
            serde_json::to_vec(&AwardView::of(&award, status, &state.public_url))
                .map(Bytes::from)
                .map_err(|e| super::error::internal(&e))
        })?;
    Ok(cached_as(&req, tag, max_age, "application/json", body))
}

pub(crate) async fn verification(
    req: HttpRequest,
    state: web::Data<AppState>,
    At(at): At,
    FoundAward { award, programme }: FoundAward,
) -> Result<HttpResponse, ApiError> {
    let number = &award.certificate_number;
    let now = state.registry.now();
    let today = uk_date(now);
    let date = at.unwrap_or(today);
    // An answer about today changes with the calendar, and one about any day with a new event
    // (a change can take effect on a day already asked about), so it is bounded like every
    // answer about the award.
    let max_age = super::award_max_age(&state, &award);
    let version = super::answers_version(&state, today);
    let tag = EntityTag::new_strong(format!(
        "{}-{date}-{today}-{}",
        award.last_position, version.checkpoint_size
    ));
    // Decided from the tag alone, before any of the answer is built.
    if let Some(held) = super::not_modified(&req, &tag, cache_control(max_age)) {
        return Ok(held);
    }
    let build = || verification_head(&state, &award, &programme, date);
    // Everything but `checked_at`, the answer's last field, is the same all day: built once.
    let head = if date == today {
        state
            .prepared
            .get_or_build(Answer::Verification, number, version, build)?
    } else {
        build()?
    };
    let checked_at = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut body = Vec::with_capacity(head.len() + checked_at.len() + 2);
    body.extend_from_slice(&head);
    body.extend_from_slice(checked_at.as_bytes());
    body.extend_from_slice(br#""}"#);
    Ok(cached_as(&req, tag, max_age, "application/json", body))
}

/// The verification answer about `date` up to its last field's value: the answer with an empty
/// `checked_at` (its last field, a string), without the closing `"}`.
fn verification_head(
    state: &AppState,
    award: &Award,
    programme: &Programme,
    date: NaiveDate,
) -> Result<Bytes, ApiError> {
    let checkpoint = state.registry.latest_checkpoint();
    let view = verification_view(state, award, programme, date, checkpoint, String::new());
    let mut body = serde_json::to_vec(&view).map_err(|e| super::error::internal(&e))?;
    let tail = br#","checked_at":""}"#;
    if !body.ends_with(tail) {
        return Err(super::error::internal(&std::io::Error::other(
            "the verification answer does not end with its checked_at",
        )));
    }
    body.truncate(body.len() - 2);
    Ok(Bytes::from(body))
}

/// The verification answer about `date`, checked at `checked_at`, with the award's inclusion
/// proof in `checkpoint` (the latest signed one, read once by the caller, when there is one):
/// what `/verification` answers and a receipt signs.
pub(super) fn verification_view<'a>(
    state: &AppState,
    award: &'a Award,
    programme: &'a Programme,
    date: NaiveDate,
    checkpoint: Option<(u64, [u8; 32])>,
    checked_at: String,
) -> VerificationView<'a> {
    let verdict = status_as_of(award, programme, date);
    let mut view = VerificationView::of(award, verdict, programme, &state.public_url, checked_at);
    if let Some((size, root)) = checkpoint
        && let Some(proof) = state.registry.inclusion_proof(view.log.position, size)
    {
        let b64 = |h: &[u8]| base64::engine::general_purpose::STANDARD.encode(h);
        view.log.inclusion = Some(super::views::Inclusion {
            checkpoint_size: size,
            checkpoint_root: b64(&root),
            leaf_index: view.log.position,
            proof: proof.iter().map(|h| b64(h)).collect(),
        });
    }
    view
}

/// The award's current signed Open Badges 3.0 credential.
pub(crate) async fn credential(
    req: HttpRequest,
    state: web::Data<AppState>,
    FoundAward { award, .. }: FoundAward,
) -> Result<HttpResponse, ApiError> {
    let issued = super::extract::latest_credential(&award)?;
    let body = state
        .registry
        .credential_text(&award, issued)
        .await?
        .as_str()
        .to_owned();
    let tag = EntityTag::new_strong(format!("credential-{}", issued.position));
    Ok(cached_as(
        &req,
        tag,
        MAX_AGE,
        "application/vc+ld+json",
        body,
    ))
}

/// The verification answer, signed.
pub(crate) async fn receipt(
    state: web::Data<AppState>,
    At(at): At,
    FoundAward { award, programme }: FoundAward,
) -> Result<HttpResponse, ApiError> {
    let signing = state.registry.signing().ok_or_else(no_signing_key)?;
    let now = state.registry.now();
    let today = uk_date(now);
    let date = at.unwrap_or(today);
    let build = || {
        let checked_at = now.to_rfc3339_opts(SecondsFormat::Secs, true);
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
        Ok::<_, ApiError>(Bytes::from(crate::credentials::receipt::sign(
            &payload,
            &signing.key,
            &kid,
        )))
    };
    // Every input but the second is in the answers' version (a new key or checkpoint is a
    // new event or checkpoint): a receipt about today is signed once a second at most.
    let jws = if date == today {
        let version = super::answers_version(&state, today);
        state.prepared.get_or_build_at(
            Answer::Receipt,
            &award.certificate_number,
            version,
            now.timestamp(),
            build,
        )?
    } else {
        build()?
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type(crate::credentials::receipt::CONTENT_TYPE)
        .body(jws))
}
