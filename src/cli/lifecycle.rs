//! `wexqs serve`'s shutdown options (`crate::http::lifecycle`; OPERATIONS.md, "Upgrades").

use std::time::Duration;

/// How `wexqs serve` stops.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct LifecycleArgs {
    /// After SIGTERM or SIGINT, the longest the server waits for requests in flight to finish
    /// before it exits anyway, in seconds (/readyz answers 503 from the signal on).
    #[arg(long, env = "WEXQS_SHUTDOWN_TIMEOUT", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub(crate) shutdown_timeout: u64,
}

impl LifecycleArgs {
    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout)
    }
}
