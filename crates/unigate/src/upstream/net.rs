//! Where Unigate may connect: never to private, loopback, link-local or otherwise
//! non-public addresses (SSRF), unless the integration declares the networks it needs
//! (`allowed_private_networks`) or the operator pointed it there (`base_url_overrides`).
//!
//! Two checks cover every URL Unigate follows (base URLs rendered from an account's
//! context, `Link` and next-page URLs, OAuth endpoints):
//! - an IP-literal host is checked when the request is built ([`AddressPolicy::permits`]);
//! - a host name is checked after DNS resolution, by [`GuardedResolver`], the resolver of
//!   every HTTP client Unigate builds. Checking the resolved addresses (not the name) is
//!   what stops a public-looking name that resolves to `169.254.169.254`, and since the
//!   connection uses exactly the addresses checked, a second lookup cannot rebind it.
//!
//! Hand-written CIDR parsing: a few lines, and it keeps the check free of a dependency.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use super::client::BoxError;

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

/// A host name resolved only to addresses the integration may not reach.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{host} resolves to {} (private, loopback, link-local or reserved)", join(.addresses))]
pub struct ForbiddenAddress {
    pub host: String,
    pub addresses: Vec<IpAddr>,
}

fn join(addresses: &[IpAddr]) -> String {
    addresses.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// The [`ForbiddenAddress`] somewhere in an error's cause chain (reqwest wraps what the
/// resolver returned in a connect error).
pub fn forbidden_address<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a ForbiddenAddress> {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(f) = err.downcast_ref::<ForbiddenAddress>() {
            return Some(f);
        }
        current = err.source();
    }
    None
}

/// The DNS resolver of Unigate's HTTP clients: the system resolver (as reqwest's default),
/// then every address the policy forbids is dropped; a name left with none fails with
/// [`ForbiddenAddress`]. Names the operator configured (`base_url_overrides` hosts, e.g.
/// `localhost` or a private mirror) are trusted as they resolve.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    pub policy: AddressPolicy,
    pub trusted_hosts: Arc<HashSet<String>>,
}

impl GuardedResolver {
    /// The addresses of `host` this resolver lets a client connect to (port 0).
    async fn lookup(self, host: String) -> Result<Vec<SocketAddr>, BoxError> {
        let host = host.to_ascii_lowercase();
        let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
        if self.trusted_hosts.contains(&host) {
            return Ok(resolved);
        }
        let (kept, refused): (Vec<SocketAddr>, Vec<SocketAddr>) =
            resolved.into_iter().partition(|a| self.policy.permits(a.ip()));
        if kept.is_empty() && !refused.is_empty() {
            tracing::warn!(host = %host, addresses = %join(&refused.iter().map(SocketAddr::ip).collect::<Vec<_>>()), "refused to connect to a private address");
            return Err(Box::new(ForbiddenAddress {
                host,
                addresses: refused.iter().map(SocketAddr::ip).collect(),
            }));
        }
        Ok(kept)
    }
}

/// For reqwest (OAuth token requests, and provider calls through a proxy).
impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let lookup = self.clone().lookup(name.as_str().to_string());
        Box::pin(async move { Ok(Box::new(lookup.await?.into_iter()) as reqwest::dns::Addrs) })
    }
}

/// For hyper-util's connector (provider calls, `upstream::client`).
impl tower::Service<hyper_util::client::legacy::connect::dns::Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: hyper_util::client::legacy::connect::dns::Name) -> Self::Future {
        let lookup = self.clone().lookup(name.as_str().to_string());
        Box::pin(async move { Ok(lookup.await?.into_iter()) })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn private_loopback_link_local_and_reserved_addresses_are_not_public() {
        for a in [
            "0.0.0.0",
            "10.1.2.3",
            "100.64.0.1",
            "127.0.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:a00:1::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
        ] {
            assert!(!is_public(ip(a)), "{a} must not be public");
        }
        for a in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "140.82.112.3",
            "2606:4700::1111",
            "64:ff9b::808:808",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip(a)), "{a} is public");
        }
    }

    #[test]
    fn networks_parse_mask_and_match() {
        let n: Network = "10.0.0.0/8".parse().unwrap();
        assert!(n.contains(ip("10.200.3.4")));
        assert!(n.contains(ip("::ffff:10.0.0.1")));
        assert!(!n.contains(ip("11.0.0.1")));
        assert!(!n.contains(ip("::1")));
        let host: Network = "192.168.1.20".parse().unwrap();
        assert!(host.contains(ip("192.168.1.20")) && !host.contains(ip("192.168.1.21")));
        assert_eq!("10.9.8.7/8".parse::<Network>().unwrap().to_string(), "10.0.0.0/8");
        let v6: Network = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        let all: Network = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("127.0.0.1")));
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0/8",
            "localhost",
            "10.0.0.0/+8",
            "1.2.3.4/8/9",
        ] {
            assert!(bad.parse::<Network>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_policy_permits_public_addresses_and_its_declared_networks() {
        let p = AddressPolicy {
            allowed_private: vec!["10.0.0.0/8".parse().unwrap()],
        };
        assert!(p.permits(ip("8.8.8.8")));
        assert!(p.permits(ip("10.1.1.1")));
        assert!(!p.permits(ip("192.168.0.1")));
        assert!(!AddressPolicy::default().permits(ip("127.0.0.1")));
    }

    #[tokio::test]
    async fn the_resolver_refuses_a_name_that_resolves_only_to_loopback() {
        use reqwest::dns::Resolve;
        let r = GuardedResolver {
            policy: AddressPolicy::default(),
            trusted_hosts: Arc::new(HashSet::new()),
        };
        let err = match r.resolve("localhost".parse().unwrap()).await {
            Ok(_) => panic!("localhost must be refused"),
            Err(e) => e,
        };
        let f = forbidden_address(err.as_ref()).unwrap();
        assert_eq!(f.host, "localhost");
        let trusting = GuardedResolver {
            policy: AddressPolicy::default(),
            trusted_hosts: Arc::new(HashSet::from(["localhost".to_string()])),
        };
        assert!(trusting.resolve("localhost".parse().unwrap()).await.is_ok());
        let allowing = GuardedResolver {
            policy: AddressPolicy {
                allowed_private: vec!["127.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()],
            },
            trusted_hosts: Arc::new(HashSet::new()),
        };
        assert!(allowing.resolve("localhost".parse().unwrap()).await.is_ok());
    }
}
