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
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

pub use crate::address_policy::{is_public, AddressPolicy, BadNetwork, Network};

/// An error of any kind, as the HTTP stack passes them (hyper, reqwest, rustls).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

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
