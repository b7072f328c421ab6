//! GitHub's Deployments API (octocrab has no handler for it): creating a deployment of a
//! release's tag, and finding one again by the request id its payload carries.

use http::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{GitHubClient, GitHubError};
use crate::domain::ids::RepoFullName;

/// A deployment to create.
#[derive(Debug, Clone)]
pub struct DeploymentRequest<'a> {
    /// The tag.
    pub tag: &'a str,
    /// The environment.
    pub environment: &'a str,
    /// GitHub's `production_environment`.
    pub production: bool,
    /// GitHub's `transient_environment`.
    pub transient: bool,
    /// Status contexts that must succeed (`None`: GitHub's default, all).
    pub required_contexts: Option<&'a [String]>,
    /// Shown on GitHub.
    pub description: String,
    /// Echoed in the `deployment` webhook: what was decided, for whoever deploys.
    pub payload: DeploymentPayload,
}

/// What a deployment trainyard requests carries for the deployer (and for finding it again
/// by its request id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeploymentPayload {
    /// The request's id (the command's, or the automatic decision's).
    pub request_id: String,
    /// The train released.
    pub train_id: Option<i64>,
    /// Its version.
    pub version: Option<String>,
    /// Its tag.
    pub tag: String,
    /// The commit decided on.
    pub sha: String,
    /// The pull requests it carries.
    pub pull_requests: Vec<i64>,
    /// Who asked.
    pub requested_by: String,
    /// A rollback to an earlier release.
    pub rollback: bool,
    /// Why a freeze or lock was overridden, when it was.
    pub forced_reason: Option<String>,
}

/// What GitHub did with a deployment request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeploymentCreated {
    /// Created, with GitHub's id.
    Created(i64),
    /// 202: GitHub merged the default branch into the ref instead; asking again creates it.
    MergedInstead(String),
    /// 409: a merge conflict, or required status checks not successful (named).
    Conflict(String),
    /// 422: invalid (or too many requests for this ref).
    Invalid(String),
}

#[derive(Deserialize)]
struct Deployment {
    id: Option<i64>,
    #[serde(default)]
    payload: Value,
    #[serde(default)]
    message: Option<String>,
}

impl GitHubClient {
    /// `POST /repos/{repo}/deployments` for a tag, never merging anything into it.
    pub async fn create_deployment(
        &self,
        installation: u64,
        repo: &RepoFullName,
        request: &DeploymentRequest<'_>,
    ) -> Result<DeploymentCreated, GitHubError> {
        let mut body = json!({
            "ref": request.tag,
            "task": "deploy",
            "auto_merge": false,
            "environment": request.environment,
            "production_environment": request.production,
            "transient_environment": request.transient,
            "description": request.description.chars().take(140).collect::<String>(),
            "payload": request.payload,
        });
        if let Some(contexts) = request.required_contexts {
            body["required_contexts"] = json!(contexts);
        }
        let route = format!("/repos/{repo}/deployments");
        match self
            .request::<Deployment>(installation, Method::POST, &route, Some(&body))
            .await
        {
            Ok(Deployment { id: Some(id), .. }) => Ok(DeploymentCreated::Created(id)),
            Ok(Deployment { message, .. }) => Ok(DeploymentCreated::MergedInstead(
                message.unwrap_or_else(|| "GitHub merged instead of deploying".into()),
            )),
            Err(GitHubError::Conflict(message)) => Ok(DeploymentCreated::Conflict(message)),
            Err(GitHubError::Validation(message)) => Ok(DeploymentCreated::Invalid(message)),
            Err(error) => Err(error),
        }
    }

    /// The deployment of `sha` to `environment` whose payload carries `request_id`, if GitHub
    /// has one (a request whose answer was lost).
    pub async fn find_deployment(
        &self,
        installation: u64,
        repo: &RepoFullName,
        environment: &str,
        sha: &str,
        request_id: &str,
    ) -> Result<Option<i64>, GitHubError> {
        let query = serde_urlencoded::to_string([
            ("environment", environment),
            ("sha", sha),
            ("per_page", "100"),
        ])
        .unwrap_or_default();
        let route = format!("/repos/{repo}/deployments?{query}");
        let deployments: Vec<Deployment> = self
            .request(installation, Method::GET, &route, None)
            .await?;
        Ok(deployments
            .into_iter()
            .find(|d| d.payload.get("request_id").and_then(Value::as_str) == Some(request_id))
            .and_then(|d| d.id))
    }
}
