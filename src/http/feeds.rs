//! Following the register without polling it: Atom feeds of the public changes (every award
//! and the programme, or one organisation's awards), newest first and paged (RFC 5005), and
//! iCalendar files of awards' expiry dates with reminders. An entry is dated by when its change
//! was recorded (`updated`), and says in words the day it takes effect. Only public changes are
//! read (`Registry::public_changes`), so no private event can reach a feed.

use actix_web::http::header::EntityTag;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{NaiveDate, SecondsFormat};
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use super::extract::FoundAward;
use super::route::Route;
use crate::domain::state::{AwardChange, ProgrammePhase};
use crate::domain::types::{long_date, start_of_uk_day};
use crate::domain::{OrganisationId, Status};
use crate::error_codes::ErrorCode;
use crate::render::{atom, ics};
use crate::service::feeds::{ChangesPage, PublicChange};

/// The routes this file serves.
pub(crate) const ROUTES: &[Route] = &[
    Route::get("/v1/feed.atom", |r| r.to(feed)),
    Route::get("/v1/organisations/{organisation_id}/feed.atom", |r| {
        r.to(organisation_feed)
    }),
    Route::get("/v1/organisations/{organisation_id}/calendar.ics", |r| {
        r.to(organisation_calendar)
    }),
];

/// Entries on one page of a feed, unless `limit` says fewer (or more, up to `MAX_FEED_PAGE`).
pub(crate) const FEED_PAGE: usize = 50;
pub(crate) use crate::limits::MAX_FEED_PAGE;
/// Days before an expiry that a calendar reminds.
pub(crate) const REMINDER_DAYS: [u32; 3] = [90, 30, 7];

#[derive(Debug, Deserialize)]
pub(crate) struct FeedQuery {
    before: Option<u64>,
    limit: Option<usize>,
}

fn rfc3339(day: NaiveDate) -> String {
    start_of_uk_day(day).to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn organisation_in_path(raw: &str) -> Result<OrganisationId, ApiError> {
    raw.parse::<OrganisationId>().map_err(ApiError::from)
}

fn organisation_not_found(id: OrganisationId) -> ApiError {
    ApiError::new(
        ErrorCode::OrganisationNotFound,
        format!("no organisation with the id {id} is in the register"),
    )
}

/// A stable id for a feed or an event: a name-based UUID (RFC 9562 v5).
fn urn(name: &[u8]) -> String {
    format!(
        "urn:uuid:{}",
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, name)
    )
}

/// The entry for a public change, linking to the page of the award it is about.
fn entry(state: &AppState, change: &PublicChange) -> atom::Entry {
    let position = change.position();
    // The event's leaf hash names it for good, whatever the registry's address.
    let id = match state.registry.leaf_hash(position) {
        Some(hash) => urn(format!("wexqs-event:{}", hex::encode(hash)).as_bytes()),
        None => urn(format!("{}/v1/log/entries#{position}", state.public_url).as_bytes()),
    };
    let updated = updated_of(state, change);
    match change {
        PublicChange::Award { award, change, .. } => {
            let (category, what) = award_change_words(award, change);
            atom::Entry {
                id,
                title: format!(
                    "{}: {}",
                    award.organisation_name,
                    category.trim_start_matches("award_").replace('_', " ")
                ),
                link: format!("{}/verify/{}", state.public_url, award.certificate_number),
                updated,
                summary: format!(
                    "{}, award {}: {what}.",
                    award.organisation_name, award.certificate_number
                ),
                category: category.to_owned(),
            }
        }
        PublicChange::Cycle { cycle, .. } => atom::Entry {
            id,
            title: format!("Cycle scheduled: {}", cycle.name),
            link: format!("{}/v1/programme", state.public_url),
            updated,
            summary: format!(
                "{}: submissions open {} and close {}; review {} to {}; decisions {} to {}.",
                cycle.name,
                long_date(cycle.submissions_open_on),
                long_date(cycle.submission_deadline),
                long_date(cycle.review_from),
                long_date(cycle.review_until),
                long_date(cycle.decisions_from),
                long_date(cycle.decisions_until)
            ),
            category: "cycle_scheduled".to_owned(),
        },
        PublicChange::Programme { change, .. } => {
            let (category, verb) = match change.phase {
                ProgrammePhase::Paused => ("programme_paused", "paused"),
                ProgrammePhase::Running => ("programme_resumed", "resumed"),
                ProgrammePhase::Sunset => ("programme_sunset", "ended"),
            };
            atom::Entry {
                id,
                title: format!("The programme is {verb}"),
                link: format!("{}/v1/programme", state.public_url),
                updated,
                summary: format!(
                    "The WEx QS programme is {verb} from {}: {}",
                    long_date(change.effective_from),
                    change.reason
                ),
                category: category.to_owned(),
            }
        }
    }
}

