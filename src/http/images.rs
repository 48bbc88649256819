//! Image routes: an award's logo baked with its credential (SVG, PNG), its QR code (SVG, PNG),
//! and each level's plain logo. Renders run off the request threads and are kept, keyed by what
//! they were made from (the award's credential, its page's address), so a popular badge costs
//! one render and every request after it only sends the kept bytes. The feeds and receipts keep
//! their documents here too (`ImageCache` holds any rendered answer).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::http::header::{self, EntityTag};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};

use super::error::{ApiError, internal};
use super::route::Route;
use super::{AppState, parse_number};
use crate::credentials::baking;
use crate::domain::{Award, Level, SignedJson};
use crate::error_codes::ErrorCode;
use crate::limits::MAX_IMAGE_CACHE_BYTES;
use crate::render::artefacts;

/// The routes this file serves.
pub(crate) const ROUTES: &[Route] = &[
    Route::get("/achievements/{level}/logo.svg", |r| r.to(level_logo_svg)),
    Route::get("/achievements/{level}/logo.png", |r| r.to(level_logo_png)),
    Route::get("/favicon.ico", |r| r.to(favicon)),
];

/// Rendered images, keyed by what they were rendered from, holding at most
/// `limits::MAX_IMAGE_CACHE_BYTES` of keys and images together: past that, images are dropped
/// (whichever come first) until the new one fits, and an image larger than an eighth of the
/// bound is served without being kept.
/// Why an image could not be rendered (a logo, a baked credential, a QR code, a PDF): a
/// server error, answered as such.
pub(crate) type RenderError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Default)]
pub struct ImageCache(Mutex<Held>);

#[derive(Debug, Default)]
struct Held {
    images: HashMap<String, Bytes>,
    /// The bytes of every key and image held.
    bytes: usize,
}

impl ImageCache {
    /// The bytes of the keys and images held now.
    pub fn held_bytes(&self) -> usize {
        self.held().bytes
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.0
            .lock()
            .expect("the image cache lock is never poisoned")
    }

    /// The image kept under `key`, if it is.
    fn get(&self, key: &str) -> Option<Bytes> {
        self.held().images.get(key).cloned()
    }

    /// The image kept under `key`, or what `render` makes (on a blocking thread), then kept.
    pub async fn get_or_render(
        &self,
        key: String,
        render: impl FnOnce() -> Result<Vec<u8>, RenderError> + Send + 'static,
    ) -> Result<Bytes, ApiError> {
        if let Some(hit) = self.get(&key) {
            return Ok(hit);
        }
        let bytes = web::block(render)
            .await
            .map_err(|e| internal(&e))?
            .map_err(|e| internal(&*e))?;
        Ok(self.keep(key, Bytes::from(bytes)))
    }

    /// The document kept under `key`, or what `build` makes (on this thread: it is quick), then
    /// kept.
    pub(crate) fn get_or_build<E>(
        &self,
        key: String,
        build: impl FnOnce() -> Result<Vec<u8>, E>,
    ) -> Result<Bytes, E> {
        if let Some(hit) = self.get(&key) {
            return Ok(hit);
        }
        Ok(self.keep(key, Bytes::from(build()?)))
    }

    /// Keeps `bytes` under `key` within the bound, dropping others to make room.
    fn keep(&self, key: String, bytes: Bytes) -> Bytes {
        let size = key.len() + bytes.len();
        if size > MAX_IMAGE_CACHE_BYTES / 8 {
            return bytes;
        }
        let mut held = self.held();
        while held.bytes + size > MAX_IMAGE_CACHE_BYTES {
            let Some(victim) = held.images.keys().next().cloned() else {
                break;
            };
            if let Some(dropped) = held.images.remove(&victim) {
                held.bytes -= victim.len() + dropped.len();
            }
        }
        if let Some(replaced) = held.images.insert(key.clone(), bytes.clone()) {
            held.bytes -= key.len() + replaced.len();
        }
        held.bytes += size;
        bytes
    }
}

