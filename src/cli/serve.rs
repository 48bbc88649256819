//! `wexqs serve`: start the registry (through `startup`), sign what is missing, run the
//! background duties, and serve HTTP until SIGINT or SIGTERM.

use anyhow::Context as _;

use super::*;
use crate::http::{AppState, serve};
use crate::service::spawn_background;
use std::time::Duration;

pub(super) async fn serve_command(
    signing: SigningArgs,
    bind: String,
    demo: bool,
    workers: Option<usize>,
    rate_limit: u32,
) -> anyhow::Result<()> {
    let listener =
        std::net::TcpListener::bind(&bind).with_context(|| format!("cannot listen on {bind}"))?;
    let address = listener.local_addr()?;
    let registry = signing
        .registry_pooled(Unrecorded::Serve(address), Pooling::SERVER)
        .await?;
    let public_url = registry
        .signing()
        .map(|s| s.public_url)
        .context("a server always has an address to sign for")?;
    tracing::info!(
        store = registry.store_kind(),
        events = registry.size(),
        "opened the registry"
    );
    if demo {
        if !registry.has_organisations() {
            let outcome = crate::service::demo::load(&registry).await?;
            tracing::info!(awards = outcome.issued().len(), "loaded the demo register");
        } else {
            tracing::warn!(
                "--demo loads nothing: the register already has organisations (the demo loads only into an empty one; use another --data-dir or database for a fresh demo)"
            );
        }
    }
    let signed = registry.issue_missing_credentials().await?;
    if signed > 0 {
        tracing::info!("signed credentials for {signed} awards that had none");
    }
    spawn_background(
        registry.clone(),
        Duration::from_secs(1),
        Duration::from_secs(3600),
    );
    if signing.public_url.is_none() && public_url != format!("http://{address}") {
        tracing::info!(
            "the registry is recorded as reached at {public_url}, which its links and credentials name ('wexqs address set' moves it)"
        );
    }
    tracing::info!("serving the registry on http://{address} (public URL {public_url})");
    let state = AppState::new(registry, &public_url).with_rate_limit(rate_limit);
    let workers =
        workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    serve(listener, state, workers, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
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
