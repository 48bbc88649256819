//! Where a webhook may be delivered: every special-purpose range of the IANA IPv4 and IPv6
//! Special-Purpose Address Registries (RFC 6890 and its updates), multicast, and every IPv6
//! address outside global unicast (`2000::/3`) is refused. One table names each range and the
//! RFC that sets it aside. Invariant: an address that carries an IPv4 address a gateway would
//! reach (IPv4-mapped `::ffff:0:0/96`, NAT64 `64:ff9b::/96`) is judged by that IPv4 address;
//! every other translation or tunnelling prefix (6to4, Teredo, local-use NAT64, IPv4-compatible,
//! SIIT) is refused outright, since where it leads is not the address's to say.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// How an address in a range is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Judge {
    /// Refused: no webhook goes there.
    Refuse,
    /// The IPv4 address in the last 32 bits is what a connection reaches: judged by it.
    EmbeddedIpv4,
}

/// One special-purpose range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialRange {
    pub network: IpAddr,
    pub prefix: u8,
    pub name: &'static str,
    pub(crate) rfc: &'static str,
    pub(crate) judge: Judge,
}

impl SpecialRange {
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for SpecialRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{} ({}, {})",
            self.network, self.prefix, self.name, self.rfc
        )
    }
}

const fn v4(
    a: u8,
    b: u8,
    c: u8,
    d: u8,
    prefix: u8,
    name: &'static str,
    rfc: &'static str,
) -> SpecialRange {
    SpecialRange {
        network: IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
        prefix,
        name,
        rfc,
        judge: Judge::Refuse,
    }
}

const fn v6(
    s: [u16; 8],
    prefix: u8,
    name: &'static str,
    rfc: &'static str,
    judge: Judge,
) -> SpecialRange {
    SpecialRange {
        network: IpAddr::V6(Ipv6Addr::new(
            s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7],
        )),
        prefix,
        name,
        rfc,
        judge,
    }
}

use Judge::{EmbeddedIpv4, Refuse};

