//! The base URL of a customer's ERP instance.
//!
//! The connector sends ERP credentials to this URL, so it is checked before
//! it is stored: `https` only, and never an address inside a private network,
//! the loopback or link-local range (which on AWS includes the instance
//! metadata service at 169.254.169.254). A name that *resolves* to such an
//! address is checked where DNS is available (the operator CLI); this type
//! checks what the text itself says.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

const LOOPBACK: &str = "the loopback address";

/// Which URLs are acceptable. Production accepts only public `https`; a
/// local stack (moto + simulators on 127.0.0.1) also accepts plain `http`
/// to the loopback address, and nothing else private.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlPolicy {
    PublicHttpsOnly,
    AllowLoopbackHttp,
}

impl UrlPolicy {
    /// The policy of a deployment whose AWS endpoint is `aws_endpoint_url`:
    /// loopback only when that endpoint is itself on loopback (a local stack
    /// whose ERP is a local simulator); anything else, including no override
    /// (a real AWS account), gets the production policy.
    pub fn for_aws_endpoint(aws_endpoint_url: Option<&str>) -> Self {
        let loopback =
            aws_endpoint_url.and_then(|raw| url::Url::parse(raw.trim()).ok()).is_some_and(|u| match u.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                None => false,
            });
        if loopback { UrlPolicy::AllowLoopbackHttp } else { UrlPolicy::PublicHttpsOnly }
    }

    /// Why this policy forbids connecting to `ip`, or `None` when it allows
    /// it. The one judgement of an address: the CLI's DNS check and the HTTP
    /// transport's resolver both ask it.
    pub fn refusal(self, ip: IpAddr) -> Option<&'static str> {
        match non_public_reason(ip) {
            Some(LOOPBACK) if self == UrlPolicy::AllowLoopbackHttp => None,
            reason => reason,
        }
    }
}

/// Why an ERP URL was refused, worded for the operator who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErpUrlError {
    #[error("`{0}` is not a URL (expected e.g. https://acme.acumatica.com)")]
    NotAUrl(String),
    #[error("`{0}` must use https: the connector sends ERP credentials to it")]
    NotHttps(String),
    #[error("`{0}` carries a user name or password; put credentials in the credentials file instead")]
    HasCredentials(String),
    #[error("`{0}` has a query or fragment; give the instance base URL only")]
    HasQuery(String),
    #[error("`{url}` points at {why} ({host}); the connector only talks to ERPs on public addresses")]
    NotPublic { url: String, host: String, why: &'static str },
}

/// A checked ERP base URL, without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ErpUrl(String);

impl ErpUrl {
    /// Parses with the production policy.
    pub fn parse(raw: &str) -> Result<Self, ErpUrlError> {
        Self::parse_with(raw, UrlPolicy::PublicHttpsOnly)
    }

    pub fn parse_with(raw: &str, policy: UrlPolicy) -> Result<Self, ErpUrlError> {
        let shown = crate::text::truncate(raw.trim(), 200).to_owned();
        let url = url::Url::parse(raw.trim()).map_err(|_| ErpUrlError::NotAUrl(shown.clone()))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ErpUrlError::HasCredentials(redact_userinfo(&url)));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ErpUrlError::HasQuery(shown));
        }
        let host = url.host().ok_or_else(|| ErpUrlError::NotAUrl(shown.clone()))?;
        let (host_text, reason) = match &host {
            url::Host::Ipv4(ip) => (ip.to_string(), non_public_reason(IpAddr::V4(*ip))),
            url::Host::Ipv6(ip) => (ip.to_string(), non_public_reason(IpAddr::V6(*ip))),
            url::Host::Domain(name) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                let reason = non_public_name(&name);
                (name, reason)
            }
        };
        let not_public = |why| ErpUrlError::NotPublic { url: shown.clone(), host: host_text.clone(), why };
        let loopback = match reason {
            None => false,
            Some(LOOPBACK) => true,
            Some(why) => return Err(not_public(why)),
        };
        match (url.scheme(), loopback, policy) {
            ("https", false, _) => {}
            ("https" | "http", true, UrlPolicy::AllowLoopbackHttp) => {}
            (_, true, UrlPolicy::PublicHttpsOnly) => return Err(not_public(LOOPBACK)),
            _ => return Err(ErpUrlError::NotHttps(shown)),
        }
        Ok(Self(url.as_str().trim_end_matches('/').to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The host name or address, for DNS checks and messages.
    pub fn host(&self) -> String {
        url::Url::parse(&self.0).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default()
    }
}

impl fmt::Display for ErpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ErpUrl {
    type Error = ErpUrlError;
    /// Stored values were checked when written; reading them back accepts a
    /// loopback URL so a local stack's connections stay readable.
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse_with(&s, UrlPolicy::AllowLoopbackHttp)
    }
}

impl From<ErpUrl> for String {
    fn from(u: ErpUrl) -> String {
        u.0
    }
}

fn redact_userinfo(url: &url::Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// Names that can only mean "this machine" or "this network".
fn non_public_name(name: &str) -> Option<&'static str> {
    if name == "localhost" || name.ends_with(".localhost") {
        Some(LOOPBACK)
    } else if name.ends_with(".local") || name.ends_with(".internal") || name.ends_with(".home.arpa") {
        Some("a private network name")
    } else if !name.contains('.') {
        Some("a single-label (intranet) name")
    } else {
        None
    }
}

