//! `wexqs serve`'s metrics options: the address Prometheus scrapes `GET /metrics` at
//! (`http::metrics`), on a listener of its own, loopback by default.

use anyhow::Context as _;

/// Where metrics are served when no address is given.
pub(crate) const DEFAULT_METRICS_BIND: &str = "127.0.0.1:9464";

/// `wexqs serve`'s metrics options (README, "Configuration"; OPERATIONS.md, "Metrics").
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct MetricsArgs {
    /// Address to serve Prometheus metrics on (GET /metrics), apart from the public listener;
    /// `none` serves none and counts nothing. Default 127.0.0.1:9464, and when that port is
    /// taken (a second instance on the host) the registry says so and serves no metrics; an
    /// address given that cannot be listened on stops the start.
    #[arg(long, env = "WEXQS_METRICS_BIND", value_name = "ADDR|none")]
    metrics_bind: Option<String>,
}

impl MetricsArgs {
    /// The metrics listener: `None` when metrics are off, or the default address is taken.
    pub(crate) fn listener(&self) -> anyhow::Result<Option<std::net::TcpListener>> {
        let (bind, given) = match self.metrics_bind.as_deref().map(str::trim) {
            Some(b) if b.eq_ignore_ascii_case("none") => return Ok(None),
            Some(b) => (b, true),
            None => (DEFAULT_METRICS_BIND, false),
        };
        match std::net::TcpListener::bind(bind) {
            Ok(listener) => Ok(Some(listener)),
            Err(e) if !given => {
                tracing::warn!(
                    error = %e,
                    "serving no metrics: cannot listen on {DEFAULT_METRICS_BIND}, the default metrics address (another instance on this host?); give each instance its own --metrics-bind, or none"
                );
                Ok(None)
            }
            Err(e) => Err(e).with_context(|| format!("cannot serve metrics on {bind}")),
        }
    }
}
