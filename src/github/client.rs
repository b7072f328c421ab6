//! The GitHub client: octocrab as the HTTP transport (base URL from settings, so tests run it
//! against a fake), our own App authentication, error classification, and politeness: at most
//! [`MAX_IN_FLIGHT`] requests per installation, and GitHub's budgets kept (see
//! [`super::budget`]): content-creating writes paced under GitHub's secondary limits through a
//! ledger the replicas share, a secondary-limit answer pausing that installation's writes,
//! and routine work held back when only the primary budget's reserve is left. A call held back
//! fails with [`GitHubError::Paced`] at once rather than sleeping: its job waits in the queue.
//! octocrab's own retry is off; the job queue retries with our classification.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use http_body_util::BodyExt;
use jiff::Timestamp;
use octocrab::Octocrab;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use super::auth::{AppSigner, AuthError, InstallationToken};
use super::budget::{
    ContentLimits, Hold, MemoryLedger, PrimaryBudgets, RateBudget, WriteLedger, resource_of,
};
use super::error::GitHubError;
use crate::clock::SharedClock;
use crate::domain::ids::RepoFullName;
use crate::domain::permission::Permission;
use crate::jobs::Priority;
use crate::settings::{GitHubAppSettings, Secret};

/// Requests in flight per installation (GitHub allows 100 concurrent in all; stay polite).
pub const MAX_IN_FLIGHT: usize = 10;
/// GitHub's REST API version we speak.
const API_VERSION: &str = "2022-11-28";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// App credentials unusable.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The API URL is not usable.
    #[error("invalid GitHub API URL {url}: {message}")]
    BaseUrl {
        /// The URL.
        url: String,
        /// What is wrong.
        message: String,
    },
}

/// The one GitHub client; cheap to clone.
#[derive(Clone, Debug)]
pub struct GitHubClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    octo: Octocrab,
    credentials: Credentials,
    clock: SharedClock,
    tokens: Mutex<HashMap<u64, Arc<tokio::sync::Mutex<Option<InstallationToken>>>>>,
    in_flight: Mutex<HashMap<u64, Arc<Semaphore>>>,
    limits: ContentLimits,
    ledger: Arc<dyn WriteLedger>,
    primary: PrimaryBudgets,
    /// Collaborator permissions read lately: (installation, repo, login) → (permission, when).
    permissions: Mutex<HashMap<PermissionKey, (Permission, Timestamp)>>,
}

/// (installation, `owner/name`, lower-case login).
type PermissionKey = (u64, String, String);

/// How long a collaborator permission read from GitHub is trusted: a removed maintainer
/// loses the power to approve within a minute.
pub const PERMISSION_CACHE_TTL: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

/// Who the client is: the App (JWT, then installation tokens), or one fixed token (a user's
/// or Actions' `GITHUB_TOKEN`, for the command line).
#[derive(Debug)]
enum Credentials {
    App(AppSigner),
    Token(Secret),
}

impl GitHubClient {
    /// A client for the configured App against `api_url`.
    pub fn new(
        app: &GitHubAppSettings,
        api_url: &str,
        clock: SharedClock,
        limits: ContentLimits,
    ) -> Result<Self, ClientError> {
        let signer = AppSigner::new(app)?;
        Self::build(Credentials::App(signer), api_url, clock, limits)
    }

    /// A client that sends one fixed token (installation arguments are ignored).
    pub fn with_token(
        token: Secret,
        api_url: &str,
        clock: SharedClock,
        limits: ContentLimits,
    ) -> Result<Self, ClientError> {
        Self::build(Credentials::Token(token), api_url, clock, limits)
    }

