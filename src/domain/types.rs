//! Value types of the domain. Each constructor refuses bad input, so holding one means it is valid
//! ("parse, don't validate"); serde goes through the same constructors.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Months, NaiveDate};
use serde::{Deserialize, Serialize};

/// Why a value could not be parsed: a stable machine code and a sentence for a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    pub code: &'static str,
    pub message: String,
}

impl ParseError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

macro_rules! string_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                <$t>::from_str(&raw).map_err(serde::de::Error::custom)
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// Whether a text may span lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    One,
    Many,
}

/// Characters that change the direction or visibility of the text around them (bidi embeddings,
/// overrides and isolates, direction marks, zero-width spaces, the byte order mark) and line or
/// paragraph separators. A name containing them reads differently in a PDF, a browser and a
/// terminal, so no text the registry publishes may hold them.
fn is_deceptive(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

/// The one rule for text people write into the registry (names, reasons, feedback, labels): `min`
/// to `max` characters, none of them control characters (a line break only where `lines` allows
/// it) or characters that change how the text around them reads. Returns the rule in words when
/// `text` breaks it. Escaping for each place a text is written into is the renderer's job; this
/// rule keeps out what no escaping can make safe to read.
pub fn printable_text(text: &str, min: usize, max: usize, lines: Lines) -> Result<(), String> {
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
        "{min} to {} printable characters ({breaks}, no control characters, no bidirectional or invisible formatting characters)",
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

/// The earliest and latest dates the registry records or answers about. The programme began in
/// the 2010s and an award lasts two years; a date outside these bounds is a typing mistake.
pub const EARLIEST_DATE: NaiveDate = NaiveDate::from_ymd_opt(2000, 1, 1).expect("a real date");
pub const LATEST_DATE: NaiveDate = NaiveDate::from_ymd_opt(2099, 12, 31).expect("a real date");

/// `date` if it is within the registry's bounds, else the rule in words.
pub fn date_in_range(date: NaiveDate) -> Result<NaiveDate, ParseError> {
    if (EARLIEST_DATE..=LATEST_DATE).contains(&date) {
        Ok(date)
    } else {
        Err(ParseError::new(
            "date_out_of_range",
            format!("a date must be between {EARLIEST_DATE} and {LATEST_DATE}; {date} is not"),
        ))
    }
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

    pub fn title(self) -> &'static str {
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
                "level_invalid",
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

    pub fn name(self) -> &'static str {
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
                    "region_invalid",
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
    pub fn as_str(self) -> &'static str {
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
    pub fn as_str(&self) -> &str {
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
                "ods_code_invalid",
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
            .map_err(|rule| ParseError::new("name_invalid", format!("a name is {rule}")))?;
        Ok(Name(name))
    }
}
string_serde!(Name);

/// A reason written by the programme team (for a suspension, revocation, amendment, pause):
/// 3 to 2,000 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reason(String);

impl Reason {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Reason {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let reason = s.trim();
        printable_text(reason, 3, 2000, Lines::Many).map_err(|rule| {
            ParseError::new(
                "reason_invalid",
                format!("a reason is required, saying why: {rule}"),
            )
        })?;
        Ok(Reason(reason.to_owned()))
    }
}
string_serde!(Reason);

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
                "public_url_invalid",
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
            .map_err(|_| ParseError::new("organisation_id_invalid", "an organisation id is a UUID"))
    }
}

/// Crockford's base-32 alphabet: no I, L, O or U, so a number read aloud or typed from paper
/// cannot be confused.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Data characters in a certificate number: 15 × 5 = 75 random bits.
const DATA_CHARS: usize = 15;

/// A certificate number: 15 random Crockford base-32 characters (75 bits) and one Luhn mod 32
/// check character, shown as four groups of four (`FDXE-J5BM-RRNV-PEDM`). Parsing forgives case,
/// spaces, missing hyphens and the look-alikes O/0 and I/L/1, and refuses a wrong check character.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CertificateNumber(String);

