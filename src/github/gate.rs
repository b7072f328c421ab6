//! trainyard as a custom deployment protection rule: answering a workflow run's waiting
//! job, finding out whether an answer landed, and which environments have the rule enabled.

use http::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{GitHubClient, GitHubError};
use crate::domain::ids::RepoFullName;

/// GitHub keeps a review's comment short; longer reasons are cut at a character boundary.
pub const COMMENT_LIMIT: usize = 1000;

/// What became of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reviewed {
    /// GitHub took it.
    Accepted,
    /// GitHub has nothing waiting for it (answered already, or the run was cancelled); its
    /// message.
    NothingWaiting(String),
}

#[derive(Deserialize)]
struct PendingDeployment {
    environment: PendingEnvironment,
}

#[derive(Deserialize)]
struct PendingEnvironment {
    name: Option<String>,
}

#[derive(Deserialize)]
struct ProtectionRules {
    #[serde(default)]
    custom_deployment_protection_rules: Vec<ProtectionRule>,
}

#[derive(Deserialize)]
struct ProtectionRule {
    #[serde(default)]
    enabled: bool,
    app: Option<RuleApp>,
}

#[derive(Deserialize)]
struct RuleApp {
    id: Option<u64>,
}

impl GitHubClient {
    /// `POST /repos/{repo}/actions/runs/{run_id}/deployment_protection_rule`: approves or
    /// rejects the run's job for `environment`, with `comment` shown on the run.
    pub async fn review_protection_rule(
        &self,
        installation: u64,
        repo: &RepoFullName,
        run_id: u64,
        environment: &str,
        approved: bool,
        comment: &str,
    ) -> Result<Reviewed, GitHubError> {
        let body = json!({
            "environment_name": environment,
            "state": if approved { "approved" } else { "rejected" },
            "comment": comment.chars().take(COMMENT_LIMIT).collect::<String>(),
        });
        let route = format!("/repos/{repo}/actions/runs/{run_id}/deployment_protection_rule");
        match self
            .request::<Value>(installation, Method::POST, &route, Some(&body))
            .await
        {
            Ok(_) => Ok(Reviewed::Accepted),
            Err(GitHubError::Validation(message)) => Ok(Reviewed::NothingWaiting(message)),
            Err(error) => Err(error),
        }
    }

    /// The environments the run's jobs still wait on
    /// (`GET /repos/{repo}/actions/runs/{run_id}/pending_deployments`).
    pub async fn pending_environments(
        &self,
        installation: u64,
        repo: &RepoFullName,
        run_id: u64,
    ) -> Result<Vec<String>, GitHubError> {
        let route = format!("/repos/{repo}/actions/runs/{run_id}/pending_deployments");
        let pending: Vec<PendingDeployment> = self
            .request(installation, Method::GET, &route, None)
            .await?;
        Ok(pending
            .into_iter()
            .filter_map(|p| p.environment.name)
            .collect())
    }

    /// Whether App `app_id` is an enabled custom protection rule of `environment`
    /// (`GET /repos/{repo}/environments/{environment}/deployment_protection_rules`); `None`
    /// when GitHub does not let the App see it (no such environment, or no permission).
    pub async fn protects_environment(
        &self,
        installation: u64,
        repo: &RepoFullName,
        environment: &str,
        app_id: u64,
    ) -> Result<Option<bool>, GitHubError> {
        let name =
            percent_encoding::utf8_percent_encode(environment, percent_encoding::NON_ALPHANUMERIC);
        let route = format!("/repos/{repo}/environments/{name}/deployment_protection_rules");
        match self
            .request::<ProtectionRules>(installation, Method::GET, &route, None)
            .await
        {
            Ok(rules) => Ok(Some(rules.custom_deployment_protection_rules.iter().any(
                |rule| rule.enabled && rule.app.as_ref().is_some_and(|app| app.id == Some(app_id)),
            ))),
            Err(GitHubError::NotFound(_) | GitHubError::Other { status: 403, .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }
}
