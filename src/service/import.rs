//! Importing awards made before the registry existed, from CSV or JSON rows: every row checked
//! (fields, then the rules against the register as it would be), every bad row reported with its
//! line, and all rows appended in one transaction or none.

use serde::{Deserialize, Serialize};

use super::queries::OrganisationsByKey;
use super::{Actor, Idempotency, Registry, ServiceError};
use crate::domain::types::search_key;
use crate::domain::{
    AwardSource, CertificateNumber, Command, Level, Name, OdsCode, OrganisationKind, Region,
};
use crate::error_codes::ErrorCode;
use crate::store::{Appended, StoredEvent};

/// One award to import. CSV header: `organisation_name,ods_code,region,kind,level,awarded_on,issuer_name`
/// (`ods_code`, `kind` and `issuer_name` may be empty).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ImportRow {
    pub organisation_name: String,
    #[serde(default)]
    pub ods_code: Option<String>,
    pub region: String,
    #[serde(default)]
    pub kind: Option<String>,
    pub level: String,
    pub awarded_on: String,
    #[serde(default)]
    pub issuer_name: Option<String>,
}

/// Why a row cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    pub line: usize,
    pub code: ErrorCode,
    pub message: String,
}

impl RowError {
    fn new(line: usize, code: ErrorCode, message: impl Into<String>) -> RowError {
        RowError {
            line,
            code,
            message: message.into(),
        }
    }
}

/// Reads CSV text into rows with their line numbers (the header is line 1).
pub fn parse_csv(text: &str) -> Result<Vec<(usize, ImportRow)>, Vec<RowError>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| vec![RowError::new(1, ErrorCode::CsvMalformed, e.to_string())])?
        .clone();
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                errors.push(RowError::new(line, ErrorCode::RowMalformed, e.to_string()));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line() as usize);
        match record.deserialize::<ImportRow>(Some(&headers)) {
            Ok(row) => rows.push((line, row)),
            Err(e) => errors.push(RowError::new(
                line,
                ErrorCode::RowMalformed,
                format!(
                    "{e} (the columns are organisation_name, ods_code, region, kind, level, awarded_on, issuer_name)"
                ),
            )),
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

struct Parsed {
    line: usize,
    name: Name,
    ods_code: Option<OdsCode>,
    region: Region,
    kind: OrganisationKind,
    level: Level,
    awarded_on: chrono::NaiveDate,
    issuer_name: Option<String>,
}

/// Checks one row's fields alone (the rules against the register are checked on import): every
/// bad field reported with the row's line.
pub fn check_row(line: usize, row: ImportRow) -> Result<(), Vec<RowError>> {
    parse_row(line, row).map(|_| ())
}

fn parse_row(line: usize, row: ImportRow) -> Result<Parsed, Vec<RowError>> {
    let mut errors = Vec::new();
    fn field<T>(
        errors: &mut Vec<RowError>,
        line: usize,
        r: Result<T, crate::domain::ParseError>,
    ) -> Option<T> {
        r.map_err(|e| errors.push(RowError::new(line, e.code, e.message)))
            .ok()
    }
    let name = field(&mut errors, line, row.organisation_name.parse::<Name>());
    let ods_code = match row
        .ods_code
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(c) => field(&mut errors, line, c.parse::<OdsCode>().map(Some)),
        None => Some(None),
    };
    let region = field(&mut errors, line, row.region.parse::<Region>());
    let level = field(&mut errors, line, row.level.parse::<Level>());
    let kind = match row.kind.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Some(OrganisationKind::default()),
        Some(k) => match serde_json::from_value::<OrganisationKind>(serde_json::json!(k)) {
            Ok(kind) => Some(kind),
            Err(_) => {
                errors.push(RowError::new(
                    line,
                    ErrorCode::KindInvalid,
                    format!("kind must be one of nhs_trust, integrated_care_board, ambulance_service, primary_care, hospice, independent_provider, other; not {k:?}"),
                ));
                None
            }
        },
    };
    let awarded_on = match chrono::NaiveDate::parse_from_str(row.awarded_on.trim(), "%Y-%m-%d") {
        Ok(d) => Some(d),
        Err(_) => {
            errors.push(RowError::new(
                line,
                ErrorCode::DateInvalid,
                format!(
                    "awarded_on is a date written YYYY-MM-DD; {:?} is not",
                    row.awarded_on
                ),
            ));
            None
        }
    };
    match (name, ods_code, region, level, kind, awarded_on) {
        (Some(name), Some(ods_code), Some(region), Some(level), Some(kind), Some(awarded_on))
            if errors.is_empty() =>
        {
            Ok(Parsed {
                line,
                name,
                ods_code,
                region,
                kind,
                level,
                awarded_on,
                issuer_name: row.issuer_name.filter(|s| !s.trim().is_empty()),
            })
        }
        _ => Err(errors),
    }
}

/// What an import appended, without its events: an import of a hundred thousand awards holds
/// each of its events once, while it is stored, and answers with this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    /// The awards issued, in log order.
    pub issued: Vec<CertificateNumber>,
    /// How many events were appended (organisations, awards, credentials).
    pub events: usize,
    pub first_position: Option<u64>,
    pub last_position: Option<u64>,
    /// True when the import had happened before (its Idempotency-Key) and this is its first
    /// answer again.
    pub replayed: bool,
}

