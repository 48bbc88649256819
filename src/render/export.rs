//! The open data exports of the register: every award's public fields and its status on a day,
//! as CSV (RFC 4180; wherever a spreadsheet splitting on any usual separator could find a
//! formula, an apostrophe defuses it: `csv_cell`) or as JSON. Written piece by piece
//! (`Export::pieces`, about 64 KiB each) from a snapshot of shared awards, so an export of any
//! size is never held whole: the same pieces are hashed for its signature and then sent. Invariant: the pieces of one
//! `Export` are the same bytes every time they are made.

use std::sync::Arc;

use chrono::NaiveDate;

use crate::domain::{Award, Status};

/// The columns, in order (the CSV's header row; the JSON's member names).
pub(crate) const COLUMNS: [&str; 15] = [
    "certificate_number",
    "organisation_id",
    "organisation_name",
    "ods_code",
    "region",
    "level",
    "awarded_on",
    "valid_until",
    "expires_on",
    "issuer_name",
    "scheme",
    "framework_version",
    "status",
    "status_as_of",
    "page",
];

/// The licence of the register's open data: the Open Government Licence v3.0.
pub(crate) const LICENCE_NAME: &str = "Open Government Licence v3.0";
pub(crate) const LICENCE_URL: &str =
    "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/";
/// The attribution statement the licence asks a reuser to give.
pub(crate) const ATTRIBUTION: &str =
    "Contains public sector information licensed under the Open Government Licence v3.0.";

/// The licence as a JSON document states it (its `license` member).
pub(crate) fn licence_json() -> serde_json::Value {
    serde_json::json!({
        "name": LICENCE_NAME,
        "url": LICENCE_URL,
        "attribution": ATTRIBUTION,
    })
}

/// A piece is sent once it holds at least this many bytes (one row may take it a little over).
pub const PIECE: usize = 64 * 1024;

/// The two formats of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8; header=present",
            Format::Json => "application/json",
        }
    }

    pub(crate) fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }
}

/// What an export reflects: the log size, the latest signed checkpoint, and the day.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reflects {
    pub log_size: u64,
    /// (size, base64 root) of the latest signed checkpoint, if any.
    pub checkpoint: Option<(u64, String)>,
    pub as_of: NaiveDate,
}

/// One award of an export, with its status on the export's day.
pub(crate) type Row = (Arc<Award>, Status);

/// An export to be written: its format, what it reflects and its rows, in certificate number
/// order. Cloning it shares the rows.
#[derive(Debug, Clone)]
pub struct Export {
    pub format: Format,
    pub reflects: Reflects,
    pub rows: Arc<[Row]>,
    /// The registry's base URL, without a trailing slash.
    pub public_url: Arc<str>,
}

impl Export {
    /// The export's bytes, piece by piece: the head, then rows until a piece holds `PIECE`
    /// bytes, and the tail with the last rows.
    pub fn pieces(&self) -> Pieces {
        Pieces {
            export: self.clone(),
            next: 0,
            started: false,
            done: false,
        }
    }

    /// The whole export in one buffer (for tests and small registers).
    pub fn to_vec(&self) -> Vec<u8> {
        self.pieces().flatten().collect()
    }

    fn head(&self, out: &mut Vec<u8>) {
        match self.format {
            Format::Csv => {
                out.extend_from_slice(COLUMNS.join(",").as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            Format::Json => {
                let head = serde_json::json!({
                    "as_of": self.reflects.as_of,
                    "log_size": self.reflects.log_size,
                    "checkpoint": self.reflects.checkpoint.as_ref().map(|(size, root)| {
                        serde_json::json!({"size": size, "root": root})
                    }),
                    "registry": &*self.public_url,
                    "license": licence_json(),
                })
                .to_string();
                // The head's closing brace gives way to the awards.
                out.extend_from_slice(&head.as_bytes()[..head.len() - 1]);
                out.extend_from_slice(b",\"awards\":[");
            }
        }
    }

    fn row(&self, index: usize, (award, status): &Row, out: &mut Vec<u8>) {
        let cells = cells(award, *status, self.reflects.as_of, &self.public_url);
        match self.format {
            Format::Csv => {
                for (i, cell) in cells.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    csv_cell(cell, out);
                }
                out.extend_from_slice(b"\r\n");
            }
            Format::Json => {
                if index > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"\n");
                let mut object = serde_json::Map::new();
                for (name, value) in COLUMNS.iter().zip(cells) {
                    let value =
                        if value.is_empty() && matches!(*name, "ods_code" | "framework_version") {
                            serde_json::Value::Null
                        } else {
                            serde_json::Value::String(value)
                        };
                    object.insert((*name).to_owned(), value);
                }
                // A map of strings always serialises, and writing to a Vec cannot fail.
                let _ = serde_json::to_writer(&mut *out, &object);
            }
        }
    }

