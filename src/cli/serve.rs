//! `wexqs serve`: start the registry (through `startup`), sign what is missing, run the
//! background duties, and serve HTTP until SIGINT or SIGTERM.

use anyhow::Context as _;

use super::*;
use crate::http::{AppState, serve};
use crate::service::spawn_background;
use std::time::Duration;

/// `wexqs serve`'s options: each group of them is its own struct, flattened here.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    signing: SigningArgs,
    /// Address to listen on.
    #[arg(long, env = "WEXQS_BIND", default_value = "127.0.0.1:8080")]
    bind: String,
    /// Load the demo register first if the register has no organisations (with a register
    /// that has some, it loads nothing and says so).
    #[arg(long)]
    demo: bool,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "WEXQS_WORKERS")]
    workers: Option<usize>,
    /// Requests a second each client address may make to public routes, with bursts of
    /// five seconds' worth (0: no limit).
    #[arg(long, env = "WEXQS_RATE_LIMIT", default_value_t = 20)]
    rate_limit: u32,
    #[command(flatten)]
    webhooks: WebhookArgs,
    #[command(flatten)]
    limits: LimitArgs,
    #[command(flatten)]
    pub(crate) lifecycle: super::lifecycle::LifecycleArgs,
    #[command(flatten)]
    pub(crate) proxy: super::proxy::ProxyArgs,
    #[command(flatten)]
    metrics: super::metrics::MetricsArgs,
    #[command(flatten)]
    console: super::console::ConsoleArgs,
}

pub(super) async fn serve_command(args: ServeArgs) -> anyhow::Result<()> {
    // Each group of options is taken where it is used (`args.NAME`).
    let ServeArgs {
        signing,
        bind,
        demo,
        workers,
        rate_limit,
        ..
    } = args;
    refuse_unservable_path(signing.public_url.as_deref())?;
    let listener = listen(&bind)
        .await
        .with_context(|| format!("cannot listen on {bind}"))?;
    let metrics_listener = args.metrics.listener()?;
    let address = listener.local_addr()?;
    let (registry, public_url) = open_registry(&signing, address, demo).await?;
    if demo {
        load_demo(&registry).await?;
    }
    start_duties(&registry).await?;
    if signing.public_url.is_none() && public_url != format!("http://{address}") {
        tracing::info!(
            "the registry is recorded as reached at {public_url}, which its links and credentials name ('wexqs address set' moves it)"
        );
    }
    // Metrics are served from here on (said before the registry's own address, which is
    // the last line of the start).
    let metrics_server = metrics_listener
        .map(|listener| start_metrics(listener, &registry, &signing))
        .transpose()?;
    tracing::info!("serving the registry on http://{address} (public URL {public_url})");
    let webhooks = webhook_settings(&args.webhooks, &registry, &signing).await?;
    let deliveries = crate::service::spawn_webhook_deliveries(
        registry.clone(),
        webhooks.clone(),
        crate::http::webhooks::renderer(&public_url),
    );
    let mut state = AppState::new(registry.clone(), &public_url)
        .with_rate_limit(rate_limit)
        .with_webhooks(webhooks)
        .with_limits(args.limits.limits())
        .with_shutdown_timeout(args.lifecycle.timeout())
        .with_trusted_proxies(args.proxy.trusted_proxies.clone());
    if let Some((metrics, _)) = &metrics_server {
        state = state.with_metrics(metrics.clone());
    }
    if let Some(console) = args.console.console(&public_url)? {
        spawn_session_sweep(registry.clone(), console.policy);
        state = state.with_console(console);
    }
    serve_until_signal(listener, state, workers).await?;
    stop(deliveries, metrics_server).await;
    Ok(())
}

/// The metrics of the HTTP server and the handle that stops the listener serving them.
type MetricsServer = (
    Arc<crate::http::metrics::HttpMetrics>,
    actix_web::dev::ServerHandle,
);

/// The registry `serve` runs (a development key is made for `--demo`), and the public
/// address it signs for, refused if the server could not serve its path.
async fn open_registry(
    signing: &SigningArgs,
    address: std::net::SocketAddr,
    demo: bool,
) -> anyhow::Result<(Arc<Registry>, String)> {
    let registry = signing
        .registry_pooled(
            Unrecorded::Serve(address),
            if demo {
                NoKey::Development
            } else {
                NoKey::Refuse
            },
            Pooling::SERVER,
        )
        .await?;
    let public_url = registry
        .signing()
        .map(|s| s.public_url)
        .context("a server always has an address to sign for")?;
    refuse_unservable_path(Some(&public_url))?;
    tracing::info!(
        store = registry.store_kind(),
        events = registry.size(),
        "opened the registry"
    );
    Ok((registry, public_url))
}

/// `--demo`: the demo register, loaded only into a register with no organisations.
async fn load_demo(registry: &Registry) -> anyhow::Result<()> {
    if !registry.has_organisations() {
        let outcome = crate::service::demo::load(registry).await?;
        tracing::info!(awards = outcome.issued().len(), "loaded the demo register");
    } else {
        tracing::warn!(
            "--demo loads nothing: the register already has organisations (the demo loads only into an empty one; use another --data-dir or database for a fresh demo)"
        );
    }
    Ok(())
}

