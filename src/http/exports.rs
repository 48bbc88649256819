//! The register as open data: `GET /v1/exports/register.csv` and `.json`, every award's public
//! fields and status today, with headers saying the log size and the checkpoint it reflects and
//! a detached Ed25519 signature over the exact bytes of the body, by the registry's active key
//! (named in did.json).
//!
//! Streamed: an export is written piece by piece from a snapshot of shared awards
//! (`render::export`), never whole, so a download costs a few pieces of memory however large
//! the register. Its signature heads the answer, so the pieces are first made (twice, as
//! Ed25519 reads a message twice) only to be hashed, on the blocking pool, then made again as
//! they are sent. The signature and length are kept per format until what the export reflects
//! changes (the log, the checkpoint, the day or the key): downloads between changes make the
//! pieces once. Downloads at the same log size and day share one snapshot (16 bytes an award).
//! Every piece is made on the blocking pool, so a crowd of downloads cannot hold the async
//! workers from the rest of the service.

use std::sync::{Arc, Weak};

use actix_web::body::SizedStream;
use actix_web::http::header::{self, EntityTag};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use chrono::NaiveDate;

use super::AppState;
use super::error::ApiError;
use super::route::Route;
use crate::credentials::detached::sign_pieces;
use crate::render::export::{Export, Format, Reflects, Row};
use crate::service::{Registry, Signing, Version};

/// The routes this file serves.
pub(crate) const ROUTES: &[Route] = &[
    Route::get("/v1/exports/register.csv", |r| r.to(register_csv)),
    Route::get("/v1/exports/register.json", |r| r.to(register_json)),
];

/// The headers an export carries beside its body.
pub(crate) const LOG_SIZE: &str = "Wexqs-Log-Size";
pub(crate) const CHECKPOINT_SIZE: &str = "Wexqs-Checkpoint-Size";
pub(crate) const CHECKPOINT_ROOT: &str = "Wexqs-Checkpoint-Root";
pub(crate) const AS_OF: &str = "Wexqs-As-Of";
pub(crate) const SIGNATURE: &str = "Wexqs-Signature";
pub(crate) const SIGNATURE_KEY: &str = "Wexqs-Signature-Key";

/// The `Link` header naming the licence (RFC 8288, `rel="license"`).
const LICENCE_LINK: &str =
    "<https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/>; rel=\"license\"";

/// Whether a path serves open data: every public API route, the exports and the feeds among
/// them. Not the admin routes, and not the logos, badges, QR codes and certificates: the
/// Open Government Licence does not cover logos and marks.
pub(crate) fn is_open_data(path: &str) -> bool {
    path.starts_with("/v1/")
        && !path.starts_with("/v1/admin/")
        && ![".png", ".svg", ".pdf"].iter().any(|e| path.ends_with(e))
}

/// Names the licence of an open data answer (`open_data`: a success or a 304) in a `Link`
/// header.
pub(crate) fn licence_link(
    open_data: bool,
    status: actix_web::http::StatusCode,
    headers: &mut header::HeaderMap,
) {
    if open_data && (status.is_success() || status == actix_web::http::StatusCode::NOT_MODIFIED) {
        headers.append(header::LINK, header::HeaderValue::from_static(LICENCE_LINK));
    }
}

/// An export's signature and length, and what they were made for.
#[derive(Debug, Clone)]
struct Signed {
    reflects: Reflects,
    /// The key's did:web verification method.
    kid: String,
    /// The base64 Ed25519 signature of the body.
    signature: String,
    length: u64,
}

/// The latest signature of each format, and the snapshot downloads in progress are reading. A
/// format's lock is held while its export is hashed, so a crowd of downloads after a change
/// hashes it once and the rest wait for that. The snapshot is held weakly: downloads at one log
/// size and day share one, and it goes with the last of them, so no award outlives its change
/// here.
#[derive(Debug)]
pub(crate) struct ExportSignatures {
    csv: tokio::sync::Mutex<Option<Signed>>,
    json: tokio::sync::Mutex<Option<Signed>>,
    rows: std::sync::Mutex<Option<Shared>>,
    /// Turns for making a piece of a download (`crate::limits::MAX_CONCURRENT_EXPORT_PIECES`).
    making: Arc<tokio::sync::Semaphore>,
}

impl Default for ExportSignatures {
    fn default() -> ExportSignatures {
        ExportSignatures {
            csv: tokio::sync::Mutex::default(),
            json: tokio::sync::Mutex::default(),
            rows: std::sync::Mutex::default(),
            making: Arc::new(tokio::sync::Semaphore::new(
                crate::limits::MAX_CONCURRENT_EXPORT_PIECES,
            )),
        }
    }
}

/// A snapshot downloads share: the service's version it reflects (log size and day), and its
/// rows (held weakly).
type Shared = (Version, Weak<[Row]>);

