//! The client network a request counts against for anti-automation limits: an IPv4 address, or
//! the /64 an IPv6 address is in (one host, or one home, usually owns a whole /64: keying by the
//! full address would give it 2^64 budgets).
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::request::ClientInfo;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientNetwork {
    V4(Ipv4Addr),
    /// The first 64 bits of the address.
    V6(u64),
    /// No client address (a request that did not come through a socket). All such requests share
    /// one budget: a missing address never means "no limit".
    Unknown,
}

impl ClientNetwork {
    pub fn of_ip(ip: Option<IpAddr>) -> Self {
        match ip.map(|ip| ip.to_canonical()) {
            Some(IpAddr::V4(v4)) => Self::V4(v4),
            Some(IpAddr::V6(v6)) => Self::V6((u128::from(v6) >> 64) as u64),
            None => Self::Unknown,
        }
    }

    /// The network of the address the server recorded for the request (see the server's
    /// `trusted_proxies`).
    pub fn of(client: &ClientInfo) -> Self {
        Self::of_ip(client.ip.as_deref().and_then(|ip| ip.parse().ok()))
    }
}

impl fmt::Display for ClientNetwork {
    /// "203.0.113.5", "2001:db8:1:2::/64" or "unknown".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::V4(v4) => write!(f, "{v4}"),
            Self::V6(prefix) => write!(f, "{}/64", Ipv6Addr::from(u128::from(*prefix) << 64)),
            Self::Unknown => f.write_str("unknown"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(ip: &str) -> ClientNetwork {
        ClientNetwork::of_ip(Some(ip.parse().unwrap()))
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_and_ipv4_by_the_address() {
        assert_eq!(net("2001:db8:1:2::1"), net("2001:db8:1:2:ffff:ffff:ffff:ffff"));
        assert_ne!(net("2001:db8:1:2::1"), net("2001:db8:1:3::1"));
        assert_eq!(net("2001:db8:1:2:abcd::9").to_string(), "2001:db8:1:2::/64");
        assert_ne!(net("203.0.113.5"), net("203.0.113.6"));
        assert_eq!(net("203.0.113.5").to_string(), "203.0.113.5");
        // an IPv4 client seen through an IPv6 socket is the same client
        assert_eq!(net("::ffff:203.0.113.5"), net("203.0.113.5"));
        assert_eq!(ClientNetwork::of_ip(None).to_string(), "unknown");
        let unknown = ClientInfo { ip: Some("not an address".into()), ..Default::default() };
        assert_eq!(ClientNetwork::of(&unknown), ClientNetwork::Unknown);
    }
}
