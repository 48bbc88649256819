//! Shutdown: the drain a server goes through between SIGTERM and its exit. Once the drain begins
//! `/readyz` answers 503 (`shutting_down`), so a load balancer stops sending requests; requests
//! in flight finish, and their answers carry `Connection: close`; a connection with no request
//! in it (an idle keep-alive connection, or one that has sent nothing yet) reads end-of-stream
//! and is closed at once rather than after the framework's own wait. The process exits when the
//! last connection has closed or `Lifecycle::timeout` has passed, whichever is first, and says
//! once a second what it is still waiting for.
//!
//! Invariant: a connection is closed by the drain only between requests (no request counted in
//! flight on it and no byte of a next one read), so no request that has begun to arrive is lost.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::ConnectionType;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The server's state between start and exit: serving, or draining after a stop signal.
#[derive(Debug)]
pub(crate) struct Lifecycle {
    draining: tokio::sync::watch::Sender<bool>,
    in_flight: AtomicUsize,
    /// The longest the drain may take before the process exits anyway.
    pub(crate) timeout: Duration,
}

impl Default for Lifecycle {
    fn default() -> Lifecycle {
        Lifecycle::new(Duration::from_secs(10))
    }
}

impl Lifecycle {
    pub(crate) fn new(timeout: Duration) -> Lifecycle {
        Lifecycle {
            draining: tokio::sync::watch::Sender::new(false),
            in_flight: AtomicUsize::new(0),
            timeout,
        }
    }

    /// Begins the drain: from now `/readyz` is 503 and idle connections close.
    pub(crate) fn begin_drain(&self) {
        self.draining.send_replace(true);
    }

    pub(crate) fn is_draining(&self) -> bool {
        *self.draining.borrow()
    }

    /// The requests being answered now (an answer counts until its last byte is written).
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Resolves once the drain has begun.
    pub(crate) fn drained(&self) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let mut watch = self.draining.subscribe();
        Box::pin(async move {
            let _ = watch.wait_for(|draining| *draining).await;
        })
    }
}

/// What the drain knows of one connection: the requests in flight on it, whether part of a next
/// request has been read, and the reader to wake when it falls idle.
#[derive(Debug, Default)]
pub(crate) struct Connection {
    in_flight: AtomicUsize,
    /// Bytes have been read since the last request began or ended: a request is arriving.
    arriving: AtomicBool,
    reader: Mutex<Option<Waker>>,
}

impl Connection {
    fn idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0 && !self.arriving.load(Ordering::Acquire)
    }

    fn wake_reader(&self) {
        let waker = self
            .reader
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// A connection's stream that reads end-of-stream once the drain has begun and the connection
/// is idle, so the HTTP layer closes it.
pub(crate) struct Draining<S> {
    inner: S,
    connection: Arc<Connection>,
    /// Resolves when the drain begins; `None` once it has.
    drained: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl<S> std::fmt::Debug for Draining<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Draining")
            .field("connection", &self.connection)
            .finish_non_exhaustive()
    }
}

impl<S> Draining<S> {
    pub(crate) fn new(inner: S, lifecycle: Arc<Lifecycle>) -> Draining<S> {
        Draining {
            inner,
            connection: Arc::default(),
            drained: (!lifecycle.is_draining()).then(|| lifecycle.drained()),
        }
    }

