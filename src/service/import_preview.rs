//! An import looked at before it is made (the console's preview): every row with its
//! organisation, ODS code, level and date, and every reason a row cannot be imported, by line:
//! its fields (`import::read_csv`), the register's rules (`import::check_rows`), and duplicates
//! (an ODS code twice in the file, an organisation and date twice, or an award already in the
//! register for the organisation on that date). Nothing is appended; the same checks run again
//! when the import is confirmed.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::import::{RowError, check_rows, read_csv, recorded_at};
use super::{Actor, Idempotency, Registry, ServiceError, request_hash};
use crate::domain::types::search_key;
use crate::error_codes::ErrorCode;

/// One row of the file, as the preview lists it.
#[derive(Debug, Clone)]
pub(crate) struct PreviewRow {
    pub(crate) line: usize,
    pub(crate) organisation: String,
    pub(crate) ods_code: String,
    pub(crate) level: String,
    pub(crate) awarded_on: String,
    /// Why the row cannot be imported, in words (empty when it can).
    pub(crate) problems: Vec<String>,
}

/// What importing a file would do.
#[derive(Debug, Clone)]
pub(crate) struct ImportPreview {
    pub(crate) rows: Vec<PreviewRow>,
    /// Problems of the file as a whole (its header, a line no row has).
    pub(crate) problems: Vec<String>,
    /// The file's SHA-256 (of its text with line ends written `\n`), hex.
    pub(crate) sha256: String,
    /// When the person imported this same file before, if they did.
    pub(crate) imported_at: Option<String>,
}

impl ImportPreview {
    /// Whether every row can be imported.
    pub(crate) fn is_clean(&self) -> bool {
        self.problems.is_empty() && self.rows.iter().all(|r| r.problems.is_empty())
    }

    pub(crate) fn bad_rows(&self) -> usize {
        self.rows.iter().filter(|r| !r.problems.is_empty()).count()
    }
}

/// The text with every line end written `\n`: a file sent back through a form comes with
/// `\r\n`, and it is the same file.
pub(crate) fn normalise(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// The SHA-256 of normalised text, hex.
fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The idempotency of importing the file whose SHA-256 is `sha256`: the same file imported
/// again by the same person appends nothing.
pub(crate) fn file_idempotency(sha256: &str) -> Idempotency {
    Idempotency {
        key: format!("console-import-{sha256}"),
        request_hash: request_hash(&[b"console import", sha256.as_bytes()]),
    }
}

/// Looks at importing `text` (CSV, normalised) as `actor` would, appending nothing.
pub(crate) async fn preview_import(
    registry: &Registry,
    actor: &Actor,
    text: &str,
) -> Result<ImportPreview, ServiceError> {
    let sha256 = sha256(text);
    let imported_at = recorded_at(registry, actor, &file_idempotency(&sha256)).await?;
    let mut rows = listed_rows(text);
    let mut problems = Vec::new();
    if imported_at.is_some() {
        // Checked and appended before: its rows are in the register now, as it left them.
        return Ok(ImportPreview {
            rows,
            problems,
            sha256,
            imported_at,
        });
    }
    let errors = match read_csv(text.as_bytes()) {
        Err(errors) => errors,
        Ok(parsed) if parsed.is_empty() => vec![RowError {
            line: 0,
            code: ErrorCode::ImportEmpty,
            message: "the file has no rows below its header".to_owned(),
        }],
        Ok(parsed) => check_rows(registry, parsed).await,
    };
    duplicates(registry, &mut rows);
    for e in errors {
        match rows.iter_mut().find(|r| r.line == e.line) {
            Some(row) => row.problems.push(e.message.clone()),
            None if e.line == 0 => problems.push(e.message.clone()),
            None => problems.push(format!("line {}: {}", e.line, e.message)),
        }
    }
    Ok(ImportPreview {
        rows,
        problems,
        sha256,
        imported_at,
    })
}

/// Every record of the file with the columns the preview shows, as written.
fn listed_rows(text: &str) -> Vec<PreviewRow> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let Ok(headers) = reader.headers().cloned() else {
        return Vec::new();
    };
    let column = |name: &str| headers.iter().position(|h| h == name);
    let (name, ods, level, date) = (
        column("organisation_name"),
        column("ods_code"),
        column("level"),
        column("awarded_on"),
    );
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    while let Ok(true) = reader.read_record(&mut record) {
        let cell = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or_default().to_owned();
        rows.push(PreviewRow {
            line: record.position().map_or(0, |p| p.line() as usize),
            organisation: cell(name),
            ods_code: cell(ods).to_ascii_uppercase(),
            level: cell(level),
            awarded_on: cell(date),
            problems: Vec::new(),
        });
    }
    rows
}

/// Marks every duplicate: an ODS code on an earlier line, an organisation and date on an
/// earlier line, or an award the register already holds for the organisation on that date.
fn duplicates(registry: &Registry, rows: &mut [PreviewRow]) {
    let known = registry.organisations_by_ods_and_name();
    let mut ods_lines: HashMap<String, usize> = HashMap::new();
    let mut dated_lines: HashMap<(String, String), usize> = HashMap::new();
    for row in rows.iter_mut() {
        let name_key = search_key(&row.organisation);
        if !row.ods_code.is_empty() {
            if let Some(first) = ods_lines.get(&row.ods_code) {
                row.problems.push(format!(
                    "the ODS code {} is also on line {first}: a file names each organisation once",
                    row.ods_code
                ));
            } else {
                ods_lines.insert(row.ods_code.clone(), row.line);
            }
        }
        let identity = if row.ods_code.is_empty() {
            name_key.clone()
        } else {
            row.ods_code.clone()
        };
        match dated_lines.get(&(identity.clone(), row.awarded_on.clone())) {
            Some(first) => row.problems.push(format!(
                "line {first} has the same organisation and date: each award is imported once"
            )),
            None => {
                dated_lines.insert((identity, row.awarded_on.clone()), row.line);
            }
        }
        let organisation = if row.ods_code.is_empty() {
            known.by_name.get(&name_key)
        } else {
            known.by_ods.get(&row.ods_code)
        };
        let held = organisation
            .and_then(|id| registry.organisation(id))
            .into_iter()
            .flat_map(|o| o.awards)
            .find(|number| {
                registry
                    .award(number)
                    .is_some_and(|(a, _)| a.awarded_on.to_string() == row.awarded_on)
            });
        if let Some(number) = held {
            row.problems.push(format!(
                "already in the register: award {number} for this organisation is dated {}",
                row.awarded_on
            ));
        }
    }
}