    fn tail(&self, out: &mut Vec<u8>) {
        if self.format == Format::Json {
            out.extend_from_slice(b"\n]}\n");
        }
    }
}

/// The pieces of an export, in order (`Export::pieces`).
#[derive(Debug)]
pub struct Pieces {
    export: Export,
    next: usize,
    started: bool,
    done: bool,
}

impl Iterator for Pieces {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        if self.done {
            return None;
        }
        let mut out = Vec::with_capacity(PIECE + 4 * 1024);
        if !self.started {
            self.started = true;
            self.export.head(&mut out);
        }
        while out.len() < PIECE
            && let Some(row) = self.export.rows.get(self.next)
        {
            self.export.row(self.next, row, &mut out);
            self.next += 1;
        }
        if self.next >= self.export.rows.len() {
            self.done = true;
            self.export.tail(&mut out);
        }
        Some(out)
    }
}

fn cells(award: &Award, status: Status, as_of: NaiveDate, public_url: &str) -> [String; 15] {
    let number = award.certificate_number.to_string();
    [
        number.clone(),
        award.organisation_id.to_string(),
        award.organisation_name.to_string(),
        award
            .ods_code
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        award.region.as_str().to_owned(),
        award.level.as_str().to_owned(),
        award.awarded_on.to_string(),
        award.valid_until.to_string(),
        award.expires_on().to_string(),
        award.issuer_name.to_string(),
        award.scheme.to_string(),
        award.framework_version.clone().unwrap_or_default(),
        status.as_str().to_owned(),
        as_of.to_string(),
        format!("{public_url}/verify/{number}"),
    ]
}

/// The characters a spreadsheet may take as the start of a formula when they begin a cell: the
/// four of OWASP's list (`=`, `+`, `-`, `@`; its tab and carriage return are below), their
/// full-width forms (`＝ ＋ － ＠`, which an input method may turn into the ASCII ones), the
/// small forms (`﹦ ﹢ ﹣`) and the minus sign `−`.
const FORMULA_STARTS: [char; 12] = [
    '=', '+', '-', '@', '\u{FF1D}', '\u{FF0B}', '\u{FF0D}', '\u{FF20}', '\u{FE66}', '\u{FE62}',
    '\u{FE63}', '\u{2212}',
];

/// Whether a spreadsheet may split a line at `c` and begin a cell after it: the separators a
/// spreadsheet offers by name (comma, semicolon, tab, space) and the pipe, every other kind of
/// white space (which a spreadsheet may trim from a cell's start), and line breaks (a cell's
/// line break begins a row for a reader that does not honour its quotes).
fn may_begin_a_cell_after(c: char) -> bool {
    matches!(c, ',' | ';' | '|') || c.is_whitespace()
}

/// One CSV cell. A cell is quoted, its quotes doubled, when it holds a comma, quote or line
/// break or begins or ends with a space. Every character that could begin a formula at the start
/// of any cell a spreadsheet might cut from this one, whichever usual separator it splits on,
/// gets an apostrophe before it: a formula start (`FORMULA_STARTS`, or a tab or carriage return)
/// that begins the cell, or follows a separator, white space or line break with nothing between
/// but white space and quotes. So `=1+1` is written `'=1+1`, `Acme;=1+1` is written
/// `Acme;'=1+1`, and `St Mary - Leeds` is written `St Mary '- Leeds`, while `Hull-York` and
/// `O'Brien` are written as they are. The rule is a function of the cell alone, so an export is
/// the same bytes every time it is made.
pub fn csv_cell(value: &str, out: &mut Vec<u8>) {
    let quoted =
        value.contains([',', '"', '\n', '\r']) || value.starts_with(' ') || value.ends_with(' ');
    if quoted {
        out.push(b'"');
    }
    let mut begins_a_cell = true;
    let mut utf8 = [0; 4];
    for c in value.chars() {
        if begins_a_cell && (FORMULA_STARTS.contains(&c) || c == '\t' || c == '\r') {
            out.push(b'\'');
        }
        begins_a_cell = may_begin_a_cell_after(c) || (begins_a_cell && c == '"');
        if c == '"' {
            out.push(b'"');
        }
        out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
    }
    if quoted {
        out.push(b'"');
    }
}
