//! The log: every event one line on standard error, as text or as one JSON object a line
//! (`--log-format`), filtered by `WEXQS_LOG` (default `info`; access lines are target
//! `wexqs::access`, so `WEXQS_LOG=warn` turns them off), each line logged while a request is
//! handled naming its request id.
//!
//! Cheap enough to stay on for every request: a line is formatted by hand into a buffer of its
//! thread (no span is made a request, no field is formatted twice) and copied into one shared
//! 64 KiB buffer. Access lines at info, one a request, are written from there in blocks, at the
//! latest 50 ms after they were logged, by a thread of their own; any other line is written at
//! once with what waits before it. What waits is written out at every exit: `flush` at the end of
//! a command, before a forced exit, and before a panic's message (a SIGKILL loses at most the
//! last 50 ms of access lines).

use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;

/// How each log line is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// `TIME LEVEL target: message key=value… request_id=…`
    Text,
    /// One JSON object a line: `timestamp`, `level`, `target`, `message`, the event's fields,
    /// and `request_id` while a request is handled.
    Json,
}

/// The target of the access lines, the one kind of line written in blocks.
pub(crate) const ACCESS: &str = "wexqs::access";

pub(crate) use crate::limits::MAX_REQUEST_ID;

/// A request's id: 1 to `MAX_REQUEST_ID` letters, digits and `-_.:+=/@`, nothing that could
/// break a log line or a header. Held inline: making, copying and logging one allocates nothing.
#[derive(Clone, Copy)]
pub(crate) struct RequestId {
    len: u8,
    bytes: [u8; MAX_REQUEST_ID],
}

impl RequestId {
    /// A proxy's id, if it is short and plain.
    pub(crate) fn accept(value: &[u8]) -> Option<RequestId> {
        let safe = |b: &u8| b.is_ascii_alphanumeric() || b"-_.:+=/@".contains(b);
        if value.is_empty() || value.len() > MAX_REQUEST_ID || !value.iter().all(safe) {
            return None;
        }
        let mut bytes = [0; MAX_REQUEST_ID];
        bytes[..value.len()].copy_from_slice(value);
        Some(RequestId {
            len: value.len() as u8,
            bytes,
        })
    }

    /// A new id: 64 random bits as 16 hexadecimal digits.
    pub(crate) fn mint() -> RequestId {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let n: u64 = rand::random();
        let mut bytes = [0; MAX_REQUEST_ID];
        for (i, b) in bytes[..16].iter_mut().enumerate() {
            *b = HEX[((n >> (60 - 4 * i)) & 0xf) as usize];
        }
        RequestId { len: 16, bytes }
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only ever holds the ASCII characters `accept` and `mint` allow.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl std::fmt::Debug for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

tokio::task_local! {
    /// The id of the request being handled, for every line logged while it is.
    static REQUEST_ID: RequestId;
}

/// Runs `work` as the request `id`: every line it logs names the id.
pub(crate) async fn in_request<F: Future>(id: RequestId, work: F) -> F::Output {
    REQUEST_ID.scope(id, work).await
}

/// The filter: `WEXQS_LOG` if set and valid, else info with sqlx and actix-server's chatter at
/// warn.
fn filter() -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_env("WEXQS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,actix_server=warn"))
        // sqlx warns of a database URL parameter it does not know with the parameter's value
        // (`sslpassword`'s included): never logged, whatever WEXQS_LOG asks.
        .add_directive(
            "sqlx_postgres::options=error"
                .parse()
                .expect("a constant directive parses"),
        )
}

/// Installs the log (once; a second call changes nothing) and a panic hook that writes out
/// what the log holds before the panic's message.
pub(crate) fn init_logging(format: LogFormat) {
    let installed = tracing_subscriber::registry()
        .with(filter())
        .with(Lines { format })
        .try_init();
    if installed.is_ok() {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            flush();
            previous(info);
        }));
    }
}

/// A failure said on standard error in the log's format: `error: …` as text, an ERROR object
/// as JSON (so every line of a JSON run parses).
pub(crate) fn say_error(format: LogFormat, message: &str) {
    let mut line = String::new();
    match format {
        LogFormat::Text => {
            line.push_str("error: ");
            line.push_str(message);
        }
        LogFormat::Json => {
            line.push_str("{\"timestamp\":\"");
            push_timestamp(&mut line);
            line.push_str("\",\"level\":\"ERROR\",\"target\":\"wexqs\",\"message\":");
            json_string(&mut line, message);
            line.push('}');
        }
    }
    line.push('\n');
    flush();
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// Writes out every line logged so far (at exit, so that none is lost).
pub(crate) fn flush() {
    if let Some(sink) = SINK.get() {
        let mut out = sink.lock().unwrap_or_else(|e| e.into_inner());
        let _ = out.flush();
    }
}

/// The lines waiting to be written, behind one lock: a line is added whole, and a full block is
/// written by whoever adds to it.
type Sink = Mutex<std::io::BufWriter<std::io::Stderr>>;

/// The block written at once.
const BLOCK: usize = 64 * 1024;

/// The longest a line waits to be written.
const LATEST: Duration = Duration::from_millis(50);

static SINK: OnceLock<Sink> = OnceLock::new();

/// The sink, made (with the thread that writes it out every `LATEST`) at the first line.
fn sink() -> &'static Sink {
    SINK.get_or_init(|| {
        let spawned = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(|| {
                loop {
                    std::thread::sleep(LATEST);
                    flush();
                }
            });
        if spawned.is_err() {
            // Without the thread every line is written as it comes.
            return Mutex::new(std::io::BufWriter::with_capacity(0, std::io::stderr()));
        }
        Mutex::new(std::io::BufWriter::with_capacity(BLOCK, std::io::stderr()))
    })
}

