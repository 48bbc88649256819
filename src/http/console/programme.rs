//! The programme in the console: its state today, the changes announced ahead and its history;
//! pausing, resuming and ending it (sunset) from a day. A change is shown with its effect first
//! (`.../preview`), and made only when that page's Confirm is sent with the same fields: the
//! same command `POST /v1/admin/programme/{pause,resume,sunset}` runs, under the person's name.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::NaiveDate;
use serde::Deserialize;

use super::frame::{Frame, page, see_other};
use super::session::{ConsoleForm, Staff};
use super::trail::phase_words;
use crate::domain::time::long_date;
use crate::domain::{Command, ProgrammePhase, Reason};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{AdminOnly, AdminOrReviewer, Policy};
use crate::http::route::Route;
use crate::http::writes::{parse, parse_date};

/// The routes this file serves.
pub(crate) const ROUTES: &[Route] = &[
    Route::get("/console/programme", |r| r.to(show)),
    Route::post("/console/programme/{change}/preview", |r| r.to(preview)),
    Route::post("/console/programme/{change}", |r| r.to(confirm)),
];

/// What a programme change form holds.
#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct ChangeForm {
    #[serde(default)]
    effective_from: String,
    #[serde(default)]
    reason: String,
}

/// A change of the programme, in the console's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Pause,
    Resume,
    Sunset,
}

impl Change {
    fn of(path: &str) -> Option<Change> {
        match path {
            "pause" => Some(Change::Pause),
            "resume" => Some(Change::Resume),
            "sunset" => Some(Change::Sunset),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Change::Pause => "pause",
            Change::Resume => "resume",
            Change::Sunset => "sunset",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Change::Pause => "Pause the programme",
            Change::Resume => "Resume the programme",
            Change::Sunset => "End the programme (sunset)",
        }
    }

    fn phase(self) -> ProgrammePhase {
        match self {
            Change::Pause => ProgrammePhase::Paused,
            Change::Resume => ProgrammePhase::Running,
            Change::Sunset => ProgrammePhase::Sunset,
        }
    }

    /// What the change does, said before it is made.
    fn effect(self, from: NaiveDate) -> String {
        let day = long_date(from);
        match self {
            Change::Pause => format!(
                "From {day} no award can be made and no cycle scheduled, until the programme is resumed; existing awards stay valid until they expire."
            ),
            Change::Resume => format!("From {day} awards can be made and cycles scheduled again."),
            Change::Sunset => format!(
                "From {day} the programme ends: no award can be made and no cycle scheduled on or after that day; existing awards stay valid until they expire."
            ),
        }
    }
}

/// A change of the programme's history, in words.
#[derive(Debug)]
struct HistoryLine {
    effective_from: String,
    what: &'static str,
    reason: String,
    position: u64,
    ahead: bool,
    /// Who recorded the change, by name where known.
    who: String,
}

/// The changes the history shows at most, newest first.
const HISTORY: usize = 50;

/// Who recorded the event at `position`: by name where known, else the actor id; blank when
/// the log cannot be read just now (the rest of the page still can).
async fn who_recorded(state: &AppState, position: u64) -> String {
    let read = async {
        let Some(event) = state.registry.events(position, 1).await?.into_iter().next() else {
            return Ok(String::new());
        };
        let name = state.registry.actor_name(&event.actor).await?;
        Ok::<_, crate::service::ServiceError>(name.unwrap_or(event.actor))
    };
    match read.await {
        Ok(who) => who,
        Err(e) => {
            tracing::warn!(error = %e, "who recorded a programme change could not be read");
            String::new()
        }
    }
}

#[derive(Template)]
#[template(path = "console/programme.html")]
struct ProgrammePage {
    frame: Frame,
    phase: &'static str,
    since: String,
    reason: String,
    history: Vec<HistoryLine>,
    done: Option<String>,
    error: Option<String>,
    refused: Option<String>,
    form: ChangeForm,
    today: String,
    changes: [(&'static str, &'static str); 3],
}

