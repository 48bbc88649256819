//! Applications in the console: the queue of a cycle and state (those awaiting a decision
//! first), an application's page with its evidence checked rule by rule against the framework
//! (as the admin API's checklist reads it, `domain::applications::eligibility`) and the decision
//! form (reviewers decide, as on the API), and submitting an application for an organisation
//! with its evidence manifest uploaded as a JSON file, read only once the signed-in person's role
//! is checked (`session::ConsoleUpload`); a refused submission is shown again with every
//! evidence rule that failed and the person's choices kept (`submit`).

mod submit;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::frame::{Frame, message, page, see_other};
use super::session::{ConsoleForm, Staff};
use crate::domain::applications::eligibility;
use crate::domain::events::DecisionOutcome;
use crate::domain::{ApplicationCommand, Command, DecideApplication, Level};
use crate::error_codes::ErrorCode;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::AdminOrReviewer;
use crate::http::route::Route;
use crate::service::queries::{ApplicationQuery, ApplicationState, PageOf};

/// The routes this file serves.
pub(crate) const ROUTES: &[Route] = &[
    Route::get("/console/applications", |r| r.to(list)),
    Route::post("/console/applications", |r| r.to(submit::submit)),
    Route::get("/console/applications/new", |r| {
        r.to(submit::new_application)
    }),
    Route::get("/console/applications/{application_id}", |r| r.to(show)),
    Route::post("/console/applications/{application_id}/decision", |r| {
        r.to(decide)
    }),
];

/// Applications a page of the queue shows.
const PAGE: usize = 50;

/// Every application or organisation, when a list is read whole.
pub(super) const ALL: PageOf = PageOf {
    from: 0,
    limit: u32::MAX,
};

const STATES: [(&str, &str); 3] = [
    ("awaiting_decision", "Awaiting a decision"),
    ("awarded", "Awarded"),
    ("not_awarded", "Not awarded"),
];

fn state_words(state: ApplicationState) -> &'static str {
    match state {
        ApplicationState::AwaitingDecision => STATES[0].1,
        ApplicationState::Awarded => STATES[1].1,
        ApplicationState::NotAwarded => STATES[2].1,
    }
}

/// What each evidence rule checks, in words, by its code.
pub(super) fn rule_title(code: &str) -> &str {
    match code {
        "documents_minimum" => "Enough completed documents for the level",
        "evidence_current" => "Every document dated within the 12 months before submission",
        "no_blank_templates" => "No blank templates",
        "face_to_face_only" => "Face-to-face work experience only",
        "anonymised" => "Every document anonymised",
        "commentary_every_criterion" => "A commentary on every criterion of the level",
        "references_valid" => "Every reference points to a page of a document",
        "variety_of_departments" => "Documents from a variety of host departments (advice)",
        other => other,
    }
}

/// The cycles, as the filters and the form offer them: id and name, newest first.
pub(super) fn cycles(state: &AppState) -> Vec<(String, String)> {
    let mut cycles: Vec<(String, String)> = state
        .registry
        .programme()
        .cycles
        .iter()
        .map(|c| (c.cycle_id.clone(), c.name.clone()))
        .collect();
    cycles.reverse();
    cycles
}

fn cycle_name(state: &AppState, cycle_id: &str) -> String {
    state
        .registry
        .programme()
        .cycles
        .iter()
        .find(|c| c.cycle_id == cycle_id)
        .map_or_else(|| cycle_id.to_owned(), |c| c.name.clone())
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    cycle: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    page: Option<usize>,
}

#[derive(Debug)]
struct Row {
    id: String,
    organisation: String,
    cycle: String,
    level: &'static str,
    submitted_on: String,
    state_words: &'static str,
}

#[derive(Template)]
#[template(path = "console/applications.html")]
struct ListPage {
    frame: Frame,
    cycle: String,
    state: String,
    cycles: Vec<(String, String)>,
    states: Vec<(&'static str, &'static str)>,
    rows: Vec<Row>,
    total: usize,
    page: usize,
    pages: usize,
}

