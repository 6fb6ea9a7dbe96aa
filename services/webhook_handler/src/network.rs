//! Who sent a request, and whether they may: the client address is the peer's, or, when the
//! peer is one of the `trusted_proxies`, the right-most address of `X-Forwarded-For` that is
//! not itself a trusted proxy (the left part of that header is whatever the client wrote).
//! A hook's `allowed_ips` then admits senders by network.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// Parses CIDRs (`10.0.0.0/8`, `2001:db8::/32`) or single addresses; the error names the
/// index of the first bad entry.
pub fn parse_networks(entries: &[String]) -> Result<Vec<IpNet>, (usize, String)> {
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let entry = entry.trim();
            entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    (
                        i,
                        format!("{entry:?} is not a CIDR such as 10.0.0.0/8 or an address"),
                    )
                })
        })
        .collect()
}

/// Whether `address` is in one of `networks`; IPv4-mapped IPv6 addresses count as IPv4.
pub fn contains(networks: &[IpNet], address: IpAddr) -> bool {
    let address = canonical(address);
    networks.iter().any(|n| n.contains(&address))
}

fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// The client's address: `peer`, unless `peer` is a trusted proxy, in which case the
/// right-most `X-Forwarded-For` entry that is not a trusted proxy.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpNet]) -> IpAddr {
    if !contains(trusted_proxies, peer) {
        return canonical(peer);
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
        .collect();
    forwarded
        .into_iter()
        .rev()
        .find(|address| !contains(trusted_proxies, *address))
        .map_or(canonical(peer), canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn networks(entries: &[&str]) -> Vec<IpNet> {
        parse_networks(&entries.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", value.parse().unwrap());
        headers
    }

    #[test]
    fn cidrs_and_single_addresses_parse_and_bad_ones_are_named() {
        assert_eq!(
            networks(&["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]).len(),
            3
        );
        let bad = parse_networks(&["10.0.0.0/8".into(), "10.0.0/33".into()]).unwrap_err();
        assert_eq!(bad.0, 1);
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let trusted = networks(&["10.0.0.0/8"]);
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(client_address(peer, &forwarded("1.2.3.4"), &trusted), peer);
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        let trusted = networks(&["10.0.0.0/8"]);
        let peer: IpAddr = "10.0.0.2".parse().unwrap();
        let headers = forwarded("6.6.6.6, 198.51.100.4, 10.0.0.9");
        assert_eq!(
            client_address(peer, &headers, &trusted),
            "198.51.100.4".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn mapped_ipv6_addresses_match_ipv4_networks() {
        let allowed = networks(&["192.0.2.0/24"]);
        assert!(contains(&allowed, "::ffff:192.0.2.10".parse().unwrap()));
        assert!(!contains(&allowed, "192.0.3.1".parse().unwrap()));
    }
}
