//! The server: `serve` takes a listener and a shutdown future, runs the registry's own accept
//! loop and workers (`accept`) over the application (`app`), and drains when the future resolves.

use std::net::TcpListener;

use super::state::AppState;
use super::{accept, lifecycle};

/// Serves the registry on `listener` (its own accept loop and workers, `accept`) until `shutdown`
/// resolves, then drains: no connection is taken after, and the process waits for those open to
/// close, `Lifecycle::timeout` less a second at most.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    workers: usize,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let open = state.connections.clone();
    let draining = state.lifecycle.clone();
    // Past the drain's time the workers drop what is left; the second kept back lets the
    // process release what it holds (webhook leases) and exit within the timeout.
    let drain_time = draining
        .timeout
        .saturating_sub(std::time::Duration::from_secs(1))
        .max(std::time::Duration::from_secs(1));
    let workers = accept::Workers::start(workers, &state)?;
    let listener_closed = accept::start(listener, &workers, &state)?;
    shutdown.await;
    // Not ready at once, so a load balancer sends no more; the accept loop closes the listener
    // as the drain begins, and the requests in flight finish while idle connections close.
    draining.begin_drain();
    tracing::info!(
        "shutting down: readiness is 503, no new connections are taken, and requests in flight finish (at most {} s)",
        draining.timeout.as_secs()
    );
    lifecycle::report_drain(draining.clone(), open.clone());
    let _ = listener_closed.await;
    let started = std::time::Instant::now();
    while open.open() > 0 {
        if started.elapsed() >= drain_time {
            tracing::warn!(
                "shutting down: the drain took its whole {} s; the connections still open were closed",
                drain_time.as_secs()
            );
            break;
        }
        tokio::time::sleep(DRAIN_POLL).await;
    }
    // The workers' queues close with `workers`, and each drops what it still holds.
    drop(workers);
    Ok(())
}

/// How often the drain looks whether the last connection has closed.
const DRAIN_POLL: std::time::Duration = std::time::Duration::from_millis(20);
