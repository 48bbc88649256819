//! Submitting an application from the console: the form (organisation, cycle, level sought,
//! and the evidence manifest as a JSON file), read as `multipart/form-data` only once the
//! signed-in person is known to be an admin, at most `limits::MAX_BODY` bytes, its form token
//! the session's (`session::ConsoleUpload`). A refused
//! submission is shown again with every evidence rule that failed, in words, and the person's
//! choices kept (all but the file, which a browser never lets a page fill in).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web;
use askama::Template;
use serde::Deserialize;

use super::super::frame::{Frame, page, see_other};
use super::super::session::{ConsoleUpload, Staff};
use super::{ALL, cycles, rule_title};
use crate::domain::applications::Manifest;
use crate::domain::{
    ApplicationCommand, Command, DomainError, Event, Level, OrganisationId, SubmitApplication,
};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::AdminOnly;
use crate::service::ServiceError;
use crate::service::queries::{AwardFilter, OrganisationQuery};

/// What the submission form held: kept when it is refused (all but the file, which a browser
/// never lets a page fill in).
#[derive(Debug, Default, Clone)]
struct SubmitForm {
    organisation_id: String,
    cycle_id: String,
    level_sought: String,
    file_name: String,
}

#[derive(Template)]
#[template(path = "console/application_new.html")]
struct NewApplicationPage {
    frame: Frame,
    organisations: Vec<(String, String)>,
    cycles: Vec<(String, String)>,
    levels: Vec<(&'static str, &'static str)>,
    form: SubmitForm,
    error: Option<String>,
    /// Each evidence rule that failed: what it checks, and why it failed, in words.
    failures: Vec<(String, String)>,
    max_kib: usize,
}

fn new_page(
    state: &AppState,
    staff: &Staff<AdminOnly>,
    status: StatusCode,
    form: SubmitForm,
    error: Option<String>,
    failures: Vec<(String, String)>,
) -> HttpResponse {
    let organisations = state
        .registry
        .organisations_listed(&OrganisationQuery {
            text: None,
            award: AwardFilter::Any,
            page: ALL,
        })
        .items
        .into_iter()
        .map(|o| {
            (
                o.organisation.id.to_string(),
                o.organisation.name.as_str().to_owned(),
            )
        })
        .collect();
    page(
        status,
        &NewApplicationPage {
            frame: Frame::new(state, staff, "applications"),
            organisations,
            cycles: cycles(state),
            levels: Level::ALL.iter().map(|l| (l.as_str(), l.title())).collect(),
            form,
            error,
            failures,
            max_kib: crate::limits::MAX_BODY / 1024,
        },
    )
}

#[derive(Debug, Deserialize)]
pub(crate) struct NewQuery {
    #[serde(default)]
    organisation: String,
}

pub(crate) async fn new_application(
    staff: Staff<AdminOnly>,
    state: web::Data<AppState>,
    query: web::Query<NewQuery>,
) -> HttpResponse {
    let form = SubmitForm {
        organisation_id: query.into_inner().organisation,
        ..SubmitForm::default()
    };
    new_page(&state, &staff, StatusCode::OK, form, None, Vec::new())
}

/// The manifest in an uploaded file, or why it is not one, in words.
fn manifest_of(file_name: &str, bytes: &[u8]) -> Result<Manifest, String> {
    if bytes.is_empty() {
        return Err("choose the evidence manifest: a JSON file listing the documents and a commentary on each criterion".into());
    }
    serde_json::from_slice::<Manifest>(bytes).map_err(|e| {
        format!(
            "{} is not an evidence manifest: {e} (at line {}, column {}). A manifest is a JSON object with \"documents\" and \"commentaries\", as data/manifest-sample.json shows",
            if file_name.is_empty() { "the file" } else { file_name },
            e.line(),
            e.column()
        )
    })
}

pub(crate) async fn submit(
    staff: Staff<AdminOnly>,
    state: web::Data<AppState>,
    ConsoleUpload(parts): ConsoleUpload,
) -> HttpResponse {
    let base = crate::http::prefix::base_path(&state.public_url).to_owned();
    let field = |name: &str| {
        parts
            .iter()
            .find(|p| p.name == name)
            .map(|p| String::from_utf8_lossy(&p.body).into_owned())
            .unwrap_or_default()
    };
    let (file_name, file) = parts
        .iter()
        .find(|p| p.name == "manifest")
        .map(|p| (p.filename.clone().unwrap_or_default(), p.body.as_slice()))
        .unwrap_or_default();
    let form = SubmitForm {
        organisation_id: field("organisation_id"),
        cycle_id: field("cycle_id"),
        level_sought: field("level_sought"),
        file_name: file_name.clone(),
    };
    let refuse = |status: StatusCode, error: String, failures: Vec<(String, String)>| {
        new_page(&state, &staff, status, form.clone(), Some(error), failures)
    };
    let command = (|| -> Result<Command, String> {
        let organisation_id = form
            .organisation_id
            .parse::<OrganisationId>()
            .map_err(|_| "choose the organisation applying".to_owned())?;
        let level_sought = form
            .level_sought
            .parse::<Level>()
            .map_err(|_| "choose the level sought: bronze, silver or gold".to_owned())?;
        if form.cycle_id.is_empty() {
            return Err("choose the cycle the application is for".into());
        }
        Ok(Command::Application(ApplicationCommand::Submit(
            SubmitApplication {
                application_id: state.registry.new_application_id(),
                organisation_id,
                cycle_id: form.cycle_id.clone(),
                level_sought,
                manifest: manifest_of(&file_name, file)?,
                framework: (*state.framework).clone(),
            },
        )))
    })();
    let command = match command {
        Ok(command) => command,
        Err(words) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, words, Vec::new()),
    };
    match state.registry.execute(&staff.actor, command, None).await {
        Ok(outcome) => match outcome.events.iter().find_map(|(_, e)| match e {
            Event::ApplicationSubmitted { application_id, .. } => Some(application_id.clone()),
            _ => None,
        }) {
            Some(id) => see_other(&format!(
                "{base}/console/applications/{}?done=submitted",
                crate::escape::url_component(&id)
            )),
            None => refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the application was not recorded; try again".into(),
                Vec::new(),
            ),
        },
        Err(ServiceError::Domain(DomainError::EvidenceRulesFailed { level, failures })) => {
            let failures = failures
                .into_iter()
                .map(|(code, words)| (rule_title(&code).to_owned(), words))
                .collect::<Vec<_>>();
            let words = format!(
                "The evidence does not meet {} for {}, so the application was not submitted. {} below; correct the manifest and choose it again.",
                if failures.len() == 1 {
                    "1 rule".to_owned()
                } else {
                    format!("{} rules", failures.len())
                },
                level.title(),
                if failures.len() == 1 {
                    "It is"
                } else {
                    "Each is"
                },
            );
            refuse(StatusCode::UNPROCESSABLE_ENTITY, words, failures)
        }
        Err(e) => refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::from(e).detail,
            Vec::new(),
        ),
    }
}
