//! GitHub App authentication: the App's own JWT, and installation tokens minted from it,
//! cached in memory only and refreshed ahead of their expiry.

use jiff::{SignedDuration, Timestamp};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use crate::settings::{GitHubAppSettings, Secret};

/// GitHub rejects JWTs issued "in the future"; back-date them for clock drift.
const JWT_BACKDATE: SignedDuration = SignedDuration::from_secs(60);
/// GitHub's maximum JWT lifetime is 10 minutes; stay under it.
const JWT_LIFETIME: SignedDuration = SignedDuration::from_secs(9 * 60);
/// An installation token is replaced when it has less than this left.
pub const TOKEN_REFRESH_MARGIN: SignedDuration = SignedDuration::from_secs(5 * 60);

/// Why the App cannot authenticate.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The private key is not a usable RSA PEM key.
    #[error("the GitHub App private key is not a valid RSA PEM key: {0}")]
    InvalidKey(String),
    /// Neither an App id nor a client id is configured.
    #[error("the GitHub App needs TRAINYARD_GITHUB_APP_ID or TRAINYARD_GITHUB_CLIENT_ID")]
    NoIssuer,
    /// Signing failed.
    #[error("cannot sign the App JWT: {0}")]
    Sign(String),
}

/// Who the JWT says we are: the client id (GitHub's recommendation) or the App id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Issuer {
    /// The App's client id.
    ClientId(String),
    /// The App's numeric id.
    AppId(u64),
}

/// The claims GitHub reads.
#[derive(Debug, Serialize)]
struct Claims<'a> {
    iat: i64,
    exp: i64,
    iss: &'a Issuer,
}

/// Signs App JWTs.
pub struct AppSigner {
    issuer: Issuer,
    key: EncodingKey,
}

impl std::fmt::Debug for AppSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppSigner")
            .field("issuer", &self.issuer)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl AppSigner {
    /// A signer for the configured App.
    pub fn new(app: &GitHubAppSettings) -> Result<Self, AuthError> {
        let issuer = match (&app.client_id, app.app_id) {
            (Some(client_id), _) => Issuer::ClientId(client_id.clone()),
            (None, Some(id)) => Issuer::AppId(id),
            (None, None) => return Err(AuthError::NoIssuer),
        };
        let key = EncodingKey::from_rsa_pem(app.private_key.expose().as_bytes())
            // The error names the problem, never the key.
            .map_err(|e| AuthError::InvalidKey(e.to_string()))?;
        Ok(AppSigner { issuer, key })
    }

    /// A JWT valid from a minute before `now` for nine minutes.
    pub fn jwt(&self, now: Timestamp) -> Result<Secret, AuthError> {
        let claims = Claims {
            iat: (now - JWT_BACKDATE).as_second(),
            exp: (now + JWT_LIFETIME).as_second(),
            iss: &self.issuer,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map(Secret::new)
            .map_err(|e| AuthError::Sign(e.to_string()))
    }
}

/// An installation token and when it stops working.
#[derive(Debug, Clone)]
pub struct InstallationToken {
    /// The token.
    pub token: Secret,
    /// GitHub's `expires_at`.
    pub expires_at: Timestamp,
}

impl InstallationToken {
    /// Whether the token can still be used at `now` without refreshing.
    pub fn is_fresh(&self, now: Timestamp) -> bool {
        now + TOKEN_REFRESH_MARGIN < self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_refreshed_five_minutes_before_it_expires() {
        let expires_at: Timestamp = "2026-11-27T11:00:00Z".parse().expect("time");
        let token = InstallationToken {
            token: Secret::new("ghs_x"),
            expires_at,
        };
        assert!(token.is_fresh(expires_at - SignedDuration::from_secs(301)));
        assert!(!token.is_fresh(expires_at - SignedDuration::from_secs(300)));
    }

    #[test]
    fn a_broken_key_is_reported_without_its_content() {
        let app = GitHubAppSettings {
            app_id: Some(1),
            client_id: None,
            private_key: Secret::new(
                "-----BEGIN RSA PRIVATE KEY-----\nsecretstuff\n-----END RSA PRIVATE KEY-----",
            ),
            webhook_secrets: vec![],
        };
        let err = AppSigner::new(&app).unwrap_err().to_string();
        assert!(
            err.starts_with("the GitHub App private key is not a valid RSA PEM key"),
            "{err}"
        );
        assert!(!err.contains("secretstuff"));
    }
}
