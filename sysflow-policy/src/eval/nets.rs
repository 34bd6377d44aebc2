//! IPv4 networks for CIDR matching (Falco's `fd.net`, `fd.snet`, `fd.cnet`; Sigma's
//! `|cidr`): parsed once at compile time, tested with two integer operations per part.

use std::net::Ipv4Addr;

use sysflow_model::flat::Value;

/// An IPv4 network `addr/len` as host-order integers (`addr` already masked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net4 {
    pub addr: u32,
    pub mask: u32,
}

impl Net4 {
    /// Parses `a.b.c.d/len` or a bare address (= `/32`). `None` for anything else
    /// (IPv6 networks included: SysFlow records carry IPv4 addresses only).
    pub fn parse(s: &str) -> Option<Net4> {
        let s = s.trim();
        let (ip, len) = match s.split_once('/') {
            Some((ip, len)) => (ip, len.trim().parse::<u8>().ok().filter(|l| *l <= 32)?),
            None => (s, 32),
        };
        let addr = u32::from(ip.trim().parse::<Ipv4Addr>().ok()?);
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
        Some(Net4 {
            addr: addr & mask,
            mask,
        })
    }

    #[inline]
    pub fn contains(&self, ip: u32) -> bool {
        ip & self.mask == self.addr
    }
}

/// SysFlow's IPv4 form (network-order bytes read as a little-endian `i32`) in host order.
#[inline]
fn host_order(v: i32) -> u32 {
    u32::from_be_bytes(v.to_le_bytes())
}

/// Whether any address of the value lies in any of the networks. Addresses held as text
/// (another namespace's fields) are parsed; other values never match.
pub fn in_nets(v: &Value<'_>, nets: &[Net4]) -> bool {
    let hit = |ip: u32| nets.iter().any(|n| n.contains(ip));
    match *v {
        Value::Ipv4(a) => hit(host_order(a)),
        Value::Ipv4Pair(a, b) => hit(host_order(a)) || hit(host_order(b)),
        Value::Missing => false,
        _ => v.any_part(|p| {
            p.trim()
                .parse::<Ipv4Addr>()
                .is_ok_and(|a| hit(u32::from(a)))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_networks_and_addresses() {
        let n = Net4::parse("10.1.2.3/8").unwrap();
        assert_eq!((n.addr, n.mask), (0x0a00_0000, 0xff00_0000));
        assert_eq!(Net4::parse("192.168.0.1").unwrap().mask, u32::MAX);
        assert_eq!(Net4::parse("0.0.0.0/0").unwrap().mask, 0);
        assert!(Net4::parse("10.0.0.0/33").is_none());
        assert!(Net4::parse("::1/128").is_none());
        assert!(Net4::parse("bash").is_none());
    }

    #[test]
    fn matches_sysflow_addresses() {
        // 127.0.0.1 as SysFlow stores it: bytes 127,0,0,1 read little-endian.
        let lo = i32::from_le_bytes([127, 0, 0, 1]);
        let ten = i32::from_le_bytes([10, 9, 8, 7]);
        let nets = [Net4::parse("127.0.0.0/8").unwrap()];
        assert!(in_nets(&Value::Ipv4(lo), &nets));
        assert!(!in_nets(&Value::Ipv4(ten), &nets));
        assert!(in_nets(&Value::Ipv4Pair(ten, lo), &nets));
        assert!(in_nets(&Value::Str("127.1.2.3"), &nets));
        assert!(!in_nets(&Value::Str("not an ip"), &nets));
        assert!(!in_nets(&Value::Missing, &nets));
        let host = [Net4::parse("10.9.8.7").unwrap()];
        assert!(in_nets(&Value::Ipv4(ten), &host));
        assert!(!in_nets(&Value::Ipv4(lo), &host));
    }
}
