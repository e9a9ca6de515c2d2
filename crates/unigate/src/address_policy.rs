//! Which IP addresses an integration may reach: public ones always; private, loopback,
//! link-local or reserved ones only in the networks it declares
//! (`allowed_private_networks`); and which host names its URLs may name
//! (`allowed_hosts`, [`host_allowed`]). Pure address arithmetic, below `catalog` (which compiles
//! an integration's policy) and `upstream` (whose resolver enforces it, `upstream::net`).
//!
//! Hand-written CIDR parsing: a few lines, and it keeps the check free of a dependency.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A CIDR block, `10.0.0.0/8` or `fd00::/8`; a bare address is a block of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Network {
    /// The address with its host bits cleared.
    base: IpAddr,
    prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an IP network (expected e.g. `10.0.0.0/8`, `fd00::/8` or `192.168.1.20`)")]
pub struct BadNetwork(pub String);

impl std::str::FromStr for Network {
    type Err = BadNetwork;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadNetwork(s.to_string());
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            // Digits only: `+8` or ` 8` are typos, not prefixes.
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().map_err(|_| bad())?
            }
            Some(_) => return Err(bad()),
            None => max,
        };
        if prefix > max {
            return Err(bad());
        }
        Ok(Network {
            base: mask(addr, prefix),
            prefix,
        })
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let m = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix))
            };
            IpAddr::V4(Ipv4Addr::from(bits & m))
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let m = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix))
            };
            IpAddr::V6(Ipv6Addr::from(bits & m))
        }
    }
}

impl Network {
    /// Whether `ip` is in this block; an IPv4-mapped IPv6 address counts as its IPv4 one.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.base.is_ipv4() && mask(ip, self.prefix) == self.base
    }
}

/// True for addresses reachable on the public Internet: not in any IANA special-purpose
/// block (RFC 6890 and its updates) that is private, loopback, link-local, shared (CGNAT),
/// documentation, benchmarking, multicast, reserved or unspecified. Addresses that embed an
/// IPv4 address (mapped, NAT64, 6to4) are judged by that address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => is_public_v4(a),
        IpAddr::V6(a) => is_public_v6(a),
    }
}

fn is_public_v4(a: Ipv4Addr) -> bool {
    let [o1, o2, o3, _] = a.octets();
    !(o1 == 0                                       // "this network" 0.0.0.0/8
        || o1 == 10                                 // private 10.0.0.0/8
        || (o1 == 100 && (o2 & 0xc0) == 64)         // shared address space 100.64.0.0/10
        || o1 == 127                                // loopback
        || (o1 == 169 && o2 == 254)                 // link-local, cloud metadata services
        || (o1 == 172 && (o2 & 0xf0) == 16)         // private 172.16.0.0/12
        || (o1 == 192 && o2 == 0 && o3 == 0)        // IETF protocol assignments
        || (o1 == 192 && o2 == 0 && o3 == 2)        // TEST-NET-1
        || (o1 == 192 && o2 == 88 && o3 == 99)      // 6to4 relay anycast
        || (o1 == 192 && o2 == 168)                 // private 192.168.0.0/16
        || (o1 == 198 && (o2 & 0xfe) == 18)         // benchmarking 198.18.0.0/15
        || (o1 == 198 && o2 == 51 && o3 == 100)     // TEST-NET-2
        || (o1 == 203 && o2 == 0 && o3 == 113)      // TEST-NET-3
        || o1 >= 224) // multicast 224/4, reserved 240/4, broadcast
}

fn is_public_v6(a: Ipv6Addr) -> bool {
    if let Some(v4) = a.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = a.segments();
    let embedded_v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        // NAT64 well-known prefix 64:ff9b::/96: the IPv4 address it reaches.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => return is_public_v4(embedded_v4(hi, lo)),
        // 6to4 2002::/16: the IPv4 address in bits 16..48.
        [0x2002, hi, lo, ..] => return is_public_v4(embedded_v4(hi, lo)),
        _ => {}
    }
    !(s[..6] == [0, 0, 0, 0, 0, 0]                  // ::/96: unspecified, loopback, IPv4-compatible
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1) // local-use NAT64 64:ff9b:1::/48
        || (s[0] == 0x100 && s[1..4] == [0, 0, 0])  // discard-only 100::/64
        || (s[0] == 0x2001 && s[1] < 0x200)         // IETF protocol assignments 2001::/23
        || (s[0] == 0x2001 && s[1] == 0xdb8)        // documentation 2001:db8::/32
        || (s[0] & 0xfff0) == 0x3ff0                // documentation 3fff::/20
        || s[0] == 0x5f00                           // SRv6 SIDs 5f00::/16
        || (s[0] & 0xfe00) == 0xfc00                // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80                // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0                // site-local (deprecated) fec0::/10
        || (s[0] & 0xff00) == 0xff00) // multicast ff00::/8
}

/// The addresses one integration may reach: every public one, plus the private networks
/// it declares.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct AddressPolicy {
    pub allowed_private: Vec<Network>,
}

impl AddressPolicy {
    pub fn permits(&self, ip: IpAddr) -> bool {
        is_public(ip) || self.allowed_private.iter().any(|n| n.contains(ip))
    }
}

/// Whether `url` is `https` on a host the patterns allow: `*.example.com` matches any
/// subdomain of example.com; other patterns match exactly. Checked when the catalog is
/// compiled (a resource's own `base_url`) and on each call (a rendered `base_url`).
pub fn host_allowed(url: &url::Url, patterns: &[String]) -> bool {
    let Some(host) = url.host_str() else { return false };
    let host = host.to_ascii_lowercase();
    url.scheme() == "https"
        && patterns.iter().any(|p| match p.strip_prefix("*.") {
            Some(suffix) => host.ends_with(&format!(".{suffix}")),
            None => host == p.to_ascii_lowercase(),
        })
}

#[cfg(test)]
mod host_tests {
    #![allow(clippy::unwrap_used)]
    use super::host_allowed;

    #[test]
    fn wildcard_hosts_match_subdomains_only_over_https() {
        let pats = vec!["*.mindbridge.ai".to_string(), "api.mist.com".to_string()];
        assert!(host_allowed(
            &url::Url::parse("https://acme.mindbridge.ai/x").unwrap(),
            &pats
        ));
        assert!(host_allowed(&url::Url::parse("https://api.mist.com/").unwrap(), &pats));
        assert!(!host_allowed(
            &url::Url::parse("https://mindbridge.ai.evil.com/").unwrap(),
            &pats
        ));
        assert!(!host_allowed(
            &url::Url::parse("https://evil.com/?.mindbridge.ai").unwrap(),
            &pats
        ));
        assert!(!host_allowed(
            &url::Url::parse("http://acme.mindbridge.ai/").unwrap(),
            &pats
        ));
    }
}