impl ImportSummary {
    /// The summary of stored events: only each award's certificate number is read from its
    /// payload (no credential is parsed).
    fn of(appended: &Appended) -> Result<ImportSummary, ServiceError> {
        // The envelope's `data` (the event's fields, beside its `type` tag), of which only
        // the number is read.
        #[derive(Deserialize)]
        struct Issued {
            data: IssuedData,
        }
        #[derive(Deserialize)]
        struct IssuedData {
            certificate_number: CertificateNumber,
        }
        let issued = appended
            .events
            .iter()
            .filter(|e| e.event_type == "award_issued")
            .map(|e| {
                serde_json::from_slice::<Issued>(&e.payload)
                    .map(|i| i.data.certificate_number)
                    .map_err(|err| {
                        ServiceError::Store(crate::store::StoreError::Corrupt(format!(
                            "the award issued at {} does not name its number: {err}",
                            e.position
                        )))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let position = |e: Option<&StoredEvent>| e.map(|e| e.position);
        Ok(ImportSummary {
            issued,
            events: appended.events.len(),
            first_position: position(appended.events.first()),
            last_position: position(appended.events.last()),
            replayed: appended.replayed,
        })
    }
}

/// Checks and appends the rows as one transaction. Organisations are matched by ODS code, or by
/// name when there is none, and registered when new; awards are issued oldest first, so a newer
/// award supersedes an older one as it did at the time.
pub async fn import_commands(
    registry: &Registry,
    actor: &Actor,
    rows: Vec<(usize, ImportRow)>,
    idempotency: Option<Idempotency>,
    mut progress: impl FnMut(usize),
) -> Result<ImportSummary, Vec<RowError>> {
    let (parsed, mut errors) = parse_rows(rows);
    registry
        .catch_up()
        .await
        .map_err(|e| vec![RowError::new(0, ErrorCode::Internal, e.to_string())])?;
    let (commands, lines) = commands_for(registry, &parsed);

    let refused = registry.dry_run(&commands, &mut progress);
    errors.extend(
        refused
            .into_iter()
            .map(|(i, e)| RowError::new(lines[i], e.error_code(), e.to_string())),
    );
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.line);
        errors.dedup();
        return Err(errors);
    }
    let failed = |e: ServiceError| {
        let (code, message) = match &e {
            ServiceError::Domain(d) => (d.error_code(), d.to_string()),
            ServiceError::Invalid { code, message } => (*code, message.clone()),
            other => (ErrorCode::ImportFailed, other.to_string()),
        };
        vec![RowError::new(0, code, message)]
    };
    let appended = registry
        .execute_stored(
            actor,
            commands,
            idempotency,
            |_| {},
            |e| e.event_type == "award_issued",
        )
        .await
        .map_err(|(_, e)| failed(e))?;
    ImportSummary::of(&appended).map_err(failed)
}

/// Every row's fields checked: the rows that parse, oldest award first (then by line), and the
/// errors of those that do not.
fn parse_rows(rows: Vec<(usize, ImportRow)>) -> (Vec<Parsed>, Vec<RowError>) {
    let mut parsed = Vec::with_capacity(rows.len());
    let mut errors = Vec::new();
    for (line, row) in rows {
        match parse_row(line, row) {
            Ok(p) => parsed.push(p),
            Err(e) => errors.extend(e),
        }
    }
    parsed.sort_by_key(|p| (p.awarded_on, p.line));
    (parsed, errors)
}

/// The commands that import the rows, each with the line it comes from: an organisation the
/// register does not hold yet (by ODS code, or by name without one) is registered first.
fn commands_for(registry: &Registry, parsed: &[Parsed]) -> (Vec<Command>, Vec<usize>) {
    let OrganisationsByKey {
        mut by_ods,
        mut by_name,
    } = registry.organisations_by_ods_and_name();
    let mut commands = Vec::new();
    let mut lines = Vec::new();
    for p in parsed {
        let known = match &p.ods_code {
            Some(c) => by_ods.get(c.as_str()).copied(),
            None => by_name.get(&search_key(p.name.as_str())).copied(),
        };
        let organisation_id = match known {
            Some(id) => id,
            None => {
                let id = registry.new_organisation_id();
                match &p.ods_code {
                    Some(c) => by_ods.insert(c.to_string(), id),
                    None => by_name.insert(search_key(p.name.as_str()), id),
                };
                commands.push(Command::RegisterOrganisation {
                    organisation_id: id,
                    name: p.name.clone(),
                    ods_code: p.ods_code.clone(),
                    region: p.region,
                    kind: p.kind,
                });
                lines.push(p.line);
                id
            }
        };
        commands.push(Command::IssueAward {
            certificate_number: registry.new_certificate_number(),
            organisation_id,
            level: p.level,
            awarded_on: p.awarded_on,
            issuer_name: p.issuer_name.clone(),
            framework_version: None,
            source: AwardSource::Imported,
        });
        lines.push(p.line);
    }
    (commands, lines)
}
