//! Who is asking: the client's address (the socket peer, or what a trusted proxy forwarded) and
//! user agent, as the session middleware puts them in each request (`ClientInfo`).
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request};
use http::header;

use domain::request::ClientInfo;

/// The client's address: the socket peer, or, when the peer is a trusted proxy, the right-most
/// address in `X-Forwarded-For` that is not itself a trusted proxy. Addresses are compared in
/// their canonical form: on a dual-stack listener (`[::]:…`) an IPv4 proxy connects as
/// `::ffff:a.b.c.d`, which must still match the `a.b.c.d` configured (it did not: every client
/// then had the proxy's address, and shared its rate limits).
fn client_ip(peer: Option<IpAddr>, forwarded_for: Option<&str>, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = peer?.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|t| t.to_canonical() == *ip);
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let mut chain = forwarded_for.unwrap_or_default().split(',').map(str::trim).rev();
    for hop in chain.by_ref() {
        match parse_hop(hop).map(|ip| ip.to_canonical()) {
            Some(ip) if is_trusted(&ip) => continue,
            Some(ip) => return Some(ip),
            None => break, // malformed: stop believing the header
        }
    }
    Some(peer)
}

/// One `X-Forwarded-For` entry: an address, or one with its port (`198.51.100.7:51234`,
/// `[2001:db8::1]:443`) or in brackets (`[2001:db8::1]`), as some proxies write them. (Read only as
/// a bare address, such an entry stopped the walk, and every client behind that proxy shared the
/// proxy's address and its rate limits.)
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| hop.strip_prefix('[')?.strip_suffix(']')?.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6))
}

/// Every `X-Forwarded-For` line, in order, as one comma-separated list (RFC 9110 §5.3: several
/// lines of a list header are one list; a proxy may append its own line rather than extend the
/// client's). A line that is not text becomes an empty entry, which stops the walk in `client_ip`.
fn forwarded_for(req: &Request) -> Option<String> {
    let lines: Vec<&str> = req.headers().get_all("x-forwarded-for").iter().map(|v| v.to_str().unwrap_or("")).collect();
    (!lines.is_empty()).then(|| lines.join(","))
}

/// IP and user agent; the country is looked up only by the actions that record it (not on every request).
pub(crate) fn client_info(req: &Request, trusted: &[IpAddr]) -> ClientInfo {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let forwarded = forwarded_for(req);
    ClientInfo {
        country: None,
        location: None,
        ip: client_ip(peer, forwarded.as_deref(), trusted).map(|ip| ip.to_string()),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect()),
        // read by the server functions that check passwords (app::server::client)
        device: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::middleware::test_request as req;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let proxy = ip("10.0.0.2");
        let trusted = [proxy];
        // a client cannot choose its address
        assert_eq!(client_ip(Some(ip("203.0.113.5")), Some("1.2.3.4"), &trusted), Some(ip("203.0.113.5")));
        // behind the proxy: the right-most untrusted hop (what the proxy saw), not a spoofed left entry
        assert_eq!(client_ip(Some(proxy), Some("1.2.3.4, 198.51.100.7"), &trusted), Some(ip("198.51.100.7")));
        assert_eq!(client_ip(Some(proxy), Some("198.51.100.7, 10.0.0.2"), &trusted), Some(ip("198.51.100.7")));
        assert_eq!(client_ip(Some(proxy), None, &trusted), Some(proxy));
        assert_eq!(client_ip(Some(proxy), Some("garbage"), &trusted), Some(proxy));
        assert_eq!(client_ip(None, Some("1.2.3.4"), &trusted), None);
    }

    /// Some proxies write the client's port too, or an IPv6 address in brackets: still the client's
    /// own address (before, each such entry stopped the walk and every client shared the proxy's).
    #[test]
    fn forwarded_entries_with_a_port_or_brackets_are_read_as_their_address() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let proxy = ip("10.0.0.2");
        for (entry, client) in [
            ("198.51.100.7:51234", "198.51.100.7"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"),
            ("1.2.3.4, 198.51.100.7:51234, 10.0.0.2:80", "198.51.100.7"),
        ] {
            assert_eq!(client_ip(Some(proxy), Some(entry), &[proxy]), Some(ip(client)), "{entry}");
        }
        for still_malformed in ["198.51.100.7:", "[198.51.100.7]", "2001:db8::1]:443", "198.51.100.7:99999"] {
            assert_eq!(client_ip(Some(proxy), Some(still_malformed), &[proxy]), Some(proxy), "{still_malformed}");
        }
    }

    /// On a dual-stack listener an IPv4 proxy connects as `::ffff:10.0.0.2`: still the trusted
    /// proxy (before, its clients all got the proxy's address and shared its limits).
    #[test]
    fn an_ipv4_proxy_is_recognised_when_it_connects_to_a_dual_stack_listener() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let trusted = [ip("10.0.0.2")];
        assert_eq!(client_ip(Some(ip("::ffff:10.0.0.2")), Some("198.51.100.7"), &trusted), Some(ip("198.51.100.7")));
        assert_eq!(client_ip(Some(ip("::ffff:10.0.0.2")), Some("198.51.100.7, ::ffff:10.0.0.2"), &trusted), Some(ip("198.51.100.7")));
        // and a client connecting that way is known by its IPv4 address
        assert_eq!(client_ip(Some(ip("::ffff:203.0.113.5")), Some("1.2.3.4"), &trusted), Some(ip("203.0.113.5")));
    }

    #[test]
    fn forwarded_for_reads_every_header_line_in_order() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let proxy = ip("10.0.0.2");
        let from_proxy = |lines: &[&str]| {
            let mut r = req(&lines.iter().map(|l| ("x-forwarded-for", *l)).collect::<Vec<_>>());
            r.extensions_mut().insert(ConnectInfo(SocketAddr::new(proxy, 40000)));
            client_info(&r, &[proxy]).ip
        };
        // the client sent a line of its own; the proxy appended the address it saw on a second line
        assert_eq!(from_proxy(&["1.2.3.4", "198.51.100.7"]).as_deref(), Some("198.51.100.7"));
        assert_eq!(from_proxy(&["1.2.3.4, 5.6.7.8", "198.51.100.7, 10.0.0.2"]).as_deref(), Some("198.51.100.7"));
        assert_eq!(from_proxy(&["198.51.100.7"]).as_deref(), Some("198.51.100.7"));
        // a line that is not an address list stops the walk at the proxy
        assert_eq!(from_proxy(&["1.2.3.4", "garbage"]).as_deref(), Some("10.0.0.2"));
        assert_eq!(from_proxy(&[]).as_deref(), Some("10.0.0.2"));
    }
}
