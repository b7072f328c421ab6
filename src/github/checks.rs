//! Check runs (octocrab's checks handler lacks `external_id` lookups): the `trainyard` check
//! on a pull request's head commit, created once, found again by its external id, and
//! updated as the pull request's train moves.

use http::Method;
use serde::Deserialize;
use serde_json::json;

use super::{GitHubClient, GitHubError};
use crate::domain::ids::RepoFullName;
use crate::domain::pr_check::CheckText;

/// The pull request check's name on GitHub.
pub const CHECK_NAME: &str = "trainyard";

/// The configuration check's name on GitHub.
pub const CONFIG_CHECK_NAME: &str = "trainyard/config";

/// GitHub's limit on a check run's summary.
const SUMMARY_LIMIT: usize = 65_535;

#[derive(Deserialize)]
struct CheckRun {
    id: i64,
    #[serde(default)]
    external_id: Option<String>,
}

#[derive(Deserialize)]
struct CheckRuns {
    #[serde(default)]
    check_runs: Vec<CheckRun>,
}

fn body(text: &CheckText, details_url: Option<&str>, completed_at: &str) -> serde_json::Value {
    let mut body = json!({
        "status": "completed",
        "conclusion": text.conclusion,
        "completed_at": completed_at,
        "output": {
            "title": text.title,
            "summary": text.summary.chars().take(SUMMARY_LIMIT).collect::<String>(),
        },
    });
    if let Some(url) = details_url {
        body["details_url"] = json!(url);
    }
    body
}

impl GitHubClient {
    /// `POST /repos/{repo}/check-runs`: check `name` on `head_sha`, marked with
    /// `external_id`.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_check_run(
        &self,
        installation: u64,
        repo: &RepoFullName,
        name: &str,
        head_sha: &str,
        external_id: &str,
        text: &CheckText,
        details_url: Option<&str>,
    ) -> Result<i64, GitHubError> {
        let mut body = body(text, details_url, &self.now().to_string());
        body["name"] = json!(name);
        body["head_sha"] = json!(head_sha);
        body["external_id"] = json!(external_id);
        let route = format!("/repos/{repo}/check-runs");
        let run: CheckRun = self
            .request(installation, Method::POST, &route, Some(&body))
            .await?;
        Ok(run.id)
    }

    /// `PATCH /repos/{repo}/check-runs/{id}` with the check's new text.
    pub async fn update_check_run(
        &self,
        installation: u64,
        repo: &RepoFullName,
        id: i64,
        text: &CheckText,
        details_url: Option<&str>,
    ) -> Result<(), GitHubError> {
        let body = body(text, details_url, &self.now().to_string());
        let route = format!("/repos/{repo}/check-runs/{id}");
        let _: CheckRun = self
            .request(installation, Method::PATCH, &route, Some(&body))
            .await?;
        Ok(())
    }

    /// Check run `name` on `head_sha` marked `external_id`, if GitHub has one.
    pub async fn find_check_run(
        &self,
        installation: u64,
        repo: &RepoFullName,
        name: &str,
        head_sha: &str,
        external_id: &str,
    ) -> Result<Option<i64>, GitHubError> {
        let name: String =
            percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        let route =
            format!("/repos/{repo}/commits/{head_sha}/check-runs?check_name={name}&per_page=100");
        let runs: CheckRuns = self
            .request(installation, Method::GET, &route, None)
            .await?;
        Ok(runs
            .check_runs
            .into_iter()
            .find(|run| run.external_id.as_deref() == Some(external_id))
            .map(|run| run.id))
    }
}
