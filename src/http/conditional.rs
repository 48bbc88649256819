//! Conditional answers: the ETag a client holds (`If-None-Match`), the 304, the version answers
//! about awards are prepared at, and how long an answer about an award may be cached.

use actix_web::HttpResponse;
use actix_web::http::header;

use super::AppState;
use super::prepared;

/// Whether the client already holds the answer tagged `tag` (its `If-None-Match` names it).
pub(crate) fn client_holds(req: &actix_web::HttpRequest, tag: &header::EntityTag) -> bool {
    let Some(asked) = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let tag = tag.to_string();
    asked
        .split(',')
        .any(|t| t.trim().trim_start_matches("W/") == tag)
}

/// The 304 for a client that already holds `tag`, decided before any of the answer is built;
/// `None` when it must be sent.
pub(crate) fn not_modified(
    req: &actix_web::HttpRequest,
    tag: &header::EntityTag,
    cache_control: String,
) -> Option<HttpResponse> {
    client_holds(req, tag).then(|| {
        HttpResponse::NotModified()
            .insert_header(header::ETag(tag.clone()))
            .insert_header((header::CACHE_CONTROL, cache_control))
            .finish()
    })
}

/// The version answers about awards are prepared at (`prepared::Version`), for the day `today`.
pub(crate) fn answers_version(state: &AppState, today: chrono::NaiveDate) -> prepared::Version {
    prepared::Version {
        log: crate::service::Version {
            log_size: state.registry.size(),
            day: today,
        },
        checkpoint_size: state
            .registry
            .latest_checkpoint()
            .map_or(0, |(size, _)| size),
    }
}

/// A cacheable answer: 304 when the client already holds `tag`, else `body` as `content_type`.
pub(crate) fn conditional(
    req: &actix_web::HttpRequest,
    tag: header::EntityTag,
    cache_control: String,
    content_type: &'static str,
    body: impl actix_web::body::MessageBody + 'static,
) -> HttpResponse {
    let held = client_holds(req, &tag);
    let mut response = if held {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header(header::ETag(tag))
        .insert_header((header::CACHE_CONTROL, cache_control));
    if held {
        return response.finish();
    }
    response.content_type(content_type).body(body)
}

/// Seconds an answer about `award` may be cached: until its status could next change by the
/// calendar alone (its award or expiry date, or the next UK midnight), and a minute at most, so
/// that a revocation shows quickly.
pub(crate) fn award_max_age(state: &AppState, award: &crate::domain::Award) -> u64 {
    use crate::domain::types::start_of_uk_day;
    let now = state.registry.now();
    let today = state.registry.today();
    let until = |d: chrono::NaiveDate| (start_of_uk_day(d) - now).num_seconds().max(1) as u64;
    let tomorrow = today.succ_opt().map_or(60, until);
    crate::domain::verdict::next_calendar_change(award, today)
        .map_or(60, until)
        .min(tomorrow)
        .min(60)
}

/// How long a public answer may be cached at most, even if nothing is due to change.
pub(super) const MAX_AGE: u64 = 60;

/// A public answer tagged `tag`, cacheable for `max_age` seconds (or a 304).
pub(super) fn cached_as(
    req: &actix_web::HttpRequest,
    tag: header::EntityTag,
    max_age: u64,
    content_type: &'static str,
    body: impl actix_web::body::MessageBody + 'static,
) -> HttpResponse {
    conditional(req, tag, cache_control(max_age), content_type, body)
}

/// The `Cache-Control` of a public answer cacheable for `max_age` seconds.
pub(super) fn cache_control(max_age: u64) -> String {
    format!("public, max-age={max_age}, stale-while-revalidate=30")
}
