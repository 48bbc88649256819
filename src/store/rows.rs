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

impl AwardRow {
    /// What a search tests and orders the row by.
    pub(crate) fn searched(&self) -> Searched<'_> {
        Searched {
            certificate_number: &self.certificate_number,
            compact_number: &self.compact_number,
            search_key: &self.search_key,
            ods_code: self.ods_code.as_deref(),
            region: &self.region,
            level: &self.level,
            awarded_on: &self.awarded_on,
            expires_on: &self.expires_on,
            standing: &self.standing,
        }
    }
}

/// What a register search tests and orders an award's row by, borrowed from an `AwardRow` or
/// from an award and its search key (the register index's row).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Searched<'a> {
    pub(crate) certificate_number: &'a str,
    pub(crate) compact_number: &'a str,
    pub(crate) search_key: &'a str,
    pub(crate) ods_code: Option<&'a str>,
    pub(crate) region: &'a str,
    pub(crate) level: &'a str,
    pub(crate) awarded_on: &'a str,
    pub(crate) expires_on: &'a str,
    pub(crate) standing: &'a str,
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
    /// When it last authenticated a request (written at most once a minute; `service::tokens`).
    pub last_used_at: Option<String>,
}

/// A write that goes into the same transaction as the events it belongs to.
#[derive(Debug, Clone)]
pub enum Write {
    Organisation(OrganisationRow),
    Award(AwardRow),
    TokenCreated(TokenRow),
    TokenRevoked {
        token_id: String,
        at: String,
    },
    WebhookCreated(super::webhooks::WebhookRow),
    /// A new secret, sealed; the one before keeps signing beside it until `previous_until`
    /// (unix ms).
    WebhookSecret {
        id: String,
        sealed_secret: Vec<u8>,
        previous_until: i64,
    },
    /// The cursor moved to `from`, the run of failures cleared, the subscription enabled.
    WebhookReplay {
        id: String,
        from: u64,
    },
    /// The subscription and its delivery history removed.
    WebhookDeleted {
        id: String,
    },
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

impl RegisterQuery {
    /// Whether `row` is one of this search's matches, as of `today`: the same rule the SQL
    /// search applies (a test holds the two to the same answers).
    pub(crate) fn matches(&self, row: Searched<'_>) -> bool {
        let text = [
            self.search_key
                .as_ref()
                // Search keys are lower-case letters, digits and single spaces (no `%` or `_`),
                // so "contains" is exactly `LIKE '%key%'` on both databases.
                .map(|k| row.search_key.contains(k.as_str())),
            self.ods_code
                .as_ref()
                .map(|c| row.ods_code == Some(c.as_str())),
            self.compact_number
                .as_ref()
                .map(|n| row.compact_number == n.as_str()),
        ];
        // Any of the text's readings asked for matches (no list made: this runs for every
        // candidate row of a search).
        let mut asked = text.into_iter().flatten().peekable();
        if asked.peek().is_some() && !asked.any(|hit| hit) {
            return false;
        }
        if self.level.as_ref().is_some_and(|l| l != row.level)
            || self.region.as_ref().is_some_and(|r| r != row.region)
        {
            return false;
        }
        // Dates are `YYYY-MM-DD` text, which compares as dates.
        let today = self.today.as_str();
        let standing = row.standing;
        let (awarded_on, expires_on) = (row.awarded_on, row.expires_on);
        let live = matches!(standing, "active" | "suspended");
        match self.status.as_deref() {
            Some("valid") => standing == "active" && awarded_on <= today && expires_on > today,
            Some("expired") => live && expires_on <= today,
            Some("suspended") => standing == "suspended" && expires_on > today,
            Some("not_yet_valid") => live && awarded_on > today,
            Some(s @ ("revoked" | "superseded")) => standing == s,
            _ => true,
        }
    }
}

/// The register's order: by search key, newest award first, then certificate number. Byte
/// order, as SQLite compares text and as PostgreSQL does in a database with the `C` collation.
pub fn register_order(a: &AwardRow, b: &AwardRow) -> std::cmp::Ordering {
    searched_order(a.searched(), b.searched())
}

/// `register_order`, of what a search orders rows by.
pub(crate) fn searched_order(a: Searched<'_>, b: Searched<'_>) -> std::cmp::Ordering {
    a.search_key
        .cmp(b.search_key)
        .then_with(|| b.awarded_on.cmp(a.awarded_on))
        .then_with(|| a.certificate_number.cmp(b.certificate_number))
}
