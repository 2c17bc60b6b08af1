//! Where an ERP host name resolves to. `ErpUrl` checks what the URL text
//! says; a public-looking name can still resolve to a private or metadata
//! address, so the CLI resolves it before storing it (and before `test`
//! sends credentials to it).

use std::net::IpAddr;

use domain::{ErpUrl, UrlPolicy};

/// How names are resolved: the system resolver, or a fixed table (tests).
#[derive(Debug, Clone, Default)]
pub enum Resolver {
    #[default]
    System,
    Static(Vec<(String, Vec<IpAddr>)>),
}

impl Resolver {
    async fn lookup(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, String> {
        match self {
            Resolver::System => tokio::net::lookup_host((host, port))
                .await
                .map(|addrs| addrs.map(|a| a.ip()).collect())
                .map_err(|e| e.to_string()),
            Resolver::Static(table) => table
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(host))
                .map(|(_, ips)| ips.clone())
                .ok_or_else(|| "no such host".to_owned()),
        }
    }
}

/// What resolving a URL's host showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// An address literal, or every address is acceptable.
    Public,
    /// The name did not resolve: accepted with this warning.
    Unresolved(String),
    /// It resolves to an address the connector must not talk to.
    NotPublic(String),
}

/// Resolves `url`'s host and judges every address it gives.
pub async fn check_host(url: &ErpUrl, policy: UrlPolicy, resolver: &Resolver) -> Resolution {
    let host = url.host();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<IpAddr>().is_ok() {
        // Literal addresses were judged when the URL was parsed.
        return Resolution::Public;
    }
    let port = url::Url::parse(url.as_str()).ok().and_then(|u| u.port_or_known_default()).unwrap_or(443);
    let ips = match resolver.lookup(&host, port).await {
        Ok(ips) if !ips.is_empty() => ips,
        Ok(_) => return Resolution::Unresolved(format!("{host} has no addresses")),
        Err(e) => return Resolution::Unresolved(format!("{host} did not resolve ({e})")),
    };
    for ip in ips {
        if let Some(why) = policy.refusal(ip) {
            return Resolution::NotPublic(format!(
                "`{url}`: {host} resolves to {ip}, {why}; the connector only talks to ERPs on public addresses"
            ));
        }
    }
    Resolution::Public
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver() -> Resolver {
        Resolver::Static(vec![
            ("acme.acumatica.com".into(), vec!["52.1.2.3".parse().unwrap()]),
            ("sneaky.example.com".into(), vec!["52.1.2.3".parse().unwrap(), "10.0.0.7".parse().unwrap()]),
            ("metadata.example.com".into(), vec!["169.254.169.254".parse().unwrap()]),
            ("loop.example.com".into(), vec!["127.0.0.1".parse().unwrap()]),
        ])
    }

    fn url(raw: &str) -> ErpUrl {
        ErpUrl::parse(raw).unwrap()
    }

    #[tokio::test]
    async fn names_resolving_to_non_public_addresses_are_refused() {
        let policy = UrlPolicy::PublicHttpsOnly;
        assert_eq!(check_host(&url("https://acme.acumatica.com"), policy, &resolver()).await, Resolution::Public);
        let Resolution::NotPublic(why) = check_host(&url("https://sneaky.example.com"), policy, &resolver()).await
        else {
            panic!("a private address among the answers must be refused")
        };
        assert!(why.contains("10.0.0.7") && why.contains("private"), "{why}");
        let r = check_host(&url("https://metadata.example.com"), policy, &resolver()).await;
        assert!(matches!(r, Resolution::NotPublic(ref w) if w.contains("link-local")), "{r:?}");
        let r = check_host(&url("https://loop.example.com"), policy, &resolver()).await;
        assert!(matches!(r, Resolution::NotPublic(_)), "{r:?}");
    }

    #[tokio::test]
    async fn loopback_is_fine_for_a_local_stack_and_unknown_names_only_warn() {
        let local = UrlPolicy::AllowLoopbackHttp;
        assert_eq!(check_host(&url("https://loop.example.com"), local, &resolver()).await, Resolution::Public);
        let r = check_host(&url("https://nowhere.example.com"), UrlPolicy::PublicHttpsOnly, &resolver()).await;
        assert!(matches!(r, Resolution::Unresolved(ref w) if w.contains("nowhere.example.com")), "{r:?}");
    }
}
