//! The open data exports of the register: every award's public fields and its status on a day,
//! as CSV (RFC 4180, every cell that a spreadsheet would take for a formula defused with a
//! leading apostrophe) or as JSON. Written straight into one buffer, row by row.

use chrono::NaiveDate;

use crate::domain::{Award, Status};

/// The columns, in order (the CSV's header row; the JSON's member names).
pub const COLUMNS: [&str; 15] = [
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

/// What an export reflects: the log size, the latest signed checkpoint, and the day.
#[derive(Debug, Clone)]
pub struct Reflects {
    pub log_size: u64,
    /// (size, base64 root) of the latest signed checkpoint, if any.
    pub checkpoint: Option<(u64, String)>,
    pub as_of: NaiveDate,
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
        award.issuer_name.clone(),
        award.scheme.clone(),
        award.framework_version.clone().unwrap_or_default(),
        status.as_str().to_owned(),
        as_of.to_string(),
        format!("{public_url}/verify/{number}"),
    ]
}

/// One CSV cell: a leading `=`, `+`, `-`, `@`, tab or carriage return (which spreadsheets read
/// as a formula) gets an apostrophe before it; a cell with a comma, quote or line break is
/// quoted, its quotes doubled.
pub fn csv_cell(value: &str, out: &mut Vec<u8>) {
    let formula = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quoted =
        value.contains([',', '"', '\n', '\r']) || value.starts_with(' ') || value.ends_with(' ');
    if quoted {
        out.push(b'"');
    }
    if formula {
        out.push(b'\'');
    }
    for b in value.bytes() {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    if quoted {
        out.push(b'"');
    }
}

/// The register as CSV: a header row, then one row per award, CRLF line ends.
pub fn csv(
    rows: &mut dyn Iterator<Item = (&Award, Status)>,
    as_of: NaiveDate,
    public_url: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 * 1024);
    out.extend_from_slice(COLUMNS.join(",").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (award, status) in rows {
        for (i, cell) in cells(award, status, as_of, public_url).iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            csv_cell(cell, &mut out);
        }
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The register as JSON: what it reflects, then `awards`, one object per award.
pub fn json(
    rows: &mut dyn Iterator<Item = (&Award, Status)>,
    reflects: &Reflects,
    public_url: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(512 * 1024);
    let head = serde_json::json!({
        "as_of": reflects.as_of,
        "log_size": reflects.log_size,
        "checkpoint": reflects.checkpoint.as_ref().map(|(size, root)| {
            serde_json::json!({"size": size, "root": root})
        }),
        "registry": public_url,
    })
    .to_string();
    // The head's closing brace gives way to the awards.
    out.extend_from_slice(&head.as_bytes()[..head.len() - 1]);
    out.extend_from_slice(b",\"awards\":[");
    for (i, (award, status)) in rows.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"\n");
        let cells = cells(award, status, reflects.as_of, public_url);
        let mut object = serde_json::Map::new();
        for (name, value) in COLUMNS.iter().zip(cells) {
            let value = if value.is_empty() && matches!(*name, "ods_code" | "framework_version") {
                serde_json::Value::Null
            } else {
                serde_json::Value::String(value)
            };
            object.insert((*name).to_owned(), value);
        }
        // A map of strings always serialises.
        let _ = serde_json::to_writer(&mut out, &object);
    }
    out.extend_from_slice(b"\n]}\n");
    out
}