thread_local! {
    /// The line being formatted, kept between lines so formatting one allocates nothing.
    static LINE: RefCell<String> = RefCell::new(String::with_capacity(512));
}

/// The layer that turns each event the filter lets through into a line.
struct Lines {
    format: LogFormat,
}

impl<S: Subscriber> Layer<S> for Lines {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        LINE.with(|line| {
            let Ok(mut line) = line.try_borrow_mut() else {
                return; // an event logged while formatting one: dropped, never a panic
            };
            line.clear();
            let request_id = REQUEST_ID.try_with(|id| *id).ok();
            match self.format {
                LogFormat::Text => text_line(&mut line, event, request_id),
                LogFormat::Json => json_line(&mut line, event, request_id),
            }
            line.push('\n');
            let mut out = sink().lock().unwrap_or_else(|e| e.into_inner());
            let _ = out.write_all(line.as_bytes());
            // Every line but an access line at info is written at once (with those before it),
            // so that what a process said as it started, warned or failed outlives a kill.
            let meta = event.metadata();
            if meta.target() != ACCESS || *meta.level() <= Level::WARN {
                let _ = out.flush();
            }
        });
    }
}

/// Writes the time now into `line`, RFC 3339 in UTC to the microsecond, without allocating: the
/// date and time to the second are kept a thread and remade when the second changes.
fn push_timestamp(line: &mut String) {
    thread_local! {
        static SECOND: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
    }
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let (seconds, micros) = (since.as_secs() as i64, since.subsec_micros());
    SECOND.with(|cached| {
        let mut cached = cached.borrow_mut();
        if cached.0 != seconds {
            cached.1.clear();
            let now = chrono::DateTime::from_timestamp(seconds, 0).unwrap_or_default();
            let _ = write!(cached.1, "{}", now.format("%Y-%m-%dT%H:%M:%S"));
            cached.0 = seconds;
        }
        line.push_str(&cached.1);
    });
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(micros);
    line.push('.');
    line.push_str(&"000000"[digits.len()..]);
    line.push_str(digits);
    line.push('Z');
}

/// `TIME LEVEL target: message key=value… request_id=…`, every value on the one line (a line
/// break or other control character in one is written escaped).
fn text_line(line: &mut String, event: &Event<'_>, request_id: Option<RequestId>) {
    let meta = event.metadata();
    push_timestamp(line);
    line.push_str(match *meta.level() {
        Level::ERROR => " ERROR ",
        Level::WARN => "  WARN ",
        Level::INFO => "  INFO ",
        Level::DEBUG => " DEBUG ",
        Level::TRACE => " TRACE ",
    });
    line.push_str(meta.target());
    line.push(':');
    let mut fields = TextFields {
        line,
        message: true,
    };
    event.record(&mut fields);
    if let Some(id) = request_id {
        line.push_str(" request_id=");
        line.push_str(id.as_str());
    }
}

/// One JSON object: `timestamp`, `level`, `target`, the event's fields (`message` among them),
/// `request_id`.
fn json_line(line: &mut String, event: &Event<'_>, request_id: Option<RequestId>) {
    let meta = event.metadata();
    line.push_str("{\"timestamp\":\"");
    push_timestamp(line);
    line.push_str("\",\"level\":\"");
    line.push_str(level(meta.level()));
    line.push_str("\",\"target\":");
    json_string(line, meta.target());
    if let Some(id) = request_id {
        line.push_str(",\"request_id\":");
        json_string(line, id.as_str());
    }
    let mut fields = JsonFields {
        line,
        skip_request_id: request_id.is_some(),
    };
    event.record(&mut fields);
    line.push('}');
}

fn level(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARN",
        Level::INFO => "INFO",
        Level::DEBUG => "DEBUG",
        Level::TRACE => "TRACE",
    }
}

/// A text line's fields: the message first, bare, then `name=value`.
struct TextFields<'a> {
    line: &'a mut String,
    message: bool,
}

