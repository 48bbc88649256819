//! The connection under HTTP. The HTTP/1 parser answers a few requests on its own, before any
//! route or middleware sees them: 400 for a request it cannot parse, 431 for a head larger than
//! it reads, 408 for a head that never arrives. It sends those with an empty body. Each TCP stream
//! is wrapped here so that those refusals, recognised by their status and empty body (the
//! registry's own 400s always carry a problem), go out as problem+json like every other error.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::rt::net::TcpStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error_codes::ErrorCode;

/// A TCP stream whose bodiless protocol refusals are rewritten as problem+json.
#[derive(Debug)]
pub struct ProblemStream {
    inner: TcpStream,
    /// A rewritten refusal still to be written, and how much of it has been.
    pending: Option<(Vec<u8>, usize)>,
}

impl ProblemStream {
    pub fn new(inner: TcpStream) -> ProblemStream {
        ProblemStream {
            inner,
            pending: None,
        }
    }

    /// Writes what is pending; ready once nothing is.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = &mut self.pending {
            if *written == bytes.len() {
                self.pending = None;
                break;
            }
            match Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// The problem+json response that replaces a bodiless protocol refusal in `head`, if `head` is
/// one: a complete HTTP/1.1 response head of status 400, 408 or 431 with `content-length: 0`.
pub fn rewrite_refusal(head: &[u8]) -> Option<Vec<u8>> {
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
        Pin::new(&mut this.inner).poll_write(cx, buf)
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