/// Signs the credentials that are missing, then starts the background duties.
async fn start_duties(registry: &Arc<Registry>) -> anyhow::Result<()> {
    // Behind its published log, it appends nothing: it serves 503s and says why until the
    // missing entries are re-entered (the credentials are signed at the next start).
    if registry.behind().is_none() {
        let signed = registry.issue_missing_credentials().await?;
        if signed > 0 {
            tracing::info!("signed credentials for {signed} awards that had none");
        }
    }
    spawn_background(
        registry.clone(),
        Duration::from_secs(1),
        Duration::from_secs(3600),
    );
    Ok(())
}

/// Serves `GET /metrics` on its own listener, in a task of its own.
fn start_metrics(
    listener: std::net::TcpListener,
    registry: &Arc<Registry>,
    signing: &SigningArgs,
) -> anyhow::Result<MetricsServer> {
    let metrics = Arc::new(crate::http::metrics::HttpMetrics::new());
    tracing::info!(
        "serving metrics on http://{}/metrics",
        listener.local_addr()?
    );
    let server = crate::http::metrics::serve_metrics(
        listener,
        metrics.clone(),
        registry.clone(),
        Some(signing.keys.registry.db.state_dir()),
    )?;
    let handle = server.handle();
    tokio::spawn(server);
    Ok((metrics, handle))
}

/// The webhook options, with the key that seals the subscriptions' secrets.
async fn webhook_settings(
    args: &WebhookArgs,
    registry: &Registry,
    signing: &SigningArgs,
) -> anyhow::Result<crate::service::webhooks::WebhookSettings> {
    let mut webhooks = args.settings();
    webhooks.sealing = startup::webhook_sealing(
        registry,
        signing.keys.keys_dir.as_deref(),
        &signing.keys.registry.db.data_dir,
    )
    .await?;
    if webhooks.allow_private_targets {
        tracing::warn!(
            "webhooks may be delivered to http:// and to private, loopback and link-local addresses (--webhooks-allow-private-targets)"
        );
    }
    Ok(webhooks)
}

/// Serves HTTP on `listener` until SIGINT or SIGTERM, then drains within the shutdown timeout.
async fn serve_until_signal(
    listener: std::net::TcpListener,
    state: AppState,
    workers: Option<usize>,
) -> anyhow::Result<()> {
    let (lifecycle, connections) = (state.lifecycle.clone(), state.connections.clone());
    let workers =
        workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let signal = async move {
        shutdown_signal().await;
        // Whatever is still running then, the process ends within the timeout.
        crate::http::lifecycle::exit_after(lifecycle, connections);
    };
    serve(listener, state, workers, signal).await?;
    Ok(())
}

/// Once the server has stopped: the webhook deliveries and the metrics listener.
async fn stop(deliveries: crate::service::Deliveries, metrics_server: Option<MetricsServer>) {
    // The subscriptions this instance was delivering go back at once, so that another
    // instance (or this one restarted) takes them up without waiting out their leases.
    let released = deliveries.stop().await;
    if released > 0 {
        tracing::info!("released the leases of {released} webhook subscriptions");
    }
    if let Some((_, handle)) = metrics_server {
        handle.stop(false).await;
    }
    tracing::info!("stopped");
}

/// The listening socket on `bind`, with room for the connections the accept loop has not taken
/// yet (`crate::limits::LISTEN_BACKLOG`): under a flood of connections the standard library's
/// 128 overflows, and a client whose connection is dropped there waits 1 s, then 3 s, to try
/// again.
async fn listen(bind: &str) -> anyhow::Result<std::net::TcpListener> {
    use std::net::ToSocketAddrs as _;
    let address = bind
        .to_socket_addrs()?
        .next()
        .context("the address names no host")?;
    let socket = if address.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    Ok(socket.listen(crate::limits::LISTEN_BACKLOG)?.into_std()?)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// `wexqs serve`'s webhook options (README, "Webhooks").
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct WebhookArgs {
    /// Deliver webhooks to http:// URLs and to private, loopback and link-local addresses too
    /// (for tests and closed networks; never on a registry open to the internet).
    #[arg(long, env = "WEXQS_WEBHOOKS_ALLOW_PRIVATE_TARGETS")]
    webhooks_allow_private_targets: bool,
    /// The wait after a webhook's first failed delivery, in milliseconds; it doubles after
    /// each further failure, up to --webhooks-retry-cap-ms, each drawn between half and all.
    #[arg(long, env = "WEXQS_WEBHOOKS_RETRY_BASE_MS", default_value_t = 10_000)]
    webhooks_retry_base_ms: u64,
    /// The longest wait between two attempts, in milliseconds.
    #[arg(long, env = "WEXQS_WEBHOOKS_RETRY_CAP_MS", default_value_t = 3_600_000)]
    webhooks_retry_cap_ms: u64,
    /// This many failed deliveries in a row disable a subscription.
    #[arg(long, env = "WEXQS_WEBHOOKS_MAX_FAILURES", default_value_t = 15)]
    webhooks_max_failures: u32,
    /// A delivery's whole time (connect, send, the answer's head), in milliseconds.
    #[arg(long, env = "WEXQS_WEBHOOKS_TIMEOUT_MS", default_value_t = 10_000)]
    webhooks_timeout_ms: u64,
    /// How long a rotated webhook secret goes on signing beside the new one, in seconds.
    #[arg(
        long,
        env = "WEXQS_WEBHOOKS_ROTATION_OVERLAP_S",
        default_value_t = 86_400
    )]
    webhooks_rotation_overlap_s: u64,
    /// The delivery attempts kept per subscription (the oldest beyond go).
    #[arg(long, env = "WEXQS_WEBHOOKS_HISTORY", default_value_t = 1_000,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    webhooks_history: u32,
}

