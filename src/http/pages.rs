//! Pages for people: the verification page a QR code opens, the searchable register, and the
//! page of a level (the embeddable card, widget, oEmbed and badge are `embed`'s).
//! Server-rendered HTML (askama, auto-escaped) that works without JavaScript, phone first; a
//! verdict is always given in words and an icon as well as a colour.

use actix_web::http::StatusCode;
use actix_web::http::header::{self};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::NaiveDate;
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use super::html::{
    EMBED_WIDTH, ICON_INVALID, badge_snippet, html, iframe_snippet, presentation, render,
    script_snippet, status_words,
};
use crate::domain::state::AwardChange;
use crate::domain::types::long_date;
use crate::domain::verdict::{programme_notice, scheduled_message};
use crate::domain::{Award, CertificateNumber, Level, Region, Status, status_as_of};
use crate::service::Registry;
use crate::service::search::{self, Found, Listed, SearchRequest};

fn history_line(change: &AwardChange) -> String {
    match change {
        AwardChange::Issued { on, source } => match source {
            crate::domain::AwardSource::Issued => format!("{}: awarded", long_date(*on)),
            crate::domain::AwardSource::Imported => {
                format!(
                    "{}: awarded (recorded from the programme's earlier records)",
                    long_date(*on)
                )
            }
        },
        AwardChange::Suspended { on, reason } => format!("{}: suspended: {reason}", long_date(*on)),
        AwardChange::Reinstated { on, reason } => match reason {
            Some(reason) => format!("{}: reinstated: {reason}", long_date(*on)),
            None => format!("{}: reinstated", long_date(*on)),
        },
        AwardChange::Revoked { on, reason } => format!("{}: revoked: {reason}", long_date(*on)),
        AwardChange::Superseded { on, by } => format!("{}: replaced by award {by}", long_date(*on)),
        AwardChange::Amended {
            on,
            organisation_name,
            reason,
        } => {
            let corrected = format!("the organisation's name is {organisation_name} ({reason})");
            match on {
                Some(on) => format!("{}: corrected: {corrected}", long_date(*on)),
                None => format!("Corrected: {corrected}"),
            }
        }
        AwardChange::Expired { on } => format!("{}: expired", long_date(*on)),
    }
}