/// The award `raw` names and its current credential's log position (which the images made
/// from it are kept by).
fn award_with_credential(
    state: &AppState,
    raw: &str,
) -> Result<(std::sync::Arc<Award>, u64), ApiError> {
    let (award, _) = super::find_award(state, raw)?;
    let position = super::extract::latest_credential(&award)?.position;
    Ok((award, position))
}

/// The image kept under `key`, or what `render` makes from `award`'s current credential's
/// signed text, then kept. The text is read (from the log, unless kept) only when the image
/// is not, so a kept image is served without it, whether the database answers or not.
async fn baked(
    state: &AppState,
    award: &Award,
    key: String,
    render: impl FnOnce(SignedJson) -> Result<Vec<u8>, RenderError> + Send + 'static,
) -> Result<Bytes, ApiError> {
    if let Some(hit) = state.images.get(&key) {
        return Ok(hit);
    }
    let issued = super::extract::latest_credential(award)?;
    let text = state.registry.credential_text(award, issued).await?;
    state.images.get_or_render(key, move || render(text)).await
}

/// The refusal of something served only while an award is valid (its logo, its calendar): a
/// 410 naming the award's status today and where to read why. Never cached, so a
/// reinstatement serves it again at once.
pub(super) fn unless_current(
    state: &AppState,
    award: &Award,
    programme: &crate::domain::Programme,
    what: &str,
) -> Result<(), ApiError> {
    let verdict = crate::domain::status_as_of(award, programme, state.registry.today());
    if verdict.status == crate::domain::Status::Valid {
        return Ok(());
    }
    let number = &award.certificate_number;
    Err(ApiError::new(
        ErrorCode::AwardNotCurrent,
        format!(
            "award {number} is {} today, not valid: {what} is served only while an award is \
             valid, so that nothing shows a withdrawn award as current; its page {}/verify/{number} \
             says why",
            super::html::status_words(verdict.status).to_lowercase(),
            state.public_url
        ),
    )
    .with("award_status", verdict.status.as_str()))
}

/// The award's logo baked with its current credential, while the award is valid.
fn current_logo(state: &AppState, raw: &str) -> Result<(Arc<Award>, u64), ApiError> {
    let (award, position) = award_with_credential(state, raw)?;
    unless_current(state, &award, &state.registry.programme(), "its logo")?;
    Ok((award, position))
}

/// A logo of a valid award: cached no longer than any answer about it, so a withdrawal reaches
/// a site that shows the logo as fast as it reaches the award's page.
fn logo(
    state: &AppState,
    req: &HttpRequest,
    award: &Award,
    content_type: &'static str,
    tag: String,
    body: Bytes,
) -> HttpResponse {
    super::conditional(
        req,
        EntityTag::new_strong(tag),
        format!("public, max-age={}", super::award_max_age(state, award)),
        content_type,
        body,
    )
}

/// A rendered image, cacheable for an hour (its tag changes with what it was rendered from).
fn image(req: &HttpRequest, content_type: &'static str, tag: String, body: Bytes) -> HttpResponse {
    super::conditional(
        req,
        EntityTag::new_strong(tag),
        "public, max-age=3600".into(),
        content_type,
        body,
    )
}

/// The award's logo with its credential baked in (SVG).
pub(crate) async fn logo_svg(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (award, position) = current_logo(&state, &path)?;
    let key = format!("logo-svg-{}-{position}", award.certificate_number);
    let level = award.level;
    let svg = baked(&state, &award, key, move |json| {
        Ok(baking::bake_svg(&artefacts::logo_svg(level), json.as_str())?.into_bytes())
    })
    .await?;
    Ok(logo(
        &state,
        &req,
        &award,
        "image/svg+xml",
        format!("logo-svg-{position}"),
        svg,
    ))
}

/// The award's logo with its credential baked in (PNG `iTXt` chunk).
pub(crate) async fn logo_png(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (award, position) = current_logo(&state, &path)?;
    let key = format!("logo-png-{}-{position}", award.certificate_number);
    let level = award.level;
    let bytes = baked(&state, &award, key, move |json| {
        let logo = artefacts::logo_png(level)?;
        Ok(baking::bake_png(&logo, json.as_str())?)
    })
    .await?;
    Ok(logo(
        &state,
        &req,
        &award,
        "image/png",
        format!("logo-png-{position}"),
        bytes,
    ))
}