    /// The same client keeping its write budget in `ledger` (the store's, shared by every
    /// replica) instead of this process's memory. Call before the client is cloned.
    pub fn with_ledger(mut self, ledger: Arc<dyn WriteLedger>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.ledger = ledger;
        }
        self
    }

    /// `installation`'s primary budget of `resource` (`core`, `graphql`), as GitHub last said.
    pub fn primary_budget(&self, installation: u64, resource: &str) -> Option<RateBudget> {
        self.inner.primary.get(installation, resource)
    }

    /// What holds `installation`'s routine work or writes now, if anything: the primary
    /// budget's reserve, or a pause after GitHub's secondary limit.
    pub async fn holds(&self, installation: u64) -> Result<Vec<Hold>, GitHubError> {
        let now = self.now();
        let mut holds: Vec<Hold> = ["core", "graphql"]
            .into_iter()
            .filter_map(|r| self.inner.primary.reserve_hold(installation, r, now))
            .collect();
        if let Some(pause) = self
            .inner
            .ledger
            .paused_until(installation, now)
            .await
            .map_err(|e| GitHubError::Transient(e.to_string()))?
        {
            holds.push(pause);
        }
        Ok(holds)
    }

    fn build(
        credentials: Credentials,
        api_url: &str,
        clock: SharedClock,
        limits: ContentLimits,
    ) -> Result<Self, ClientError> {
        let base_url_error = |message: String| ClientError::BaseUrl {
            url: api_url.to_owned(),
            message,
        };
        let octo = Octocrab::builder()
            .base_uri(api_url)
            .map_err(|e| base_url_error(e.to_string()))?
            .set_connect_timeout(Some(CONNECT_TIMEOUT))
            .set_read_timeout(Some(READ_TIMEOUT))
            .build()
            .map_err(|e| base_url_error(e.to_string()))?;
        Ok(GitHubClient {
            inner: Arc::new(Inner {
                octo,
                credentials,
                clock,
                tokens: Mutex::default(),
                in_flight: Mutex::default(),
                limits,
                ledger: Arc::new(MemoryLedger::default()),
                primary: PrimaryBudgets::default(),
                permissions: Mutex::default(),
            }),
        })
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// Calls GitHub as the App itself (JWT), e.g. to find an installation.
    pub async fn app_request<T: DeserializeOwned>(
        &self,
        method: Method,
        route: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<T, GitHubError> {
        let Credentials::App(signer) = &self.inner.credentials else {
            return Err(GitHubError::Unauthorized(
                "this call needs the GitHub App's credentials, not a token".into(),
            ));
        };
        let jwt = signer
            .jwt(self.now())
            .map_err(|e| GitHubError::Unauthorized(e.to_string()))?;
        let (status, headers, bytes) = self.send(method, route, &jwt, body).await?;
        self.decode(status, &headers, &bytes)
    }

    /// Calls GitHub as `installation`. A 401 mints a fresh token and tries once more.
    pub async fn request<T: DeserializeOwned>(
        &self,
        installation: u64,
        method: Method,
        route: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<T, GitHubError> {
        let (status, headers, bytes) = self.request_raw(installation, method, route, body).await?;
        self.decode(status, &headers, &bytes)
    }

    /// Like [`GitHubClient::request`], returning the status and body undecoded.
    pub async fn request_raw(
        &self,
        installation: u64,
        method: Method,
        route: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<(StatusCode, HeaderMap, bytes::Bytes), GitHubError> {
        let semaphore = self.semaphore(installation);
        let _permit = semaphore
            .acquire()
            .await
            .map_err(|_| GitHubError::Transient("client shutting down".into()))?;
        self.budget_allows(installation, &method, route).await?;
        let answer = match &self.inner.credentials {
            Credentials::Token(token) => self.send(method, route, token, body).await?,
            Credentials::App(_) => {
                let token = self.installation_token(installation, None).await?;
                let answer = self.send(method.clone(), route, &token, body).await?;
                if answer.0 == StatusCode::UNAUTHORIZED {
                    tracing::info!(
                        installation,
                        "installation token refused; minting a new one"
                    );
                    let token = self.installation_token(installation, Some(&token)).await?;
                    self.send(method, route, &token, body).await?
                } else {
                    answer
                }
            }
        };
        self.inner.primary.observe(installation, &answer.1);
        self.note_secondary_limit(installation, answer.0, &answer.1, &answer.2)
            .await;
        Ok(answer)
    }

    /// Holds the call back when a budget says so: routine work at the primary reserve, any
    /// write while the installation is paused, a content-creating one past its pace.
    async fn budget_allows(
        &self,
        installation: u64,
        method: &Method,
        route: &str,
    ) -> Result<(), GitHubError> {
        let now = self.now();
        let held = |hold: Hold| {
            crate::metrics::metrics().github_held(installation, hold.budget);
            tracing::info!(installation, until = %hold.until, reason = %hold.reason, "GitHub call held back");
            GitHubError::Paced {
                until: hold.until,
                budget: hold.budget,
                reason: hold.reason,
            }
        };
        let routine = Priority::current() == Priority::Routine;
        if routine
            && let Some(hold) =
                self.inner
                    .primary
                    .reserve_hold(installation, resource_of(route), now)
        {
            return Err(held(hold));
        }
        if method == Method::GET || method == Method::HEAD {
            return Ok(());
        }
        let content = creates_content(method, route);
        let limits = if routine {
            self.inner.limits.for_routine()
        } else {
            self.inner.limits
        };
        match self
            .inner
            .ledger
            .take(installation, content, limits, now)
            .await
        {
            Ok(None) => Ok(()),
            Ok(Some(hold)) => Err(held(hold)),
            Err(error) => Err(GitHubError::Transient(error.to_string())),
        }
    }

    /// A secondary-limit answer (a `403` or `429` while the primary budget is not spent)
    /// pauses the installation's writes, on every replica, until GitHub's `retry-after`.
    async fn note_secondary_limit(
        &self,
        installation: u64,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) {
        if !matches!(status.as_u16(), 403 | 429) {
            return;
        }
        let now = self.now();
        let GitHubError::RateLimited { until } =
            GitHubError::from_response(status, headers, body, now)
        else {
            return;
        };
        let primary_spent = headers
            .get("x-ratelimit-remaining")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() == "0");
        if primary_spent {
            return;
        }
        let reason = "GitHub's secondary rate limit";
        tracing::warn!(installation, %until, "GitHub's secondary limit answered; pausing the installation's writes");
        if let Err(error) = self
            .inner
            .ledger
            .pause(installation, until, reason, now)
            .await
        {
            tracing::error!(installation, %error, "could not record the pause");
        }
    }

    /// The installation token, minted when missing, near expiry, or equal to `rejected`.
    async fn installation_token(
        &self,
        installation: u64,
        rejected: Option<&Secret>,
    ) -> Result<Secret, GitHubError> {
        let slot = {
            let mut tokens = self.inner.tokens.lock().unwrap_or_else(|p| p.into_inner());
            tokens.entry(installation).or_default().clone()
        };
        // One mint at a time per installation; others wait and reuse it.
        let mut cached = slot.lock().await;
        if let Some(token) = cached.as_ref() {
            let was_rejected = rejected.is_some_and(|r| r == &token.token);
            if token.is_fresh(self.now()) && !was_rejected {
                return Ok(token.token.clone());
            }
        }
        #[derive(Deserialize)]
        struct Minted {
            token: String,
            expires_at: Timestamp,
        }
        let minted: Minted = self
            .app_request(
                Method::POST,
                &format!("/app/installations/{installation}/access_tokens"),
                None,
            )
            .await?;
        let token = InstallationToken {
            token: Secret::new(minted.token),
            expires_at: minted.expires_at,
        };
        tracing::debug!(installation, expires_at = %token.expires_at, "installation token minted");
        let secret = token.token.clone();
        *cached = Some(token);
        Ok(secret)
    }

    fn semaphore(&self, installation: u64) -> Arc<Semaphore> {
        let mut map = self
            .inner
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        map.entry(installation)
            .or_insert_with(|| Arc::new(Semaphore::new(MAX_IN_FLIGHT)))
            .clone()
    }

    async fn send(
        &self,
        method: Method,
        route: &str,
        bearer: &Secret,
        body: Option<&serde_json::Value>,
    ) -> Result<(StatusCode, HeaderMap, bytes::Bytes), GitHubError> {
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", bearer.expose()))
            .map_err(|_| GitHubError::Unauthorized("token is not a valid header value".into()))?;
        auth.set_sensitive(true);
        let mut builder = http::Request::builder()
            .method(method.clone())
            .uri(route)
            .header(header::AUTHORIZATION, auth)
            .header(header::ACCEPT, "application/vnd.github+json")
            .header("x-github-api-version", API_VERSION)
            .header(
                header::USER_AGENT,
                concat!("trainyard/", env!("CARGO_PKG_VERSION")),
            );
        let payload = match body {
            Some(json) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                json.to_string()
            }
            None => String::new(),
        };
        let request = builder
            .body(payload)
            .map_err(|e| GitHubError::Decode(format!("cannot build request for {route}: {e}")))?;
        let response = self
            .inner
            .octo
            .execute(request)
            .await
            .map_err(|e| GitHubError::Transient(format!("{method} {route}: {e}")))?;
        let (parts, body) = response.into_parts();
        let remaining = parts
            .headers
            .get("x-ratelimit-remaining")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        crate::metrics::metrics().github_call(&method, parts.status.as_u16(), remaining);
        let bytes = body
            .collect()
            .await
            .map_err(|e| GitHubError::Transient(format!("{method} {route}: reading answer: {e}")))?
            .to_bytes();
        tracing::debug!(%method, route, status = parts.status.as_u16(), "GitHub answered");
        Ok((parts.status, parts.headers, bytes))
    }

    fn decode<T: DeserializeOwned>(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        bytes: &[u8],
    ) -> Result<T, GitHubError> {
        if !status.is_success() {
            return Err(GitHubError::from_response(
                status,
                headers,
                bytes,
                self.now(),
            ));
        }
        let bytes = if bytes.is_empty() {
            b"null".as_slice()
        } else {
            bytes
        };
        let mut de = serde_json::Deserializer::from_slice(bytes);
        serde_path_to_error::deserialize(&mut de)
            .map_err(|e| GitHubError::Decode(format!("at `{}`: {}", e.path(), e.inner())))
    }
}

/// Calls that make GitHub send notifications count against its content-creation limit:
/// comments, releases, tags and refs, deployments and their statuses, check runs.
fn creates_content(method: &Method, route: &str) -> bool {
    let posted = method == Method::POST
        && [
            "/releases",
            "/git/refs",
            "/git/tags",
            "/comments",
            "/deployments",
            "/statuses",
        ]
        .iter()
        .any(|part| route.contains(part))
        && !route.ends_with("/generate-notes");
    let check_run =
        (method == Method::POST || method == Method::PATCH) && route.contains("/check-runs");
    posted || check_run
}

/// GitHub logins: letters, digits and hyphens, at most 39 characters; apps end in `[bot]`.
fn valid_login(login: &str) -> bool {
    let name = login.strip_suffix("[bot]").unwrap_or(login);
    !name.is_empty()
        && name.len() <= 39
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The calls every feature makes: where the App is installed, who may act, and comments.
impl GitHubClient {
    /// The App's installation on `repo` (asked as the App itself).
    pub async fn repository_installation(&self, repo: &RepoFullName) -> Result<u64, GitHubError> {
        #[derive(Deserialize)]
        struct Installation {
            id: u64,
        }
        let found: Installation = self
            .app_request(Method::GET, &format!("/repos/{repo}/installation"), None)
            .await?;
        Ok(found.id)
    }

    /// `login`'s permission on `repo`, from GitHub (never trusted from a chat request).
    pub async fn collaborator_permission(
        &self,
        installation: u64,
        repo: &RepoFullName,
        login: &str,
    ) -> Result<Permission, GitHubError> {
        if !valid_login(login) {
            return Err(GitHubError::Validation(format!(
                "{login:?} is not a GitHub login"
            )));
        }
        let key = (installation, repo.to_string(), login.to_ascii_lowercase());
        let now = self.now();
        {
            let cached = self
                .inner
                .permissions
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some((permission, at)) = cached.get(&key)
                && now.duration_since(*at) < PERMISSION_CACHE_TTL
            {
                return Ok(*permission);
            }
        }
        #[derive(Deserialize)]
        struct Answer {
            permission: String,
            role_name: Option<String>,
        }
        let answer: Result<Answer, GitHubError> = self
            .request(
                installation,
                Method::GET,
                &format!("/repos/{repo}/collaborators/{login}/permission"),
                None,
            )
            .await;
        let permission = match answer {
            Ok(answer) => Permission::from_github(&answer.permission, answer.role_name.as_deref()),
            // No such user, or one GitHub will not describe: no permission, not an error.
            Err(GitHubError::NotFound(_)) => Permission::None,
            Err(other) => return Err(other),
        };
        let mut cached = self
            .inner
            .permissions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Bounded: entries older than the TTL are useless, drop them when the map grows.
        if cached.len() > 10_000 {
            cached.retain(|_, (_, at)| now.duration_since(*at) < PERMISSION_CACHE_TTL);
        }
        cached.insert(key, (permission, now));
        Ok(permission)
    }

    /// Comments on issue or pull request `number`; returns the comment id.
    pub async fn create_comment(
        &self,
        installation: u64,
        repo: &RepoFullName,
        number: u64,
        body: &str,
    ) -> Result<u64, GitHubError> {
        #[derive(Deserialize)]
        struct Created {
            id: u64,
        }
        let created: Created = self
            .request(
                installation,
                Method::POST,
                &format!("/repos/{repo}/issues/{number}/comments"),
                Some(&serde_json::json!({ "body": body })),
            )
            .await?;
        Ok(created.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_creating_calls_are_recognised() {
        assert!(creates_content(&Method::POST, "/repos/a/b/releases"));
        assert!(creates_content(
            &Method::POST,
            "/repos/a/b/issues/3/comments"
        ));
        assert!(creates_content(&Method::POST, "/repos/a/b/git/refs"));
        assert!(creates_content(
            &Method::POST,
            "/repos/a/b/deployments/9/statuses"
        ));
        assert!(!creates_content(
            &Method::POST,
            "/repos/a/b/releases/generate-notes"
        ));
        assert!(!creates_content(&Method::GET, "/repos/a/b/releases"));
        assert!(!creates_content(&Method::PATCH, "/repos/a/b/releases/1"));
        assert!(!creates_content(
            &Method::POST,
            "/app/installations/1/access_tokens"
        ));
        assert!(creates_content(&Method::POST, "/repos/a/b/check-runs"));
        assert!(creates_content(&Method::PATCH, "/repos/a/b/check-runs/7"));
    }

    #[test]
    fn only_real_logins_reach_a_url() {
        for ok in ["octocat", "a-b", "dependabot[bot]"] {
            assert!(valid_login(ok), "{ok}");
        }
        for bad in ["", "../x", "a/b", "a b", "x?y=1", "../x[bot]", "[bot]"] {
            assert!(!valid_login(bad), "{bad}");
        }
    }
}
