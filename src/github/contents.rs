//! Writing a file through GitHub's contents API and the pull request that proposes it: what
//! the changelog needs.

use http::Method;
use serde::Deserialize;

use super::{GitHubClient, GitHubError};
use crate::domain::ids::RepoFullName;

/// A file to write on a branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileWrite<'a> {
    /// From the repository's root.
    pub path: &'a str,
    /// The branch.
    pub branch: &'a str,
    /// The commit message.
    pub message: &'a str,
    /// The new text.
    pub text: &'a str,
    /// The blob it replaces (`None` for a new file).
    pub replaces: Option<&'a str>,
}

/// A pull request GitHub holds.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PullRequestRef {
    /// Its number.
    pub number: u64,
    /// Its page.
    #[serde(default)]
    pub html_url: String,
}

impl GitHubClient {
    /// Writes the file as one commit on its branch; returns the commit's sha.
    pub async fn put_file(
        &self,
        installation: u64,
        repo: &RepoFullName,
        file: &FileWrite<'_>,
    ) -> Result<String, GitHubError> {
        #[derive(Deserialize)]
        struct Written {
            commit: Commit,
        }
        #[derive(Deserialize)]
        struct Commit {
            sha: String,
        }
        use base64::Engine as _;
        let mut body = serde_json::json!({
            "message": file.message,
            "content": base64::engine::general_purpose::STANDARD.encode(file.text),
            "branch": file.branch,
        });
        if let Some(sha) = file.replaces {
            body["sha"] = serde_json::json!(sha);
        }
        let written: Written = self
            .request(
                installation,
                Method::PUT,
                &format!("/repos/{repo}/contents/{}", file.path),
                Some(&body),
            )
            .await?;
        Ok(written.commit.sha)
    }

    /// The pull request (open or not) from `branch` of this repository, if there is one.
    pub async fn pull_request_from(
        &self,
        installation: u64,
        repo: &RepoFullName,
        branch: &str,
    ) -> Result<Option<PullRequestRef>, GitHubError> {
        let query = serde_urlencoded::to_string([
            ("head", format!("{}:{branch}", repo.owner())),
            ("state", "all".to_owned()),
            ("per_page", "1".to_owned()),
        ])
        .unwrap_or_default();
        let found: Vec<PullRequestRef> = self
            .request(
                installation,
                Method::GET,
                &format!("/repos/{repo}/pulls?{query}"),
                None,
            )
            .await?;
        Ok(found.into_iter().next())
    }

    /// Opens a pull request from `head` into `base`.
    pub async fn open_pull_request(
        &self,
        installation: u64,
        repo: &RepoFullName,
        (head, base): (&str, &str),
        title: &str,
        body: &str,
    ) -> Result<PullRequestRef, GitHubError> {
        let ask = serde_json::json!({ "title": title, "head": head, "base": base, "body": body });
        self.request(
            installation,
            Method::POST,
            &format!("/repos/{repo}/pulls"),
            Some(&ask),
        )
        .await
    }
}