impl Visit for TextFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.name(field);
        text_value(self.line, value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.name(field);
        self.line.push_str(itoa::Buffer::new().format(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.name(field);
        self.line.push_str(itoa::Buffer::new().format(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.name(field);
        let _ = write!(TextEscaped(self.line), "{value:?}");
    }
}

impl TextFields<'_> {
    fn name(&mut self, field: &Field) {
        self.line.push(' ');
        if field.name() != "message" || !std::mem::take(&mut self.message) {
            self.line.push_str(field.name());
            self.line.push('=');
        }
    }
}

/// A value on a text line: as it is, but each control character escaped.
fn text_value(line: &mut String, value: &str) {
    let _ = TextEscaped(line).write_str(value);
}

/// Whether a byte of UTF-8 may belong to a control character (C0, DEL, or the first byte of
/// C1's two): the common text with none is copied whole.
fn may_be_control(b: u8) -> bool {
    b < 0x20 || b == 0x7f || b == 0xc2
}

/// Writes into a text line, each control character escaped.
struct TextEscaped<'a>(&'a mut String);

impl std::fmt::Write for TextEscaped<'_> {
    fn write_str(&mut self, value: &str) -> std::fmt::Result {
        if !value.bytes().any(may_be_control) {
            self.0.push_str(value);
            return Ok(());
        }
        for c in value.chars() {
            if c.is_control() {
                self.0.extend(c.escape_default());
            } else {
                self.0.push(c);
            }
        }
        Ok(())
    }
}

/// A JSON line's fields: numbers and booleans as themselves, the rest as strings.
struct JsonFields<'a> {
    line: &'a mut String,
    skip_request_id: bool,
}

impl JsonFields<'_> {
    /// `,"name":` — or false for a field the line already has.
    fn name(&mut self, field: &Field) -> bool {
        if self.skip_request_id && field.name() == "request_id" {
            return false;
        }
        self.line.push(',');
        json_string(self.line, field.name());
        self.line.push(':');
        true
    }
}

impl Visit for JsonFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.name(field) {
            json_string(self.line, value);
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.name(field) {
            self.line.push_str(itoa::Buffer::new().format(value));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.name(field) {
            self.line.push_str(itoa::Buffer::new().format(value));
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.name(field) {
            self.line.push_str(if value { "true" } else { "false" });
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if self.name(field) {
            if value.is_finite() {
                let _ = write!(self.line, "{value}");
            } else {
                json_string(self.line, &value.to_string());
            }
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if self.name(field) {
            self.line.push('"');
            let _ = write!(JsonEscaped(self.line), "{value:?}");
            self.line.push('"');
        }
    }
}

/// `value` as a JSON string: quoted, with `"`, `\` and every control character escaped.
fn json_string(line: &mut String, value: &str) {
    line.push('"');
    let _ = JsonEscaped(line).write_str(value);
    line.push('"');
}

/// Writes into a JSON string, escaping what JSON requires.
struct JsonEscaped<'a>(&'a mut String);

impl std::fmt::Write for JsonEscaped<'_> {
    fn write_str(&mut self, value: &str) -> std::fmt::Result {
        let line = &mut *self.0;
        if !value
            .bytes()
            .any(|b| may_be_control(b) || b == b'"' || b == b'\\')
        {
            line.push_str(value);
            return Ok(());
        }
        for c in value.chars() {
            match c {
                '"' => line.push_str("\\\""),
                '\\' => line.push_str("\\\\"),
                '\n' => line.push_str("\\n"),
                '\r' => line.push_str("\\r"),
                '\t' => line.push_str("\\t"),
                c if c.is_control() => {
                    let _ = write!(line, "\\u{:04x}", u32::from(c));
                }
                c => line.push(c),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_string_escapes_what_json_requires() {
        let mut line = String::new();
        json_string(&mut line, "a \"q\" \\ \n\u{7}é");
        assert_eq!(line, r#""a \"q\" \\ \n\u0007é""#);
        let parsed: String = serde_json::from_str(&line).expect("valid JSON");
        assert_eq!(parsed, "a \"q\" \\ \n\u{7}é");
    }

    #[test]
    fn a_request_id_is_short_and_plain_or_refused() {
        assert_eq!(
            RequestId::accept(b"edge-0001").expect("accepted").as_str(),
            "edge-0001"
        );
        for bad in [
            &b""[..],
            b"two words",
            b"quote\"d",
            b"line\nbreak",
            &[b'a'; 65],
        ] {
            assert!(RequestId::accept(bad).is_none(), "{bad:?}");
        }
        let minted = RequestId::mint();
        assert_eq!(minted.as_str().len(), 16);
        assert!(minted.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(minted.as_str(), RequestId::mint().as_str());
    }

    #[test]
    fn a_text_value_keeps_to_one_line() {
        let mut line = String::new();
        text_value(&mut line, "one\ntwo\u{1b}[31m");
        assert_eq!(line, "one\\ntwo\\u{1b}[31m");
    }
}
