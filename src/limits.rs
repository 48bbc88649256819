//! Every bound on what a client sends, in one place. Each byte from outside is counted against one
//! of these before it is inflated, decoded or parsed, so no request can make the registry hold
//! more than a few megabytes or work for more than a moment. `RELIABILITY.md` lists them too.

/// The largest request body any route reads (an admin import of a few thousand rows fits).
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// The largest credential or baked image `POST /v1/verify` reads.
pub(crate) const MAX_PRESENTED: usize = 2 * 1024 * 1024;

/// The largest credential JSON the registry reads once it is out of its wrapping: inflated from a
/// PNG text chunk, cut out of an SVG, or sent as it is. A credential the registry signs is a few
/// kilobytes; a hundred times that is still a credential, more is an attack.
pub(crate) const MAX_CREDENTIAL_JSON: usize = 512 * 1024;

/// The most memory the PNG decoder may allocate while reading a presented image's chunks.
pub(crate) const MAX_PNG_DECODER_BYTES: usize = 8 * 1024 * 1024;

/// The largest bitstring a status list may inflate to: 131,072 entries are 16 KiB; the W3C
/// minimum list is the same, so sixteen times that is generous.
pub(crate) const MAX_STATUS_LIST_BITS_BYTES: usize = 256 * 1024;

/// The longest `Idempotency-Key` a write takes, in bytes (it is kept with the write's answer).
pub(crate) const MAX_IDEMPOTENCY_KEY: usize = 255;

/// The longest request id taken from a client or a proxy (`X-Request-Id`); a minted one is 16
/// characters.
pub(crate) const MAX_REQUEST_ID: usize = 64;

/// The most events a page of the admin event feed holds (`GET /v1/admin/events?limit=`).
pub(crate) const MAX_EVENTS_PAGE: u32 = 1_000;

/// The most rows a page of the programme team's lists holds (`GET /v1/admin/organisations`,
/// `GET /v1/admin/applications`: `?limit=`).
pub(crate) const MAX_ADMIN_LIST_PAGE: u32 = 1_000;

/// The most deliveries a page of a webhook's history holds (`?limit=`).
pub(crate) const MAX_DELIVERIES_PAGE: u32 = 1_000;

/// The most log entries one answer of `GET /v1/log/entries` holds (`?limit=`).
pub(crate) const MAX_LOG_ENTRIES_PAGE: u32 = 1_000;

/// The most entries a page of a feed holds (`?limit=`).
pub(crate) const MAX_FEED_PAGE: usize = 1_000;

/// The most bytes in a webhook's target URL (`POST /v1/admin/webhooks`); its refusal names
/// the bound as 2,000 characters.
pub(crate) const MAX_WEBHOOK_URL: usize = 2_000;

/// The most awards a page of the register holds (`GET /v1/register?per_page=`).
pub(crate) const MAX_REGISTER_PER_PAGE: u32 = 100;

/// The furthest page of the register one may ask for (`?page=`): beyond it the offset is work
/// for nothing.
pub(crate) const MAX_REGISTER_PAGE: u32 = 100_000;

/// The longest search of the register, in characters (`?q=`).
pub(crate) const MAX_SEARCH_CHARS: usize = 200;

/// The narrowest and widest card an oEmbed consumer may ask for (`maxwidth`, in pixels).
pub(crate) const EMBED_WIDTHS: std::ops::RangeInclusive<u32> = 240..=600;

/// The most answers about awards kept prepared at once (a verification answer is a few
/// kilobytes): any client can ask about every award.
pub(crate) const MAX_PREPARED_ANSWERS: usize = 8_192;

/// The most signed credentials' texts kept in memory at once (about 2.5 kB each, so at most
/// 10 MB): the rest are read from the log when asked for (`service::credential_texts`).
pub(crate) const MAX_KEPT_CREDENTIALS: usize = 4_096;

/// The most register search answers (`GET /v1/register`) kept at once, and the largest one kept
/// (a page of 100 results is about 60 kB): any client can ask any search, so at most 16 MB.
pub(crate) const MAX_PREPARED_SEARCHES: usize = 256;
pub(crate) const MAX_PREPARED_SEARCH_BYTES: usize = 64 * 1024;

/// The client addresses a rate limiter remembers before it forgets those not seen lately.
pub(crate) const MAX_LIMITED_ADDRESSES: usize = 100_000;

/// The largest log position or cursor a route accepts (positions are stored as signed 64-bit
/// integers: a larger number would wrap).
pub(crate) const MAX_POSITION: u64 = i64::MAX as u64;

/// The most credentials checked at once; more wait their turn, so a burst of large
/// verifications cannot take every core from the rest of the service.
pub(crate) const MAX_CONCURRENT_VERIFICATIONS: usize = 4;

/// The most pieces of export downloads (`render::export::PIECE`, 64 KiB each) made at once, on
/// the blocking pool; more wait their turn, so downloads (or clients that ask for exports and
/// never read them) cannot take every core from the rest of the service.
pub(crate) const MAX_CONCURRENT_EXPORT_PIECES: usize = 1;

