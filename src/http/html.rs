//! The HTML every page for people shares: the verdict's icon and words, an HTML answer, a
//! template rendered, and the snippets a site pastes to show an award (escaped by the one markup
//! rule, so a name can never become markup on someone else's page). Pages, embeds and the
//! site's own pages take them from here.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use askama::Template;

use super::error::{ApiError, internal};
use crate::domain::{Award, CertificateNumber, Status, Verdict};

pub(crate) const ICON_VALID: &str = r##"<svg aria-hidden="true" focusable="false" viewBox="0 0 48 48"><circle cx="24" cy="24" r="22" fill="#fff"/><path d="M13 25l7 7 15-16" fill="none" stroke="#007f3b" stroke-width="6" stroke-linecap="round" stroke-linejoin="round"/></svg>"##;
pub(crate) const ICON_INVALID: &str = r##"<svg aria-hidden="true" focusable="false" viewBox="0 0 48 48"><circle cx="24" cy="24" r="22" fill="#fff"/><path d="M15 15l18 18M33 15L15 33" stroke="#d5281b" stroke-width="6" stroke-linecap="round"/></svg>"##;
pub(crate) const ICON_WARNING: &str = r##"<svg aria-hidden="true" focusable="false" viewBox="0 0 48 48"><path d="M24 3L46 44H2z" fill="#212b32"/><path d="M24 17v14" stroke="#ffb81c" stroke-width="5" stroke-linecap="round"/><circle cx="24" cy="38" r="3" fill="#ffb81c"/></svg>"##;
pub(crate) const ICON_CLOCK: &str = r##"<svg aria-hidden="true" focusable="false" viewBox="0 0 48 48"><circle cx="24" cy="24" r="22" fill="#fff"/><path d="M24 12v13l8 6" fill="none" stroke="#425563" stroke-width="5" stroke-linecap="round"/></svg>"##;
pub(crate) const ICON_REPLACED: &str = r##"<svg aria-hidden="true" focusable="false" viewBox="0 0 48 48"><circle cx="24" cy="24" r="22" fill="#fff"/><path d="M12 24h22M26 15l9 9-9 9" fill="none" stroke="#330072" stroke-width="5" stroke-linecap="round" stroke-linejoin="round"/></svg>"##;

/// (icon, words, the line under them) for a verdict. The line opens with the one date that
/// fits the status (`Verdict::dates_in_words`): "Valid until" only for a valid award.
pub(crate) fn presentation(
    award: &Award,
    verdict: &Verdict,
) -> (&'static str, &'static str, String) {
    let level = award.level.title();
    let dates = verdict.dates_in_words(award);
    match verdict.status {
        Status::Valid => (
            ICON_VALID,
            "Valid award",
            format!("{dates}: a real, current {level} award"),
        ),
        Status::Expired => (
            ICON_CLOCK,
            "Expired",
            format!("{dates}: a real {level} award, no longer valid"),
        ),
        Status::Suspended => (
            ICON_WARNING,
            "Suspended",
            format!("{dates}: a real {level} award, not valid while suspended"),
        ),
        Status::Revoked => (
            ICON_INVALID,
            "Revoked",
            format!("{dates}: this award is not valid"),
        ),
        Status::Superseded => (
            ICON_REPLACED,
            "Replaced by a newer award",
            format!("{dates}: see the organisation's newer award"),
        ),
        Status::NotYetValid => (
            ICON_CLOCK,
            "Not yet valid",
            format!("{dates}: not valid before then"),
        ),
    }
}

pub(crate) fn status_words(status: Status) -> &'static str {
    match status {
        Status::Valid => "Valid",
        Status::Expired => "Expired",
        Status::Suspended => "Suspended",
        Status::Revoked => "Revoked",
        Status::Superseded => "Replaced",
        Status::NotYetValid => "Not yet valid",
    }
}

pub(crate) fn html(
    status: StatusCode,
    body: impl actix_web::body::MessageBody + 'static,
    cache: String,
) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, cache))
        .body(body)
}

pub(crate) fn render(t: &impl Template) -> Result<String, ApiError> {
    t.render().map_err(|e| internal(&e))
}

/// The embed size the snippets and oEmbed suggest.
pub(crate) const EMBED_WIDTH: u32 = 360;
pub(crate) const EMBED_HEIGHT: u32 = 240;

/// The iframe that shows an award's live card, as a site pastes it: every value in it escaped
/// by the one markup rule, so a name can never become markup on someone else's page.
pub(crate) fn iframe_snippet(
    public_url: &str,
    number: &CertificateNumber,
    organisation: &str,
    width: u32,
) -> String {
    use crate::escape::markup;
    format!(
        r#"<iframe src="{}/embed/{number}" title="WEx QS award of {}" width="{width}" height="{EMBED_HEIGHT}" style="border:0"></iframe>"#,
        markup(public_url),
        markup(organisation),
    )
}

/// The script tag that renders an award's live card.
pub(crate) fn script_snippet(public_url: &str, number: &CertificateNumber) -> String {
    format!(
        r#"<script src="{}/embed.js" data-certificate="{number}" async></script>"#,
        crate::escape::markup(public_url)
    )
}

/// The live status badge, linked to the award's page.
pub(crate) fn badge_snippet(public_url: &str, number: &CertificateNumber, level: &str) -> String {
    use crate::escape::markup;
    let public = markup(public_url);
    format!(
        r#"<a href="{public}/verify/{number}"><img src="{public}/v1/awards/{number}/badge.svg" alt="WEx QS {}: check it is current"></a>"#,
        markup(level)
    )
}
