//! The registry's own accept loop and HTTP workers, in place of actix-server's. Each TCP
//! connection is admitted or refused (`transport::Connections`) the moment it is accepted, on a
//! thread that does nothing else: a refused connection is answered 503 and closed there and never
//! reaches a worker. Under actix-server every connection went to a worker first, to be taken,
//! registered with its runtime and counted before it could be refused, so a wave of a thousand or
//! more refused clients coming back together queued ahead of a legitimate one behind workers busy
//! answering (RELIABILITY.md, "Exhaustion"). Admitted connections go to the workers in turn, each
//! a thread with a single-threaded runtime of its own running the application, as actix-server's
//! did.
//!
//! Invariant: the process holds a file for a connection only while it is admitted (at most
//! `Limits::max_connections`) or for the moment its refusal takes, so a flood of connections
//! cannot run it out of files (actix-server took connections as fast as they came, and stopped
//! accepting for 510 ms whenever the process ran out).

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_service::{Service as _, ServiceFactory as _, map_config};
use tokio::sync::mpsc;

use super::app::app;
use super::{AppState, lifecycle, transport};

/// How long the accept loop waits when the process has no file for a new connection (`EMFILE`)
/// or the system no memory for it, before it tries again: short, since a file comes free as soon
/// as any connection closes.
const ACCEPT_RETRY: Duration = Duration::from_millis(10);

/// A connection as the application reads it: drained on a stop, its refusals rewritten, bounded.
type Stream = lifecycle::Draining<transport::ProblemStream>;

/// A connection admitted, on its way to a worker.
#[derive(Debug)]
struct Admitted {
    stream: std::net::TcpStream,
    peer: SocketAddr,
    ticket: transport::Ticket,
}

/// The workers' queues, one a worker: a connection goes to each in turn.
#[derive(Debug)]
pub(crate) struct Workers(Vec<mpsc::UnboundedSender<Admitted>>);

impl Workers {
    /// `count` workers (one at least), each serving the application over `state`; ready once
    /// every one has built it.
    pub(crate) fn start(count: usize, state: &AppState) -> io::Result<Workers> {
        let count = count.max(1);
        (0..count)
            .map(|index| start_worker(index, count, state.clone()))
            .collect::<io::Result<_>>()
            .map(Workers)
    }
}

/// Starts worker `index` of `count` on a thread of its own; its queue once it is ready.
fn start_worker(
    index: usize,
    count: usize,
    state: AppState,
) -> io::Result<mpsc::UnboundedSender<Admitted>> {
    let (queue, admitted) = mpsc::unbounded_channel();
    let (ready, started) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name(format!("wexqs-http-{index}"))
        .spawn(move || {
            // As actix-server's workers: a share of its default 512 blocking threads each.
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .max_blocking_threads((512 / count).max(1))
                .build();
            match runtime {
                Ok(runtime) => tokio::task::LocalSet::new()
                    .block_on(&runtime, run_worker(state, admitted, ready)),
                Err(e) => {
                    let _ = ready.send(Err(e));
                }
            }
        })?;
    started
        .recv()
        .map_err(|_| io::Error::other("an HTTP worker ended as it started"))??;
    Ok(queue)
}