/// Why an address is not on the public internet, or `None` when it is.
pub fn non_public_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return v4_reason(v4);
            }
            v6_reason(v6)
        }
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some(LOOPBACK)
    } else if ip.is_private() {
        Some("a private address")
    } else if ip.is_link_local() {
        Some("a link-local address (such as the cloud metadata service)")
    } else if ip.is_unspecified() || a == 0 {
        Some("an unspecified address")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a carrier-grade NAT (shared) address")
    } else if ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        Some("a broadcast, multicast or reserved address")
    } else if ip.is_documentation() || (a == 198 && (b == 18 || b == 19)) {
        Some("a documentation or benchmarking address")
    } else {
        None
    }
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some(LOOPBACK)
    } else if ip.is_unspecified() {
        Some("an unspecified address")
    } else if first & 0xfe00 == 0xfc00 {
        Some("a private (unique local) address")
    } else if first & 0xffc0 == 0xfe80 {
        Some("a link-local address")
    } else if ip.is_multicast() {
        Some("a broadcast, multicast or reserved address")
    } else if first == 0x2001 && ip.segments()[1] == 0x0db8 {
        Some("a documentation or benchmarking address")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_https_urls_are_accepted_and_normalised() {
        let u = ErpUrl::parse("https://acme.acumatica.com/").unwrap();
        assert_eq!(u.as_str(), "https://acme.acumatica.com");
        let u = ErpUrl::parse("https://erp.example.com/AcumaticaERP").unwrap();
        assert_eq!(u.as_str(), "https://erp.example.com/AcumaticaERP");
        assert_eq!(u.host(), "erp.example.com");
    }

    #[test]
    fn plain_http_is_refused() {
        assert!(matches!(ErpUrl::parse("http://acme.acumatica.com"), Err(ErpUrlError::NotHttps(_))));
        assert!(matches!(ErpUrl::parse("ftp://acme.acumatica.com"), Err(ErpUrlError::NotHttps(_))));
    }

    #[test]
    fn private_loopback_and_link_local_are_refused() {
        for raw in [
            "https://10.1.2.3",
            "https://172.16.0.1",
            "https://192.168.1.10/erp",
            "https://127.0.0.1",
            "https://169.254.169.254",
            "https://100.64.0.1",
            "https://0.0.0.0",
            "https://[::1]",
            "https://[fe80::1]",
            "https://[fd00::1]",
            "https://[::ffff:10.0.0.1]",
            "https://localhost",
            "https://erp.internal",
            "https://intranet",
        ] {
            let e = ErpUrl::parse(raw).unwrap_err();
            assert!(matches!(e, ErpUrlError::NotPublic { .. }), "{raw}: {e}");
        }
    }

    #[test]
    fn credentials_and_queries_in_the_url_are_refused_without_echoing_the_password() {
        let e = ErpUrl::parse("https://admin:hunter2@acme.acumatica.com").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(matches!(ErpUrl::parse("https://acme.acumatica.com/?x=1"), Err(ErpUrlError::HasQuery(_))));
        assert!(matches!(ErpUrl::parse("not a url"), Err(ErpUrlError::NotAUrl(_))));
    }

    #[test]
    fn the_policy_follows_the_aws_endpoint() {
        let local = UrlPolicy::AllowLoopbackHttp;
        assert_eq!(UrlPolicy::for_aws_endpoint(Some("http://127.0.0.1:5000")), local);
        assert_eq!(UrlPolicy::for_aws_endpoint(Some("http://localhost:5000")), local);
        assert_eq!(UrlPolicy::for_aws_endpoint(Some("http://[::1]:5000")), local);
        let production = UrlPolicy::PublicHttpsOnly;
        assert_eq!(UrlPolicy::for_aws_endpoint(Some("https://dynamodb.eu-west-1.amazonaws.com")), production);
        assert_eq!(UrlPolicy::for_aws_endpoint(Some("http://10.0.0.5:4566")), production);
        assert_eq!(UrlPolicy::for_aws_endpoint(None), production);
    }

    #[test]
    fn addresses_are_judged_by_the_policy() {
        let (local, production) = (UrlPolicy::AllowLoopbackHttp, UrlPolicy::PublicHttpsOnly);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        for loopback in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
            assert!(production.refusal(ip(loopback)).is_some(), "{loopback}");
            assert_eq!(local.refusal(ip(loopback)), None, "{loopback}");
        }
        for private in ["10.0.0.1", "169.254.169.254", "100.64.0.1", "fd00::1", "::ffff:10.0.0.1", "240.0.0.1"] {
            assert!(production.refusal(ip(private)).is_some(), "{private}");
            assert!(local.refusal(ip(private)).is_some(), "{private}");
        }
        assert_eq!(production.refusal(ip("52.1.2.3")), None);
    }

    #[test]
    fn the_local_stack_policy_allows_only_loopback_http() {
        let local = UrlPolicy::AllowLoopbackHttp;
        assert!(ErpUrl::parse_with("http://127.0.0.1:8123", local).is_ok());
        assert!(ErpUrl::parse_with("http://localhost:8123", local).is_ok());
        assert!(ErpUrl::parse_with("http://10.0.0.1", local).is_err());
        assert!(ErpUrl::parse_with("http://acme.acumatica.com", local).is_err());
        assert!(ErpUrl::parse_with("https://169.254.169.254", local).is_err());
    }
}