#[derive(Template)]
#[template(path = "console/programme_preview.html")]
struct PreviewPage {
    frame: Frame,
    change: &'static str,
    title: &'static str,
    effect: String,
    form: ChangeForm,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ShowQuery {
    #[serde(default)]
    done: Option<String>,
}

async fn programme_page(
    state: &AppState,
    staff: &Staff<impl Policy>,
    done: Option<String>,
    refusal: Option<(Change, String, ChangeForm)>,
) -> HttpResponse {
    let frame = Frame::new(state, staff, "programme");
    let programme = state.registry.programme();
    let today = state.registry.today();
    let now = programme.state_on(today);
    let mut history = Vec::new();
    for c in programme.changes.iter().rev().take(HISTORY) {
        history.push(HistoryLine {
            effective_from: long_date(c.effective_from),
            what: phase_words(c.phase),
            reason: c.reason.as_str().to_owned(),
            position: c.position,
            ahead: c.effective_from > today,
            who: who_recorded(state, c.position).await,
        });
    }
    let (status, refused, error, form) = match refusal {
        Some((change, error, form)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(change.as_str().to_owned()),
            Some(error),
            form,
        ),
        None => (StatusCode::OK, None, None, ChangeForm::default()),
    };
    page(
        status,
        &ProgrammePage {
            frame,
            phase: match now.phase {
                ProgrammePhase::Running => "running",
                ProgrammePhase::Paused => "paused",
                ProgrammePhase::Sunset => "ended (sunset)",
            },
            since: now.since.map(long_date).unwrap_or_default(),
            reason: now
                .reason
                .map(|r| r.as_str().to_owned())
                .unwrap_or_default(),
            history,
            done,
            error,
            refused,
            form,
            today: today.to_string(),
            changes: [Change::Pause, Change::Resume, Change::Sunset]
                .map(|c| (c.as_str(), c.title())),
        },
    )
}

pub(crate) async fn show(
    staff: Staff<AdminOrReviewer>,
    state: web::Data<AppState>,
    query: web::Query<ShowQuery>,
) -> HttpResponse {
    programme_page(&state, &staff, query.into_inner().done, None).await
}

fn unknown_change(base: &str) -> HttpResponse {
    super::frame::message(
        StatusCode::NOT_FOUND,
        base,
        "No such change",
        "The programme's changes are pause, resume and sunset. Nothing was changed.",
    )
}

/// The change's day and reason, or the refusal of them in words.
fn read_form(form: &ChangeForm) -> Result<(NaiveDate, Reason), ApiError> {
    let from = parse_date("the day it takes effect", form.effective_from.trim())?;
    let reason = parse(&form.reason)?;
    Ok((from, reason))
}

pub(crate) async fn preview(
    staff: Staff<AdminOnly>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    ConsoleForm(form): ConsoleForm<ChangeForm>,
) -> HttpResponse {
    let frame = Frame::new(&state, &staff, "programme");
    let Some(change) = Change::of(&path) else {
        return unknown_change(&frame.base);
    };
    let (from, reason) = match read_form(&form) {
        Ok(read) => read,
        Err(e) => {
            return programme_page(&state, &staff, None, Some((change, e.detail, form))).await;
        }
    };
    // The domain's answer as things stand, so a change it would refuse is never offered.
    let command = Command::change_programme(change.phase(), from, reason);
    if let Some((_, refusal)) = state
        .registry
        .dry_run(&[command], &mut |_| {})
        .into_iter()
        .next()
    {
        let detail = ApiError::from(crate::service::ServiceError::Domain(refusal)).detail;
        return programme_page(&state, &staff, None, Some((change, detail, form))).await;
    }
    page(
        StatusCode::OK,
        &PreviewPage {
            frame,
            change: change.as_str(),
            title: change.title(),
            effect: change.effect(from),
            form,
        },
    )
}

pub(crate) async fn confirm(
    staff: Staff<AdminOnly>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    ConsoleForm(form): ConsoleForm<ChangeForm>,
) -> HttpResponse {
    let base = crate::http::prefix::base_path(&state.public_url).to_owned();
    let Some(change) = Change::of(&path) else {
        return unknown_change(&base);
    };
    let (from, reason) = match read_form(&form) {
        Ok(read) => read,
        Err(e) => {
            return programme_page(&state, &staff, None, Some((change, e.detail, form))).await;
        }
    };
    let command = Command::change_programme(change.phase(), from, reason);
    match state.registry.execute(&staff.actor, command, None).await {
        Ok(_) => see_other(&format!(
            "{base}/console/programme?done={}",
            change.as_str()
        )),
        Err(e) => {
            let detail = ApiError::from(e).detail;
            programme_page(&state, &staff, None, Some((change, detail, form))).await
        }
    }
}