/// The longest public reason for a change of an award (suspension, reinstatement, revocation,
/// amendment): public and permanent, so short; the detail goes in the private note. Older
/// reasons in the log (up to the 2,000 characters any reason may have) still read.
pub(crate) const MAX_PUBLIC_REASON_CHARS: usize = 300;

/// The longest private note added to a change of an award.
pub(crate) const MAX_PRIVATE_NOTE_CHARS: usize = 4000;

/// The most rows a search with no exact match counts while looking for names one slip away:
/// the rows holding each 3-byte sequence of the query's words, rarest sequence first, until this
/// many have been counted. Bounds the work of a search that matches nothing, whatever the size
/// of the register (a register of 50,000 awards answers in a few milliseconds).
pub(crate) const MAX_SUGGESTION_POSTINGS: usize = 200_000;

/// The most candidate names a search with no exact match compares, word by word, with the
/// query: those sharing the most 3-byte sequences with it.
pub(crate) const MAX_SUGGESTION_CANDIDATES: usize = 2_000;

/// The most queries whose near matches are kept until the register next moves (a query is at
/// most 200 characters, so the cache holds well under a megabyte).
pub(crate) const SUGGESTION_CACHE_ENTRIES: usize = 1_024;

/// The most bytes the rendered images kept for reuse (baked PNG logos, QR codes, certificates)
/// hold together, keys included: any client can ask for every award's images, so the cache is
/// bounded by what it holds, not by how many. An image larger than an eighth of this is served
/// and not kept.
pub const MAX_IMAGE_CACHE_BYTES: usize = 32 * 1024 * 1024;

/// `bytes` as a person reads a size ("2 MiB", "512 KiB").
pub(crate) fn human_size(bytes: usize) -> String {
    if bytes >= 1024 * 1024 && bytes.is_multiple_of(1024 * 1024) {
        format!("{} MiB", bytes / (1024 * 1024))
    } else if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

/// The room a body is charged against `Limits::body_budget` when its head arrives, and the step
/// its charge grows by as its bytes arrive: a body holds room for what it has sent (rounded up
/// to a step), not for what it announces. So the budget bounds the number of bodies read at once
/// too (`body_budget / BODY_CHARGE_MIN`), and bodies announced and never sent cannot fill it
/// while `max_connections * BODY_CHARGE_MIN` is below it (768 × 64 KiB = 48 MiB, of 64 MiB).
pub const BODY_CHARGE_MIN: usize = 64 * 1024;

/// Connections the kernel holds for `wexqs serve` before its accept loop takes them (capped by
/// the system's `net.core.somaxconn`, 4,096 on current Linux). Beyond it a new connection is
/// dropped and its client tries again only after 1 s, so under a flood of connections a short
/// queue makes every client, legitimate or not, wait seconds.
pub(crate) const LISTEN_BACKLOG: u32 = 4096;

/// How long a body waits for room in `Limits::body_budget` before it is refused with 503.
pub(crate) const BODY_BUDGET_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// The bounds on connections and on the bodies they send, which an operator may change
/// (`wexqs serve`'s options of the same names; README, "Configuration"). `Default` is what `serve`
/// starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest a body may take to arrive once its head has: a slower one is cut off with 408.
    pub body_timeout: std::time::Duration,
    /// The longest a response may wait for a client that does not read it: after this long
    /// without a byte written, the connection is dropped.
    pub write_stall: std::time::Duration,
    /// Connections open at once, from everyone; more are refused with 503 as they arrive.
    pub max_connections: usize,
    /// Connections open at once from one client address; more are refused with 503. Once half
    /// of `max_connections` are open, an address may open more only while it holds fewer than an
    /// eighth of this (two at least), so a few addresses cannot take every connection.
    pub max_connections_per_address: usize,
    /// Bytes of request bodies being read at once, from everyone (each body counts what it has
    /// sent, in steps of `BODY_CHARGE_MIN`, one step at least and `MAX_BODY` at most). A body
    /// that needs room there is not waits `BODY_BUDGET_WAIT`, then gets 503.
    pub body_budget: usize,
    /// Admin requests without a valid token each client address may make a minute; more get
    /// 429 (0: no limit).
    pub admin_failures_per_minute: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            body_timeout: std::time::Duration::from_secs(10),
            write_stall: std::time::Duration::from_secs(30),
            // Under the 1,024 files a process gets by default, with room for the database,
            // the log and the connections being refused.
            max_connections: 768,
            max_connections_per_address: 64,
            body_budget: 64 * 1024 * 1024,
            admin_failures_per_minute: 30,
        }
    }
}

impl Limits {
    /// `Default`, without the per-address bounds: for a registry reached through one address
    /// (a proxy in front, or the tests' many clients on 127.0.0.1).
    pub fn one_address() -> Limits {
        Limits {
            max_connections_per_address: usize::MAX,
            admin_failures_per_minute: 0,
            ..Limits::default()
        }
    }

    /// What a body is charged when its head arrives, and the step its charge grows by.
    pub(crate) fn body_charge_step(&self) -> usize {
        BODY_CHARGE_MIN.min(self.body_budget)
    }
}
