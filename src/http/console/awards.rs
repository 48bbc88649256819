//! Awards in the console: the register searched (by name, ODS code or number, with filters), an
//! award's page (its facts, its status today, its whole trail with who did what and the private
//! notes), issuing one (which supersedes the organisation's current award), and the four
//! changes: suspend, reinstate, revoke and amend. Each change form carries the award's version
//! it was read at; a form made stale by someone else's change is shown again with what changed
//! since, the person's words kept, for them to decide.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::frame::{Frame, page, see_other};
use super::session::{ConsoleForm, Staff};
use super::trail::TrailLine;
use crate::domain::{
    AwardCommand, AwardSource, CertificateNumber, Command, DomainError, IssueAward, Level,
    OrganisationId, Status,
};
use crate::error_codes::ErrorCode;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{AdminOnly, AdminOrReviewer};
use crate::http::route::Route;
use crate::http::writes::{parse, parse_date, private_note, public_reason};
use crate::service::ServiceError;
use crate::service::search::{SearchRequest, search_off_workers};

/// The routes this file serves.
pub(crate) const ROUTES: &[Route] = &[
    Route::get("/console", |r| r.to(super::dashboard::dashboard)),
    Route::get("/console/awards", |r| r.to(list)),
    Route::post("/console/awards", |r| r.to(issue)),
    Route::get("/console/awards/new", |r| r.to(new_award)),
    Route::get("/console/awards/{certificate_number}", |r| r.to(show)),
    Route::post("/console/awards/{certificate_number}/{change}", |r| {
        r.to(change)
    }),
];

/// Awards a page of the list shows.
const PAGE: u32 = 50;

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    page: Option<u32>,
}

/// One award as the list shows it.
#[derive(Debug)]
struct Row {
    number: String,
    organisation: String,
    ods_code: String,
    level: String,
    status: &'static str,
    status_words: &'static str,
    valid_until: String,
}

#[derive(Template)]
#[template(path = "console/awards.html")]
struct ListPage {
    frame: Frame,
    q: String,
    level: String,
    status: String,
    levels: Vec<(&'static str, &'static str)>,
    statuses: Vec<(&'static str, &'static str)>,
    rows: Vec<Row>,
    total: u64,
    page: u32,
    pages: u32,
    message: Option<String>,
}

pub(crate) async fn list(
    staff: Staff<AdminOrReviewer>,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> HttpResponse {
    let frame = Frame::new(&state, &staff, "awards");
    let query = query.into_inner();
    let page_number = query.page.unwrap_or(1).clamp(1, 100_000);
    let level = query.level.parse::<Level>().ok();
    let status = Status::parse(&query.status);
    let mut message = None;
    // Read as the register's page reads it: at most the search's length.
    let text: String = query
        .q
        .trim()
        .chars()
        .take(crate::limits::MAX_SEARCH_CHARS)
        .collect();
    let found = match crate::service::search::check_text(&text) {
        Err(rule) => {
            message = Some(rule);
            None
        }
        Ok(()) => {
            let request = SearchRequest {
                text,
                level,
                status,
                region: None,
                limit: PAGE,
                offset: (page_number - 1).saturating_mul(PAGE),
            };
            search_off_workers(state.registry.clone(), request)
                .await
                .ok()
        }
    };
    let (rows, total) = found.map_or((Vec::new(), 0), |found| {
        let rows = found
            .rows
            .into_iter()
            .map(|(listed, status)| Row {
                number: listed.certificate_number,
                organisation: listed.organisation_name,
                ods_code: listed.ods_code.unwrap_or_default(),
                level: listed
                    .level
                    .parse::<Level>()
                    .map_or(listed.level, |l| l.title().to_owned()),
                status: status.as_str(),
                status_words: crate::http::html::status_words(status),
                valid_until: listed.valid_until,
            })
            .collect();
        (rows, found.total)
    });
    page(
        StatusCode::OK,
        &ListPage {
            frame,
            q: query.q,
            level: query.level,
            status: query.status,
            levels: Level::ALL.iter().map(|l| (l.as_str(), l.title())).collect(),
            statuses: Status::ALL
                .iter()
                .map(|s| (s.as_str(), crate::http::html::status_words(*s)))
                .collect(),
            rows,
            total,
            page: page_number,
            pages: u32::try_from(total.div_ceil(u64::from(PAGE)))
                .unwrap_or(u32::MAX)
                .max(1),
            message,
        },
    )
}

/// What a change form held when it was sent: shown again when the change is refused.
#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct ChangeForm {
    /// The award's version the form was read at (its `last_position`).
    #[serde(default)]
    version: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    private_note: String,
    #[serde(default)]
    organisation_name: String,
    #[serde(default)]
    confirm_number: String,
}

