//! Links to GitHub's web pages, as messages and comments give them.

use crate::domain::ids::RepoFullName;

/// A published release's page, as GitHub links it.
pub fn release_page(server_url: &str, repo: &RepoFullName, tag: &str) -> String {
    format!(
        "{}/{repo}/releases/tag/{}",
        server_url.trim_end_matches('/'),
        crate::github::git::ref_path(tag)
    )
}
