//! Who the client is behind a proxy: `Forwarded` and `X-Forwarded-For` read only from a trusted
//! peer (the parser's edge cases), and through a real `wexqs serve`: behind a trusted proxy two
//! clients are limited apart; from an untrusted peer, forged headers change nothing.

use std::net::IpAddr;
use std::time::Duration;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use wexqs::http::client::TrustedProxies;

use crate::helpers::{ServerLog, serve_with};

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn client(trusted: &str, peer: &str, pairs: &[(&str, &str)]) -> IpAddr {
    TrustedProxies::parse(trusted)
        .unwrap()
        .client_of(ip(peer), &headers(pairs))
}

#[test]
fn an_untrusted_peer_is_the_client_whatever_it_says() {
    let forged = [
        ("forwarded", "for=203.0.113.9"),
        ("x-forwarded-for", "203.0.113.9"),
    ];
    assert_eq!(client("", "198.51.100.1", &forged), ip("198.51.100.1"));
    assert_eq!(
        client("10.0.0.0/8", "198.51.100.1", &forged),
        ip("198.51.100.1")
    );
}

#[test]
fn forwarded_gives_the_right_most_untrusted_for() {
    let h = [("forwarded", "for=203.0.113.9, for=198.51.100.7;proto=https")];
    assert_eq!(client("127.0.0.1", "127.0.0.1", &h), ip("198.51.100.7"));
    // The right-most is another trusted proxy: the one before it is the client.
    let h = [("forwarded", "for=203.0.113.9;by=x, for=10.1.2.3")];
    assert_eq!(
        client("127.0.0.1,10.0.0.0/8", "127.0.0.1", &h),
        ip("203.0.113.9")
    );
    // Elements split across two header lines are one list, in order.
    let h = [
        ("forwarded", "for=203.0.113.9"),
        ("forwarded", "For=\"198.51.100.7:8080\""),
    ];
    assert_eq!(client("127.0.0.1", "127.0.0.1", &h), ip("198.51.100.7"));
}

#[test]
fn forwarded_ipv6_is_quoted_and_bracketed_with_or_without_a_port() {
    let h = [("forwarded", "for=\"[2001:db8:cafe::17]:4711\"")];
    assert_eq!(client("::1", "::1", &h), ip("2001:db8:cafe::17"));
    let h = [(
        "forwarded",
        "proto=https; for=\"[2001:db8::1]\"; host=example",
    )];
    assert_eq!(client("::1", "::1", &h), ip("2001:db8::1"));
    // An IPv4-mapped peer is trusted as its IPv4 address.
    let h = [("forwarded", "for=192.0.2.60")];
    assert_eq!(
        client("127.0.0.1", "::ffff:127.0.0.1", &h),
        ip("192.0.2.60")
    );
}

#[test]
fn unknown_obfuscated_or_broken_identifiers_fall_back_to_the_peer() {
    for value in [
        "for=unknown",
        "for=_hidden",
        "for=\"_gazonk:_port\"",
        "for=203.0.113.9, for=unknown",
        "for=\"[2001:db8::1\"",
        "for=not-an-address",
        "proto=https",
        "for=\"a, b\"",
    ] {
        let h = [("forwarded", value)];
        assert_eq!(
            client("127.0.0.1", "127.0.0.1", &h),
            ip("127.0.0.1"),
            "{value}"
        );
    }
}

#[test]
fn forwarded_wins_over_x_forwarded_for() {
    let h = [
        ("x-forwarded-for", "203.0.113.1"),
        ("forwarded", "for=203.0.113.2"),
    ];
    assert_eq!(client("127.0.0.1", "127.0.0.1", &h), ip("203.0.113.2"));
}

#[test]
fn x_forwarded_for_gives_the_right_most_untrusted() {
    let h = [("x-forwarded-for", "1.2.3.4, 203.0.113.9, 10.0.0.2")];
    assert_eq!(
        client("127.0.0.1, 10.0.0.0/8", "127.0.0.1", &h),
        ip("203.0.113.9")
    );
    let h = [
        ("x-forwarded-for", "2001:db8::5"),
        ("x-forwarded-for", "::1"),
    ];
    assert_eq!(client("::1", "::1", &h), ip("2001:db8::5"));
    let h = [("x-forwarded-for", "203.0.113.9:5555")];
    assert_eq!(client("127.0.0.1", "127.0.0.1", &h), ip("203.0.113.9"));
    let h = [("x-forwarded-for", "garbage, 203.0.113.9")];
    assert_eq!(client("127.0.0.1", "127.0.0.1", &h), ip("203.0.113.9"));
    let h = [("x-forwarded-for", "203.0.113.9, garbage")];
    assert_eq!(client("127.0.0.1", "127.0.0.1", &h), ip("127.0.0.1"));
    // Every hop trusted: the left-most is as far as anyone can tell.
    let h = [("x-forwarded-for", "10.0.0.3, 10.0.0.2")];
    assert_eq!(
        client("127.0.0.1, 10.0.0.0/8", "127.0.0.1", &h),
        ip("10.0.0.3")
    );
    // No header at all: the proxy's own request.
    assert_eq!(client("127.0.0.1", "127.0.0.1", &[]), ip("127.0.0.1"));
}

