//! Cycles in the console: the cycles scheduled, and a form to schedule one (or reschedule one,
//! by its id): the same command `POST /v1/admin/programme/cycles` runs, under the person's name.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::frame::{Frame, page, see_other};
use super::session::{ConsoleForm, Staff};
use crate::domain::{Command, Cycle, ProgrammeCommand};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{AdminOnly, AdminOrReviewer, Policy};
use crate::http::route::Route;
use crate::http::writes::parse_date;

/// The routes this file serves.
pub(crate) const ROUTES: &[Route] = &[
    Route::get("/console/cycles", |r| r.to(list)),
    Route::post("/console/cycles", |r| r.to(schedule)),
];

/// What the scheduling form holds: the fields of `POST /v1/admin/programme/cycles`.
#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct CycleForm {
    #[serde(default)]
    cycle_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    submissions_open_on: String,
    #[serde(default)]
    submission_deadline: String,
    #[serde(default)]
    review_from: String,
    #[serde(default)]
    review_until: String,
    #[serde(default)]
    decisions_from: String,
    #[serde(default)]
    decisions_until: String,
}

#[derive(Template)]
#[template(path = "console/cycles.html")]
struct CyclesPage {
    frame: Frame,
    cycles: Vec<Cycle>,
    done: Option<String>,
    error: Option<String>,
    form: CycleForm,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    done: Option<String>,
}

fn cycles_page(
    state: &AppState,
    staff: &Staff<impl Policy>,
    done: Option<String>,
    error: Option<String>,
    form: CycleForm,
) -> HttpResponse {
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    page(
        status,
        &CyclesPage {
            frame: Frame::new(state, staff, "cycles"),
            cycles: state.registry.programme().cycles,
            done,
            error,
            form,
        },
    )
}

pub(crate) async fn list(
    staff: Staff<AdminOrReviewer>,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> HttpResponse {
    cycles_page(
        &state,
        &staff,
        query.into_inner().done,
        None,
        CycleForm::default(),
    )
}

fn cycle_of(form: &CycleForm) -> Result<Cycle, ApiError> {
    let text = |what: &str, value: &str| -> Result<String, ApiError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(ApiError::new(
                crate::error_codes::ErrorCode::BadRequest,
                format!("{what} is needed"),
            ));
        }
        Ok(value.to_owned())
    };
    Ok(Cycle {
        cycle_id: text("the cycle's id", &form.cycle_id)?,
        name: text("the cycle's name", &form.name)?,
        submissions_open_on: parse_date(
            "the day submissions open",
            form.submissions_open_on.trim(),
        )?,
        submission_deadline: parse_date(
            "the submission deadline",
            form.submission_deadline.trim(),
        )?,
        review_from: parse_date("the first day of review", form.review_from.trim())?,
        review_until: parse_date("the last day of review", form.review_until.trim())?,
        decisions_from: parse_date("the first day of decisions", form.decisions_from.trim())?,
        decisions_until: parse_date("the last day of decisions", form.decisions_until.trim())?,
    })
}

pub(crate) async fn schedule(
    staff: Staff<AdminOnly>,
    state: web::Data<AppState>,
    ConsoleForm(form): ConsoleForm<CycleForm>,
) -> HttpResponse {
    let base = crate::http::prefix::base_path(&state.public_url).to_owned();
    let cycle = match cycle_of(&form) {
        Ok(cycle) => cycle,
        Err(e) => return cycles_page(&state, &staff, None, Some(e.detail), form),
    };
    let id = cycle.cycle_id.clone();
    let command = Command::Programme(ProgrammeCommand::ScheduleCycle(cycle));
    match state.registry.execute(&staff.actor, command, None).await {
        Ok(_) => see_other(&format!(
            "{base}/console/cycles?done={}",
            crate::escape::url_component(&id)
        )),
        Err(e) => {
            let detail = ApiError::from(e).detail;
            cycles_page(&state, &staff, None, Some(detail), form)
        }
    }
}
