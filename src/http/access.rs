//! The outermost middleware: who the client is (`client`), the request's id, and one access line
//! per request (target `wexqs::access`: info; a 500 at error, another 5xx at warn). The id is
//! `X-Request-Id` from a trusted proxy when it is short and plain, else one minted here; it is
//! echoed on the response, and every line logged while the request is handled names it
//! (`logging::in_request`).
//!
//! What an access line holds is fixed here and nothing else: method, route template (never the
//! path's query string, which may carry a token), status, duration, client address, request id,
//! and an admin request's actor (the token's id, never the token). Bodies, cookies and
//! `Authorization` never reach a log. Cheap by design: the route template is the matched
//! resource's own `&'static str` (`RouteTemplate`), the request id is held inline, and the line
//! is formatted once, by hand, and written with others in a block (`logging`).

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage as _, HttpRequest, web};

use super::AppState;
use super::client::{ClientIp, TrustedProxies};
use crate::logging::{self, RequestId};

/// The target of the access lines (`WEXQS_LOG=wexqs::access=off` or `=warn` silences them).
pub(crate) const TARGET: &str = logging::ACCESS;

/// The header a request's id travels in, both ways.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The route template of a resource (`/v1/awards/{certificate_number}`), given to each resource
/// as its app data, so the access log and the metrics read it without matching the path again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RouteTemplate(pub(crate) &'static str);

/// The route of a request no route took (or whose route is no longer known), in the access
/// line and the metrics alike.
pub(crate) const UNMATCHED: &str = "unmatched";

/// The route template a request matched, or `UNMATCHED` for a path no route serves (so a scan
/// of made-up paths adds no new label or log value).
pub(crate) fn route_template(req: &HttpRequest) -> &'static str {
    req.app_data::<RouteTemplate>()
        .map_or(UNMATCHED, |RouteTemplate(t)| t)
}

/// A client's address as text, IPv4 written digit by digit (the formatting machinery costs
/// more than the rest of the access line).
struct AddressText {
    bytes: [u8; 45],
    len: usize,
}

impl AddressText {
    fn of(ip: std::net::IpAddr) -> AddressText {
        let mut text = AddressText {
            bytes: [0; 45],
            len: 0,
        };
        match ip {
            std::net::IpAddr::V4(v4) => {
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        text.push(b".");
                    }
                    text.push(itoa::Buffer::new().format(octet).as_bytes());
                }
            }
            std::net::IpAddr::V6(v6) => {
                use std::io::Write as _;
                let mut rest = &mut text.bytes[..];
                // 45 bytes hold the longest IPv6 text (an IPv4-mapped address in full).
                let _ = write!(rest, "{v6}");
                let left = rest.len();
                text.len = 45 - left;
            }
        }
        text
    }

    fn push(&mut self, bytes: &[u8]) {
        self.bytes[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    fn as_str(&self) -> &str {
        // Only digits, dots, hexadecimal digits and colons are written.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

/// One access line: a 500 at error (something is wrong here), another 5xx at warn (an outage or
/// a full server, said once more where it happened), the rest at info.
macro_rules! access_line {
    ($status:ident, $method:ident, $route:ident, $duration_us:ident, $client:ident,
     $request_id:ident, $actor:ident) => {
        match $status {
            500 => tracing::error!(target: TARGET, method = $method, route = $route,
                status = $status, duration_us = $duration_us, client = $client,
                request_id = $request_id, actor = $actor, "request failed"),
            501.. => tracing::warn!(target: TARGET, method = $method, route = $route,
                status = $status, duration_us = $duration_us, client = $client,
                request_id = $request_id, actor = $actor, "request refused"),
            _ => tracing::info!(target: TARGET, method = $method, route = $route,
                status = $status, duration_us = $duration_us, client = $client,
                request_id = $request_id, actor = $actor, "request"),
        }
    };
}

/// The client's address (the peer's, or the one a trusted proxy names) and the request's id
/// (a trusted proxy's `X-Request-Id` when it is acceptable, else a new one).
fn client_and_id(
    req: &ServiceRequest,
    state: Option<&web::Data<AppState>>,
) -> (Option<std::net::IpAddr>, RequestId) {
    let (client, from_proxy) = {
        let none = TrustedProxies::none();
        let proxies = state.map_or(&none, |s| &*s.trusted_proxies);
        match req.peer_addr() {
            Some(peer) => (
                Some(proxies.client_of(peer.ip(), req.headers())),
                !proxies.is_empty() && proxies.trusts(peer.ip()),
            ),
            None => (None, false),
        }
    };
    let id = from_proxy
        .then(|| req.headers().get(REQUEST_ID))
        .flatten()
        .and_then(|value| RequestId::accept(value.as_bytes()))
        .unwrap_or_else(RequestId::mint);
    (client, id)
}

/// Works out the client and the request id, runs the request as that id,
/// echoes the id, writes the access line and, when metrics are on, counts the request in them
/// (so every answer, a 429 or a CORS preflight too, is counted).
pub(crate) async fn log(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let started = Instant::now();
    let state = req.app_data::<web::Data<AppState>>();
    let metrics = state.and_then(|s| s.metrics.clone());
    let (client, id) = client_and_id(&req, state);
    let method = req.method().clone();
    if let Some(ip) = client {
        req.extensions_mut().insert(ClientIp(ip));
    }
    let outcome = logging::in_request(id, next.call(req)).await;
    let elapsed = started.elapsed();
    let duration_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    let client_text = client.map(AddressText::of);
    let client = client_text.as_ref().map(AddressText::as_str);
    let request_id = id.as_str();
    let method_name = method.as_str();
    match outcome {
        Ok(mut res) => {
            if let Ok(echo) = HeaderValue::from_str(id.as_str()) {
                res.headers_mut().insert(REQUEST_ID, echo);
            }
            let status = res.status().as_u16();
            let request = res.request();
            let template = route_template(request);
            if let Some(metrics) = &metrics {
                metrics.observe(template, &method, status, elapsed);
            }
            let route = template;
            let extensions = request.extensions();
            let actor = extensions
                .get::<crate::service::Actor>()
                .map(|a| a.id.as_str());
            access_line!(
                status,
                method_name,
                route,
                duration_us,
                client,
                request_id,
                actor
            );
            drop(extensions);
            Ok(res)
        }
        Err(error) => {
            // Only a middleware's own failure arrives here (a handler's is a response): its
            // route is not known any more.
            let status = error.as_response_error().status_code().as_u16();
            if let Some(metrics) = &metrics {
                metrics.observe(UNMATCHED, &method, status, elapsed);
            }
            let (route, actor) = (UNMATCHED, None::<&str>);
            access_line!(
                status,
                method_name,
                route,
                duration_us,
                client,
                request_id,
                actor
            );
            Err(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AddressText;

    #[test]
    fn an_address_is_written_as_the_standard_library_writes_it() {
        for text in [
            "203.0.113.5",
            "0.0.0.0",
            "255.255.255.255",
            "2001:db8::1",
            "::ffff:192.0.2.128",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ] {
            let ip: std::net::IpAddr = text.parse().expect("an address");
            assert_eq!(AddressText::of(ip).as_str(), ip.to_string());
        }
    }
}
