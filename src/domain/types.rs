//! Value types of the domain. Each constructor refuses bad input, so holding one means it is valid
//! ("parse, don't validate"); serde goes through the same constructors.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error_codes::ErrorCode;

pub use super::certificate_number::CertificateNumber;
pub(crate) use super::parse::ParseError;
use super::parse::string_serde;
pub use super::time::valid_until_of;
pub(crate) use super::time::{
    EARLIEST_DATE, LATEST_DATE, date_in_range, expiry_of, long_date, start_of_uk_day,
};

/// Whether a text may span lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lines {
    One,
    Many,
}

/// Characters that change the direction or visibility of the text around them, or that have no
/// business in text at all: every format character (general category Cf: bidi embeddings,
/// overrides, isolates and marks, zero-width spaces and joiners, the soft hyphen, the byte
/// order mark, Arabic and Syriac number signs, tag characters…), the Hangul fillers that draw
/// nothing, line and paragraph separators, and noncharacters (U+FDD0–U+FDEF and the last two
/// code points of every plane, which XML 1.0 forbids at U+FFFE and U+FFFF). A name containing
/// them reads differently in a PDF, a browser and a terminal, or breaks a feed, so no text the
/// registry publishes may hold them.
fn is_deceptive(c: char) -> bool {
    let noncharacter = (c as u32) & 0xFFFE == 0xFFFE || ('\u{FDD0}'..='\u{FDEF}').contains(&c);
    noncharacter
        || matches!(
            c,
            '\u{00AD}'
                | '\u{0600}'..='\u{0605}'
                | '\u{061C}'
                | '\u{06DD}'
                | '\u{070F}'
                | '\u{0890}'..='\u{0891}'
                | '\u{08E2}'
                | '\u{115F}'..='\u{1160}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{110BD}'
                | '\u{110CD}'
                | '\u{13430}'..='\u{1343F}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// The one rule for text people write into the registry (names, reasons, feedback, labels): `min`
/// to `max` characters, none of them control characters (a line break only where `lines` allows
/// it) or characters that change how the text around them reads. Returns the rule in words when
/// `text` breaks it. Escaping for each place a text is written into is the renderer's job; this
/// rule keeps out what no escaping can make safe to read.
pub(crate) fn printable_text(
    text: &str,
    min: usize,
    max: usize,
    lines: Lines,
) -> Result<(), String> {
    let chars = text.chars().count();
    let allowed = |c: char| !(c.is_control() && !(lines == Lines::Many && c == '\n'));
    if (min..=max).contains(&chars) && text.chars().all(|c| allowed(c) && !is_deceptive(c)) {
        return Ok(());
    }
    let breaks = if lines == Lines::Many {
        "line breaks"
    } else {
        "no line breaks"
    };
    Err(format!(
        "{min} to {} printable characters ({breaks}, no control characters, no bidirectional or invisible formatting characters, no noncharacters)",
        group_thousands(max)
    ))
}

/// `2000` as "2,000".
fn group_thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Award level. Levels are ordered: bronze < silver < gold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Bronze,
    Silver,
    Gold,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::Bronze, Level::Silver, Level::Gold];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Bronze => "bronze",
            Level::Silver => "silver",
            Level::Gold => "gold",
        }
    }

    pub(crate) fn title(self) -> &'static str {
        match self {
            Level::Bronze => "Bronze",
            Level::Silver => "Silver",
            Level::Gold => "Gold",
        }
    }
}

impl FromStr for Level {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "bronze" => Ok(Level::Bronze),
            "silver" => Ok(Level::Silver),
            "gold" => Ok(Level::Gold),
            other => Err(ParseError::new(
                ErrorCode::LevelInvalid,
                format!("level must be bronze, silver or gold, not {other:?}"),
            )),
        }
    }
}

/// The seven NHS England regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Region {
    EastOfEngland,
    London,
    Midlands,
    NorthEastAndYorkshire,
    NorthWest,
    SouthEast,
    SouthWest,
}

