//! Importing awards made before the registry existed, from CSV or JSON rows read one at a time:
//! every row's fields checked as it is read and only what the import needs of it kept (`Rows`),
//! then the rules checked against the register as it would be, every bad row reported with its
//! line, and all rows appended in one transaction or none.

use serde::{Deserialize, Serialize};

use super::queries::OrganisationsByKey;
use super::{Actor, Idempotency, Registry, ServiceError};
use crate::domain::types::search_key;
use crate::domain::{
    AwardCommand, AwardSource, CertificateNumber, Command, IssueAward, Level, Name, OdsCode,
    OrganisationCommand, OrganisationKind, Region,
};
use crate::error_codes::ErrorCode;
use crate::store::Appended;

/// One award to import. CSV header: `organisation_name,ods_code,region,kind,level,awarded_on,issuer_name`
/// (`ods_code`, `kind` and `issuer_name` may be empty).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImportRow {
    pub(crate) organisation_name: String,
    #[serde(default)]
    pub(crate) ods_code: Option<String>,
    pub(crate) region: String,
    #[serde(default)]
    pub(crate) kind: Option<String>,
    pub(crate) level: String,
    pub(crate) awarded_on: String,
    #[serde(default)]
    pub(crate) issuer_name: Option<String>,
}

/// Why a row cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    pub line: usize,
    pub code: ErrorCode,
    pub(crate) message: String,
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

/// The rows of an import, taken one at a time: each row's fields are checked as it comes, and
/// only what the import needs of it is kept (`Parsed`: its line, the name, the ODS code, the
/// region, kind, level, date and issuer), beside the errors of the rows that fail. Nothing else
/// of a row's text is held once it is checked.
#[derive(Debug, Default)]
pub struct Rows {
    parsed: Vec<Parsed>,
    errors: Vec<RowError>,
    count: usize,
}

impl Rows {
    /// Checks one row's fields and keeps it, or its errors.
    pub(crate) fn push(&mut self, line: usize, row: ImportRow) {
        self.count += 1;
        match parse_row(line, row) {
            Ok(parsed) => self.parsed.push(parsed),
            Err(errors) => self.errors.extend(errors),
        }
    }

    /// A row that could not be read at all.
    fn unreadable(&mut self, error: RowError) {
        self.count += 1;
        self.errors.push(error);
    }

    /// How many rows were taken, read or not.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// How many rows passed the checks of their fields.
    pub fn accepted(&self) -> usize {
        self.parsed.len()
    }

    /// The errors of the rows that did not, in the order they were read.
    pub fn errors(&self) -> &[RowError] {
        &self.errors
    }
}

/// Reads CSV a row at a time (the header is line 1) into `Rows`; only a header that cannot be
/// read stops it. One record is reused for every row, and `reader` is read through a buffer,
/// so a file need not be held whole.
pub fn read_csv(reader: impl std::io::Read) -> Result<Rows, Vec<RowError>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(reader);
    let headers = reader
        .headers()
        .map_err(|e| vec![RowError::new(1, ErrorCode::CsvMalformed, e.to_string())])?
        .clone();
    let mut rows = Rows::default();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line() as usize);
                match record.deserialize::<ImportRow>(Some(&headers)) {
                    Ok(row) => rows.push(line, row),
                    Err(e) => rows.unreadable(RowError::new(
                        line,
                        ErrorCode::RowMalformed,
                        format!(
                            "{e} (the columns are organisation_name, ods_code, region, kind, level, awarded_on, issuer_name)"
                        ),
                    )),
                }
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                // A reader that fails reading fails again: nothing after it can be read.
                let stop = matches!(e.kind(), csv::ErrorKind::Io(_));
                rows.unreadable(RowError::new(line, ErrorCode::RowMalformed, e.to_string()));
                if stop {
                    break;
                }
            }
        }
    }
    Ok(rows)
}

/// Reads a JSON import, `{"awards": [row, ...]}`, a row at a time into `Rows` (a row's line is
/// its place in the array, from 1): the array is never built. A body that is not this JSON is
/// refused whole, as any other JSON body is.
pub fn read_json(body: &[u8]) -> Result<Rows, serde_json::Error> {
    use serde::de::{DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
    use std::fmt;

    /// The body: one member, `awards`.
    struct Body<'a>(&'a mut Rows);
    /// The `awards` array, each element taken as it is read.
    struct Awards<'a>(&'a mut Rows);

    impl<'de> DeserializeSeed<'de> for Body<'_> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_map(self)
        }
    }
    impl<'de> Visitor<'de> for Body<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object with one member, awards")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = false;
            while let Some(key) = map.next_key::<String>()? {
                if key != "awards" {
                    return Err(A::Error::unknown_field(&key, &["awards"]));
                }
                if seen {
                    return Err(A::Error::duplicate_field("awards"));
                }
                seen = true;
                map.next_value_seed(Awards(&mut *self.0))?;
            }
            if !seen {
                return Err(A::Error::missing_field("awards"));
            }
            Ok(())
        }
    }
    impl<'de> DeserializeSeed<'de> for Awards<'_> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }
    impl<'de> Visitor<'de> for Awards<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array of awards")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut line = 0;
            while let Some(row) = seq.next_element::<ImportRow>()? {
                line += 1;
                self.0.push(line, row);
            }
            Ok(())
        }
    }

    let mut rows = Rows::default();
    let mut de = serde_json::Deserializer::from_slice(body);
    Body(&mut rows).deserialize(&mut de)?;
    de.end()?;
    Ok(rows)
}

