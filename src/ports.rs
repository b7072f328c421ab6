//! Ports: small, domain-shaped traits for what the handlers need from the outside world. Each
//! has one real implementation ([`crate::github::GitHubClient`], …); tests fake the services
//! behind them at the HTTP level, never the traits.

use std::future::Future;

use crate::domain::ids::RepoFullName;
use crate::domain::permission::Permission;
pub use crate::github::GitHubError;

/// What trainyard asks of GitHub.
pub trait GitHubPort: Send + Sync {
    /// The App's installation on `repo` (asked as the App itself).
    fn repository_installation(
        &self,
        repo: &RepoFullName,
    ) -> impl Future<Output = Result<u64, GitHubError>> + Send;

    /// `login`'s permission on `repo`, from GitHub (never trusted from a chat request).
    fn collaborator_permission(
        &self,
        installation: u64,
        repo: &RepoFullName,
        login: &str,
    ) -> impl Future<Output = Result<Permission, GitHubError>> + Send;

    /// Comments on issue or pull request `number`; returns the comment id.
    fn create_comment(
        &self,
        installation: u64,
        repo: &RepoFullName,
        number: u64,
        body: &str,
    ) -> impl Future<Output = Result<u64, GitHubError>> + Send;
}
