//! `trainyard replay`: sign a payload file as GitHub would and post it to a running server,
//! so anyone can try any webhook against their own instance (like Probot's `receive`).

use std::path::Path;

use anyhow::{Context, bail};

use crate::inbound::github::signature;
use crate::settings::Secret;

/// What the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    /// The delivery id sent.
    pub delivery_id: String,
    /// HTTP status.
    pub status: u16,
    /// Response body.
    pub body: String,
}

/// A fresh GUID-shaped delivery id, as GitHub sends.
pub fn new_delivery_id() -> String {
    let n: u128 = rand::random();
    let hex = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Posts `payload` as event `event` to `{url}/webhooks/github`, signed with `secret`.
pub async fn replay(
    payload: &Path,
    event: &str,
    url: &str,
    secret: &Secret,
    delivery_id: Option<String>,
) -> anyhow::Result<Replayed> {
    let body = std::fs::read(payload)
        .with_context(|| format!("reading payload file {}", payload.display()))?;
    if serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_err() {
        bail!("{} is not a JSON file", payload.display());
    }
    if !url.starts_with("http://") {
        bail!(
            "replay posts over plain HTTP to a local or test server; {url:?} is not an http:// URL"
        );
    }
    let delivery_id = delivery_id.unwrap_or_else(new_delivery_id);
    let endpoint = format!("{}/webhooks/github", url.trim_end_matches('/'));
    crate::chat::install_tls_provider();
    let response = reqwest::Client::new()
        .post(&endpoint)
        .header("content-type", "application/json")
        .header("user-agent", "GitHub-Hookshot/trainyard-replay")
        .header("x-github-event", event)
        .header("x-github-delivery", &delivery_id)
        .header("x-hub-signature-256", signature::sign(secret, &body))
        .body(body)
        .send()
        .await
        .with_context(|| format!("posting to {endpoint}"))?;
    let status = response.status().as_u16();
    let body = response.text().await.context("reading the answer")?;
    Ok(Replayed {
        delivery_id,
        status,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_ids_look_like_githubs() {
        let id = new_delivery_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
        assert_ne!(id, new_delivery_id());
    }
}
