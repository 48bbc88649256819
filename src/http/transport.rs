//! The connection under HTTP. The HTTP/1 parser answers a few requests on its own, before any
//! route or middleware sees them: 400 for a request it cannot parse, 431 for a head larger than
//! it reads, 408 for a head that never arrives. It sends those with an empty body. Each TCP stream
//! is wrapped here so that those refusals, recognised by their status and empty body (the
//! registry's own 400s always carry a problem), go out as problem+json like every other error.
//! The wrapper also bounds the connection: it is counted against the registry's connection limits
//! while open (`Connections`), and dropped when the client stops reading what it is sent
//! (`Limits::write_stall`).

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use actix_web::rt::net::TcpStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error_codes::ErrorCode;

/// The connections open, in all and by client address.
#[derive(Debug, Default)]
pub struct Connections {
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One connection counted in `Connections`, until it is dropped.
#[derive(Debug)]
pub(crate) struct Ticket {
    connections: Arc<Connections>,
    address: Option<IpAddr>,
}

impl Connections {
    /// The connections open now.
    pub fn open(&self) -> usize {
        self.lock().0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, HashMap<IpAddr, usize>)> {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A ticket for a new connection from `address`, or the refusal's reason when `limits`
    /// are reached.
    pub(crate) fn admit(
        self: &Arc<Self>,
        address: Option<IpAddr>,
        limits: &crate::limits::Limits,
    ) -> Result<Ticket, &'static str> {
        let mut open = self.lock();
        if open.0 >= limits.max_connections {
            return Err("the registry holds as many connections as it may at once");
        }
        // A crowded server shares what is left: past half its connections, an address may
        // hold an eighth of its own bound (so a few addresses cannot take every connection).
        let crowded = open.0 >= limits.max_connections / 2;
        let per_address = if crowded {
            (limits.max_connections_per_address / 8).max(2)
        } else {
            limits.max_connections_per_address
        };
        if let Some(address) = address {
            let from = open.1.entry(address).or_insert(0);
            if *from >= per_address {
                return Err("the registry holds as many connections from this address as it may");
            }
            *from += 1;
        }
        open.0 += 1;
        Ok(Ticket {
            connections: self.clone(),
            address,
        })
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut open = self.connections.lock();
        open.0 = open.0.saturating_sub(1);
        if let Some(address) = self.address
            && let Some(from) = open.1.get_mut(&address)
        {
            *from -= 1;
            if *from == 0 {
                open.1.remove(&address);
            }
        }
    }
}

/// Answers a connection over the limits with 503 and closes it, without reading from it.
pub(crate) fn refuse(mut stream: std::net::TcpStream, reason: &str) {
    let problem =
        super::error::ApiError::new(ErrorCode::ServerBusy, format!("{reason}; try again in 1 s"));
    let body = problem.body().to_string();
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: {}\r\ncontent-length: {}\r\nretry-after: 1\r\ncache-control: no-store\r\nconnection: close\r\n\r\n{body}",
        super::error::PROBLEM_JSON,
        body.len()
    );
    // A fresh socket's send buffer takes a short answer whole at once; if not, the client sees
    // the connection closed, which is a refusal too.
    use std::io::Write as _;
    let _ = stream.set_nonblocking(true);
    let _ = stream.write(answer.as_bytes());
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

/// A TCP stream whose bodiless protocol refusals are rewritten as problem+json, counted while
/// open, and failed when a write makes no progress for `stall`.
#[derive(Debug)]
pub(crate) struct ProblemStream {
    inner: TcpStream,
    /// A rewritten refusal still to be written, and how much of it has been.
    pending: Option<(Vec<u8>, usize)>,
    _ticket: Option<Ticket>,
    stall: std::time::Duration,
    /// Since when writing has waited on the client, if it is waiting.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl ProblemStream {
    /// A stream counted by `ticket`, dropped when the client reads nothing for `stall`.
    pub(crate) fn bounded(
        inner: TcpStream,
        ticket: Option<Ticket>,
        stall: std::time::Duration,
    ) -> ProblemStream {
        ProblemStream {
            inner,
            pending: None,
            _ticket: ticket,
            stall,
            stalled: None,
        }
    }

    /// Writes `buf` to the socket, failing once writes have waited `stall` in a row.
    fn write_inner(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Pending => {
                let stall = self.stall;
                let sleep = self
                    .stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(stall)));
                if sleep.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client read nothing of its answer in time",
                    )));
                }
                Poll::Pending
            }
            ready => {
                self.stalled = None;
                ready
            }
        }
    }

    /// Writes what is pending; ready once nothing is.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = self.pending.take() {
            if written == bytes.len() {
                break;
            }
            let outcome = self.write_inner(cx, &bytes[written..]);
            match outcome {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => self.pending = Some((bytes, written + n)),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    self.pending = Some((bytes, written));
                    return Poll::Pending;
                }
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// The problem+json response that replaces a bodiless protocol refusal in `head`, if `head` is
/// one: a complete HTTP/1.1 response head of status 400, 408 or 431 with `content-length: 0`.
pub(crate) fn rewrite_refusal(head: &[u8]) -> Option<Vec<u8>> {
    // Every write passes here: an answer that is not a refusal is told by its first bytes,
    // before any pass over the whole buffer (which holds the body too).
    if !matches!(
        head.get(..12),
        Some(b"HTTP/1.1 400" | b"HTTP/1.1 408" | b"HTTP/1.1 431")
    ) {
        return None;
    }
    let text = std::str::from_utf8(head).ok()?;
    let rest = text.strip_prefix("HTTP/1.1 ")?;
    let (code, detail) = match rest.get(..3)? {
        "400" => (
            ErrorCode::BadRequest,
            "the request is not valid HTTP/1.1 (its request line or a header cannot be read)",
        ),
        "408" => (
            ErrorCode::RequestTimeout,
            "the request's head did not arrive in time",
        ),
        "431" => (
            ErrorCode::HeadersTooLarge,
            "the request's head (request line and headers) is larger than the server reads",
        ),
        _ => return None,
    };
    let lower = text.to_ascii_lowercase();
    if !lower.ends_with("\r\n\r\n") || !lower.contains("\r\ncontent-length: 0\r\n") {
        return None;
    }
    let status = actix_web::http::StatusCode::from_u16(rest[..3].parse().ok()?).ok()?;
    let problem = super::error::ApiError::new(code, detail).with_status(status);
    let body = problem.body().to_string();
    Some(
        format!(
            "HTTP/1.1 {} {}\r\ncontent-type: {}\r\ncontent-length: {}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n{body}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("Error"),
            super::error::PROBLEM_JSON,
            body.len()
        )
        .into_bytes(),
    )
}

impl AsyncRead for ProblemStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ProblemStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if let Poll::Ready(Err(e)) = this.drain(cx) {
            return Poll::Ready(Err(e));
        }
        if this.pending.is_some() {
            return Poll::Pending;
        }
        if let Some(replacement) = rewrite_refusal(buf) {
            this.pending = Some((replacement, 0));
            // The refusal is taken whole; its replacement goes out as the stream allows.
            return match this.drain(cx) {
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                _ => Poll::Ready(Ok(buf.len())),
            };
        }
        this.write_inner(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match this.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match this.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_shutdown(cx),
            other => other,
        }
    }
}