impl ExportSignatures {
    /// Every award with its status today, and the log size and day they reflect: the snapshot
    /// a download in progress reads, if the service's version is still the one it was taken at.
    fn rows(&self, registry: &Registry) -> (u64, NaiveDate, Arc<[Row]>) {
        let now = registry.version();
        if let Some((at, weak)) = self.rows.lock().expect("never poisoned").as_ref()
            && *at == now
            && let Some(rows) = weak.upgrade()
        {
            return (now.log_size, now.day, rows);
        }
        let (log_size, day, rows) = registry.export_rows();
        let at = Version { log_size, day };
        *self.rows.lock().expect("never poisoned") = Some((at, Arc::downgrade(&rows)));
        (log_size, day, rows)
    }

    async fn of(&self, export: &Export, signing: &Signing) -> Result<Signed, ApiError> {
        let kid = format!("{}#{}", signing.did, signing.key_id);
        let mut latest = match export.format {
            Format::Csv => self.csv.lock().await,
            Format::Json => self.json.lock().await,
        };
        if let Some(signed) = latest.as_ref()
            && signed.reflects == export.reflects
            && signed.kid == kid
        {
            return Ok(signed.clone());
        }
        let (for_signing, key) = (export.clone(), signing.key.clone());
        let (signature, length) = web::block(move || sign_pieces(&key, || for_signing.pieces()))
            .await
            .map_err(|e| super::error::internal(&e))?;
        let signed = Signed {
            reflects: export.reflects.clone(),
            kid,
            signature: base64::engine::general_purpose::STANDARD.encode(signature.to_bytes()),
            length,
        };
        *latest = Some(signed.clone());
        Ok(signed)
    }
}

async fn export_as(
    req: HttpRequest,
    state: web::Data<AppState>,
    format: Format,
) -> Result<HttpResponse, ApiError> {
    let signing = state
        .registry
        .signing()
        .ok_or_else(super::public::no_signing_key)?;
    // The checkpoint is read first: the log it reflects is at least as long.
    let checkpoint = state
        .registry
        .latest_checkpoint()
        .map(|(s, r)| (s, base64::engine::general_purpose::STANDARD.encode(r)));
    let checkpoint_size = checkpoint.as_ref().map_or(0, |(s, _)| *s);
    let cache_control = "public, max-age=60".to_owned();
    // Decided from the log size and the day alone, before the register is read.
    let held = tag_of(
        format,
        state.registry.size(),
        state.registry.today(),
        checkpoint_size,
    );
    if let Some(held) = super::not_modified(&req, &held, cache_control.clone()) {
        return Ok(held);
    }
    let (log_size, as_of, rows) = state.export_signatures.rows(&state.registry);
    let export = Export {
        format,
        reflects: Reflects {
            log_size,
            checkpoint,
            as_of,
        },
        rows,
        public_url: Arc::from(state.public_url.as_str()),
    };
    let tag = tag_of(format, log_size, as_of, checkpoint_size);
    let signed = state.export_signatures.of(&export, &signing).await?;
    let pieces = pieces_off_workers(&export, state.export_signatures.making.clone());
    let mut response = HttpResponse::Ok();
    response
        .insert_header(header::ETag(tag))
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((LOG_SIZE, log_size.to_string()))
        .insert_header((AS_OF, as_of.to_string()))
        .insert_header((SIGNATURE, signed.signature))
        .insert_header((SIGNATURE_KEY, signed.kid));
    if let Some((size, root)) = &export.reflects.checkpoint {
        response
            .insert_header((CHECKPOINT_SIZE, size.to_string()))
            .insert_header((CHECKPOINT_ROOT, root.clone()));
    }
    Ok(response
        .content_type(format.content_type())
        .body(SizedStream::new(signed.length, pieces)))
}

/// `export`'s pieces, each made on the blocking pool, not on the async workers: a piece is
/// thousands of rows to render, and downloads one after another (or clients that take an export
/// and never read it, whose socket buffers take megabytes) would otherwise keep a worker from
/// every other request it holds. No thread is held while the client is not reading, and only
/// `making`'s permits of pieces are made at once, so downloads leave the other cores to the
/// workers.
fn pieces_off_workers(
    export: &Export,
    making: Arc<tokio::sync::Semaphore>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + 'static {
    futures_util::stream::unfold(Some(export.pieces()), move |pieces| {
        let making = making.clone();
        async move {
            let mut pieces = pieces?;
            let Ok(_turn) = making.acquire_owned().await else {
                return Some((Err(std::io::Error::other("the server is stopping")), None));
            };
            match web::block(move || (pieces.next(), pieces)).await {
                Ok((Some(piece), pieces)) => Some((Ok(Bytes::from(piece)), Some(pieces))),
                Ok((None, _)) => None,
                Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
            }
        }
    })
}

/// An export's `ETag`: what it reflects names its bytes.
fn tag_of(format: Format, log_size: u64, as_of: NaiveDate, checkpoint_size: u64) -> EntityTag {
    EntityTag::new_strong(format!(
        "export-{}-{log_size}-{as_of}-{checkpoint_size}",
        format.extension()
    ))
}

pub(crate) async fn register_csv(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    export_as(req, state, Format::Csv).await
}

pub(crate) async fn register_json(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    export_as(req, state, Format::Json).await
}
