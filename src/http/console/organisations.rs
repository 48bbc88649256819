//! Organisations in the console: the list searched by name or ODS code (and those without a
//! current award), registering one, and an organisation's page: its facts, its awards, its
//! drop-in sessions, amending it and recording a drop-in session. Each change is the command
//! the API runs, made in the signed-in person's name. The amend form carries the organisation's
//! version it was read at; a form made stale by someone else's amendment is shown again with
//! the organisation's values now beside the form's, for the person to send again or leave.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::frame::{Frame, message, page, see_other};
use super::session::{ConsoleForm, Staff};
use crate::domain::{
    ApplicationCommand, Command, Event, Name, OdsCode, Organisation, OrganisationCommand,
    OrganisationId, OrganisationKind, Region,
};
use crate::error_codes::ErrorCode;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{AdminOnly, AdminOrReviewer, Policy};
use crate::http::route::Route;
use crate::http::writes::{parse, parse_date};
use crate::limits::MAX_SEARCH_CHARS;
use crate::service::queries::{AwardFilter, OrganisationQuery, PageOf};

/// The routes this file serves.
pub(crate) const ROUTES: &[Route] = &[
    Route::get("/console/organisations", |r| r.to(list)),
    Route::post("/console/organisations", |r| r.to(register)),
    Route::get("/console/organisations/{organisation_id}", |r| r.to(show)),
    Route::post("/console/organisations/{organisation_id}/amend", |r| {
        r.to(amend)
    }),
    Route::post("/console/organisations/{organisation_id}/drop-ins", |r| {
        r.to(record_drop_in)
    }),
];

/// Organisations a page of the list shows.
const PAGE: u32 = 50;

/// The kinds of organisation, as the form offers them.
const KINDS: [(OrganisationKind, &str); 7] = [
    (OrganisationKind::NhsTrust, "NHS trust"),
    (
        OrganisationKind::IntegratedCareBoard,
        "Integrated care board",
    ),
    (OrganisationKind::AmbulanceService, "Ambulance service"),
    (OrganisationKind::PrimaryCare, "Primary care"),
    (OrganisationKind::Hospice, "Hospice"),
    (
        OrganisationKind::IndependentProvider,
        "Independent provider",
    ),
    (OrganisationKind::Other, "Other"),
];

fn kind_words(kind: OrganisationKind) -> &'static str {
    KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or("Other", |(_, words)| words)
}

fn regions() -> Vec<(&'static str, &'static str)> {
    Region::ALL.iter().map(|r| (r.as_str(), r.name())).collect()
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    award: String,
    #[serde(default)]
    page: Option<u32>,
}

/// One organisation as the list shows it.
#[derive(Debug)]
struct Row {
    id: String,
    name: String,
    ods_code: String,
    region: &'static str,
    award: Option<(String, &'static str, &'static str, &'static str)>,
}

/// What the register form held when it was refused.
#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct RegisterForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    ods_code: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    kind: String,
}

#[derive(Template)]
#[template(path = "console/organisations.html")]
struct ListPage {
    frame: Frame,
    q: String,
    award: String,
    rows: Vec<Row>,
    total: u64,
    page: u32,
    pages: u32,
    message: Option<String>,
    regions: Vec<(&'static str, &'static str)>,
    kinds: Vec<(&'static str, &'static str)>,
    form: RegisterForm,
    error: Option<String>,
}