/// Serves each connection `admitted` brings until its queue closes; then the connections still
/// open are dropped with the worker's runtime.
async fn run_worker(
    state: AppState,
    mut admitted: mpsc::UnboundedReceiver<Admitted>,
    ready: std::sync::mpsc::SyncSender<io::Result<()>>,
) {
    let (stall, lifecycle) = (state.limits.write_stall, state.lifecycle.clone());
    let factory = actix_http::HttpService::build()
        .on_connect_ext(|io: &Stream, data| {
            data.insert(io.connection());
        })
        .h1(map_config(app(state), |_| {
            actix_web::dev::AppConfig::default()
        }));
    let service = match factory.new_service(()).await {
        Ok(service) => Rc::new(service),
        Err(()) => {
            let _ = ready.send(Err(io::Error::other("the application could not be built")));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    while let Some(Admitted {
        stream,
        peer,
        ticket,
    }) = admitted.recv().await
    {
        let stream = match stream
            .set_nonblocking(true)
            .and_then(|()| actix_web::rt::net::TcpStream::from_std(stream))
        {
            Ok(stream) => stream,
            Err(e) => {
                tracing::debug!(error = %e, "a connection admitted could not be served");
                continue;
            }
        };
        let io = lifecycle::Draining::new(
            transport::ProblemStream::bounded(stream, Some(ticket), stall),
            lifecycle.clone(),
        );
        let service = service.clone();
        tokio::task::spawn_local(async move {
            let ready = std::future::poll_fn(|cx| {
                actix_service::Service::<(Stream, Option<SocketAddr>)>::poll_ready(&*service, cx)
            });
            if ready.await.is_ok() {
                let _ = service.call((io, Some(peer))).await;
            }
        });
    }
}

/// Accepts connections on `listener` from a thread of its own until the drain begins, admitting
/// each against `state`'s connection limits and handing it to `workers`, or refusing it there
/// and then. Resolves once the listener is closed, so no connection is taken after.
pub(crate) fn start(
    listener: std::net::TcpListener,
    workers: &Workers,
    state: &AppState,
) -> io::Result<tokio::sync::oneshot::Receiver<()>> {
    listener.set_nonblocking(true)?;
    let queues = workers.0.clone();
    let (connections, limits, lifecycle) = (
        state.connections.clone(),
        state.limits,
        state.lifecycle.clone(),
    );
    let (closed, listener_closed) = tokio::sync::oneshot::channel();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("wexqs-accept".to_owned())
        .spawn(move || {
            let acceptor = Acceptor {
                queues,
                next: 0,
                connections,
                limits,
                warned: None,
            };
            runtime.block_on(async move {
                let drained = lifecycle.drained();
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => acceptor.run(listener, drained).await,
                    Err(e) => tracing::error!(error = %e, "cannot wait on the listening socket"),
                }
            });
            let _ = closed.send(());
        })?;
    Ok(listener_closed)
}

/// The accept loop's state: where the next connection goes, and what it counts against.
struct Acceptor {
    queues: Vec<mpsc::UnboundedSender<Admitted>>,
    next: usize,
    connections: Arc<transport::Connections>,
    limits: crate::limits::Limits,
    /// When running out of files was last said (once a second at most).
    warned: Option<Instant>,
}

impl Acceptor {
    /// Takes each connection as the kernel has it ready, until `drained`.
    async fn run(
        mut self,
        listener: tokio::net::TcpListener,
        mut drained: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    ) {
        loop {
            let accepted = tokio::select! {
                biased;
                () = &mut drained => return,
                accepted = listener.accept() => accepted,
            };
            // Taken off this thread's runtime: a worker's, or none, serves it.
            match accepted.and_then(|(stream, peer)| Ok((stream.into_std()?, peer))) {
                Ok((stream, peer)) => self.take(stream, peer),
                Err(e) if is_per_connection(&e) => {}
                Err(e) => {
                    self.warn(&e);
                    tokio::time::sleep(ACCEPT_RETRY).await;
                }
            }
        }
    }

    /// Admits `stream` and hands it to the next worker, or refuses it.
    fn take(&mut self, stream: std::net::TcpStream, peer: SocketAddr) {
        match self.connections.admit(Some(peer.ip()), &self.limits) {
            Ok(ticket) => {
                let queue = &self.queues[self.next];
                self.next = (self.next + 1) % self.queues.len();
                // A worker gone (only as the process stops) drops the connection.
                let _ = queue.send(Admitted {
                    stream,
                    peer,
                    ticket,
                });
            }
            Err(reason) => transport::refuse(stream, reason),
        }
    }

    /// Says, once a second at most, that connections wait for a file or memory.
    fn warn(&mut self, e: &io::Error) {
        if self
            .warned
            .is_some_and(|w| w.elapsed() < Duration::from_secs(1))
        {
            return;
        }
        self.warned = Some(Instant::now());
        tracing::warn!(
            error = %e,
            connections_open = self.connections.open(),
            "cannot accept a connection; trying again in {} ms",
            ACCEPT_RETRY.as_millis()
        );
    }
}

/// An accept error that concerns only the connection being taken (it was reset or aborted
/// before it was), so the next can be taken at once.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
    )
}