    /// The connection's state, for its requests (`HttpServiceBuilder::on_connect_ext`).
    pub(crate) fn connection(&self) -> Arc<Connection> {
        self.connection.clone()
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Draining<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(drained) = this.drained.as_mut()
            && drained.as_mut().poll(cx).is_ready()
        {
            this.drained = None;
        }
        let draining = this.drained.is_none();
        if draining {
            // A busy connection is woken when it falls idle.
            *this
                .connection
                .reader
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(cx.waker().clone());
        }
        let idle = draining && this.connection.idle();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            // What the client has sent already is read and answered, even now.
            this.connection.arriving.store(true, Ordering::Release);
            return polled;
        }
        if idle && polled.is_pending() {
            // Draining, idle, and nothing more has come: the connection ends here.
            return Poll::Ready(Ok(()));
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Draining<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// One request in flight, from its head until the last byte of its answer is written (or the
/// answer dropped): counted in the server's total and on its connection.
#[derive(Debug)]
struct InFlight {
    lifecycle: Option<Arc<Lifecycle>>,
    connection: Option<Arc<Connection>>,
}

impl InFlight {
    fn begin(lifecycle: Option<Arc<Lifecycle>>, connection: Option<Arc<Connection>>) -> InFlight {
        if let Some(l) = &lifecycle {
            l.in_flight.fetch_add(1, Ordering::AcqRel);
        }
        if let Some(c) = &connection {
            c.in_flight.fetch_add(1, Ordering::AcqRel);
            c.arriving.store(false, Ordering::Release);
        }
        InFlight {
            lifecycle,
            connection,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(l) = &self.lifecycle {
            l.in_flight.fetch_sub(1, Ordering::AcqRel);
        }
        if let Some(c) = &self.connection {
            // What was read meanwhile was this request's body (a pipelined request's head is
            // counted when it begins).
            c.arriving.store(false, Ordering::Release);
            c.in_flight.fetch_sub(1, Ordering::AcqRel);
            c.wake_reader();
        }
    }
}

/// An answer's body, counting its request in flight until it is written or dropped.
#[derive(Debug)]
pub(crate) struct Tracked<B> {
    body: Pin<Box<B>>,
    _in_flight: InFlight,
}

impl<B: MessageBody> MessageBody for Tracked<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        self.body.as_mut().poll_next(cx)
    }
}

/// The middleware: counts each request in flight until its answer is written, and marks an
/// answer given during the drain `Connection: close`.
pub(crate) async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let lifecycle = req
        .app_data::<actix_web::web::Data<super::AppState>>()
        .map(|state| state.lifecycle.clone());
    let connection = req.conn_data::<Arc<Connection>>().cloned();
    let in_flight = InFlight::begin(lifecycle.clone(), connection);
    let mut res = next.call(req).await?;
    if lifecycle.as_ref().is_some_and(|l| l.is_draining()) {
        res.response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    Ok(res.map_body(move |_, body| Tracked {
        body: Box::pin(body),
        _in_flight: in_flight,
    }))
}

/// Says once a second what the drain still waits for, until the process exits.
pub(crate) fn report_drain(
    lifecycle: Arc<Lifecycle>,
    connections: Arc<super::transport::Connections>,
) {
    tokio::spawn(async move {
        let started = tokio::time::Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        loop {
            tick.tick().await;
            let (open, in_flight) = (connections.open(), lifecycle.in_flight());
            tracing::info!(
                connections_open = open,
                requests_in_flight = in_flight,
                "shutting down: waiting for {open} connections open and {in_flight} requests in flight ({} s of {} s)",
                started.elapsed().as_secs(),
                lifecycle.timeout.as_secs()
            );
        }
    });
}

/// Ends the process once the drain's `Lifecycle::timeout` has passed, whatever is still
/// running: a thread of its own, so that nothing the runtime waits on can hold it.
pub(crate) fn exit_after(
    lifecycle: Arc<Lifecycle>,
    connections: Arc<super::transport::Connections>,
) {
    std::thread::spawn(move || {
        let timeout = lifecycle.timeout;
        std::thread::sleep(timeout);
        tracing::warn!(
            connections_open = connections.open(),
            requests_in_flight = lifecycle.in_flight(),
            "shutdown timed out after {} s with {} connections open and {} requests in flight; exiting",
            timeout.as_secs(),
            connections.open(),
            lifecycle.in_flight()
        );
        crate::logging::flush();
        std::process::exit(1);
    });
}