pub(crate) async fn list(
    staff: Staff<AdminOrReviewer>,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> HttpResponse {
    let frame = Frame::new(&state, &staff, "applications");
    let query = query.into_inner();
    let page_number = query.page.unwrap_or(1).max(1);
    // Those awaiting a decision first, each group in the order submitted.
    let found = state.registry.applications_queue(&ApplicationQuery {
        cycle_id: Some(query.cycle.clone()).filter(|c| !c.is_empty()),
        state: ApplicationState::parse(&query.state),
        page: PageOf {
            from: ((page_number - 1).saturating_mul(PAGE)) as u64,
            limit: PAGE as u32,
        },
    });
    let total = usize::try_from(found.total).unwrap_or(usize::MAX);
    let cycle_names = cycles(&state);
    let rows = found
        .items
        .into_iter()
        .map(|a| Row {
            organisation: a
                .organisation_name
                .map_or_else(|| a.organisation_id.to_string(), |n| n.as_str().to_owned()),
            cycle: cycle_names
                .iter()
                .find(|(id, _)| *id == a.cycle_id)
                .map_or_else(|| a.cycle_id.clone(), |(_, name)| name.clone()),
            id: a.application_id,
            level: a.level_sought.title(),
            submitted_on: a.submitted_on.to_string(),
            state_words: state_words(a.state),
        })
        .collect();
    page(
        StatusCode::OK,
        &ListPage {
            frame,
            cycles: cycle_names,
            cycle: query.cycle,
            state: query.state,
            states: STATES.to_vec(),
            rows,
            total,
            page: page_number,
            pages: total.div_ceil(PAGE).max(1),
        },
    )
}

/// One rule of the checklist, in words.
#[derive(Debug)]
struct RuleLine {
    title: String,
    passed: bool,
    warning: bool,
    words: String,
}

/// The checklist at one level.
#[derive(Debug)]
struct LevelLines {
    level: &'static str,
    sought: bool,
    eligible: bool,
    rules: Vec<RuleLine>,
}

#[derive(Debug)]
struct DocumentLine {
    name: String,
    pages: u32,
    dated: String,
    department: String,
    completed: bool,
    anonymised: bool,
    face_to_face: bool,
}

/// What the decision form held when it was refused.
#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct DecisionForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    feedback: String,
}