#[derive(Template)]
#[template(path = "console/award.html")]
struct AwardPage {
    frame: Frame,
    number: String,
    organisation: String,
    organisation_id: String,
    ods_code: String,
    level: String,
    awarded_on: String,
    valid_until: String,
    status: &'static str,
    status_words: &'static str,
    standing: &'static str,
    version: u64,
    trail: Vec<TrailLine>,
    done: Option<String>,
    /// The refusal of the last change tried, in words.
    error: Option<String>,
    /// Which change the refused form was (`suspend`, …), and what it held.
    refused: Option<String>,
    form: ChangeForm,
    /// The changes made since a stale form was read.
    since: Vec<TrailLine>,
    max_reason: usize,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ShowQuery {
    #[serde(default)]
    done: Option<String>,
}

/// A refusal to show on an award's page: which form, its words, and what changed since.
struct Refusal {
    change: String,
    error: String,
    form: ChangeForm,
    since_version: Option<u64>,
}

async fn award_page(
    state: &AppState,
    staff: &Staff<impl crate::http::extract::Policy>,
    number: &CertificateNumber,
    done: Option<String>,
    refusal: Option<Refusal>,
) -> HttpResponse {
    let frame = Frame::new(state, staff, "awards");
    let Some((award, programme)) = state.registry.award(number) else {
        return super::frame::message(
            StatusCode::NOT_FOUND,
            &frame.base,
            "No award has that number",
            &format!("No award in the register has the certificate number {number}."),
        );
    };
    let trail = match state.registry.award_trail(number).await {
        Ok(trail) => trail,
        Err(e) => return service_unavailable(&frame.base, &e),
    };
    let verdict = crate::domain::status_as_of(&award, &programme, state.registry.today());
    let lines: Vec<TrailLine> = trail.iter().map(TrailLine::of).collect();
    let (error, refused, form, since) = match refusal {
        Some(r) => {
            let since = r.since_version.map_or_else(Vec::new, |v| {
                trail
                    .iter()
                    .filter(|e| e.position > v)
                    .map(TrailLine::of)
                    .collect()
            });
            (Some(r.error), Some(r.change), r.form, since)
        }
        None => (None, None, ChangeForm::default(), Vec::new()),
    };
    let status = if error.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    page(
        status,
        &AwardPage {
            frame,
            number: number.to_string(),
            organisation: award.organisation_name.as_str().to_owned(),
            organisation_id: award.organisation_id.to_string(),
            ods_code: award
                .ods_code
                .as_ref()
                .map(|c| c.as_str().to_owned())
                .unwrap_or_default(),
            level: award.level.title().to_owned(),
            awarded_on: award.awarded_on.to_string(),
            valid_until: award.valid_until.to_string(),
            status: verdict.status.as_str(),
            status_words: crate::http::html::status_words(verdict.status),
            standing: award.standing.as_str(),
            version: award.last_position,
            trail: lines,
            done,
            error,
            refused,
            form,
            since,
            max_reason: crate::limits::MAX_PUBLIC_REASON_CHARS,
        },
    )
}

pub(super) fn service_unavailable(base: &str, e: &ServiceError) -> HttpResponse {
    tracing::warn!(error = %e, "a console page could not be read");
    super::frame::message(
        StatusCode::SERVICE_UNAVAILABLE,
        base,
        "The console is unavailable just now",
        "The page could not be read from the database. Nothing was changed. Try again in a minute.",
    )
}

pub(crate) async fn show(
    staff: Staff<AdminOrReviewer>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<ShowQuery>,
) -> HttpResponse {
    let Ok(number) = path.parse::<CertificateNumber>() else {
        return super::frame::message(
            StatusCode::NOT_FOUND,
            crate::http::prefix::base_path(&state.public_url),
            "No award has that number",
            "That is not a certificate number (16 letters and digits, like FDXE-J5BM-RRNV-PEDM).",
        );
    };
    award_page(&state, &staff, &number, query.into_inner().done, None).await
}

/// The command a change form asks for, or the refusal of its words.
fn change_command(
    change: &str,
    number: &CertificateNumber,
    form: &ChangeForm,
) -> Result<Command, ApiError> {
    let expected = Some(form.version.trim().parse::<u64>().map_err(|_| {
        ApiError::new(
            ErrorCode::BadRequest,
            "the form does not say which version of the award it was read at; reload the page and try again",
        )
    })?);
    let note = private_note(Some(form.private_note.clone()))?;
    let command = match change {
        "suspend" => AwardCommand::Suspend {
            certificate_number: number.clone(),
            reason: public_reason(&form.reason)?,
            private_note: note,
            expected,
        },
        "reinstate" => AwardCommand::Reinstate {
            certificate_number: number.clone(),
            reason: Some(form.reason.as_str())
                .filter(|r| !r.trim().is_empty())
                .map(public_reason)
                .transpose()?,
            private_note: note,
            expected,
        },
        "revoke" => {
            let typed = form.confirm_number.trim().to_ascii_uppercase();
            if typed != number.to_string() {
                return Err(ApiError::new(
                    ErrorCode::BadRequest,
                    format!(
                        "to revoke the award, type its certificate number ({number}) in the box; revoking cannot be undone"
                    ),
                ));
            }
            AwardCommand::Revoke {
                certificate_number: number.clone(),
                reason: public_reason(&form.reason)?,
                private_note: note,
                expected,
            }
        }
        "amend" => AwardCommand::Amend {
            certificate_number: number.clone(),
            organisation_name: parse(&form.organisation_name)?,
            reason: public_reason(&form.reason)?,
            private_note: note,
            expected,
        },
        _ => {
            return Err(ApiError::new(
                ErrorCode::RouteNotFound,
                "an award's changes are suspend, reinstate, revoke and amend",
            ));
        }
    };
    Ok(Command::Award(command))
}

pub(crate) async fn change(
    staff: Staff<AdminOnly>,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    ConsoleForm(form): ConsoleForm<ChangeForm>,
) -> HttpResponse {
    let (number, change) = path.into_inner();
    let base = crate::http::prefix::base_path(&state.public_url).to_owned();
    let Ok(number) = number.parse::<CertificateNumber>() else {
        return super::frame::message(
            StatusCode::NOT_FOUND,
            &base,
            "No award has that number",
            "Nothing was changed.",
        );
    };
    let refuse = |error: String, since_version: Option<u64>| Refusal {
        change: change.clone(),
        error,
        form: form.clone(),
        since_version,
    };
    let command = match change_command(&change, &number, &form) {
        Ok(command) => command,
        Err(e) => {
            let refusal = refuse(e.detail, None);
            return award_page(&state, &staff, &number, None, Some(refusal)).await;
        }
    };
    match state.registry.execute(&staff.actor, command, None).await {
        Ok(_) => see_other(&format!(
            "{base}/console/awards/{number}?done={}",
            crate::escape::url_component(&change)
        )),
        Err(ServiceError::Domain(DomainError::VersionMismatch { expected, .. })) => {
            let words = "Someone changed this award after you opened the form, so your change was not made. Here is what changed; your words are kept below. Send the form again to make your change on top of theirs, or leave it.".to_owned();
            let refusal = refuse(words, Some(expected));
            award_page(&state, &staff, &number, None, Some(refusal)).await
        }
        Err(e) => {
            let api = ApiError::from(e);
            let refusal = refuse(api.detail, None);
            award_page(&state, &staff, &number, None, Some(refusal)).await
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct NewAwardQuery {
    #[serde(default)]
    organisation: String,
}

#[derive(Template)]
#[template(path = "console/award_new.html")]
struct NewAwardPage {
    frame: Frame,
    organisation_id: String,
    organisation: String,
    current: Option<String>,
    levels: Vec<(&'static str, &'static str)>,
    today: String,
    error: Option<String>,
    level: String,
    awarded_on: String,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct IssueForm {
    #[serde(default)]
    organisation_id: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    awarded_on: String,
}

fn new_award_page(
    state: &AppState,
    staff: &Staff<AdminOnly>,
    form: &IssueForm,
    error: Option<String>,
) -> HttpResponse {
    let frame = Frame::new(state, staff, "awards");
    let organisation = form
        .organisation_id
        .parse::<OrganisationId>()
        .ok()
        .and_then(|id| state.registry.organisation(&id));
    let Some(organisation) = organisation else {
        return super::frame::message(
            StatusCode::NOT_FOUND,
            &frame.base,
            "Choose an organisation first",
            "An award is issued from its organisation's page: find the organisation under Organisations, then choose \"Issue an award\".",
        );
    };
    let current = state
        .registry
        .current_award_of(organisation.id)
        .map(|n| n.to_string());
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    page(
        status,
        &NewAwardPage {
            frame,
            organisation_id: organisation.id.to_string(),
            organisation: organisation.name.as_str().to_owned(),
            current,
            levels: Level::ALL.iter().map(|l| (l.as_str(), l.title())).collect(),
            today: state.registry.today().to_string(),
            error,
            level: form.level.clone(),
            awarded_on: form.awarded_on.clone(),
        },
    )
}

pub(crate) async fn new_award(
    staff: Staff<AdminOnly>,
    state: web::Data<AppState>,
    query: web::Query<NewAwardQuery>,
) -> HttpResponse {
    let form = IssueForm {
        organisation_id: query.into_inner().organisation,
        ..IssueForm::default()
    };
    new_award_page(&state, &staff, &form, None)
}

pub(crate) async fn issue(
    staff: Staff<AdminOnly>,
    state: web::Data<AppState>,
    ConsoleForm(form): ConsoleForm<IssueForm>,
) -> HttpResponse {
    let base = crate::http::prefix::base_path(&state.public_url).to_owned();
    let command = (|| -> Result<Command, ApiError> {
        Ok(Command::Award(AwardCommand::Issue(IssueAward {
            certificate_number: state.registry.new_certificate_number(),
            organisation_id: parse(&form.organisation_id)?,
            level: parse::<Level>(&form.level)?,
            awarded_on: parse_date("the award date", &form.awarded_on)?,
            issuer_name: None,
            framework_version: Some(state.framework.version.clone()),
            source: AwardSource::Issued,
        })))
    })();
    let outcome = match command {
        Ok(command) => state.registry.execute(&staff.actor, command, None).await,
        Err(e) => return new_award_page(&state, &staff, &form, Some(e.detail)),
    };
    match outcome.map(|o| o.issued().into_iter().next()) {
        Ok(Some(number)) => see_other(&format!("{base}/console/awards/{number}?done=issued")),
        Ok(None) => new_award_page(
            &state,
            &staff,
            &form,
            Some("the award was not recorded; try again".into()),
        ),
        Err(e) => new_award_page(&state, &staff, &form, Some(ApiError::from(e).detail)),
    }
}
