//! Where the transport may connect: every address a name resolves to, every
//! address literal in a URL and every redirect is judged by the deployment's
//! [`UrlPolicy`] when the connection is made, not only when a URL was
//! configured. A name that was public yesterday can resolve to the metadata
//! service today (DNS rebinding), and a redirect can point anywhere.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use domain::UrlPolicy;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// A connection the policy forbids. Travels through reqwest's error chain
/// (from the resolver or the redirect policy) and is found there again by
/// [`crate::HttpClient::send`], so it is reported as what it is and never
/// retried.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Forbidden {
    #[error("{host} resolves to {ip}, {why}")]
    Address { host: String, ip: IpAddr, why: &'static str },
    #[error("a redirect from {from} to another server ({to}) is not followed")]
    Redirect { from: String, to: String },
}

/// Resolves with the system resolver, then refuses the whole answer when
/// any address is one the policy forbids (an attacker controlling the name
/// could otherwise offer one public and one private address).
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    policy: UrlPolicy,
}

impl GuardedResolver {
    pub fn new(policy: UrlPolicy) -> Self {
        Self { policy }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            // Port 0: reqwest sets the URL's port on each address itself.
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some((ip, why)) = addrs.iter().find_map(|a| policy.refusal(a.ip()).map(|why| (a.ip(), why))) {
                return Err(Box::new(Forbidden::Address { host, ip, why }) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// An address literal in a URL (`https://169.254.169.254/…`): reqwest never
/// asks the resolver for those, so they are judged here.
pub(crate) fn check_literal(url: &reqwest::Url, policy: UrlPolicy) -> Result<(), Forbidden> {
    let ip = match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
        _ => return Ok(()),
    };
    match policy.refusal(ip) {
        Some(why) => Err(Forbidden::Address { host: ip.to_string(), ip, why }),
        None => Ok(()),
    }
}

/// Follows a redirect only on the same origin (scheme, host, port): a
/// token, a form with a client secret or a document must never be replayed
/// to a server nobody configured. At most five hops.
pub(crate) fn redirect_policy(policy: UrlPolicy) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        let Some(from) = attempt.previous().last().cloned() else { return attempt.stop() };
        if attempt.url().origin() != from.origin() {
            let to = attempt.url().origin().ascii_serialization();
            return attempt.error(Forbidden::Redirect { from: from.origin().ascii_serialization(), to });
        }
        if let Err(forbidden) = check_literal(attempt.url(), policy) {
            return attempt.error(forbidden);
        }
        if attempt.previous().len() > 5 { attempt.error("more than five redirects") } else { attempt.follow() }
    })
}

/// The policy violation somewhere in `error`'s source chain, if any.
pub(crate) fn forbidden_in(error: &(dyn std::error::Error + 'static)) -> Option<Forbidden> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(forbidden) = cause.downcast_ref::<Forbidden>() {
            return Some(forbidden.clone());
        }
        source = cause.source();
    }
    None
}

pub(crate) fn shared(policy: UrlPolicy) -> Arc<GuardedResolver> {
    Arc::new(GuardedResolver::new(policy))
}