#[derive(Debug)]
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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// The awards issued, in log order.
    pub issued: Vec<CertificateNumber>,
    /// How many events were appended (organisations, awards, credentials).
    pub(crate) events: usize,
    pub(crate) first_position: Option<u64>,
    pub last_position: Option<u64>,
    /// True when the import had happened before (its Idempotency-Key) and this is its first
    /// answer again.
    pub(crate) replayed: bool,
}

impl ImportSummary {
    /// The summary of stored events (an import appended before, answered again).
    fn of(appended: &Appended) -> Result<ImportSummary, ServiceError> {
        let mut summary = ImportSummary::default();
        summary.add(appended)?;
        summary.replayed = appended.replayed;
        Ok(summary)
    }

    /// Adds a piece of the import's stored events, in log order: only each award's
    /// certificate number is read from its payload (no credential is parsed).
    fn add(&mut self, appended: &Appended) -> Result<(), ServiceError> {
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
        for e in appended
            .events
            .iter()
            .filter(|e| e.event_type == "award_issued")
        {
            let issued = serde_json::from_slice::<Issued>(&e.payload).map_err(|err| {
                ServiceError::Store(crate::store::StoreError::Corrupt(format!(
                    "the award issued at {} does not name its number: {err}",
                    e.position
                )))
            })?;
            self.issued.push(issued.data.certificate_number);
        }
        self.events += appended.events.len();
        if let Some(first) = appended.events.first() {
            self.first_position.get_or_insert(first.position);
        }
        if let Some(last) = appended.events.last() {
            self.last_position = Some(last.position);
        }
        Ok(())
    }
}

/// Checks and appends the rows as one transaction, written a piece at a time
/// (`Registry::execute_in_pieces`). Organisations are matched by ODS code, or by
/// name when there is none, and registered when new; awards are issued oldest first, so a newer
/// award supersedes an older one as it did at the time.
pub async fn import_commands(
    registry: &Registry,
    actor: &Actor,
    rows: Rows,
    idempotency: Option<Idempotency>,
    mut progress: impl FnMut(usize),
) -> Result<ImportSummary, Vec<RowError>> {
    let failed = |e: ServiceError| {
        let (code, message) = match &e {
            ServiceError::Domain(d) => (d.error_code(), d.to_string()),
            ServiceError::Invalid { code, message } => (*code, message.clone()),
            other => (ErrorCode::ImportFailed, other.to_string()),
        };
        vec![RowError::new(0, code, message)]
    };
    // Sent again under its Idempotency-Key, an import is answered as it was the first time,
    // before its rows are checked against a register that now holds them.
    if let Some(idem) = &idempotency
        && let Some(appended) = registry.replay(&actor.id, idem).await.map_err(failed)?
    {
        return ImportSummary::of(&appended).map_err(failed);
    }
    let Rows {
        mut parsed,
        mut errors,
        ..
    } = rows;
    // Awards are issued oldest first (then in the order of their lines).
    parsed.sort_by_key(|p| (p.awarded_on, p.line));
    registry
        .catch_up()
        .await
        .map_err(|e| vec![RowError::new(0, ErrorCode::Internal, e.to_string())])?;
    let (commands, lines) = commands_for(registry, &parsed);
    // The commands carry all the rows say from here on.
    drop(parsed);

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
    // Written as it is made, a piece at a time, within one transaction.
    let mut summary = ImportSummary::default();
    let replayed = registry
        .execute_in_pieces(
            actor,
            commands,
            idempotency,
            &mut |piece| summary.add(piece),
            |e| e.event_type == "award_issued",
        )
        .await
        .map_err(|(_, e)| failed(e))?;
    match replayed {
        Some(appended) => ImportSummary::of(&appended).map_err(failed),
        None => Ok(summary),
    }
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
                commands.push(Command::Organisation(OrganisationCommand::Register {
                    organisation_id: id,
                    name: p.name.clone(),
                    ods_code: p.ods_code.clone(),
                    region: p.region,
                    kind: p.kind,
                }));
                lines.push(p.line);
                id
            }
        };
        commands.push(Command::Award(AwardCommand::Issue(IssueAward {
            certificate_number: registry.new_certificate_number(),
            organisation_id,
            level: p.level,
            awarded_on: p.awarded_on,
            issuer_name: p.issuer_name.clone(),
            framework_version: None,
            source: AwardSource::Imported,
        })));
        lines.push(p.line);
    }
    (commands, lines)
}

/// Checks the rows against the register as it is now, appending nothing: every bad row's
/// errors, by line (empty when the import would be appended whole).
pub(crate) async fn check_rows(registry: &Registry, rows: Rows) -> Vec<RowError> {
    let Rows {
        mut parsed,
        mut errors,
        ..
    } = rows;
    parsed.sort_by_key(|p| (p.awarded_on, p.line));
    if let Err(e) = registry.catch_up().await {
        return vec![RowError::new(0, ErrorCode::Internal, e.to_string())];
    }
    let (commands, lines) = commands_for(registry, &parsed);
    let refused = registry.dry_run(&commands, &mut |_| {});
    errors.extend(
        refused
            .into_iter()
            .map(|(i, e)| RowError::new(lines[i], e.error_code(), e.to_string())),
    );
    errors.sort_by_key(|e| e.line);
    errors.dedup();
    errors
}

/// When `actor` first made the append recorded under `idem`, if they did.
pub(crate) async fn recorded_at(
    registry: &Registry,
    actor: &Actor,
    idem: &Idempotency,
) -> Result<Option<String>, ServiceError> {
    Ok(registry
        .recorded_append(&actor.id, idem)
        .await?
        .and_then(|a| a.events.first().map(|e| e.recorded_at.clone())))
}
