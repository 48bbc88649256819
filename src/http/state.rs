//! The application state every handler can reach: the registry, what is rendered once at start
//! (the OpenAPI document, the docs page), the caches of answers and images, and the bounds and
//! limiters the middleware applies.

use std::sync::Arc;

use super::limiter::{FailureLimiter, RateLimiter, failure_limiter};
use super::{client, docs, exports, images, lifecycle, metrics, prefix, prepared, transport};
use crate::service::Registry;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub(crate) registry: Arc<Registry>,
    /// The base URL people reach the registry at, without a trailing slash.
    pub(crate) public_url: String,
    /// The OpenAPI document as JSON, converted once from `openapi/openapi.yaml`.
    pub(crate) openapi_json: String,
    /// Rendered images, shared by the workers.
    pub(crate) images: Arc<images::ImageCache>,
    /// Answers about awards, prepared once per change and shared by the workers.
    pub(crate) prepared: Arc<prepared::Prepared>,
    /// Register searches' answers, kept once per search and version.
    pub(crate) searches: Arc<prepared::Searches>,
    /// The latest signature of each open data export, kept until what it reflects changes.
    pub(crate) export_signatures: Arc<exports::ExportSignatures>,
    /// The API docs page, rendered once from the OpenAPI document.
    pub(crate) docs_html: String,
    /// The framework applications are judged against.
    pub(crate) framework: Arc<crate::domain::framework::Framework>,
    /// Requests a second each client address may make to public routes (none: no limit).
    pub(crate) rate_limit: Option<Arc<RateLimiter>>,
    /// Turns for checking presented credentials (`crate::limits::MAX_CONCURRENT_VERIFICATIONS`).
    pub(crate) verifications: Arc<tokio::sync::Semaphore>,
    /// How webhook targets are checked (`wexqs serve`'s webhook options).
    pub(crate) webhooks: Arc<crate::service::webhooks::WebhookSettings>,
    /// The bounds on connections and bodies (`wexqs serve`'s options).
    pub(crate) limits: crate::limits::Limits,
    /// Room for the bodies being read at once, a permit a byte (`Limits::body_budget`).
    pub(crate) bodies: Arc<tokio::sync::Semaphore>,
    /// Failed admin attempts per client address (`Limits::admin_failures_per_minute`).
    pub(crate) admin_failures: Option<Arc<FailureLimiter>>,
    /// The connections open, counted by address (`Limits::max_connections`).
    pub connections: Arc<transport::Connections>,
    /// Serving or draining, and the requests in flight (`lifecycle`).
    pub(crate) lifecycle: Arc<lifecycle::Lifecycle>,
    /// The proxies whose word on the client's address is taken (`--trusted-proxies`).
    pub(crate) trusted_proxies: Arc<client::TrustedProxies>,
    /// The request series (none: metrics are off, and nothing is counted).
    pub(crate) metrics: Option<Arc<metrics::HttpMetrics>>,
    /// The programme team's console (none: no identity provider is configured, and `/console`
    /// says so).
    pub(crate) console: Option<Arc<super::console::Console>>,
}

/// The API description, as written.
pub const OPENAPI_YAML: &str = include_str!("../../openapi/openapi.yaml");

impl AppState {
    pub fn new(registry: Arc<Registry>, public_url: &str) -> AppState {
        let mut spec: serde_json::Value = serde_norway::from_str(OPENAPI_YAML)
            .expect("openapi/openapi.yaml is valid YAML (tested)");
        let public_url = public_url.trim_end_matches('/');
        // The document says where its paths are served: the public URL, with its path.
        spec["servers"] = serde_json::json!([{ "url": public_url }]);
        AppState {
            registry,
            public_url: public_url.to_owned(),
            docs_html: docs::render_docs(&spec, prefix::base_path(public_url)),
            openapi_json: spec.to_string(),
            images: Arc::default(),
            prepared: Arc::default(),
            searches: Arc::default(),
            export_signatures: Arc::default(),
            rate_limit: None,
            webhooks: Arc::default(),
            limits: crate::limits::Limits::one_address(),
            bodies: Arc::new(tokio::sync::Semaphore::new(
                crate::limits::Limits::one_address().body_budget,
            )),
            admin_failures: None,
            connections: Arc::default(),
            lifecycle: Arc::default(),
            trusted_proxies: Arc::default(),
            metrics: None,
            console: None,
            verifications: Arc::new(tokio::sync::Semaphore::new(
                crate::limits::MAX_CONCURRENT_VERIFICATIONS,
            )),
            framework: Arc::new(
                crate::domain::framework::Framework::parse(
                    crate::domain::framework::SAMPLE_FRAMEWORK,
                )
                .expect("the shipped framework is valid (tested)"),
            ),
        }
    }

    /// Bounds connections and bodies as `limits` say.
    pub fn with_limits(mut self, limits: crate::limits::Limits) -> AppState {
        self.limits = limits;
        self.bodies = Arc::new(tokio::sync::Semaphore::new(limits.body_budget));
        self.admin_failures = failure_limiter(limits.admin_failures_per_minute);
        self.connections = Arc::new(transport::Connections::default());
        self
    }

    /// Drains for at most `timeout` when the server is stopped (`lifecycle`).
    pub(crate) fn with_shutdown_timeout(mut self, timeout: std::time::Duration) -> AppState {
        self.lifecycle = Arc::new(lifecycle::Lifecycle::new(timeout));
        self
    }

    /// Takes the client's address from `Forwarded` / `X-Forwarded-For` when the peer is one of
    /// `proxies`.
    pub(crate) fn with_trusted_proxies(mut self, proxies: client::TrustedProxies) -> AppState {
        self.trusted_proxies = Arc::new(proxies);
        self
    }

    /// Counts and times requests into `metrics` (`http::metrics`).
    pub(crate) fn with_metrics(mut self, metrics: Arc<metrics::HttpMetrics>) -> AppState {
        self.metrics = Some(metrics);
        self
    }

    /// Serves the console, signing people in as `console` says.
    pub fn with_console(mut self, console: super::console::Console) -> AppState {
        self.console = Some(Arc::new(console));
        self
    }

    /// Checks webhook targets as `settings` say.
    pub(crate) fn with_webhooks(
        mut self,
        settings: crate::service::webhooks::WebhookSettings,
    ) -> AppState {
        self.webhooks = Arc::new(settings);
        self
    }

    /// Limits each client address to `per_second` requests a second on public routes, with
    /// bursts of up to five seconds' worth (0: no limit).
    pub fn with_rate_limit(mut self, per_second: u32) -> AppState {
        self.rate_limit = std::num::NonZeroU32::new(per_second).map(|n| {
            let burst = n.saturating_mul(std::num::NonZeroU32::new(5).expect("5 is not zero"));
            Arc::new(governor::RateLimiter::keyed(
                governor::Quota::per_second(n).allow_burst(burst),
            ))
        });
        self
    }
}