/// Every range a webhook may not reach, the more specific before the ranges holding them (the
/// first match names the refusal).
#[rustfmt::skip]
pub const SPECIAL_PURPOSE: &[SpecialRange] = &[
    // IANA IPv4 Special-Purpose Address Registry.
    v4(0, 0, 0, 0, 32, "This host on this network", "RFC 1122"),
    v4(0, 0, 0, 0, 8, "This network", "RFC 791"),
    v4(10, 0, 0, 0, 8, "Private-Use", "RFC 1918"),
    v4(100, 64, 0, 0, 10, "Shared Address Space", "RFC 6598"),
    v4(127, 0, 0, 0, 8, "Loopback", "RFC 1122"),
    v4(169, 254, 0, 0, 16, "Link Local", "RFC 3927"),
    v4(172, 16, 0, 0, 12, "Private-Use", "RFC 1918"),
    v4(192, 0, 0, 0, 29, "IPv4 Service Continuity Prefix", "RFC 7335"),
    v4(192, 0, 0, 8, 32, "IPv4 dummy address", "RFC 7600"),
    v4(192, 0, 0, 9, 32, "Port Control Protocol Anycast", "RFC 7723"),
    v4(192, 0, 0, 10, 32, "Traversal Using Relays around NAT Anycast", "RFC 8155"),
    v4(192, 0, 0, 11, 32, "DNS-SD Service Registration Protocol Anycast", "RFC 9665"),
    v4(192, 0, 0, 170, 32, "NAT64/DNS64 Discovery", "RFC 8880"),
    v4(192, 0, 0, 171, 32, "NAT64/DNS64 Discovery", "RFC 8880"),
    v4(192, 0, 0, 0, 24, "IETF Protocol Assignments", "RFC 6890"),
    v4(192, 0, 2, 0, 24, "Documentation (TEST-NET-1)", "RFC 5737"),
    v4(192, 31, 196, 0, 24, "AS112-v4", "RFC 7535"),
    v4(192, 52, 193, 0, 24, "AMT", "RFC 7450"),
    v4(192, 88, 99, 0, 24, "Deprecated (6to4 Relay Anycast)", "RFC 7526"),
    v4(192, 168, 0, 0, 16, "Private-Use", "RFC 1918"),
    v4(192, 175, 48, 0, 24, "Direct Delegation AS112 Service", "RFC 7534"),
    v4(198, 18, 0, 0, 15, "Benchmarking", "RFC 2544"),
    v4(198, 51, 100, 0, 24, "Documentation (TEST-NET-2)", "RFC 5737"),
    v4(203, 0, 113, 0, 24, "Documentation (TEST-NET-3)", "RFC 5737"),
    v4(224, 0, 0, 0, 4, "Multicast", "RFC 5771"),
    v4(255, 255, 255, 255, 32, "Limited Broadcast", "RFC 919"),
    v4(240, 0, 0, 0, 4, "Reserved", "RFC 1112"),
    // IANA IPv6 Special-Purpose Address Registry.
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128, "Unspecified Address", "RFC 4291", Refuse),
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, "Loopback Address", "RFC 4291", Refuse),
    v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96, "IPv4-mapped Address", "RFC 4291", EmbeddedIpv4),
    v6([0, 0, 0, 0, 0xffff, 0, 0, 0], 96, "IPv4-translated Address (SIIT)", "RFC 2765", Refuse),
    v6([0, 0, 0, 0, 0, 0, 0, 0], 96, "IPv4-compatible Address (deprecated)", "RFC 4291", Refuse),
    v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96, "IPv4-IPv6 Translation", "RFC 6052", EmbeddedIpv4),
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, "Local-use IPv4/IPv6 Translation", "RFC 8215", Refuse),
    v6([0x100, 0, 0, 1, 0, 0, 0, 0], 64, "Dummy IPv6 Prefix", "RFC 9780", Refuse),
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "Discard-Only Address Block", "RFC 6666", Refuse),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, "TEREDO", "RFC 4380", Refuse),
    v6([0x2001, 1, 0, 0, 0, 0, 0, 1], 128, "Port Control Protocol Anycast", "RFC 7723", Refuse),
    v6([0x2001, 1, 0, 0, 0, 0, 0, 2], 128, "Traversal Using Relays around NAT Anycast", "RFC 8155", Refuse),
    v6([0x2001, 1, 0, 0, 0, 0, 0, 3], 128, "DNS-SD Service Registration Protocol Anycast", "RFC 9665", Refuse),
    v6([0x2001, 2, 0, 0, 0, 0, 0, 0], 48, "Benchmarking", "RFC 5180", Refuse),
    v6([0x2001, 3, 0, 0, 0, 0, 0, 0], 32, "AMT", "RFC 7450", Refuse),
    v6([0x2001, 4, 0x112, 0, 0, 0, 0, 0], 48, "AS112-v6", "RFC 7535", Refuse),
    v6([0x2001, 0x10, 0, 0, 0, 0, 0, 0], 28, "Deprecated (previously ORCHID)", "RFC 4843", Refuse),
    v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28, "ORCHIDv2", "RFC 7343", Refuse),
    v6([0x2001, 0x30, 0, 0, 0, 0, 0, 0], 28, "Drone Remote ID Protocol Entity Tags (DETs) Prefix", "RFC 9374", Refuse),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, "IETF Protocol Assignments", "RFC 2928", Refuse),
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "Documentation", "RFC 3849", Refuse),
    v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, "6to4", "RFC 3056", Refuse),
    v6([0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0], 48, "Direct Delegation AS112 Service", "RFC 7534", Refuse),
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "Documentation", "RFC 9637", Refuse),
    v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, "Segment Routing (SRv6) SIDs", "RFC 9602", Refuse),
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "Unique-Local", "RFC 4193", Refuse),
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "Link-Local Unicast", "RFC 4291", Refuse),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "Multicast", "RFC 4291", Refuse),
];

/// Every IPv6 address outside global unicast: reserved or unassigned by the IETF (the IANA
/// IPv6 Address Space registry), so not a public receiver's.
pub(crate) const NOT_GLOBAL_UNICAST: SpecialRange = SpecialRange {
    network: IpAddr::V6(Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0)),
    prefix: 3,
    name: "Global Unicast",
    rfc: "RFC 4291",
    judge: Refuse,
};

/// Why `ip` is refused as a webhook target, in words (the range, its name and its RFC, and
/// for an address that carries an IPv4 address, that address), or `None` for a public address.
pub fn refusal(ip: IpAddr) -> Option<String> {
    let Some(range) = SPECIAL_PURPOSE.iter().find(|r| r.contains(ip)) else {
        return match ip {
            IpAddr::V6(_) if !NOT_GLOBAL_UNICAST.contains(ip) => Some(format!(
                "{ip} is outside {NOT_GLOBAL_UNICAST}: reserved or unassigned"
            )),
            _ => None,
        };
    };
    match (range.judge, ip) {
        (EmbeddedIpv4, IpAddr::V6(v6)) => {
            let embedded = IpAddr::V4(Ipv4Addr::from((u128::from(v6) & 0xffff_ffff) as u32));
            refusal(embedded).map(|why| format!("{ip} is in {range} and carries {why}"))
        }
        _ => Some(format!("{ip} is in {range}")),
    }
}

/// Whether an address is one a webhook may not reach without the operator's leave.
pub fn is_forbidden(ip: IpAddr) -> bool {
    refusal(ip).is_some()
}