#[derive(Template)]
#[template(path = "console/application.html")]
struct ApplicationPage {
    frame: Frame,
    id: String,
    organisation_id: String,
    organisation: String,
    cycle: String,
    level_sought: &'static str,
    submitted_on: String,
    framework_version: String,
    highest: Option<&'static str>,
    levels: Vec<LevelLines>,
    documents: Vec<DocumentLine>,
    commentaries: usize,
    /// The decision made: outcome in words, the award's number if one was issued, the day, and
    /// the feedback.
    decision: Option<(String, Option<String>, String, String)>,
    level_choices: Vec<(&'static str, &'static str)>,
    done: bool,
    error: Option<String>,
    form: DecisionForm,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ShowQuery {
    #[serde(default)]
    done: Option<String>,
}

fn not_found(base: &str) -> HttpResponse {
    message(
        StatusCode::NOT_FOUND,
        base,
        "No application has that id",
        "No application has that id. Find it under Applications.",
    )
}

fn application_page(
    state: &AppState,
    staff: &Staff<impl crate::http::extract::Policy>,
    id: &str,
    done: bool,
    refused: Option<(String, DecisionForm)>,
) -> HttpResponse {
    let frame = Frame::new(state, staff, "applications");
    let Some(application) = state.registry.application(id) else {
        return not_found(&frame.base);
    };
    let checked = eligibility(
        &state.framework,
        &application.manifest,
        application.submitted_on,
    );
    let levels = checked
        .levels
        .iter()
        .map(|l| LevelLines {
            level: l.level.title(),
            sought: l.level == application.level_sought,
            eligible: l.eligible,
            rules: l
                .rules
                .iter()
                .map(|r| RuleLine {
                    title: rule_title(&r.code).to_owned(),
                    passed: r.passed,
                    warning: r.warning,
                    words: r.message.clone(),
                })
                .collect(),
        })
        .collect();
    let decision = application.decision.as_ref().map(|d| {
        let (words, number) = match &d.outcome {
            DecisionOutcome::Awarded {
                level,
                certificate_number,
            } => (
                format!("Awarded at {}", level.title()),
                Some(certificate_number.to_string()),
            ),
            DecisionOutcome::NotAwarded => ("Not awarded".to_owned(), None),
        };
        (words, number, d.decided_on.to_string(), d.feedback.clone())
    });
    let organisation = state
        .registry
        .organisation(&application.organisation_id)
        .map_or_else(
            || application.organisation_id.to_string(),
            |o| o.name.as_str().to_owned(),
        );
    let (error, form) = match refused {
        Some((error, form)) => (Some(error), form),
        None => (
            None,
            DecisionForm {
                level: application.level_sought.as_str().to_owned(),
                ..DecisionForm::default()
            },
        ),
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    page(
        status,
        &ApplicationPage {
            frame,
            id: application.application_id.clone(),
            organisation_id: application.organisation_id.to_string(),
            organisation,
            cycle: cycle_name(state, &application.cycle_id),
            level_sought: application.level_sought.title(),
            submitted_on: application.submitted_on.to_string(),
            framework_version: application.framework_version.clone(),
            highest: checked.highest.map(Level::title),
            levels,
            documents: application
                .manifest
                .documents
                .iter()
                .map(|d| DocumentLine {
                    name: d.name.clone(),
                    pages: d.pages,
                    dated: d.dated.to_string(),
                    department: d.host_department.clone(),
                    completed: d.completed,
                    anonymised: d.anonymised,
                    face_to_face: d.face_to_face,
                })
                .collect(),
            commentaries: application.manifest.commentaries.len(),
            decision,
            level_choices: Level::ALL.iter().map(|l| (l.as_str(), l.title())).collect(),
            done,
            error,
            form,
        },
    )
}

pub(crate) async fn show(
    staff: Staff<AdminOrReviewer>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<ShowQuery>,
) -> HttpResponse {
    application_page(&state, &staff, &path, query.done.is_some(), None)
}

/// The decision a form asks for (`Some(level)` to award), or the refusal of its words.
fn decision_of(form: &DecisionForm) -> Result<Option<Level>, ApiError> {
    match form.decision.as_str() {
        "awarded" => form.level.parse::<Level>().map(Some).map_err(|_| {
            ApiError::new(
                ErrorCode::LevelRequired,
                "an award needs a level: bronze, silver or gold",
            )
        }),
        "not_awarded" => Ok(None),
        _ => Err(ApiError::new(
            ErrorCode::DecisionInvalid,
            "choose a decision: awarded at a level, or not awarded",
        )),
    }
}

pub(crate) async fn decide(
    staff: Staff<AdminOrReviewer>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    ConsoleForm(form): ConsoleForm<DecisionForm>,
) -> HttpResponse {
    let base = crate::http::prefix::base_path(&state.public_url).to_owned();
    let id = path.into_inner();
    let refuse =
        |error: String| application_page(&state, &staff, &id, false, Some((error, form.clone())));
    let award = match decision_of(&form) {
        Ok(award) => award,
        Err(e) => return refuse(e.detail),
    };
    let command = Command::Application(ApplicationCommand::Decide(DecideApplication {
        application_id: id.clone(),
        award,
        certificate_number: state.registry.new_certificate_number(),
        feedback: form.feedback.clone(),
        framework: (*state.framework).clone(),
    }));
    match state.registry.execute(&staff.actor, command, None).await {
        Ok(_) => see_other(&format!(
            "{base}/console/applications/{}?done=decided",
            crate::escape::url_component(&id)
        )),
        Err(e) => refuse(ApiError::from(e).detail),
    }
}