#[test]
fn the_list_takes_addresses_and_ranges_and_refuses_anything_else() {
    let list = TrustedProxies::parse(" 127.0.0.1 , 10.1.2.3/8,fd00::/8 ").unwrap();
    assert!(list.trusts(ip("127.0.0.1")));
    assert!(list.trusts(ip("10.200.0.1")));
    assert!(list.trusts(ip("fd12::1")));
    assert!(!list.trusts(ip("127.0.0.2")));
    assert!(TrustedProxies::parse("none").unwrap().is_empty());
    assert!(TrustedProxies::parse("").unwrap().is_empty());
    let refused = TrustedProxies::parse("127.0.0.1,localhost").unwrap_err();
    assert!(refused.contains("'localhost'"), "{refused}");
    assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
}

/// GETs `path` from `base` with `headers`: the status and the echoed request id.
pub(crate) async fn get_with(
    client: &reqwest::Client,
    url: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let mut request = client.get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("the server answers");
    let id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (response.status().as_u16(), id)
}

/// Whether the log has an access line for `client` with `status`.
async fn access_line(log: &ServerLog, client: &str, status: u16) -> Option<String> {
    let (client, status) = (format!("client={client} "), format!("status={status} "));
    log.wait_for(Duration::from_secs(10), |l| {
        l.contains("wexqs::access") && l.contains(&client) && l.contains(&status)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_two_clients_are_limited_apart() {
    let served = serve_with(
        &["--trusted-proxies", "127.0.0.1", "--rate-limit", "1"],
        &[],
    )
    .await;
    let client = reqwest::Client::new();
    let url = format!("{}/v1/programme", served.base);
    let mut refused = 0;
    for _ in 0..30 {
        let (status, _) = get_with(&client, &url, &[("x-forwarded-for", "203.0.113.1")]).await;
        refused += usize::from(status == 429);
    }
    assert!(
        refused >= 10,
        "the flooding client was refused {refused} of 30 times"
    );
    // Another client through the same proxy is served: it has its own allowance.
    for _ in 0..3 {
        let (status, _) =
            get_with(&client, &url, &[("forwarded", "for=\"203.0.113.2:5000\"")]).await;
        assert_eq!(status, 200, "the other client is served");
    }
    // The access log names each real client, not the proxy.
    assert!(access_line(&served.log, "203.0.113.1", 429).await.is_some());
    assert!(access_line(&served.log, "203.0.113.2", 200).await.is_some());
    assert!(
        !served
            .log
            .lines()
            .iter()
            .any(|l| l.contains("route=/v1/programme ") && l.contains("client=127.0.0.1 ")),
        "no access line names the proxy as the client"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_headers_from_an_untrusted_peer_change_nothing() {
    // No proxy trusted, and one trusted that is not this peer.
    for trusted in ["none", "10.0.0.0/8,::1"] {
        let served = serve_with(&["--trusted-proxies", trusted, "--rate-limit", "1"], &[]).await;
        let client = reqwest::Client::new();
        let url = format!("{}/v1/programme", served.base);
        let mut refused = 0;
        for i in 0..30 {
            let forged_ip = format!("198.51.100.{i}");
            let forwarded = format!("for={forged_ip}");
            let forged_id = format!("forged-{i}");
            let (status, id) = get_with(
                &client,
                &url,
                &[
                    ("x-forwarded-for", forged_ip.as_str()),
                    ("forwarded", forwarded.as_str()),
                    ("x-request-id", forged_id.as_str()),
                ],
            )
            .await;
            refused += usize::from(status == 429);
            assert_ne!(id, forged_id, "an untrusted peer's request id is not taken");
            assert!(
                id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()),
                "a minted id: {id}"
            );
        }
        assert!(
            refused >= 10,
            "trusting {trusted}: one peer claiming 30 addresses was refused {refused} times"
        );
        assert!(access_line(&served.log, "127.0.0.1", 429).await.is_some());
        let lines = served.log.lines();
        assert!(
            !lines
                .iter()
                .any(|l| l.contains("198.51.100.") || l.contains("forged-")),
            "no forged address or id reaches the log"
        );
    }
}
