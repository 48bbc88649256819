//! Rows of the projection and credential tables, as plain strings and numbers shared by both
//! databases (dates as `YYYY-MM-DD` text, which sorts and compares as dates in both).

/// An organisation as the `organisations` projection holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganisationRow {
    pub organisation_id: String,
    pub name: String,
    pub search_key: String,
    pub ods_code: Option<String>,
    pub region: String,
    pub kind: String,
}

/// An award as the `awards` projection holds it: what the register is searched by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwardRow {
    pub certificate_number: String,
    pub compact_number: String,
    pub organisation_id: String,
    pub organisation_name: String,
    pub search_key: String,
    pub ods_code: Option<String>,
    pub region: String,
    pub level: String,
    pub awarded_on: String,
    pub valid_until: String,
    pub expires_on: String,
    pub standing: String,
    pub issuer_name: String,
}

/// An API token: only a hash of its secret is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub token_id: String,
    pub name: String,
    pub role: String,
    pub secret_hash: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// A write that goes into the same transaction as the events it belongs to.
#[derive(Debug, Clone)]
pub enum Write {
    Organisation(OrganisationRow),
    Award(AwardRow),
    TokenCreated(TokenRow),
    TokenRevoked { token_id: String, at: String },
}

/// A search of the register. `today` decides which awards are valid or expired.
#[derive(Debug, Clone, Default)]
pub struct RegisterQuery {
    /// Matched against the organisation's search key (a fragment).
    pub search_key: Option<String>,
    /// Matched exactly against the ODS code.
    pub ods_code: Option<String>,
    /// Matched exactly against the certificate number without hyphens.
    pub compact_number: Option<String>,
    pub level: Option<String>,
    pub region: Option<String>,
    pub status: Option<String>,
    pub today: String,
    pub limit: u32,
    pub offset: u32,
}
