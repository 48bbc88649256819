//! `wexqs serve`'s proxy options: which peers are trusted to say who the client is.

use crate::http::client::TrustedProxies;

/// Options for running behind a reverse proxy.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ProxyArgs {
    /// Reverse proxies (comma-separated addresses or CIDR ranges: 127.0.0.1,10.0.0.0/8) whose
    /// `Forwarded` or `X-Forwarded-For` header names the client, for the rate limits and the logs,
    /// and whose `X-Request-Id` is kept. From any other peer those headers are ignored.
    #[arg(
        long,
        env = "WEXQS_TRUSTED_PROXIES",
        default_value = "none",
        value_parser = TrustedProxies::parse,
        help_heading = "Proxy"
    )]
    pub(crate) trusted_proxies: TrustedProxies,
}