fn list_page(
    state: &AppState,
    staff: &Staff<impl Policy>,
    query: ListQuery,
    form: RegisterForm,
    error: Option<String>,
) -> HttpResponse {
    let frame = Frame::new(state, staff, "organisations");
    let page_number = query.page.unwrap_or(1).max(1);
    let text = query.q.trim().to_owned();
    let mut message = None;
    let award = AwardFilter::parse(&query.award).unwrap_or(AwardFilter::Any);
    let found = if text.chars().count() > MAX_SEARCH_CHARS {
        message = Some(format!(
            "A search is at most {MAX_SEARCH_CHARS} characters; this one is longer."
        ));
        None
    } else {
        Some(state.registry.organisations_listed(&OrganisationQuery {
            text: Some(text).filter(|t| !t.is_empty()),
            award,
            page: PageOf {
                from: u64::from(page_number - 1) * u64::from(PAGE),
                limit: PAGE,
            },
        }))
    };
    let (rows, total) = found.map_or((Vec::new(), 0), |found| {
        let rows = found
            .items
            .into_iter()
            .map(|listed| Row {
                id: listed.organisation.id.to_string(),
                name: listed.organisation.name.as_str().to_owned(),
                ods_code: listed
                    .organisation
                    .ods_code
                    .as_ref()
                    .map(|c| c.as_str().to_owned())
                    .unwrap_or_default(),
                region: listed.organisation.region.name(),
                award: listed.current_award.map(|a| {
                    (
                        a.certificate_number.to_string(),
                        a.level.title(),
                        a.status.as_str(),
                        crate::http::html::status_words(a.status),
                    )
                }),
            })
            .collect();
        (rows, found.total)
    });
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    page(
        status,
        &ListPage {
            frame,
            q: query.q,
            award: query.award,
            rows,
            total,
            page: page_number,
            pages: u32::try_from(total.div_ceil(u64::from(PAGE)))
                .unwrap_or(u32::MAX)
                .max(1),
            message,
            regions: regions(),
            kinds: KINDS.iter().map(|(k, w)| (k.as_str(), *w)).collect(),
            form,
            error,
        },
    )
}

pub(crate) async fn list(
    staff: Staff<AdminOrReviewer>,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> HttpResponse {
    list_page(
        &state,
        &staff,
        query.into_inner(),
        RegisterForm::default(),
        None,
    )
}

/// The register command a form asks for, or the refusal of its words.
fn register_command(state: &AppState, form: &RegisterForm) -> Result<Command, ApiError> {
    let kind = KINDS
        .iter()
        .map(|(k, _)| *k)
        .find(|k| k.as_str() == form.kind)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::BadRequest,
                "choose the kind of organisation from the list",
            )
        })?;
    Ok(Command::Organisation(OrganisationCommand::Register {
        organisation_id: state.registry.new_organisation_id(),
        name: parse(&form.name)?,
        ods_code: Some(form.ods_code.trim())
            .filter(|c| !c.is_empty())
            .map(parse::<OdsCode>)
            .transpose()?,
        region: parse(&form.region)?,
        kind,
    }))
}

pub(crate) async fn register(
    staff: Staff<AdminOnly>,
    state: web::Data<AppState>,
    ConsoleForm(form): ConsoleForm<RegisterForm>,
) -> HttpResponse {
    let base = crate::http::prefix::base_path(&state.public_url).to_owned();
    let refused = |error: String| {
        let query = ListQuery {
            q: String::new(),
            award: String::new(),
            page: None,
        };
        list_page(&state, &staff, query, form.clone(), Some(error))
    };
    let command = match register_command(&state, &form) {
        Ok(command) => command,
        Err(e) => return refused(e.detail),
    };
    match state.registry.execute(&staff.actor, command, None).await {
        Ok(outcome) => match outcome.events.first() {
            Some((
                _,
                Event::OrganisationRegistered {
                    organisation_id, ..
                },
            )) => see_other(&format!(
                "{base}/console/organisations/{organisation_id}?done=registered"
            )),
            _ => refused("the organisation was not recorded; try again".into()),
        },
        Err(e) => refused(ApiError::from(e).detail),
    }
}

/// One of an organisation's awards, as its page lists them.
#[derive(Debug)]
struct AwardRow {
    number: String,
    level: &'static str,
    awarded_on: String,
    status: &'static str,
    status_words: &'static str,
}

/// What the amend form held when it was sent: shown again when it is refused.
#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct AmendForm {
    #[serde(default)]
    version: Option<u64>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    ods_code: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    reason: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct DropInForm {
    #[serde(default)]
    attended_on: String,
}

/// A field whose value someone else changed since the form was read: its name, its value now,
/// and the form's.
#[derive(Debug)]
struct Changed {
    field: &'static str,
    now: String,
    form: String,
}

