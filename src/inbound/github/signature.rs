//! `X-Hub-Signature-256`: HMAC-SHA256 of the raw body, hex, prefixed `sha256=`, checked in
//! constant time against every configured secret (several while one is rotated).

use hmac::{KeyInit, Mac};
use sha2::Sha256;

use crate::settings::Secret;

type HmacSha256 = hmac::Hmac<Sha256>;

/// Whether `header` is a valid signature of `body` under one of `secrets`.
pub fn is_valid(secrets: &[Secret], header: Option<&str>, body: &[u8]) -> bool {
    let Some(hex_digest) = header.and_then(|h| h.strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(signature) = hex::decode(hex_digest) else {
        return false;
    };
    secrets.iter().any(|secret| {
        let Ok(mut mac) = HmacSha256::new_from_slice(secret.expose().as_bytes()) else {
            return false;
        };
        mac.update(body);
        // verify_slice compares in constant time and refuses a wrong length.
        mac.verify_slice(&signature).is_ok()
    })
}

/// The header value GitHub would send for `body` under `secret` (for `trainyard replay`
/// and tests).
pub fn sign(secret: &Secret, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GitHub's documented example (validating-webhook-deliveries).
    const GITHUB_SECRET: &str = "It's a Secret to Everybody";
    const GITHUB_PAYLOAD: &[u8] = b"Hello, World!";
    const GITHUB_SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn githubs_documented_example_verifies() {
        let secrets = [Secret::new(GITHUB_SECRET)];
        assert!(is_valid(&secrets, Some(GITHUB_SIGNATURE), GITHUB_PAYLOAD));
        assert_eq!(sign(&secrets[0], GITHUB_PAYLOAD), GITHUB_SIGNATURE);
    }

    #[test]
    fn any_configured_secret_verifies_during_rotation() {
        let secrets = [Secret::new("new one"), Secret::new(GITHUB_SECRET)];
        assert!(is_valid(&secrets, Some(GITHUB_SIGNATURE), GITHUB_PAYLOAD));
    }

    #[test]
    fn everything_else_is_refused() {
        let secrets = [Secret::new(GITHUB_SECRET)];
        let wrong_secret = [Secret::new("It's a secret to everybody")];
        let truncated = &GITHUB_SIGNATURE[..GITHUB_SIGNATURE.len() - 2];
        let sha1 = GITHUB_SIGNATURE.replace("sha256=", "sha1=");
        let upper = GITHUB_SIGNATURE.replace("757107ea", "757107EB");
        for header in [
            None,
            Some(""),
            Some("sha256="),
            Some(truncated),
            Some(&sha1),
            Some(&upper),
            Some("sha256=zz"),
        ] {
            assert!(!is_valid(&secrets, header, GITHUB_PAYLOAD), "{header:?}");
        }
        assert!(!is_valid(
            &wrong_secret,
            Some(GITHUB_SIGNATURE),
            GITHUB_PAYLOAD
        ));
        assert!(!is_valid(
            &secrets,
            Some(GITHUB_SIGNATURE),
            b"Hello, World?"
        ));
        assert!(!is_valid(&[], Some(GITHUB_SIGNATURE), GITHUB_PAYLOAD));
    }
}
