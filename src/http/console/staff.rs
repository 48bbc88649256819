//! The staff list in the console: who may sign in, with which role (admins and reviewers read
//! it); adding someone, changing a role and removing someone (admins only), each the same
//! command `wexqs staff add|set-role|remove` runs, under the person's name. The domain refuses
//! leaving the list without an admin; removing someone ends their sessions.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::frame::{Frame, page, see_other};
use super::session::{ConsoleForm, Staff};
use crate::domain::staff::{StaffId, StaffRole};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{AdminOnly, AdminOrReviewer, Policy};
use crate::http::route::Route;
use crate::http::writes::parse;
use crate::service::staff::NewStaff;

/// The routes this file serves.
pub(crate) const ROUTES: &[Route] = &[
    Route::get("/console/staff", |r| r.to(list)),
    Route::post("/console/staff", |r| r.to(add)),
    Route::post("/console/staff/{staff_id}/role", |r| r.to(set_role)),
    Route::post("/console/staff/{staff_id}/remove", |r| r.to(remove)),
];

/// One member of staff as the list shows them.
#[derive(Debug)]
struct Row {
    id: String,
    name: String,
    email: String,
    role: &'static str,
    issuer: String,
    subject: String,
    is_self: bool,
}

/// What the add form holds.
#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct AddForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    role: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct RoleForm {
    #[serde(default)]
    role: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct RemoveForm {}

#[derive(Template)]
#[template(path = "console/staff.html")]
struct StaffPage {
    frame: Frame,
    rows: Vec<Row>,
    done: Option<String>,
    error: Option<String>,
    /// The member of staff the refused change was about (`add` for the add form).
    refused: Option<String>,
    form: AddForm,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    done: Option<String>,
}

fn staff_page(
    state: &AppState,
    staff: &Staff<impl Policy>,
    done: Option<String>,
    refusal: Option<(String, String)>,
    mut form: AddForm,
) -> HttpResponse {
    let frame = Frame::new(state, staff, "staff");
    if form.issuer.is_empty() {
        form.issuer = default_issuer(state);
    }
    let me = staff.member.staff_id.clone();
    let rows = state
        .registry
        .staff()
        .into_iter()
        .map(|m| Row {
            id: m.staff_id.as_str().to_owned(),
            name: m.name.as_str().to_owned(),
            email: m.email.as_str().to_owned(),
            role: m.role.as_str(),
            issuer: m.issuer.as_str().to_owned(),
            subject: m.subject.as_str().to_owned(),
            is_self: m.staff_id == me,
        })
        .collect();
    let (status, refused, error) = match refusal {
        Some((refused, error)) => (StatusCode::UNPROCESSABLE_ENTITY, Some(refused), Some(error)),
        None => (StatusCode::OK, None, None),
    };
    page(
        status,
        &StaffPage {
            frame,
            rows,
            done,
            error,
            refused,
            form,
        },
    )
}

/// The identity provider the console signs in with: who is added is found there.
fn default_issuer(state: &AppState) -> String {
    state
        .console
        .as_ref()
        .map(|c| c.sign_in.issuer().to_owned())
        .unwrap_or_default()
}

pub(crate) async fn list(
    staff: Staff<AdminOrReviewer>,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> HttpResponse {
    staff_page(
        &state,
        &staff,
        query.into_inner().done,
        None,
        AddForm::default(),
    )
}

fn new_staff(form: &AddForm) -> Result<NewStaff, ApiError> {
    Ok(NewStaff {
        issuer: parse(form.issuer.trim())?,
        subject: parse(form.subject.trim())?,
        name: parse(&form.name)?,
        email: parse(form.email.trim())?,
        role: parse(&form.role)?,
    })
}

pub(crate) async fn add(
    staff: Staff<AdminOnly>,
    state: web::Data<AppState>,
    ConsoleForm(form): ConsoleForm<AddForm>,
) -> HttpResponse {
    let base = crate::http::prefix::base_path(&state.public_url).to_owned();
    let refuse = |error: String, form: AddForm| {
        staff_page(&state, &staff, None, Some(("add".to_owned(), error)), form)
    };
    let new = match new_staff(&form) {
        Ok(new) => new,
        Err(e) => return refuse(e.detail, form),
    };
    match state.registry.add_staff(&staff.actor, new).await {
        Ok(_) => see_other(&format!("{base}/console/staff?done=added")),
        Err(e) => refuse(ApiError::from(e).detail, form),
    }
}

fn staff_id(
    state: &AppState,
    staff: &Staff<AdminOnly>,
    path: &str,
) -> Result<StaffId, HttpResponse> {
    path.parse::<StaffId>()
        .ok()
        .filter(|id| state.registry.staff_member(id).is_some())
        .ok_or_else(|| {
            staff_page(
                state,
                staff,
                None,
                Some((
                    path.to_owned(),
                    "No one on the staff list has that id (they may have been removed meanwhile). Nothing was changed.".to_owned(),
                )),
                AddForm::default(),
            )
        })
}

pub(crate) async fn set_role(
    staff: Staff<AdminOnly>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    ConsoleForm(form): ConsoleForm<RoleForm>,
) -> HttpResponse {
    let base = crate::http::prefix::base_path(&state.public_url).to_owned();
    let id = match staff_id(&state, &staff, &path) {
        Ok(id) => id,
        Err(page) => return page,
    };
    let refuse = |error: String| {
        staff_page(
            &state,
            &staff,
            None,
            Some((id.as_str().to_owned(), error)),
            AddForm::default(),
        )
    };
    let role = match parse::<StaffRole>(&form.role) {
        Ok(role) => role,
        Err(e) => return refuse(e.detail),
    };
    match state
        .registry
        .set_staff_role(&staff.actor, id.clone(), role)
        .await
    {
        Ok(_) => see_other(&format!("{base}/console/staff?done=role")),
        Err(e) => refuse(ApiError::from(e).detail),
    }
}

pub(crate) async fn remove(
    staff: Staff<AdminOnly>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    ConsoleForm(_): ConsoleForm<RemoveForm>,
) -> HttpResponse {
    let base = crate::http::prefix::base_path(&state.public_url).to_owned();
    let id = match staff_id(&state, &staff, &path) {
        Ok(id) => id,
        Err(page) => return page,
    };
    match state.registry.remove_staff(&staff.actor, id.clone()).await {
        Ok(_) => see_other(&format!("{base}/console/staff?done=removed")),
        Err(e) => staff_page(
            &state,
            &staff,
            None,
            Some((id.as_str().to_owned(), ApiError::from(e).detail)),
            AddForm::default(),
        ),
    }
}
