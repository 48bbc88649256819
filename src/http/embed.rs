//! What other sites embed: the live card (`/embed/{n}`, as an iframe, the `/embed.js` widget or
//! an oEmbed `rich` response), the live status badge, and the snippets people copy for them.
//! Every value written into a snippet is escaped by the one markup rule.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, EntityTag};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use super::html::{
    EMBED_HEIGHT, EMBED_WIDTH, html, iframe_snippet, presentation, render, status_words,
};
use super::route::Route;
use crate::domain::{CertificateNumber, status_as_of};
use crate::error_codes::ErrorCode;

/// The routes this file serves.
pub(crate) const ROUTES: &[Route] = &[
    Route::get("/embed/{certificate_number}", |r| r.to(embed_page)),
    Route::get("/embed.js", |r| r.to(embed_js)),
    Route::get("/oembed", |r| r.to(oembed)),
];

#[derive(Template)]
#[template(path = "embed.html")]
struct EmbedPage {
    base: String,
    headline: &'static str,
    subline: String,
    icon: &'static str,
    status: &'static str,
    organisation: String,
    level: String,
    number: String,
    page_url: String,
}

/// `/embed/{n}`: the card an iframe shows (framable from any origin).
pub(crate) async fn embed_page(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    // A number that is no award here gets a card at the snippet's size, not a whole page
    // cropped into someone else's frame: 400 when mistyped, 404 when unknown.
    let number = match path.parse::<CertificateNumber>() {
        Ok(number) => number,
        Err(_) => {
            return Ok(super::site::embed_not_found(
                StatusCode::BAD_REQUEST,
                &state.public_url,
            ));
        }
    };
    let Some((award, programme)) = state.registry.award(&number) else {
        return Ok(super::site::embed_not_found(
            StatusCode::NOT_FOUND,
            &state.public_url,
        ));
    };
    let verdict = status_as_of(&award, &programme, state.registry.today());
    let (icon, headline, subline) = presentation(&award, &verdict);
    let page = EmbedPage {
        base: super::prefix::base_path(&state.public_url).to_owned(),
        headline,
        subline,
        icon,
        status: verdict.status.as_str(),
        organisation: award.organisation_name.to_string(),
        level: format!("WEx QS {} award", award.level.title()),
        number: award.certificate_number.to_string(),
        page_url: format!("{}/verify/{}", state.public_url, award.certificate_number),
    };
    Ok(html(
        StatusCode::OK,
        render(&page)?,
        format!("public, max-age={}", super::award_max_age(&state, &award)),
    ))
}

/// `/embed.js`: a dependency-free widget that shows the award's live card (`/embed/{n}`) at the
/// size the snippets suggest, so the script and the iframe show one card in the same words.
pub(crate) async fn embed_js() -> HttpResponse {
    let script = include_str!("../../assets/embed.js")
        .replace("EMBED_WIDTH", &EMBED_WIDTH.to_string())
        .replace("EMBED_HEIGHT", &EMBED_HEIGHT.to_string());
    HttpResponse::Ok()
        .content_type("application/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(script)
}

#[derive(Debug, Deserialize)]
pub(crate) struct OembedParams {
    url: String,
    format: Option<String>,
    maxwidth: Option<u32>,
}

/// `/oembed`: the card as an oEmbed `rich` response, for content management systems.
pub(crate) async fn oembed(
    state: web::Data<AppState>,
    params: web::Query<OembedParams>,
) -> Result<HttpResponse, ApiError> {
    if params.format.as_deref().is_some_and(|f| f != "json") {
        return Err(ApiError::new(
            ErrorCode::OembedFormatUnsupported,
            "only format=json is offered",
        ));
    }
    let prefix = format!("{}/verify/", state.public_url);
    let award = params
        .url
        .strip_prefix(&prefix)
        .and_then(|n| n.parse::<CertificateNumber>().ok())
        .and_then(|n| state.registry.award(&n))
        .map(|(a, _)| a)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::OembedUrlUnknown,
                format!(
                    "url must be a verification page of an award here, {prefix}CERTIFICATE-NUMBER"
                ),
            )
        })?;
    let width = params.maxwidth.unwrap_or(EMBED_WIDTH).clamp(
        *crate::limits::EMBED_WIDTHS.start(),
        *crate::limits::EMBED_WIDTHS.end(),
    );
    let number = &award.certificate_number;
    let body = serde_json::json!({
        "version": "1.0",
        "type": "rich",
        "provider_name": "WEx QS award registry",
        "provider_url": state.public_url,
        "title": format!("{}: WEx QS {} award", award.organisation_name, award.level.title()),
        "html": iframe_snippet(&state.public_url, number, award.organisation_name.as_str(), width),
        "width": width,
        "height": EMBED_HEIGHT,
        "cache_age": 60,
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .json(body))
}

/// `/v1/awards/{n}/badge.svg`: a live status badge (`?style=flat|large`); for a number that is
/// no award here, a "not found" badge with the 404 (or the 400 of a mistyped number), so a
/// site's `<img>` says so instead of showing a broken image.
pub(crate) async fn badge_svg(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let large = badge_style(&req)?;
    let (award, programme) = match super::find_award(&state, &path) {
        Ok(found) => found,
        Err(problem) => {
            return Ok(HttpResponse::build(problem.status)
                .content_type("image/svg+xml")
                .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
                .body(crate::render::artefacts::not_found_badge(large)));
        }
    };
    let number = award.certificate_number.clone();
    let today = state.registry.today();
    let tag = EntityTag::new_strong(format!("badge-{}-{today}-{large}", award.last_position));
    let cache = super::cache_control(super::award_max_age(&state, &award));
    if let Some(held) = super::not_modified(&req, &tag, cache.clone()) {
        return Ok(held);
    }
    let version = super::answers_version(&state, today);
    let svg = state.prepared.get_or_build(
        super::prepared::Answer::Badge { large },
        &number,
        version,
        || {
            let status = status_as_of(&award, &programme, today).status;
            Ok::<_, ApiError>(actix_web::web::Bytes::from(
                crate::render::artefacts::status_badge(
                    award.level,
                    status.as_str(),
                    status_words(status),
                    large,
                ),
            ))
        },
    )?;
    Ok(super::conditional(&req, tag, cache, "image/svg+xml", svg))
}

/// Whether the badge asked for is the large one (`?style=large`; flat by default).
fn badge_style(req: &HttpRequest) -> Result<bool, ApiError> {
    match req
        .query_string()
        .split('&')
        .find_map(|kv| kv.strip_prefix("style="))
    {
        None | Some("flat") => Ok(false),
        Some("large") => Ok(true),
        Some(other) => Err(ApiError::new(
            ErrorCode::StyleInvalid,
            format!("style is flat or large, not {other:?}"),
        )),
    }
}