#[derive(Template)]
#[template(path = "console/organisation.html")]
struct OrganisationPage {
    frame: Frame,
    id: String,
    name: String,
    ods_code: String,
    region: &'static str,
    region_name: &'static str,
    kind: &'static str,
    version: u64,
    awards: Vec<AwardRow>,
    drop_ins: Vec<String>,
    regions: Vec<(&'static str, &'static str)>,
    today: String,
    done: Option<String>,
    /// Which form was refused (`amend` or `drop-in`) and why, in words.
    refused: Option<(&'static str, String)>,
    amend: AmendForm,
    drop_in: DropInForm,
    changed: Vec<Changed>,
    max_reason: usize,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ShowQuery {
    #[serde(default)]
    done: Option<String>,
}

/// A refused form to show on an organisation's page.
enum Refusal {
    Amend {
        error: String,
        form: AmendForm,
        changed: Vec<Changed>,
    },
    DropIn {
        error: String,
        form: DropInForm,
    },
}

fn ods_text(organisation: &Organisation) -> String {
    organisation
        .ods_code
        .as_ref()
        .map(|c| c.as_str().to_owned())
        .unwrap_or_default()
}

fn not_found(base: &str) -> HttpResponse {
    message(
        StatusCode::NOT_FOUND,
        base,
        "No organisation has that id",
        "No registered organisation has that id. Find it under Organisations.",
    )
}

fn organisation_page(
    state: &AppState,
    staff: &Staff<impl Policy>,
    id: &OrganisationId,
    done: Option<String>,
    refusal: Option<Refusal>,
) -> HttpResponse {
    let frame = Frame::new(state, staff, "organisations");
    let Some(organisation) = state.registry.organisation(id) else {
        return not_found(&frame.base);
    };
    let today = state.registry.today();
    let awards = organisation
        .awards
        .iter()
        .rev()
        .filter_map(|number| state.registry.award(number))
        .map(|(award, programme)| {
            let status = crate::domain::status_as_of(&award, &programme, today).status;
            AwardRow {
                number: award.certificate_number.to_string(),
                level: award.level.title(),
                awarded_on: award.awarded_on.to_string(),
                status: status.as_str(),
                status_words: crate::http::html::status_words(status),
            }
        })
        .collect();
    let mut drop_ins: Vec<String> = state
        .registry
        .drop_ins(id)
        .iter()
        .rev()
        .map(ToString::to_string)
        .collect();
    drop_ins.dedup();
    let (refused, amend, drop_in, changed) = match refusal {
        None => (
            None,
            AmendForm::default(),
            DropInForm::default(),
            Vec::new(),
        ),
        Some(Refusal::Amend {
            error,
            form,
            changed,
        }) => (Some(("amend", error)), form, DropInForm::default(), changed),
        Some(Refusal::DropIn { error, form }) => (
            Some(("drop-in", error)),
            AmendForm::default(),
            form,
            Vec::new(),
        ),
    };
    let status = match (&refused, changed.is_empty()) {
        (None, _) => StatusCode::OK,
        (Some(_), false) => StatusCode::CONFLICT,
        (Some(_), true) => StatusCode::UNPROCESSABLE_ENTITY,
    };
    page(
        status,
        &OrganisationPage {
            frame,
            id: id.to_string(),
            name: organisation.name.as_str().to_owned(),
            ods_code: ods_text(&organisation),
            region: organisation.region.as_str(),
            region_name: organisation.region.name(),
            kind: kind_words(organisation.kind),
            version: organisation.last_position,
            awards,
            drop_ins,
            regions: regions(),
            today: today.to_string(),
            done,
            refused,
            amend,
            drop_in,
            changed,
            max_reason: crate::limits::MAX_PUBLIC_REASON_CHARS,
        },
    )
}

pub(crate) async fn show(
    staff: Staff<AdminOrReviewer>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<ShowQuery>,
) -> HttpResponse {
    let Ok(id) = path.parse::<OrganisationId>() else {
        return not_found(crate::http::prefix::base_path(&state.public_url));
    };
    organisation_page(&state, &staff, &id, query.into_inner().done, None)
}

/// The fields a stale amend form holds that differ from the organisation's values now.
fn changed_since(organisation: &Organisation, form: &AmendForm) -> Vec<Changed> {
    let region_name = |r: &str| {
        r.parse::<Region>()
            .map_or(r.to_owned(), |r| r.name().to_owned())
    };
    let mut changed = Vec::new();
    if organisation.name.as_str() != form.name.trim() {
        changed.push(Changed {
            field: "Name",
            now: organisation.name.as_str().to_owned(),
            form: form.name.clone(),
        });
    }
    if ods_text(organisation) != form.ods_code.trim().to_ascii_uppercase() {
        changed.push(Changed {
            field: "ODS code",
            now: ods_text(organisation),
            form: form.ods_code.clone(),
        });
    }
    if organisation.region.as_str() != form.region {
        changed.push(Changed {
            field: "Region",
            now: organisation.region.name().to_owned(),
            form: region_name(&form.region),
        });
    }
    changed
}

/// The amend command a form asks for: only the fields that differ from the organisation's.
fn amend_command(organisation: &Organisation, form: &AmendForm) -> Result<Command, ApiError> {
    let name = parse::<Name>(&form.name)?;
    let ods_code = Some(form.ods_code.trim())
        .filter(|c| !c.is_empty())
        .map(parse::<OdsCode>)
        .transpose()?;
    let region = parse::<Region>(&form.region)?;
    let reason = parse(&form.reason)?;
    let name = (name != organisation.name).then_some(name);
    let ods_code = ods_code.filter(|c| Some(c) != organisation.ods_code.as_ref());
    let region = (region != organisation.region).then_some(region);
    if name.is_none() && ods_code.is_none() && region.is_none() {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "the form changes nothing: change the name, the ODS code or the region (an ODS code cannot be removed, only replaced)",
        ));
    }
    Ok(Command::Organisation(OrganisationCommand::Amend {
        organisation_id: organisation.id,
        name,
        ods_code,
        region,
        reason,
    }))
}