#[derive(Template)]
#[template(path = "verify.html")]
struct VerifyPage {
    headline: &'static str,
    subline: String,
    icon: &'static str,
    status: &'static str,
    status_words: &'static str,
    organisation: String,
    level: String,
    level_code: &'static str,
    awarded_on: String,
    dates_label: &'static str,
    dates_value: String,
    /// Whether the award is valid today: only then are its logo, "Add to LinkedIn" and the
    /// snippets to show it on a website offered.
    current: bool,
    /// The mark its PDF carries when it is not valid.
    pdf_mark: Option<&'static str>,
    as_of: String,
    number: String,
    issuer: String,
    scheme: String,
    ods_code: Option<String>,
    region: &'static str,
    reason: Option<String>,
    superseded_by: Option<String>,
    programme_notice: Option<String>,
    history: Vec<String>,
    page_url: String,
    public_url: String,
    base: String,
    summary: String,
    linkedin_url: String,
    share_subject: String,
    snippet_script: String,
    snippet_iframe: String,
    snippet_badge: String,
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFoundPage {
    base: String,
    headline: &'static str,
    subline: &'static str,
    icon: &'static str,
    number: String,
    explanation: String,
    suggestions: Vec<(String, String)>,
}

use super::route::Route;
use crate::escape::url_component as encode;

/// The routes this file serves.
pub(crate) const ROUTES: &[Route] = &[
    Route::get("/achievements/{level}", |r| r.to(achievement)),
    Route::get("/", |r| r.to(index)),
    Route::get("/verify/{certificate_number}", |r| r.to(verify_page)),
    Route::get("/assets/site.css", |r| r.to(site_css)),
];

/// A page for a number that is not an award here: unknown (404) or mistyped (400).
pub(super) fn not_found_page(state: &AppState, raw: &str) -> Result<HttpResponse, ApiError> {
    let (status, explanation, number) = match raw.parse::<CertificateNumber>() {
        Ok(n) => (
            StatusCode::NOT_FOUND,
            "No award with this certificate number is in the register. It is not a real award of the NHS England Work Experience Quality Standard, or the number was copied wrongly: check the number on the certificate and try again, or search the register by the organisation's name.".to_owned(),
            n.to_string(),
        ),
        Err(e) => (StatusCode::BAD_REQUEST, format!("{}.", e.message), raw.chars().take(40).collect()),
    };
    let page = NotFoundPage {
        base: super::prefix::base_path(&state.public_url).to_owned(),
        headline: "Not found",
        subline: "No award with this number is in the register",
        icon: ICON_INVALID,
        number,
        explanation,
        suggestions: state.registry.near_misses(raw),
    };
    Ok(html(status, render(&page)?, "public, max-age=60".into()))
}

/// `/verify/{n}`: the page a certificate's QR code opens.
pub(crate) async fn verify_page(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let Ok(number) = path.parse::<CertificateNumber>() else {
        return not_found_page(&state, &path);
    };
    let Some((award, programme)) = state.registry.award(&number) else {
        return not_found_page(&state, &path);
    };
    let today = state.registry.today();
    let cache = super::cache_control(super::award_max_age(&state, &award));
    let version = super::answers_version(&state, today);
    let body =
        state
            .prepared
            .get_or_build(super::prepared::Answer::Page, &number, version, || {
                verify_page_html(&state, &number, &award, &programme, today)
            })?;
    Ok(html(StatusCode::OK, body, cache))
}

/// The award's page about `today`, rendered.
fn verify_page_html(
    state: &AppState,
    number: &CertificateNumber,
    award: &Award,
    programme: &crate::domain::Programme,
    today: NaiveDate,
) -> Result<actix_web::web::Bytes, ApiError> {
    let verdict = status_as_of(award, programme, today);
    let (icon, headline, subline) = presentation(award, &verdict);
    let (dates_label, dates_day) = verdict.dates(award);
    let public = state.public_url.clone();
    let page_url = format!("{public}/verify/{number}");
    let organisation = award.organisation_name.to_string();
    let level = format!("{} award", award.level.title());
    let title = format!("NHS England Work Experience Quality Standard: {level}");
    let linkedin_url = format!(
        "https://www.linkedin.com/profile/add?startTask=CERTIFICATION_NAME&name={}&organizationName={}&issueYear={}&issueMonth={}&expirationYear={}&expirationMonth={}&certUrl={}&certId={}",
        encode(&title),
        encode(&award.issuer_name),
        chrono::Datelike::year(&award.awarded_on),
        chrono::Datelike::month(&award.awarded_on),
        chrono::Datelike::year(&award.valid_until),
        chrono::Datelike::month(&award.valid_until),
        encode(&page_url),
        encode(number.as_str()),
    );
    let page = VerifyPage {
        headline,
        subline: subline.clone(),
        icon,
        status: verdict.status.as_str(),
        status_words: status_words(verdict.status),
        level_code: award.level.as_str(),
        awarded_on: long_date(award.awarded_on),
        dates_label,
        dates_value: long_date(dates_day),
        current: verdict.status == Status::Valid,
        pdf_mark: verdict.mark(),
        as_of: long_date(today),
        number: number.to_string(),
        issuer: award.issuer_name.to_string(),
        scheme: award.scheme.to_string(),
        ods_code: award.ods_code.as_ref().map(ToString::to_string),
        region: award.region.name(),
        reason: verdict
            .reason
            .clone()
            .filter(|_| verdict.status != Status::Valid),
        superseded_by: verdict.superseded_by.as_ref().map(ToString::to_string),
        programme_notice: programme_notice(programme, today).map(|n| n.message),
        history: crate::domain::verdict::history_as_of(award, today)
            .into_iter()
            .map(|h| history_line(&h.change))
            .collect(),
        summary: format!("{organisation}: {level}. {subline}."),
        share_subject: format!("{organisation}: WEx QS {level}"),
        snippet_script: script_snippet(&public, number),
        snippet_iframe: iframe_snippet(&public, number, &organisation, EMBED_WIDTH),
        snippet_badge: badge_snippet(&public, number, &level),
        linkedin_url,
        organisation,
        level,
        page_url,
        base: super::prefix::base_path(&public).to_owned(),
        public_url: public,
    };
    Ok(render(&page)?.into())
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    base: String,
    programme_notice: String,
    /// The next pause, resumption or end recorded ahead, announced with its date.
    scheduled_notice: Option<String>,
    q: String,
    levels: Vec<(&'static str, &'static str, bool)>,
    statuses: Vec<(&'static str, &'static str, bool)>,
    regions: Vec<(&'static str, &'static str, bool)>,
    message: Option<String>,
    /// Whether the rows are near matches (nothing matched exactly).
    near: bool,
    total: u64,
    rows: Vec<Row>,
    page: u32,
    pages: u64,
    prev_link: Option<String>,
    next_link: Option<String>,
}

struct Row {
    number: String,
    organisation: String,
    ods_code: Option<String>,
    region: &'static str,
    level: &'static str,
    status: &'static str,
    status_words: &'static str,
    /// The date that fits the status, in words (`Verdict::dates_in_words`).
    dates: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SearchParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    region: String,
    page: Option<u32>,
}

const PER_PAGE: u32 = 20;

/// `/`: search the register.
pub(crate) async fn index(
    state: web::Data<AppState>,
    params: web::Query<SearchParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner();
    let level = p.level.parse::<Level>().ok();
    let region = p.region.parse::<Region>().ok();
    let status = Status::parse(&p.status);
    let page = p.page.unwrap_or(1).clamp(1, 100_000);
    let q = p.q.trim().chars().take(200).collect::<String>();
    let request = SearchRequest {
        text: q.clone(),
        level,
        region,
        status,
        limit: PER_PAGE,
        offset: (page - 1) * PER_PAGE,
    };
    let searched = search::search_off_workers(state.registry.clone(), request)
        .await
        .map_err(|e| super::error::internal(&e))?;
    let message = search_message(&searched, &q);
    let (found, total, near) = (searched.rows, searched.total, searched.near);
    let today = state.registry.today();
    let rows = found
        .into_iter()
        .map(|(row, status)| register_row(&state.registry, row, status, today))
        .collect();
    let pages = total.div_ceil(u64::from(PER_PAGE)).max(1);
    let base = super::prefix::base_path(&state.public_url);
    let link = |n: u32| {
        format!(
            "{base}/?q={}&level={}&status={}&region={}&page={n}",
            encode(&q),
            encode(&p.level),
            encode(&p.status),
            encode(&p.region)
        )
    };
    let programme = state.registry.programme();
    let page_view = IndexPage {
        base: base.to_owned(),
        programme_notice: programme_notice(&programme, state.registry.today())
            .map(|n| n.message)
            .unwrap_or_else(|| "The programme is making awards.".into()),
        scheduled_notice: programme
            .scheduled_after(state.registry.today())
            .next()
            .map(scheduled_message),
        levels: Level::ALL
            .iter()
            .map(|l| (l.as_str(), l.title(), Some(*l) == level))
            .collect(),
        statuses: Status::ALL
            .iter()
            .map(|s| (s.as_str(), status_words(*s), Some(*s) == status))
            .collect(),
        regions: Region::ALL
            .iter()
            .map(|r| (r.as_str(), r.name(), Some(*r) == region))
            .collect(),
        message,
        near,
        total,
        rows,
        page,
        pages,
        prev_link: (page > 1).then(|| link(page - 1)),
        next_link: (u64::from(page) < pages).then(|| link(page + 1)),
        q,
    };
    Ok(html(
        StatusCode::OK,
        render(&page_view)?,
        "public, max-age=30".into(),
    ))
}

/// What the page says above the results: that the text has nothing to search by, the rule a
/// mistyped certificate number breaks, or that there is no exact match and the results are
/// near ones.
fn search_message(searched: &Found, q: &str) -> Option<String> {
    if let Err(rule) = search::check_text(q) {
        let mut rule = rule;
        if let Some(first) = rule.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        return Some(format!(
            "{rule}. Type a name, an ODS code or a certificate number."
        ));
    }
    match &searched.mistyped_number {
        Some(rule) if searched.near => Some(format!(
            "{rule} ({q}). The awards whose numbers are one slip away:"
        )),
        Some(rule) => Some(format!("{rule} ({q}).")),
        None if searched.near => Some(format!(
            "No exact match for \u{201c}{q}\u{201d}. Near matches, with their status:"
        )),
        None => None,
    }
}

/// One row of the register as the page shows it.
fn register_row(registry: &Registry, row: Listed, status: Status, today: NaiveDate) -> Row {
    // The row's date is worded from the award's own verdict, as on its page; the projection
    // row keeps only the plain validity dates.
    let dates = row
        .certificate_number
        .parse::<CertificateNumber>()
        .ok()
        .and_then(|n| registry.award(&n))
        .map(|(award, programme)| status_as_of(&award, &programme, today).dates_in_words(&award))
        .unwrap_or_default();
    Row {
        number: row.certificate_number,
        organisation: row.organisation_name,
        ods_code: row.ods_code,
        region: row.region.parse::<Region>().map_or("", |r| r.name()),
        level: row.level.parse::<Level>().map_or("", Level::title),
        status: status.as_str(),
        status_words: status_words(status),
        dates,
    }
}

/// The site's stylesheet.
pub(crate) async fn site_css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("../../assets/site.css"))
}

