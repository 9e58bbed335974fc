//! SSRF guard: a merchant-supplied URL must not make the gateway call into its own network.
//! Checked when an endpoint is registered and again at every delivery, where the connection is
//! pinned to the vetted address (so DNS rebinding between check and connect does not help).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use url::Url;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("the URL is not valid: {0}")]
    Malformed(String),
    #[error("webhook URLs must use https")]
    NotHttps,
    #[error("webhook URLs must not carry credentials")]
    Credentials,
    #[error("{0} resolves to a loopback, private, link-local or metadata address")]
    Forbidden(String),
    #[error("{0} does not resolve")]
    Unresolvable(String),
}

pub const URL_LEN_MAX: usize = 2048;

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // includes 169.254.169.254, the cloud metadata service
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || (a == 100 && (64..=127).contains(&b)) // carrier-grade NAT
        || (a == 192 && b == 0) // IETF protocol assignments
        || a == 0
        || a >= 240
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || ip == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254) // AWS metadata over IPv6
}

pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

/// Checks the URL's shape (no resolution).
pub fn parse(raw: &str, allow_private: bool) -> Result<Url, UrlError> {
    if raw.len() > URL_LEN_MAX {
        return Err(UrlError::Malformed(format!("longer than {URL_LEN_MAX} characters")));
    }
    let url = Url::parse(raw).map_err(|e| UrlError::Malformed(e.to_string()))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err(UrlError::NotHttps),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlError::Credentials);
    }
    let host = url.host_str().ok_or_else(|| UrlError::Malformed("no host".into()))?;
    if !allow_private
        && (host.eq_ignore_ascii_case("localhost") || host.ends_with(".internal") || host.ends_with(".local"))
    {
        return Err(UrlError::Forbidden(host.to_owned()));
    }
    Ok(url)
}

/// Resolves the host and returns an address that is safe to connect to.
pub async fn resolve(url: &Url, allow_private: bool) -> Result<SocketAddr, UrlError> {
    let host = url
        .host_str()
        .ok_or_else(|| UrlError::Malformed("no host".into()))?
        .to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((bare, port))
            .await
            .map_err(|_| UrlError::Unresolvable(host.clone()))?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(UrlError::Unresolvable(host));
    }
    // Every address must be safe: a name that resolves to one public and one private address
    // would otherwise let the connection pick the private one.
    if !allow_private && addrs.iter().any(|a| is_forbidden(a.ip())) {
        return Err(UrlError::Forbidden(host));
    }
    Ok(addrs[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_internal_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "fd00:ec2::254",
        ] {
            assert!(is_forbidden(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(!is_forbidden(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn refuses_non_https_credentials_and_internal_names() {
        assert_eq!(parse("http://example.com/h", false), Err(UrlError::NotHttps));
        assert_eq!(parse("https://u:p@example.com/h", false), Err(UrlError::Credentials));
        assert!(matches!(
            parse("https://localhost/h", false),
            Err(UrlError::Forbidden(_))
        ));
        assert!(matches!(
            parse("https://metadata.google.internal/", false),
            Err(UrlError::Forbidden(_))
        ));
        assert!(parse("https://hooks.example.com/corridor", false).is_ok());
        assert!(
            parse("http://127.0.0.1:9000/h", true).is_ok(),
            "dev setting allows local receivers"
        );
    }

    #[tokio::test]
    async fn resolution_refuses_literal_and_resolved_internal_addresses() {
        for raw in [
            "https://127.0.0.1/h",
            "https://[::1]/h",
            "https://169.254.169.254/latest/meta-data",
        ] {
            let url = parse(raw, false).unwrap();
            assert!(
                matches!(resolve(&url, false).await, Err(UrlError::Forbidden(_))),
                "{raw}"
            );
        }
        let url = parse("http://127.0.0.1:9/h", true).unwrap();
        assert!(resolve(&url, true).await.is_ok());
    }
}