fn verify_url(state: &AppState, raw: &str) -> Result<String, ApiError> {
    let (award, _) = super::find_award(state, raw)?;
    Ok(format!(
        "{}/verify/{}",
        state.public_url, award.certificate_number
    ))
}

/// A QR code of the award's verification page (SVG).
pub(crate) async fn qr_svg(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let url = verify_url(&state, &path)?;
    let key = format!("qr-svg-{url}");
    let render_url = url.clone();
    let svg = state
        .images
        .get_or_render(
            key,
            move || Ok(artefacts::qr_svg(&render_url)?.into_bytes()),
        )
        .await?;
    Ok(image(&req, "image/svg+xml", format!("qr-svg-{url}"), svg))
}

/// A QR code of the award's verification page (PNG).
pub(crate) async fn qr_png(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let url = verify_url(&state, &path)?;
    let key = format!("qr-png-{url}");
    let render_url = url.clone();
    let bytes = state
        .images
        .get_or_render(key, move || Ok(artefacts::qr_png(&render_url, 8)?))
        .await?;
    Ok(image(&req, "image/png", format!("qr-png-{url}"), bytes))
}

fn level_of(raw: &str) -> Result<Level, ApiError> {
    raw.parse::<Level>().map_err(|e| {
        ApiError::new(e.code, e.message).with_status(actix_web::http::StatusCode::NOT_FOUND)
    })
}

/// The plain logo of a level (SVG), as the credentials' achievements name it.
pub(crate) async fn level_logo_svg(
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let level = level_of(&path)?;
    Ok(image(
        &req,
        "image/svg+xml",
        format!("level-svg-{}", level.as_str()),
        Bytes::from(artefacts::logo_svg(level)),
    ))
}

/// The plain logo of a level (PNG).
pub(crate) async fn level_logo_png(
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let level = level_of(&path)?;
    let bytes = web::block(move || artefacts::logo_png(level))
        .await
        .map_err(|e| internal(&e))?
        .map_err(|e| internal(&e))?;
    Ok(image(
        &req,
        "image/png",
        format!("level-png-{}", level.as_str()),
        Bytes::copy_from_slice(&bytes),
    ))
}

/// The award's certificate (A4 PDF with its QR code), rendered from its current credential and
/// marked with its status when it is not valid today: kept per status, and cached no longer than
/// any answer about the award, so a revocation reaches the PDF as fast as the page.
pub(crate) async fn certificate_pdf(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let number = parse_number(&path)?;
    let (award, position) = award_with_credential(&state, &path)?;
    let programme = state.registry.programme();
    let verdict = crate::domain::status_as_of(&award, &programme, state.registry.today());
    let standing = format!(
        "{}-{}",
        verdict.status.as_str(),
        verdict
            .status_since
            .map(|d| d.to_string())
            .unwrap_or_default()
    );
    let url = format!("{}/verify/{number}", state.public_url);
    let key = format!("certificate-{number}-{position}-{standing}");
    let max_age = super::award_max_age(&state, &award);
    let for_render = award.clone();
    let bytes = baked(&state, &award, key, move |credential| {
        let issued = for_render
            .credentials
            .last()
            .expect("award_with_credential checked there is one");
        Ok(crate::render::certificate::certificate_pdf(
            &for_render,
            issued,
            &credential,
            &url,
            &verdict,
        )?)
    })
    .await?;
    let mut response = super::conditional(
        &req,
        EntityTag::new_strong(format!("certificate-{position}-{standing}")),
        format!("public, max-age={max_age}"),
        "application/pdf",
        bytes,
    );
    response.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        header::HeaderValue::from_str(&format!(
            "inline; filename=\"wexqs-certificate-{number}.pdf\""
        ))
        .map_err(|e| internal(&e))?,
    );
    Ok(response)
}

/// `/favicon.ico`: the site's icon, rendered once and kept.
pub(crate) async fn favicon(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let bytes = state
        .images
        .get_or_render("favicon".into(), || Ok(artefacts::favicon_ico()?))
        .await?;
    Ok(image(&req, "image/x-icon", "favicon-1".into(), bytes))
}
