//! Staff: the people allowed into the console, an allow-list of identities at an OpenID
//! Provider (issuer and subject) with a name, an e-mail address and a role. Their value types,
//! the events that keep the list (private: only the programme team reads them) and the list as
//! the state holds it. The rules (no one listed twice, never without an admin) are in
//! `decide/staff.rs`.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error_codes::ErrorCode;

use super::parse::{ParseError, string_serde};
use super::types::{Lines, Name, printable_text};

/// The stream that holds the staff list: one stream, because "never without an admin" spans
/// every member.
pub(crate) const STAFF_STREAM: &str = "staff";

/// What a member of staff may do in the console, as an API token's role does in the API: an
/// admin changes the register, a reviewer reads it and decides applications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaffRole {
    Admin,
    Reviewer,
}

impl StaffRole {
    pub fn as_str(self) -> &'static str {
        match self {
            StaffRole::Admin => "admin",
            StaffRole::Reviewer => "reviewer",
        }
    }
}

impl FromStr for StaffRole {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "admin" => Ok(StaffRole::Admin),
            "reviewer" => Ok(StaffRole::Reviewer),
            _ => Err(ParseError::new(
                ErrorCode::StaffRoleInvalid,
                "a member of staff's role is admin or reviewer",
            )),
        }
    }
}

/// A member of staff's id in the registry: 12 lower-case hexadecimal digits, made by the service.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StaffId(String);

impl StaffId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for StaffId {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = s.len() == 12 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !ok {
            return Err(ParseError::new(
                ErrorCode::StaffIdInvalid,
                "a member of staff's id is 12 lower-case hexadecimal digits",
            ));
        }
        Ok(StaffId(s.to_owned()))
    }
}
string_serde!(StaffId);

/// The OpenID Provider a person signs in at, by its issuer identifier: an `https://` URL (or
/// `http://` on a loopback address, for trying the console locally), at most 500 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Issuer(String);

impl Issuer {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Issuer {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
            .iter()
            .any(|p| {
                s.strip_prefix(p)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
            });
        let ok = (s.starts_with("https://") && s.len() > "https://".len() || loopback)
            && s.len() <= 500
            && s.chars().all(|c| c.is_ascii_graphic())
            && !s.contains(['?', '#']);
        if !ok {
            return Err(ParseError::new(
                ErrorCode::IssuerInvalid,
                "an identity provider's issuer is an https:// URL (http:// only on a loopback address) of at most 500 characters, with no query or fragment",
            ));
        }
        Ok(Issuer(s.to_owned()))
    }
}
string_serde!(Issuer);

/// The identifier a provider gives a person (the ID token's `sub`): 1 to 255 printable ASCII
/// characters, as OpenID Connect Core allows.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Subject(String);

impl Subject {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Subject {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = (1..=255).contains(&s.len()) && s.chars().all(|c| c.is_ascii_graphic());
        if !ok {
            return Err(ParseError::new(
                ErrorCode::SubjectInvalid,
                "a subject is the identity provider's id for a person: 1 to 255 printable ASCII characters, no spaces",
            ));
        }
        Ok(Subject(s.to_owned()))
    }
}
string_serde!(Subject);

/// An e-mail address, as a person would type it: one `@` with text either side, a dot in the
/// domain, no spaces, at most 254 characters. Stored as typed (trimmed).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Email {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let ok = printable_text(s, 3, 254, Lines::One).is_ok()
            && !s.chars().any(char::is_whitespace)
            && s.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            });
        if !ok {
            return Err(ParseError::new(
                ErrorCode::EmailInvalid,
                "an e-mail address is name@domain, with no spaces, at most 254 characters",
            ));
        }
        Ok(Email(s.to_owned()))
    }
}
string_serde!(Email);

/// Someone added to the staff list (private).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffAdded {
    pub staff_id: StaffId,
    pub issuer: Issuer,
    pub subject: Subject,
    pub name: Name,
    pub email: Email,
    pub role: StaffRole,
}

/// A member of staff given another role (private).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffRoleChanged {
    pub staff_id: StaffId,
    pub role: StaffRole,
}

/// A member of staff taken off the list (private): their sessions end, and they can no longer
/// sign in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffRemoved {
    pub staff_id: StaffId,
}

/// A member of staff as the state holds them: as added, with their role now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffMember {
    pub staff_id: StaffId,
    pub issuer: Issuer,
    pub subject: Subject,
    pub name: Name,
    pub email: Email,
    pub role: StaffRole,
    /// The log position that added them.
    pub added_at: u64,
}

/// How many of the staff are admins.
pub(crate) fn admins<'a>(staff: impl IntoIterator<Item = &'a StaffMember>) -> usize {
    staff
        .into_iter()
        .filter(|m| m.role == StaffRole::Admin)
        .count()
}