impl CertificateNumber {
    /// Builds a number from 75 bits of randomness (the caller supplies them: the domain has no
    /// random source).
    pub fn from_random(random: u128) -> Self {
        let mut data = Vec::with_capacity(DATA_CHARS + 1);
        for i in 0..DATA_CHARS {
            data.push(((random >> (5 * i)) & 31) as u8);
        }
        data.push(luhn_check(&data));
        CertificateNumber(group(&data))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number as it is when typed without separators, for search.
    pub fn compact(&self) -> String {
        self.0.replace('-', "")
    }

    /// Whether `text` is written the way a certificate number is, so that a search reads it as
    /// one (and a wrong check character as a slip) rather than as words: sixteen characters of
    /// the number's alphabet once hyphens and spaces are gone, unbroken or in four groups of
    /// four, with at least one digit. "Fenmarsh Hospital" has sixteen letters too, but as two
    /// words of eight with no digit it is a name.
    pub fn looks_like(text: &str) -> bool {
        let groups: Vec<&str> = text
            .split(|c: char| c == '-' || c.is_whitespace())
            .filter(|g| !g.is_empty())
            .collect();
        let lengths: Vec<usize> = groups.iter().map(|g| g.chars().count()).collect();
        let grouped = lengths.len() == 1 || lengths == [4, 4, 4, 4];
        grouped
            && lengths.iter().sum::<usize>() == DATA_CHARS + 1
            && groups.iter().any(|g| g.chars().any(|c| c.is_ascii_digit()))
            && digits_of(text).is_ok()
    }

    /// For a number whose check character is wrong, the numbers a single mistyped character
    /// would most likely have come from: the same data with the right check character.
    pub fn suggest(input: &str) -> Option<CertificateNumber> {
        let digits = digits_of(input).ok()?;
        if digits.len() != DATA_CHARS + 1 {
            return None;
        }
        let mut data = digits[..DATA_CHARS].to_vec();
        data.push(luhn_check(&data));
        Some(CertificateNumber(group(&data)))
    }
}

fn digits_of(input: &str) -> Result<Vec<u8>, ParseError> {
    let mut digits = Vec::with_capacity(DATA_CHARS + 1);
    for c in input.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        match ALPHABET.iter().position(|&a| a as char == c) {
            Some(index) => digits.push(index as u8),
            None => {
                return Err(ParseError::new(
                    "certificate_number_malformed",
                    format!(
                        "a certificate number has 16 letters and digits (no U), like FDXE-J5BM-RRNV-PEDM; {c:?} is not one of them"
                    ),
                ));
            }
        }
    }
    Ok(digits)
}

fn group(digits: &[u8]) -> String {
    let mut out = String::with_capacity(19);
    for (i, d) in digits.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(ALPHABET[*d as usize] as char);
    }
    out
}

/// Luhn mod N (N = 32): catches every single mistyped character and most swaps of neighbours.
fn luhn_check(data: &[u8]) -> u8 {
    let sum = luhn_sum(data, 2);
    ((32 - sum % 32) % 32) as u8
}

fn luhn_sum(digits: &[u8], first_factor: u32) -> u32 {
    let mut factor = first_factor;
    let mut sum = 0;
    for d in digits.iter().rev() {
        let addend = factor * u32::from(*d);
        sum += addend / 32 + addend % 32;
        factor = if factor == 2 { 1 } else { 2 };
    }
    sum
}

impl FromStr for CertificateNumber {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = digits_of(s)?;
        if digits.len() != DATA_CHARS + 1 {
            return Err(ParseError::new(
                "certificate_number_malformed",
                format!(
                    "a certificate number has 16 letters and digits, like FDXE-J5BM-RRNV-PEDM; this one has {}",
                    digits.len()
                ),
            ));
        }
        if !luhn_sum(&digits, 1).is_multiple_of(32) {
            return Err(ParseError::new(
                "certificate_number_check_failed",
                "the certificate number's last character does not match the others: a character was probably mistyped",
            ));
        }
        Ok(CertificateNumber(group(&digits)))
    }
}
string_serde!(CertificateNumber);

/// Lower case, letters and digits only, single spaces: the basis of forgiving comparison.
pub fn normalise_words(s: &str) -> String {
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

/// The first day an award is no longer valid: its second anniversary. An award made on
/// 29 February expires on 28 February two years on (so it is valid through the 27th).
pub fn expiry_of(awarded_on: NaiveDate) -> NaiveDate {
    awarded_on
        .checked_add_months(Months::new(24))
        .expect("two years after a date in the registry's range is representable")
}

/// The last day an award is valid: the day before its expiry.
pub fn valid_until_of(awarded_on: NaiveDate) -> NaiveDate {
    expiry_of(awarded_on)
        .pred_opt()
        .expect("the day before a representable date is representable")
}

/// The first instant of a UK calendar day, in UTC (statuses flip at local midnight).
pub fn start_of_uk_day(date: NaiveDate) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    let midnight = date
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists on every calendar day");
    chrono_tz::Europe::London
        .from_local_datetime(&midnight)
        .earliest()
        .map_or_else(
            || chrono::Utc.from_utc_datetime(&midnight),
            |t| t.with_timezone(&chrono::Utc),
        )
}

/// The issuer's name as it was on a date: Health Education England merged into NHS England on
/// 1 April 2023.
pub fn issuer_name_on(date: NaiveDate) -> &'static str {
    if date < NaiveDate::from_ymd_opt(2023, 4, 1).expect("a valid constant date") {
        "Health Education England"
    } else {
        "NHS England"
    }
}

/// The scheme every award in this registry belongs to, shown so that it cannot be confused with
/// an older, unrelated scheme of the same name.
pub const SCHEME: &str = "NHS England Work Experience Quality Standard (WEx QS)";

/// Formats a date the way the UK writes it: 1 January 2026.
pub fn long_date(date: NaiveDate) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    format!(
        "{} {} {}",
        date.day(),
        MONTHS[date.month0() as usize],
        date.year()
    )
}
