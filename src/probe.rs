//! Reads a bake's checks (outbound): PromQL instant queries against the operator's
//! Prometheus, and a repository's health URL. The URL comes from repository configuration,
//! so it is untrusted: loopback, private and link-local addresses are refused unless the
//! server allows them, the address checked is the one connected to (no second lookup to
//! rebind), redirects are not followed, the body is never read, and every call is bounded in
//! time.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::domain::verify::{HttpAnswer, prometheus_value};
use crate::settings::VerifySettings;

/// How long one check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of Prometheus's answer read (an instant query's is a few hundred bytes).
const MAX_ANSWER: usize = 1 << 20;

/// The checks' HTTP side.
#[derive(Clone, Debug)]
pub struct Probe {
    settings: VerifySettings,
    prometheus: reqwest::Client,
}

impl Probe {
    /// A probe with the server's verification settings.
    pub fn new(settings: &VerifySettings) -> Probe {
        crate::chat::install_tls_provider();
        Probe {
            settings: settings.clone(),
            prometheus: client(None),
        }
    }

    /// The value of `query` now: `Ok(None)` when it returned no series; `Err` says why it
    /// could not be read (never holding the token).
    pub async fn prometheus(&self, query: &str) -> Result<Option<f64>, String> {
        let Some(base) = &self.settings.prometheus_url else {
            return Err("the server has no Prometheus (TRAINYARD_PROMETHEUS_URL)".into());
        };
        let url =
            reqwest::Url::parse_with_params(&format!("{base}/api/v1/query"), [("query", query)])
                .map_err(|_| "TRAINYARD_PROMETHEUS_URL is not a URL".to_owned())?;
        let mut request = self.prometheus.get(url);
        if let Some(token) = &self.settings.prometheus_token {
            request = request.bearer_auth(token.expose());
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| failure("Prometheus", &e))?;
        let status = response.status();
        // Prometheus explains a bad query in its JSON (400, 422); anything else is its outage.
        if status.is_server_error() || status.is_redirection() {
            return Err(format!("Prometheus answered {}", status.as_u16()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| failure("Prometheus", &e))?
        {
            if body.len() + chunk.len() > MAX_ANSWER {
                return Err("Prometheus's answer is larger than 1 MiB".into());
            }
            body.extend_from_slice(&chunk);
        }
        prometheus_value(&body)
    }

    /// What `url` answers to a GET.
    pub async fn http(&self, url: &str) -> HttpAnswer {
        let parsed = match reqwest::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => u,
            _ => return HttpAnswer::NotAsked("not an http(s) URL".into()),
        };
        let (Some(host), Some(port)) = (parsed.host_str(), parsed.port_or_known_default()) else {
            return HttpAnswer::NotAsked("the URL names no host".into());
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let addresses: Vec<SocketAddr> = match tokio::time::timeout(
            CHECK_TIMEOUT,
            tokio::net::lookup_host((host.as_str(), port)),
        )
        .await
        {
            Ok(Ok(found)) => found.collect(),
            Ok(Err(_)) => return HttpAnswer::Unreachable(format!("{host} does not resolve")),
            Err(_) => return HttpAnswer::Unreachable(format!("looking up {host} timed out")),
        };
        let Some(address) = addresses.first().copied() else {
            return HttpAnswer::Unreachable(format!("{host} does not resolve"));
        };
        if !self.settings.private_hosts && addresses.iter().any(|a| !is_public(a.ip())) {
            return HttpAnswer::NotAsked(format!(
                "{host} is a loopback, private or link-local address, which this server does \
                 not probe (TRAINYARD_VERIFY_PRIVATE_HOSTS)"
            ));
        }
        // Connect to the address just checked, not to a second lookup's.
        let pinned = client(Some((&host, address)));
        match pinned.get(parsed).send().await {
            Ok(response) => HttpAnswer::Status(response.status().as_u16()),
            Err(e) => HttpAnswer::Unreachable(failure_reason(&e).into()),
        }
    }
}

fn client(pin: Option<(&str, SocketAddr)>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .timeout(CHECK_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none());
    if let Some((host, address)) = pin {
        builder = builder.resolve(host, address);
    }
    builder.build().unwrap_or_default()
}

fn failure(service: &str, error: &reqwest::Error) -> String {
    format!("{service}: {}", failure_reason(error))
}

/// Why a request failed, without its URL (a query string may be long, a URL may hold
/// credentials).
fn failure_reason(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    }
}

/// Whether `ip` is an address on the public internet.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                // 100.64.0.0/10, carrier-grade NAT (and Fly's private network's neighbours).
                || (a == 100 && (64..128).contains(&b))
                || a == 0)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // fc00::/7 unique local (Fly's 6PN is fdaa::/16), fe80::/10 link-local.
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fdaa::3",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(private.parse().expect("ip")), "{private}");
        }
        for public in ["93.184.216.34", "1.1.1.1", "2606:4700::1111"] {
            assert!(is_public(public.parse().expect("ip")), "{public}");
        }
    }

    #[tokio::test]
    async fn a_private_health_url_is_not_asked_unless_allowed() {
        let probe = Probe::new(&VerifySettings::default());
        let answer = probe.http("http://127.0.0.1:9/healthz").await;
        assert!(
            matches!(&answer, HttpAnswer::NotAsked(why) if why.contains("TRAINYARD_VERIFY_PRIVATE_HOSTS")),
            "{answer:?}"
        );
        let answer = probe.http("http://169.254.169.254/latest/meta-data/").await;
        assert!(matches!(answer, HttpAnswer::NotAsked(_)), "{answer:?}");
        let no_prometheus = probe.prometheus("up").await;
        assert!(
            no_prometheus
                .expect_err("unset")
                .contains("TRAINYARD_PROMETHEUS_URL"),
            "said why"
        );
    }
}