#[derive(Template)]
#[template(path = "achievement.html")]
struct AchievementPage {
    base: String,
    title: String,
    level: &'static str,
    description: String,
    criteria: String,
    json_url: String,
    levels: Vec<(&'static str, String)>,
}

/// Whether a request prefers JSON to a page: it names a JSON type and not HTML (a browser
/// always names HTML; a verifier dereferencing an id asks for JSON or JSON-LD).
fn wants_json(req: &HttpRequest) -> bool {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    accept.contains("json") && !accept.contains("text/html")
}

/// `/achievements/{level}`: the id of the Open Badges `Achievement` every credential of the
/// level embeds. A machine (asking for JSON) gets that very object; a person gets a page saying
/// what the level means, with a link to the register.
pub(crate) async fn achievement(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if wants_json(&req) {
        return super::public::achievement(state, path).await;
    }
    let Ok(level) = super::public::level_in_path(&path) else {
        return Ok(super::site::page_not_found(&req, &state.public_url));
    };
    let object = crate::credentials::credential::achievement(level, &state.public_url);
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    let page = AchievementPage {
        title: format!("{} award", level.title()),
        level: level.as_str(),
        description: text(&object["description"]),
        criteria: text(&object["criteria"]["narrative"]),
        json_url: format!(
            "{}/v1/achievements/{}",
            super::prefix::base_path(&state.public_url),
            level.as_str()
        ),
        base: super::prefix::base_path(&state.public_url).to_owned(),
        levels: Level::ALL
            .iter()
            .map(|l| (l.as_str(), format!("{} award", l.title())))
            .collect(),
    };
    let mut response = html(
        StatusCode::OK,
        render(&page)?,
        "public, max-age=3600".into(),
    );
    response
        .headers_mut()
        .insert(header::VARY, header::HeaderValue::from_static("Accept"));
    Ok(response)
}