impl Region {
    pub const ALL: [Region; 7] = [
        Region::EastOfEngland,
        Region::London,
        Region::Midlands,
        Region::NorthEastAndYorkshire,
        Region::NorthWest,
        Region::SouthEast,
        Region::SouthWest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Region::EastOfEngland => "east_of_england",
            Region::London => "london",
            Region::Midlands => "midlands",
            Region::NorthEastAndYorkshire => "north_east_and_yorkshire",
            Region::NorthWest => "north_west",
            Region::SouthEast => "south_east",
            Region::SouthWest => "south_west",
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Region::EastOfEngland => "East of England",
            Region::London => "London",
            Region::Midlands => "Midlands",
            Region::NorthEastAndYorkshire => "North East and Yorkshire",
            Region::NorthWest => "North West",
            Region::SouthEast => "South East",
            Region::SouthWest => "South West",
        }
    }
}

impl FromStr for Region {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = normalise_words(s).replace(' ', "_");
        Region::ALL
            .into_iter()
            .find(|r| r.as_str() == wanted)
            .ok_or_else(|| {
                ParseError::new(
                    ErrorCode::RegionInvalid,
                    format!(
                        "region must be one of the seven NHS England regions ({}), not {s:?}",
                        Region::ALL.map(|r| r.as_str()).join(", ")
                    ),
                )
            })
    }
}

/// What sort of organisation holds (or seeks) an award.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OrganisationKind {
    NhsTrust,
    IntegratedCareBoard,
    AmbulanceService,
    PrimaryCare,
    Hospice,
    IndependentProvider,
    #[default]
    Other,
}

impl OrganisationKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            OrganisationKind::NhsTrust => "nhs_trust",
            OrganisationKind::IntegratedCareBoard => "integrated_care_board",
            OrganisationKind::AmbulanceService => "ambulance_service",
            OrganisationKind::PrimaryCare => "primary_care",
            OrganisationKind::Hospice => "hospice",
            OrganisationKind::IndependentProvider => "independent_provider",
            OrganisationKind::Other => "other",
        }
    }
}

/// An NHS Organisation Data Service code: 3 to 10 letters and digits, kept upper case.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OdsCode(String);

impl OdsCode {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for OdsCode {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let code = s.trim().to_ascii_uppercase();
        if (3..=10).contains(&code.len()) && code.chars().all(|c| c.is_ascii_alphanumeric()) {
            Ok(OdsCode(code))
        } else {
            Err(ParseError::new(
                ErrorCode::OdsCodeInvalid,
                format!("an ODS code is 3 to 10 letters and digits, such as RJ1; {s:?} is not"),
            ))
        }
    }
}
string_serde!(OdsCode);

/// A person-readable name (an organisation's): trimmed, single-spaced, 2 to 200 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(String);

impl Name {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Name {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.split_whitespace().collect::<Vec<_>>().join(" ");
        printable_text(&name, 2, 200, Lines::One)
            .map_err(|rule| ParseError::new(ErrorCode::NameInvalid, format!("a name is {rule}")))?;
        Ok(Name(name))
    }
}
string_serde!(Name);

/// A reason written by the programme team (for a suspension, revocation, amendment, pause):
/// 3 to 2,000 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reason(String);

impl Reason {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Reason {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let reason = s.trim();
        printable_text(reason, 3, 2000, Lines::Many).map_err(|rule| {
            ParseError::new(
                ErrorCode::ReasonInvalid,
                format!("a reason is required, saying why: {rule}"),
            )
        })?;
        Ok(Reason(reason.to_owned()))
    }
}
string_serde!(Reason);

/// A private note added to a change of an award by the programme team (a safeguarding concern,
/// a case reference): 1 to `limits::MAX_PRIVATE_NOTE_CHARS` characters. It is kept in a private
/// event, which only admins and reviewers read; never on a public surface.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PrivateNote(String);

impl PrivateNote {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for PrivateNote {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let note = s.trim();
        printable_text(note, 1, crate::limits::MAX_PRIVATE_NOTE_CHARS, Lines::Many).map_err(
            |rule| {
                ParseError::new(
                    ErrorCode::PrivateNoteInvalid,
                    format!("a private note is {rule}"),
                )
            },
        )?;
        Ok(PrivateNote(note.to_owned()))
    }
}
string_serde!(PrivateNote);

