//! Bulk import in the console (admins): a CSV file uploaded, then a preview of every row with
//! every bad row and every duplicate named by its line and the rule, nothing appended; a file
//! with no problem can be confirmed, and is then appended whole or not at all, through the same
//! `import_commands` as `POST /v1/admin/awards/import` and `wexqs import`, under the person's
//! name. The append's idempotency comes from the file's SHA-256, so the same file confirmed
//! again appends nothing, and the page says when it was imported.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::frame::{Frame, page, see_other};
use super::session::{ConsoleForm, ConsoleUpload, Staff};
use crate::http::AppState;
use crate::http::extract::AdminOnly;
use crate::http::route::Route;
use crate::service::import::{import_commands, read_csv};
use crate::service::import_preview::{ImportPreview, file_idempotency, normalise, preview_import};

/// The routes this file serves.
pub(crate) const ROUTES: &[Route] = &[
    Route::get("/console/import", |r| r.to(show)),
    Route::post("/console/import/preview", |r| r.to(preview)),
    Route::post("/console/import", |r| r.to(confirm)),
];

#[derive(Template)]
#[template(path = "console/import.html")]
struct ImportPage {
    frame: Frame,
    imported: Option<usize>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/import_preview.html")]
struct PreviewPage {
    frame: Frame,
    preview: ImportPreview,
    csv: String,
    /// The name the file was uploaded with (absent on confirming).
    file_name: Option<String>,
    /// Set when the file was confirmed and found imported before.
    again: bool,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ShowQuery {
    #[serde(default)]
    imported: Option<usize>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ConfirmForm {
    #[serde(default)]
    csv: String,
}

fn import_page(
    state: &AppState,
    staff: &Staff<AdminOnly>,
    imported: Option<usize>,
    error: Option<String>,
) -> HttpResponse {
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    page(
        status,
        &ImportPage {
            frame: Frame::new(state, staff, "import"),
            imported,
            error,
        },
    )
}

pub(crate) async fn show(
    staff: Staff<AdminOnly>,
    state: web::Data<AppState>,
    query: web::Query<ShowQuery>,
) -> HttpResponse {
    import_page(&state, &staff, query.imported, None)
}

fn preview_page(
    state: &AppState,
    staff: &Staff<AdminOnly>,
    preview: ImportPreview,
    csv: String,
    again: bool,
) -> HttpResponse {
    preview_page_of(state, staff, preview, csv, None, again)
}

fn preview_page_of(
    state: &AppState,
    staff: &Staff<AdminOnly>,
    preview: ImportPreview,
    csv: String,
    file_name: Option<String>,
    again: bool,
) -> HttpResponse {
    let status = if preview.is_clean() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    page(
        status,
        &PreviewPage {
            frame: Frame::new(state, staff, "import"),
            preview,
            csv,
            file_name,
            again,
        },
    )
}

pub(crate) async fn preview(
    staff: Staff<AdminOnly>,
    state: web::Data<AppState>,
    ConsoleUpload(parts): ConsoleUpload,
) -> HttpResponse {
    let Some(file) = parts.into_iter().find(|p| p.name == "file") else {
        return import_page(
            &state,
            &staff,
            None,
            Some("Choose a CSV file to upload.".into()),
        );
    };
    let Ok(text) = std::str::from_utf8(&file.body) else {
        return import_page(
            &state,
            &staff,
            None,
            Some("The file is not UTF-8 text: save it from the spreadsheet as \"CSV UTF-8\" and upload it again.".into()),
        );
    };
    let text = normalise(text);
    // The Confirm form sends the file back URL-encoded: it must fit in a body too.
    let carried: usize = form_urlencoded::byte_serialize(text.as_bytes())
        .map(str::len)
        .sum();
    if carried + 1024 > crate::limits::MAX_BODY {
        return import_page(
            &state,
            &staff,
            None,
            Some(format!(
                "The file is too large to import from the console (at most about {} MB once it is sent back to confirm). Split it into smaller files, or import it with the command line (wexqs import).",
                crate::limits::MAX_BODY / 3 / (1024 * 1024)
            )),
        );
    }
    match preview_import(&state.registry, &staff.actor, &text).await {
        Ok(preview) => preview_page_of(&state, &staff, preview, text, file.filename, false),
        Err(e) => super::awards::service_unavailable(
            crate::http::prefix::base_path(&state.public_url),
            &e,
        ),
    }
}

pub(crate) async fn confirm(
    staff: Staff<AdminOnly>,
    state: web::Data<AppState>,
    ConsoleForm(form): ConsoleForm<ConfirmForm>,
) -> HttpResponse {
    let base = crate::http::prefix::base_path(&state.public_url).to_owned();
    let text = normalise(&form.csv);
    // Checked again as it stands now: the register may have changed since the preview.
    let preview = match preview_import(&state.registry, &staff.actor, &text).await {
        Ok(preview) => preview,
        Err(e) => return super::awards::service_unavailable(&base, &e),
    };
    if preview.imported_at.is_some() {
        return preview_page(&state, &staff, preview, text, true);
    }
    if !preview.is_clean() {
        return preview_page(&state, &staff, preview, text, false);
    }
    let rows = match read_csv(text.as_bytes()) {
        Ok(rows) => rows,
        Err(_) => return preview_page(&state, &staff, preview, text, false),
    };
    let idempotency = file_idempotency(&preview.sha256);
    match import_commands(
        &state.registry,
        &staff.actor,
        rows,
        Some(idempotency),
        |_| {},
    )
    .await
    {
        Ok(summary) if summary.replayed => {
            let preview = match preview_import(&state.registry, &staff.actor, &text).await {
                Ok(preview) => preview,
                Err(e) => return super::awards::service_unavailable(&base, &e),
            };
            preview_page(&state, &staff, preview, text, true)
        }
        Ok(summary) => see_other(&format!(
            "{base}/console/import?imported={}",
            summary.issued.len()
        )),
        Err(errors) => {
            let words = errors
                .iter()
                .map(|e| format!("line {}: {}", e.line, e.message))
                .collect::<Vec<_>>()
                .join("; ");
            import_page(
                &state,
                &staff,
                None,
                Some(format!("Nothing was imported: {words}")),
            )
        }
    }
}
