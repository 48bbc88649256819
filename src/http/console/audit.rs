//! The audit trail in the console (admins and reviewers): every event of the log, newest first,
//! a page at a time, each with when, what (in words), who (by name where known, else the actor
//! id) and whether the public sees it; filtered by person, dates and award; and the same rows
//! as CSV (`/console/audit.csv`, each cell defused against spreadsheet formulas as the
//! register's export is). The read is `Registry::audit`'s: bounded, and it says when it
//! stopped early.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::frame::{Frame, page};
use super::session::Staff;
use super::trail::TrailLine;
use crate::domain::CertificateNumber;
use crate::http::AppState;
use crate::http::extract::AdminOrReviewer;
use crate::http::route::Route;
use crate::render::export::csv_cell;
use crate::service::audit::{AUDIT_SCAN_LIMIT, AuditFilter, AuditPage};

/// The routes this file serves.
pub(crate) const ROUTES: &[Route] = &[
    Route::get("/console/audit", |r| r.to(list)),
    Route::get("/console/audit.csv", |r| r.to(csv)),
];

/// Events a page shows.
const PAGE: usize = 100;

#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct AuditQuery {
    #[serde(default)]
    person: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    certificate_number: String,
    #[serde(default)]
    before: Option<u64>,
}

impl AuditQuery {
    /// The filter the query asks for, or what is wrong with it, in words.
    fn filter(&self) -> Result<AuditFilter, String> {
        let date = |what: &str, s: &str| -> Result<Option<chrono::NaiveDate>, String> {
            let s = s.trim();
            if s.is_empty() {
                return Ok(None);
            }
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| {
                    format!("{what} is a date written YYYY-MM-DD, such as 2026-12-04; {s:?} is not")
                })
        };
        let number = self.certificate_number.trim();
        Ok(AuditFilter {
            person: Some(self.person.trim())
                .filter(|p| !p.is_empty())
                .map(str::to_owned),
            from: date("From", &self.from)?,
            to: date("To", &self.to)?,
            certificate_number: if number.is_empty() {
                None
            } else {
                Some(number.to_ascii_uppercase().parse::<CertificateNumber>().map_err(|_| {
                    format!("{number:?} is not a certificate number (16 letters and digits, like FDXE-J5BM-RRNV-PEDM)")
                })?)
            },
        })
    }

    /// The query string of these filters (without `before`).
    fn filters(&self) -> String {
        let e = crate::escape::url_component;
        format!(
            "person={}&from={}&to={}&certificate_number={}",
            e(&self.person),
            e(&self.from),
            e(&self.to),
            e(&self.certificate_number)
        )
    }
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPageHtml {
    frame: Frame,
    query: AuditQuery,
    filters: String,
    lines: Vec<TrailLine>,
    next_before: Option<u64>,
    stopped_early: bool,
    scanned: u64,
    scan_limit: u64,
    error: Option<String>,
}

pub(crate) async fn list(
    staff: Staff<AdminOrReviewer>,
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> HttpResponse {
    let frame = Frame::new(&state, &staff, "audit");
    let query = query.into_inner();
    let (read, error) = match query.filter() {
        Err(words) => (None, Some(words)),
        Ok(filter) => match state.registry.audit(&filter, query.before, PAGE).await {
            Ok(read) => (Some(read), None),
            Err(e) => return super::awards::service_unavailable(&frame.base, &e),
        },
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let AuditPage {
        entries,
        next_before,
        stopped_early,
        scanned,
    } = read.unwrap_or(AuditPage {
        entries: Vec::new(),
        next_before: None,
        stopped_early: false,
        scanned: 0,
    });
    page(
        status,
        &AuditPageHtml {
            frame,
            filters: query.filters(),
            query,
            lines: entries.iter().map(TrailLine::of).collect(),
            next_before,
            stopped_early,
            scanned,
            scan_limit: AUDIT_SCAN_LIMIT,
            error,
        },
    )
}

/// The filtered rows as CSV: every row the bounded read finds, not only a page.
pub(crate) async fn csv(
    _: Staff<AdminOrReviewer>,
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> HttpResponse {
    let base = crate::http::prefix::base_path(&state.public_url).to_owned();
    let filter = match query.filter() {
        Ok(filter) => filter,
        Err(words) => {
            return super::frame::message(
                StatusCode::UNPROCESSABLE_ENTITY,
                &base,
                "The filters could not be read",
                &words,
            );
        }
    };
    let limit = usize::try_from(AUDIT_SCAN_LIMIT).unwrap_or(usize::MAX);
    let read = match state.registry.audit(&filter, query.before, limit).await {
        Ok(read) => read,
        Err(e) => return super::awards::service_unavailable(&base, &e),
    };
    let mut out = Vec::new();
    out.extend_from_slice(
        b"log_entry,recorded_at,what,detail,who,actor,seen_by,certificate_number\r\n",
    );
    for line in read.entries.iter().map(TrailLine::of) {
        let cells = [
            line.position.to_string(),
            line.recorded_at,
            line.what,
            line.detail,
            line.who,
            line.actor,
            if line.private {
                "programme team only"
            } else {
                "public"
            }
            .to_owned(),
            line.certificate_number.unwrap_or_default(),
        ];
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            csv_cell(cell, &mut out);
        }
        out.extend_from_slice(b"\r\n");
    }
    let mut response = HttpResponse::Ok();
    response
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"wexqs-audit.csv\"",
        ));
    if read.stopped_early {
        // Said in a header: a comment line would break the CSV.
        response.insert_header((
            "X-Audit-Stopped-Before",
            read.next_before.unwrap_or_default().to_string(),
        ));
    }
    response.body(out)
}
