//! Where the log goes and how it looks: standard error, one line an event, as text or as one JSON
//! object a line (`--log-format`), filtered by `WEXQS_LOG` (default `info`; access lines are
//! target `wexqs::access`, so `WEXQS_LOG=warn` turns them off).

/// How each log line is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `TIME LEVEL span{request_id=…}: target: message key=value…`
    Text,
    /// One JSON object a line: `timestamp`, `level`, `target`, `message`, the event's fields,
    /// and `span` with the request id while a request is handled.
    Json,
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

/// Installs the subscriber (once; a second call changes nothing).
pub fn init_logging(format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

/// A failure said on standard error in the log's format: `error: …` as text, an ERROR object
/// as JSON (so every line of a JSON run parses).
pub fn say_error(format: LogFormat, message: &str) {
    match format {
        LogFormat::Text => eprintln!("error: {message}"),
        LogFormat::Json => eprintln!(
            "{}",
            serde_json::json!({
                "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                "level": "ERROR",
                "target": "wexqs",
                "message": message,
            })
        ),
    }
}