/// When a change was recorded: what a feed reader orders and compares entries by, so that a
/// change recorded today about an earlier day (a revocation backdated to when the logo was
/// misused) is news today. The day it takes effect is in the entry's words.
fn updated_of(state: &AppState, change: &PublicChange) -> String {
    match state.registry.recorded_at(change.position()) {
        Some(at) => at.to_rfc3339_opts(SecondsFormat::Secs, true),
        None => rfc3339(change.on()),
    }
}

/// The category of an award's change and what it says, in words.
fn award_change_words(
    award: &crate::service::feeds::AwardSummary,
    change: &AwardChange,
) -> (&'static str, String) {
    let level = award.level.as_str();
    match change {
        AwardChange::Issued { on, .. } => (
            "award_issued",
            format!(
                "{level} award issued on {}, valid until {}",
                long_date(*on),
                long_date(award.valid_until)
            ),
        ),
        AwardChange::Suspended { on, reason } => (
            "award_suspended",
            format!("{level} award suspended on {}: {reason}", long_date(*on)),
        ),
        AwardChange::Reinstated { on, reason } => ("award_reinstated", {
            let reason = reason
                .as_ref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            format!(
                "{level} award reinstated on {}{reason}. {}",
                long_date(*on),
                // The entry's words end with their own full stop.
                crate::credentials::credential::REINSTATEMENT_NOTICE.trim_end_matches('.')
            )
        }),
        AwardChange::Revoked { on, reason } => (
            "award_revoked",
            format!("{level} award revoked on {}: {reason}", long_date(*on)),
        ),
        AwardChange::Superseded { on, by } => (
            "award_superseded",
            format!("{level} award replaced on {} by award {by}", long_date(*on)),
        ),
        AwardChange::Amended {
            organisation_name,
            reason,
            ..
        } => (
            "award_amended",
            format!("record corrected: the organisation is {organisation_name} ({reason})"),
        ),
        AwardChange::Expired { on } => (
            "award_expired",
            format!("{level} award expired on {}", long_date(*on)),
        ),
    }
}

/// The feed document for a page of changes at `path`.
fn feed_document(
    state: &AppState,
    path: &str,
    title: String,
    page: &ChangesPage,
    (before, limit): (Option<u64>, usize),
) -> String {
    let base = format!("{}{path}", state.public_url);
    let at = |cursor: Option<u64>| {
        let mut query = Vec::new();
        if let Some(p) = cursor {
            query.push(format!("before={p}"));
        }
        if limit != FEED_PAGE {
            query.push(format!("limit={limit}"));
        }
        if query.is_empty() {
            base.clone()
        } else {
            format!("{base}?{}", query.join("&"))
        }
    };
    let mut links = vec![
        atom::Link {
            rel: "self",
            href: at(before),
        },
        atom::Link {
            rel: "first",
            href: at(None),
        },
        atom::Link {
            rel: "alternate",
            href: format!("{}/", state.public_url),
        },
    ];
    if let Some(older) = page.older {
        links.push(atom::Link {
            rel: "next",
            href: at(Some(older)),
        });
    }
    if let Some(newer) = page.newer {
        links.push(atom::Link {
            rel: "previous",
            href: at(newer),
        });
    }
    atom::render(&atom::Feed {
        id: urn(base.as_bytes()),
        title,
        subtitle: "Public changes to the register of Work Experience Quality Standard awards, \
                   newest first"
            .into(),
        author: "NHS England (WEx QS award registry)".into(),
        updated: page.newest.as_ref().map_or_else(
            || rfc3339(state.registry.today()),
            |newest| updated_of(state, newest),
        ),
        links,
        entries: page.entries.iter().map(|c| entry(state, c)).collect(),
    })
}

/// The feed's answer, tagged with the log size its page was read at; a client holding that
/// tag gets a 304 before any of the document is written.
fn atom_answer(
    state: &AppState,
    req: &HttpRequest,
    tag: String,
    page: &ChangesPage,
    document: impl FnOnce() -> String,
) -> HttpResponse {
    let tag = format!("{tag}-{}", page.log_size);
    let cache_control = "public, max-age=60".to_owned();
    let etag = EntityTag::new_strong(tag.clone());
    if let Some(held) = super::not_modified(req, &etag, cache_control.clone()) {
        return held;
    }
    // The same page at the same log size is the same document (on the same day: an empty
    // feed is updated today): written once, then kept.
    let body = state
        .images
        .get_or_build(format!("{tag}-{}", state.registry.today()), || {
            Ok::<_, std::convert::Infallible>(document().into_bytes())
        })
        .unwrap_or_else(|never| match never {});
    super::conditional(req, etag, cache_control, "application/atom+xml", body)
}

