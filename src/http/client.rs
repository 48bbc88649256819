//! Who the client is: the TCP peer, or, when the peer is a trusted proxy (`--trusted-proxies`),
//! the address the proxies say they received the request from (`Forwarded`, RFC 7239, else
//! `X-Forwarded-For`). From any other peer those headers are ignored: anyone can write them.
//! Worked out once per request, by the access log (`access`), and kept in the request's
//! extensions, so the rate limiter, the admin failure limiter, the logs and the metrics agree.

use std::net::IpAddr;

use actix_web::HttpMessage as _;
use actix_web::http::header::{self, HeaderMap};

/// The peers whose `Forwarded` and `X-Forwarded-For` headers are believed: addresses or ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    ranges: Vec<ipnet::IpNet>,
}

impl TrustedProxies {
    /// No proxy is trusted: the client is always the TCP peer.
    pub(crate) fn none() -> TrustedProxies {
        TrustedProxies::default()
    }

    /// A comma-separated list of addresses (`127.0.0.1`, `::1`) and CIDR ranges (`10.0.0.0/8`,
    /// `fd00::/8`); empty or `none`: no proxy.
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        let mut ranges = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if item.eq_ignore_ascii_case("none") {
                continue;
            }
            let range = match item.parse::<ipnet::IpNet>() {
                Ok(range) => range.trunc(),
                Err(_) => match item.parse::<IpAddr>() {
                    Ok(ip) => ipnet::IpNet::from(ip),
                    Err(_) => {
                        return Err(format!(
                            "'{item}' is neither an IP address (127.0.0.1, ::1) nor a CIDR range \
                             (10.0.0.0/8, fd00::/8)"
                        ));
                    }
                },
            };
            ranges.push(range);
        }
        Ok(TrustedProxies { ranges })
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Whether `ip` is one of the trusted proxies (an IPv4 address mapped into IPv6 counts as
    /// the IPv4 one).
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.ranges.iter().any(|r| r.contains(&ip))
    }

    /// The client of a request from `peer` with `headers`: the peer itself unless it is trusted;
    /// then the right-most address of `Forwarded` (or, without it, `X-Forwarded-For`) that is
    /// not itself a trusted proxy. An element that names no address (`unknown`, an obfuscated
    /// `_name`, garbage) stops the walk: the client is then the peer, since what lies beyond
    /// cannot be known.
    pub fn client_of(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let forwarded = headers.get_all(header::FORWARDED);
        let hops: Vec<Option<IpAddr>> = if headers.contains_key(header::FORWARDED) {
            forwarded
                .flat_map(|v| split_list(v.as_bytes()))
                .map(|element| forwarded_for(&element))
                .collect()
        } else {
            headers
                .get_all(header::X_FORWARDED_FOR)
                .flat_map(|v| split_list(v.as_bytes()))
                .map(|hop| node_address(hop.trim()))
                .collect()
        };
        self.walk(peer, &hops)
    }

    /// Right to left through the hops, past every trusted one.
    fn walk(&self, peer: IpAddr, hops: &[Option<IpAddr>]) -> IpAddr {
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop {
                Some(ip) => {
                    client = ip.to_canonical();
                    if !self.trusts(client) {
                        return client;
                    }
                }
                None => return peer,
            }
        }
        client
    }
}

/// The client's address, as worked out for this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientIp(pub(crate) IpAddr);

/// A request whose client can be asked for: `HttpRequest` and `ServiceRequest`.
pub(crate) trait Request {
    fn http_request(&self) -> &actix_web::HttpRequest;
}

impl Request for actix_web::HttpRequest {
    fn http_request(&self) -> &actix_web::HttpRequest {
        self
    }
}

impl Request for actix_web::dev::ServiceRequest {
    fn http_request(&self) -> &actix_web::HttpRequest {
        self.request()
    }
}

/// The client's address: the one the access log worked out from the trusted proxies' headers,
/// or (in an app without it, as some tests build) the TCP peer. `None` only without a peer.
pub(crate) fn client_ip(req: &impl Request) -> Option<IpAddr> {
    let req = req.http_request();
    if let Some(ClientIp(ip)) = req.extensions().get::<ClientIp>() {
        return Some(*ip);
    }
    req.peer_addr().map(|p| p.ip().to_canonical())
}

/// The items of a comma-separated header value, commas inside quoted strings kept.
fn split_list(value: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(value);
    let mut items = Vec::new();
    let mut current = String::new();
    let (mut quoted, mut escaped) = (false, false);
    for c in text.chars() {
        match c {
            _ if escaped => {
                escaped = false;
                current.push(c);
            }
            '\\' if quoted => {
                escaped = true;
                current.push(c);
            }
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            ',' if !quoted => items.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    items.push(current);
    items
}

/// The address of one `Forwarded` element's `for=` parameter (None: missing, `unknown`,
/// obfuscated or not an address).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("for") {
            return None;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        node_address(value)
    })
}

/// The address of a node (RFC 7239 §6): `192.0.2.43`, `192.0.2.43:47011`, `[2001:db8::1]`,
/// `[2001:db8::1]:4711`, and in `X-Forwarded-For` also a bare `2001:db8::1`.
fn node_address(node: &str) -> Option<IpAddr> {
    if let Some(rest) = node.strip_prefix('[') {
        let (ip, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.starts_with(':')) {
            return None;
        }
        return ip.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    let (ip, port) = node.rsplit_once(':')?;
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
        return None;
    }
    ip.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}