/// The base URL people reach the registry at: `http://` or `https://`, a host, an optional port
/// and path; no user, query or fragment. Scheme and host are lower-cased and a trailing `/` is
/// dropped, so one address has one spelling (credentials, did:web and the log's origin name it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PublicUrl(String);

impl PublicUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for PublicUrl {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| {
            ParseError::new(
                ErrorCode::PublicUrlInvalid,
                format!(
                    "a public URL is http:// or https://, a host, an optional port and path, such as https://wexqs.example.org ({why})"
                ),
            )
        };
        let s = s.trim();
        let (scheme, rest) = s.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(bad("only http and https"));
        }
        let rest = rest.trim_end_matches('/');
        let (host, path) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
        let (name, port) = match host.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        };
        let name_ok = !name.is_empty()
            && name.len() <= 253
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if !name_ok {
            return Err(bad("the host is letters, digits, '.' and '-'"));
        }
        if port.is_some_and(|p| p.parse::<u16>().map_or(true, |p| p == 0)) {
            return Err(bad("the port is a number from 1 to 65535"));
        }
        let path_ok = path.len() <= 200
            && path
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~/".contains(c))
            && (path.is_empty() || !path.split('/').any(str::is_empty));
        if !path_ok {
            return Err(bad(
                "the path is letters, digits, '-', '.', '_', '~' and '/'",
            ));
        }
        let mut url = format!("{scheme}://{}", host.to_ascii_lowercase());
        if !path.is_empty() {
            url.push('/');
            url.push_str(path);
        }
        Ok(PublicUrl(url))
    }
}
string_serde!(PublicUrl);

/// An organisation's registry identifier (a UUID, never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrganisationId(pub uuid::Uuid);

impl fmt::Display for OrganisationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for OrganisationId {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::parse_str(s.trim())
            .map(OrganisationId)
            .map_err(|_| {
                ParseError::new(
                    ErrorCode::OrganisationIdInvalid,
                    "an organisation id is a UUID",
                )
            })
    }
}

/// Lower case, letters and digits only, single spaces: the basis of forgiving comparison.
pub(crate) fn normalise_words(s: &str) -> String {
    let mapped: String = s
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else if c == '\'' || c == '\u{2019}' {
                '\0'
            } else {
                ' '
            }
        })
        .filter(|c| *c != '\0')
        .collect();
    mapped.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The key an organisation is searched by: normalised words, "st" read as "saint", "&" as "and",
/// and the common suffixes ("NHS Foundation Trust", "NHS Trust") dropped, so that a person can
/// type the name the way they say it.
pub fn search_key(name: &str) -> String {
    let words = normalise_words(&name.replace('&', " and "));
    let mut out: Vec<&str> = words
        .split(' ')
        .map(|w| match w {
            "st" => "saint",
            "hosp" => "hospital",
            "hosps" => "hospitals",
            w => w,
        })
        .collect();
    for suffix in [
        &["nhs", "foundation", "trust"][..],
        &["foundation", "trust"][..],
        &["nhs", "trust"][..],
        &["nhs", "ft"][..],
        &["nhs"][..],
    ] {
        if out.len() > suffix.len() && out.ends_with(suffix) {
            out.truncate(out.len() - suffix.len());
            break;
        }
    }
    out.join(" ")
}

/// The issuer's name as it was on a date: Health Education England merged into NHS England on
/// 1 April 2023.
pub(crate) fn issuer_name_on(date: NaiveDate) -> &'static str {
    if date < NaiveDate::from_ymd_opt(2023, 4, 1).expect("a valid constant date") {
        "Health Education England"
    } else {
        "NHS England"
    }
}

/// The scheme every award in this registry belongs to, shown so that it cannot be confused with
/// an older, unrelated scheme of the same name.
pub(crate) const SCHEME: &str = "NHS England Work Experience Quality Standard (WEx QS)";