/// The page asked for: its cursor and its size.
fn check_page(query: &FeedQuery) -> Result<(Option<u64>, usize), ApiError> {
    use crate::limits::MAX_POSITION;
    let limit = query.limit.unwrap_or(FEED_PAGE);
    if !(1..=MAX_FEED_PAGE).contains(&limit) {
        return Err(ApiError::new(
            ErrorCode::LimitInvalid,
            format!("a feed's page holds 1 to {MAX_FEED_PAGE} entries; {limit} is not"),
        ));
    }
    let before = match query.before {
        Some(p) if p > MAX_POSITION => Err(ApiError::new(
            ErrorCode::PositionOutOfRange,
            format!("a log position is 0 to {MAX_POSITION}; {p} is not"),
        )),
        other => Ok(other),
    }?;
    Ok((before, limit))
}

/// Every public change to the register, newest first.
pub(crate) async fn feed(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<FeedQuery>,
) -> Result<HttpResponse, ApiError> {
    let (before, limit) = check_page(&query)?;
    let page = state.registry.public_changes(None, before, limit);
    Ok(atom_answer(
        &state,
        &req,
        format!("feed-{before:?}-{limit}"),
        &page,
        || {
            feed_document(
                &state,
                "/v1/feed.atom",
                "WEx QS award registry: changes".into(),
                &page,
                (before, limit),
            )
        },
    ))
}

/// One organisation's awards' public changes, newest first.
pub(crate) async fn organisation_feed(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<FeedQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = organisation_in_path(&path)?;
    let (before, limit) = check_page(&query)?;
    let organisation = state
        .registry
        .organisation(&id)
        .ok_or_else(|| organisation_not_found(id))?;
    let page = state.registry.public_changes(Some(id), before, limit);
    Ok(atom_answer(
        &state,
        &req,
        format!("feed-{id}-{before:?}-{limit}"),
        &page,
        || {
            feed_document(
                &state,
                &format!("/v1/organisations/{id}/feed.atom"),
                format!("WEx QS awards of {}", organisation.name),
                &page,
                (before, limit),
            )
        },
    ))
}

/// The expiry of a valid award as a calendar event, with reminders before it.
fn expiry_event(state: &AppState, award: &crate::domain::Award, status: Status) -> ics::Event {
    let host = state
        .public_url
        .split_once("://")
        .map_or(state.public_url.as_str(), |(_, rest)| rest);
    let current = status == Status::Valid;
    let number = &award.certificate_number;
    ics::Event {
        uid: format!("{number}-expiry@{}", host.trim_end_matches('/')),
        date: award.expires_on(),
        summary: format!(
            "WEx QS {} award expires: {}",
            award.level.as_str(),
            award.organisation_name
        ),
        description: format!(
            "The Work Experience Quality Standard {} award {number} of {} is valid until {} \
             and expires on {}. Its status today: {}. Check it at {}/verify/{number}",
            award.level.as_str(),
            award.organisation_name,
            long_date(award.valid_until),
            long_date(award.expires_on()),
            status.as_str().replace('_', " "),
            state.public_url
        ),
        url: format!("{}/verify/{number}", state.public_url),
        reminders_days_before: if current {
            REMINDER_DAYS.to_vec()
        } else {
            Vec::new()
        },
    }
}

fn calendar_answer(state: &AppState, name: &str, events: &[ics::Event]) -> HttpResponse {
    let stamp = state.registry.now().format("%Y%m%dT%H%M%SZ").to_string();
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=60"))
        .content_type("text/calendar; charset=utf-8")
        .body(ics::calendar(name, &stamp, events))
}

/// An award's expiry, as an all-day event with reminders before it.
pub(crate) async fn award_calendar(
    state: web::Data<AppState>,
    FoundAward { award, programme }: FoundAward,
) -> Result<HttpResponse, ApiError> {
    super::images::unless_current(&state, &award, &programme, "its calendar")?;
    let number = &award.certificate_number;
    let event = expiry_event(&state, &award, Status::Valid);
    Ok(calendar_answer(
        &state,
        &format!("WEx QS award {number}"),
        &[event],
    ))
}

/// The expiries of an organisation's valid awards: a calendar never holds the expiry of an
/// award that is not valid today.
pub(crate) async fn organisation_calendar(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = organisation_in_path(&path)?;
    let (name, awards) = state
        .registry
        .organisation_awards(id)
        .ok_or_else(|| organisation_not_found(id))?;
    let events: Vec<ics::Event> = awards
        .iter()
        .filter(|(_, s)| *s == Status::Valid)
        .map(|(a, s)| expiry_event(&state, a, *s))
        .collect();
    Ok(calendar_answer(
        &state,
        &format!("WEx QS awards of {name}"),
        &events,
    ))
}