pub(crate) async fn amend(
    staff: Staff<AdminOnly>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    ConsoleForm(form): ConsoleForm<AmendForm>,
) -> HttpResponse {
    let base = crate::http::prefix::base_path(&state.public_url).to_owned();
    let Ok(id) = path.parse::<OrganisationId>() else {
        return not_found(&base);
    };
    let Some(organisation) = state.registry.organisation(&id) else {
        return not_found(&base);
    };
    let refuse = |error: String, changed: Vec<Changed>| {
        let refusal = Refusal::Amend {
            error,
            form: form.clone(),
            changed,
        };
        organisation_page(&state, &staff, &id, None, Some(refusal))
    };
    // The organisation's amendment takes no version, so the form's is checked here: a form
    // read before someone else's change is shown again beside the values now.
    if form.version != Some(organisation.last_position) {
        return refuse(
            "Someone changed this organisation after you opened the form, so your amendment was not made. Here are its values now beside your form's; your words are kept below. Send the form again to make your amendment, or leave it.".into(),
            changed_since(&organisation, &form),
        );
    }
    let command = match amend_command(&organisation, &form) {
        Ok(command) => command,
        Err(e) => return refuse(e.detail, Vec::new()),
    };
    match state.registry.execute(&staff.actor, command, None).await {
        Ok(_) => see_other(&format!("{base}/console/organisations/{id}?done=amended")),
        Err(e) => refuse(ApiError::from(e).detail, Vec::new()),
    }
}

pub(crate) async fn record_drop_in(
    staff: Staff<AdminOnly>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    ConsoleForm(form): ConsoleForm<DropInForm>,
) -> HttpResponse {
    let base = crate::http::prefix::base_path(&state.public_url).to_owned();
    let Ok(id) = path.parse::<OrganisationId>() else {
        return not_found(&base);
    };
    let refuse = |error: String| {
        let refusal = Refusal::DropIn {
            error,
            form: form.clone(),
        };
        organisation_page(&state, &staff, &id, None, Some(refusal))
    };
    let attended_on = match parse_date("the day of the session", &form.attended_on) {
        Ok(day) => day,
        Err(e) => return refuse(e.detail),
    };
    let command = Command::Application(ApplicationCommand::RecordDropIn {
        organisation_id: id,
        attended_on,
    });
    match state.registry.execute(&staff.actor, command, None).await {
        Ok(_) => see_other(&format!("{base}/console/organisations/{id}?done=drop-in")),
        Err(e) => refuse(ApiError::from(e).detail),
    }
}
