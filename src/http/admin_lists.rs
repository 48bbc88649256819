//! The programme team's lists: the organisations with their current award, the applications
//! with where each stands (admins and reviewers), and the API tokens with their last use
//! (admins only; never a secret). The organisations and applications are read from memory and
//! paged as the event feed is (`from`, `limit`, and the `next` page's `from`).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use super::extract::{AdminOnly, AdminOrReviewer, Caller};
use super::route::Route;
use super::views::OrganisationView;
use crate::error_codes::ErrorCode;
use crate::limits::{MAX_ADMIN_LIST_PAGE, MAX_SEARCH_CHARS};
use crate::service::queries::{
    ApplicationQuery, ApplicationState, AwardFilter, OrganisationQuery, Page, PageOf,
};

/// The routes this file serves.
pub(crate) const ROUTES: &[Route] = &[
    Route::get("/v1/admin/organisations", |r| r.to(organisations)),
    Route::get("/v1/admin/applications", |r| r.to(applications)),
    Route::get("/v1/admin/tokens", |r| r.to(tokens)),
];

/// The page a query's `from` and `limit` ask for (`limit` 1 to 1,000, 100 unless asked).
fn page(from: Option<u64>, limit: Option<u32>) -> Result<PageOf, ApiError> {
    let limit = limit.unwrap_or(100);
    if !(1..=MAX_ADMIN_LIST_PAGE).contains(&limit) {
        return Err(ApiError::new(
            ErrorCode::LimitInvalid,
            "limit is 1 to 1,000 rows",
        ));
    }
    Ok(PageOf {
        from: from.unwrap_or(0),
        limit,
    })
}

/// Where the page after `page` starts, if the list goes on past it.
fn next_from<T>(asked: PageOf, page: &Page<T>) -> Option<u64> {
    let next = asked.from.saturating_add(page.items.len() as u64);
    (next < page.total).then_some(next)
}

#[derive(Debug, Deserialize)]
pub(crate) struct OrganisationParams {
    q: Option<String>,
    award: Option<String>,
    from: Option<u64>,
    limit: Option<u32>,
}

/// Every organisation, by name, with its current award and that award's status today.
pub(crate) async fn organisations(
    _: Caller<AdminOrReviewer>,
    state: web::Data<AppState>,
    params: web::Query<OrganisationParams>,
) -> Result<HttpResponse, ApiError> {
    let text = params.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if text.is_some_and(|q| q.chars().count() > MAX_SEARCH_CHARS) {
        return Err(ApiError::new(
            ErrorCode::QueryTooLong,
            "a search is at most 200 characters",
        ));
    }
    let award = match params.award.as_deref() {
        None => AwardFilter::Any,
        Some(word) => AwardFilter::parse(word).ok_or_else(|| {
            ApiError::new(
                ErrorCode::AwardFilterInvalid,
                format!("award is {}; {word:?} is not one", AwardFilter::WORDS),
            )
        })?,
    };
    let asked = page(params.from, params.limit)?;
    let page = state.registry.organisations_listed(&OrganisationQuery {
        text: text.map(str::to_owned),
        award,
        page: asked,
    });
    let next = next_from(asked, &page);
    let items: Vec<serde_json::Value> = page
        .items
        .iter()
        .map(|listed| {
            let mut view = serde_json::to_value(OrganisationView::of(&listed.organisation))
                .unwrap_or_default();
            view["current_award"] = json!(listed.current_award);
            view
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "organisations": items, "total": page.total, "next": next })))
}

#[derive(Debug, Deserialize)]
pub(crate) struct ApplicationParams {
    cycle: Option<String>,
    state: Option<String>,
    from: Option<u64>,
    limit: Option<u32>,
}

/// Every application, in the order submitted, with where it stands.
pub(crate) async fn applications(
    _: Caller<AdminOrReviewer>,
    state: web::Data<AppState>,
    params: web::Query<ApplicationParams>,
) -> Result<HttpResponse, ApiError> {
    let wanted = match params.state.as_deref() {
        None => None,
        Some(word) => Some(ApplicationState::parse(word).ok_or_else(|| {
            ApiError::new(
                ErrorCode::ApplicationStateInvalid,
                format!("state is {}; {word:?} is not one", ApplicationState::WORDS),
            )
        })?),
    };
    let asked = page(params.from, params.limit)?;
    let page = state.registry.applications_listed(&ApplicationQuery {
        cycle_id: params.cycle.clone().filter(|c| !c.is_empty()),
        state: wanted,
        page: asked,
    });
    let next = next_from(asked, &page);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "applications": page.items, "total": page.total, "next": next })))
}

/// Every API token, oldest first, with its last use (admins only; never a secret).
pub(crate) async fn tokens(
    _: Caller<AdminOnly>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let tokens = state.registry.tokens().await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "tokens": tokens })))
}
