//! The webhook target filter, range by range: for every range of the IANA IPv4 and IPv6
//! Special-Purpose Address Registries (and multicast, and IPv6 outside global unicast), an
//! address inside is refused, naming the range, and a public address just outside is allowed;
//! both ends of every range in the table are refused; addresses that carry an IPv4 address are
//! judged by it; a host that does not resolve is a DNS failure, not a refusal.

use std::net::IpAddr;

use wexqs::service::webhook_targets::{SPECIAL_PURPOSE, refusal};
use wexqs::service::webhooks::{TargetError, check_target};

/// (the range as the table writes it, an address inside it, a public address just outside).
#[rustfmt::skip]
const CASES: &[(&str, &str, &str)] = &[
    ("0.0.0.0/32", "0.0.0.0", "1.0.0.0"),
    ("0.0.0.0/8", "0.255.255.255", "1.0.0.1"),
    ("10.0.0.0/8", "10.128.0.1", "11.0.0.0"),
    ("100.64.0.0/10", "100.127.255.255", "100.128.0.0"),
    ("127.0.0.0/8", "127.8.8.8", "128.0.0.0"),
    ("169.254.0.0/16", "169.254.169.254", "169.255.0.0"),
    ("172.16.0.0/12", "172.31.255.255", "172.32.0.0"),
    ("192.0.0.0/29", "192.0.0.7", "191.255.255.255"),
    ("192.0.0.8/32", "192.0.0.8", "192.0.1.0"),
    ("192.0.0.9/32", "192.0.0.9", "192.0.1.0"),
    ("192.0.0.10/32", "192.0.0.10", "192.0.1.0"),
    ("192.0.0.11/32", "192.0.0.11", "192.0.1.0"),
    ("192.0.0.170/32", "192.0.0.170", "192.0.1.0"),
    ("192.0.0.171/32", "192.0.0.171", "192.0.1.0"),
    ("192.0.0.0/24", "192.0.0.200", "192.0.1.0"),
    ("192.0.2.0/24", "192.0.2.1", "192.0.3.0"),
    ("192.31.196.0/24", "192.31.196.1", "192.31.197.0"),
    ("192.52.193.0/24", "192.52.193.1", "192.52.192.255"),
    ("192.88.99.0/24", "192.88.99.1", "192.88.100.0"),
    ("192.168.0.0/16", "192.168.1.1", "192.169.0.0"),
    ("192.175.48.0/24", "192.175.48.1", "192.175.49.0"),
    ("198.18.0.0/15", "198.19.255.255", "198.20.0.0"),
    ("198.51.100.0/24", "198.51.100.1", "198.51.101.0"),
    ("203.0.113.0/24", "203.0.113.1", "203.0.114.0"),
    ("224.0.0.0/4", "239.255.255.250", "223.255.255.255"),
    ("255.255.255.255/32", "255.255.255.255", "223.255.255.254"),
    ("240.0.0.0/4", "240.0.0.1", "223.255.255.253"),
    ("::/128", "::", "2000::"),
    ("::1/128", "::1", "2000::1"),
    ("::ffff:0.0.0.0/96", "::ffff:10.0.0.1", "2000::2"),
    ("::ffff:0:0:0/96", "::ffff:0:808:808", "2000::3"),
    ("::/96", "::8.8.8.8", "2000::4"),
    ("64:ff9b::/96", "64:ff9b::c0a8:101", "64:ff9b::808:808"),
    ("64:ff9b:1::/48", "64:ff9b:1::808:808", "2000::5"),
    ("100:0:0:1::/64", "100:0:0:1::1", "2000::6"),
    ("100::/64", "100::1", "2000::7"),
    ("2001::/32", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:200::1"),
    ("2001:1::1/128", "2001:1::1", "2001:200::1"),
    ("2001:1::2/128", "2001:1::2", "2001:200::1"),
    ("2001:1::3/128", "2001:1::3", "2001:200::1"),
    ("2001:2::/48", "2001:2::1", "2001:200::1"),
    ("2001:3::/32", "2001:3::1", "2001:200::1"),
    ("2001:4:112::/48", "2001:4:112::1", "2001:200::1"),
    ("2001:10::/28", "2001:10::1", "2001:200::1"),
    ("2001:20::/28", "2001:2f::1", "2001:200::1"),
    ("2001:30::/28", "2001:30::1", "2001:200::1"),
    ("2001::/23", "2001:1ff:ffff::1", "2001:200::"),
    ("2001:db8::/32", "2001:db8::1", "2001:db9::"),
    ("2002::/16", "2002:808:808::1", "2003::"),
    ("2620:4f:8000::/48", "2620:4f:8000::1", "2620:4f:8001::"),
    ("3fff::/20", "3fff:fff::1", "3fff:1000::"),
    ("5f00::/16", "5f00::1", "2000::b"),
    ("fc00::/7", "fd12:3456::1", "2000::8"),
    ("fe80::/10", "fe80::1", "2000::9"),
    ("ff00::/8", "ff02::1", "2000::a"),
];

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// The first and last address of a table range.
fn ends(network: IpAddr, prefix: u8) -> (IpAddr, IpAddr) {
    match network {
        IpAddr::V4(n) => {
            let host = u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
            (network, IpAddr::V4((u32::from(n) | host).into()))
        }
        IpAddr::V6(n) => {
            let host = u128::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
            (network, IpAddr::V6((u128::from(n) | host).into()))
        }
    }
}

#[test]
fn every_special_purpose_range_is_refused_and_a_public_neighbour_is_not() {
    for range in SPECIAL_PURPOSE {
        let written = format!("{}/{}", range.network, range.prefix);
        let case = CASES.iter().find(|(r, _, _)| *r == written);
        assert!(
            case.is_some(),
            "{written} ({}) has no test case",
            range.name
        );
        let (first, last) = ends(range.network, range.prefix);
        // (An embedding range's ends carry 0.0.0.0 and 255.255.255.255, both refused.)
        for end in [first, last] {
            assert!(
                refusal(end).is_some(),
                "{end}, an end of {written}, is allowed"
            );
        }
    }
    for (written, inside, outside) in CASES {
        let why = refusal(ip(inside));
        assert!(why.is_some(), "{inside} (in {written}) is allowed");
        let why = why.unwrap();
        assert!(
            why.contains(written),
            "{inside}: {why} does not name {written}"
        );
        assert!(why.contains("RFC "), "{why}");
        assert_eq!(
            refusal(ip(outside)),
            None,
            "{outside}, just outside {written}"
        );
    }
    assert_eq!(
        CASES.len(),
        SPECIAL_PURPOSE.len(),
        "a case for each range, no more"
    );
}

#[test]
fn an_address_carrying_an_ipv4_address_is_judged_by_it_and_other_ipv6_space_is_refused() {
    for (refused, named) in [
        ("::ffff:127.0.0.1", "127.0.0.0/8"),
        ("::ffff:169.254.169.254", "169.254.0.0/16"),
        ("::ffff:192.88.99.1", "192.88.99.0/24"),
        ("64:ff9b::a9fe:a9fe", "169.254.0.0/16"),
        ("64:ff9b::7f00:1", "127.0.0.0/8"),
        ("fec0::1", "outside 2000::/3"),
        ("4000::1", "outside 2000::/3"),
        ("e000::1", "outside 2000::/3"),
    ] {
        let why = refusal(ip(refused)).unwrap_or_default();
        assert!(why.contains(named), "{refused}: {why:?}");
    }
    for public in [
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "93.184.216.34",
        "2606:4700::1111",
        "2a00:1450::1",
        "3ffe::1",
    ] {
        assert_eq!(refusal(ip(public)), None, "{public}");
    }
}

#[tokio::test]
async fn a_host_that_does_not_resolve_is_a_dns_failure_and_a_special_address_a_refusal() {
    let dns = check_target("https://no-such-host.invalid/hook", false).await;
    assert!(matches!(dns, Err(TargetError::Dns(_))), "{dns:?}");
    let refused = check_target("https://[64:ff9b:1::808:808]/hook?token=x", false).await;
    let Err(TargetError::Refused(why)) = refused else {
        panic!("{refused:?}")
    };
    assert!(why.contains("64:ff9b:1::/48"), "{why}");
    assert!(!why.contains("token"), "{why}");
    let allowed = check_target("https://[2606:4700::1111]/hook", false).await;
    assert!(allowed.is_ok(), "{allowed:?}");
}