impl WebhookArgs {
    fn settings(&self) -> crate::service::webhooks::WebhookSettings {
        crate::service::webhooks::WebhookSettings {
            allow_private_targets: self.webhooks_allow_private_targets,
            retry_base: Duration::from_millis(self.webhooks_retry_base_ms.max(1)),
            retry_cap: Duration::from_millis(
                self.webhooks_retry_cap_ms.max(self.webhooks_retry_base_ms),
            ),
            max_failures: self.webhooks_max_failures.max(1),
            timeout: Duration::from_millis(self.webhooks_timeout_ms.clamp(100, 60_000)),
            rotation_overlap: Duration::from_secs(
                self.webhooks_rotation_overlap_s.min(30 * 86_400),
            ),
            history: self.webhooks_history,
            ..Default::default()
        }
    }
}

/// `wexqs serve`'s bounds on connections and bodies (`crate::limits::Limits`; README,
/// "Configuration").
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct LimitArgs {
    /// The longest a request body may take to arrive after its head, in milliseconds (408 after).
    #[arg(long, env = "WEXQS_BODY_TIMEOUT_MS", default_value_t = 10_000)]
    body_timeout_ms: u64,
    /// How long an answer may wait on a client that reads none of it, in milliseconds, before
    /// the connection is dropped.
    #[arg(long, env = "WEXQS_WRITE_STALL_MS", default_value_t = 30_000)]
    write_stall_ms: u64,
    /// Connections open at once, from everyone (503 beyond); keep it under the process's file
    /// limit.
    #[arg(long, env = "WEXQS_MAX_CONNECTIONS", default_value_t = 768)]
    max_connections: usize,
    /// Connections open at once from one client address (503 beyond; 0: no limit, for a
    /// registry behind a proxy).
    #[arg(long, env = "WEXQS_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 64)]
    max_connections_per_address: usize,
    /// Bytes of request bodies read at once, from everyone (a body waits 1 s for room, then
    /// gets 503).
    #[arg(long, env = "WEXQS_BODY_BUDGET_BYTES", default_value_t = 64 * 1024 * 1024)]
    body_budget_bytes: usize,
    /// Admin requests without a valid token each client address may make a minute (429
    /// beyond; 0: no limit).
    #[arg(long, env = "WEXQS_ADMIN_FAILURES_PER_MINUTE", default_value_t = 30)]
    admin_failures_per_minute: u32,
}

impl LimitArgs {
    fn limits(&self) -> crate::limits::Limits {
        crate::limits::Limits {
            body_timeout: Duration::from_millis(self.body_timeout_ms.max(100)),
            write_stall: Duration::from_millis(self.write_stall_ms.max(100)),
            max_connections: self.max_connections.max(1),
            max_connections_per_address: match self.max_connections_per_address {
                0 => usize::MAX,
                n => n,
            },
            body_budget: self.body_budget_bytes.max(crate::limits::BODY_CHARGE_MIN),
            admin_failures_per_minute: self.admin_failures_per_minute,
        }
    }
}

/// Refuses a public URL whose path the server could not serve unambiguously
/// (`crate::http::prefix::refusal`), with the reason.
fn refuse_unservable_path(public_url: Option<&str>) -> anyhow::Result<()> {
    match public_url.and_then(crate::http::prefix::refusal) {
        Some(why) => anyhow::bail!(
            "cannot serve the public URL {}: {why}",
            public_url.unwrap_or_default()
        ),
        None => Ok(()),
    }
}

/// Every few minutes, forgets the sign-ins never finished and the sessions past their policy
/// (a session past it is refused when used anyway; this keeps the table small).
fn spawn_session_sweep(registry: Arc<Registry>, policy: crate::service::sessions::SessionPolicy) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(300));
        loop {
            every.tick().await;
            if let Err(e) = registry.sweep_sessions(policy).await {
                tracing::warn!(error = %e, "console sessions could not be swept");
            }
        }
    });
}
