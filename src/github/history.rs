//! What GitHub remembers of a repository's past releases, for the one-time backfill of
//! release health: published releases, merged pull requests and deployments with their last
//! status. Lists are read 100 a page, at most 1,000 items each.

use http::Method;
use serde::Deserialize;

use super::{GitHubClient, GitHubError};
use crate::domain::ids::RepoFullName;

/// How many items of each list are read at most.
const LIMIT: usize = 1_000;

/// A published release.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PastRelease {
    /// Its tag.
    pub tag_name: String,
    /// A draft (never counted).
    pub draft: bool,
    /// A pre-release, such as a train's release candidate (not a release of the line).
    #[serde(default)]
    pub prerelease: bool,
    /// When it was published (RFC 3339); none for drafts.
    pub published_at: Option<String>,
}

/// A merged pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedPull {
    /// Its number.
    pub number: u64,
    /// Its title.
    pub title: String,
    /// Its author's login.
    pub author: Option<String>,
    /// When it was merged (RFC 3339).
    pub merged_at: String,
    /// The branch it was merged into.
    pub base: String,
}

#[derive(Deserialize)]
struct PullWire {
    number: u64,
    title: String,
    user: Option<Login>,
    merged_at: Option<String>,
    base: Base,
}

#[derive(Deserialize)]
struct Login {
    login: String,
}

#[derive(Deserialize)]
struct Base {
    #[serde(rename = "ref")]
    name: String,
}

/// A deployment, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PastDeployment {
    /// GitHub's id.
    pub id: i64,
    /// The environment.
    pub environment: String,
    /// The ref deployed (a tag, usually).
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// The commit.
    pub sha: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// Who created it.
    pub creator: Option<LoginOf>,
}

/// A login.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LoginOf {
    /// The login.
    pub login: String,
}

/// A deployment's status.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PastStatus {
    /// success, failure, error, inactive, in_progress, queued, pending.
    pub state: String,
    /// When it was reported (RFC 3339).
    pub created_at: String,
}

impl GitHubClient {
    /// The authors among `prs` whose first merged pull request in `repo` is among these: for
    /// each author, their earliest merge here, and whether GitHub's search finds any merged
    /// pull request of theirs before it. One GraphQL request of aliased searches (50 authors
    /// each), as release-drafter asks; bots and deleted accounts are never new contributors.
    pub async fn first_contributors(
        &self,
        installation: u64,
        repo: &RepoFullName,
        prs: &[crate::domain::notes::changes::PullRequest],
    ) -> Result<Vec<String>, GitHubError> {
        let mut earliest: Vec<(&str, &str)> = Vec::new();
        for pr in prs {
            let Some(author) = pr.author.as_ref().filter(|a| !a.is_bot) else {
                continue;
            };
            if pr.merged_at.is_empty() {
                continue;
            }
            match earliest
                .iter_mut()
                .find(|(login, _)| *login == author.login)
            {
                Some((_, at)) if pr.merged_at.as_str() < *at => *at = &pr.merged_at,
                Some(_) => {}
                None => earliest.push((&author.login, &pr.merged_at)),
            }
        }
        let mut first = Vec::new();
        for batch in earliest.chunks(50) {
            let parameters: Vec<String> = (0..batch.len())
                .map(|i| format!("$query{i}: String!"))
                .collect();
            let searches: Vec<String> = (0..batch.len())
                .map(|i| {
                    format!(
                        "author{i}: search(query: $query{i}, type: ISSUE, first: 1) {{ issueCount }}"
                    )
                })
                .collect();
            let query = format!(
                "query findPreviousContributions({}) {{\n{}\n}}",
                parameters.join(", "),
                searches.join("\n")
            );
            let variables: serde_json::Map<String, serde_json::Value> = batch
                .iter()
                .enumerate()
                .map(|(i, (login, merged_at))| {
                    (
                        format!("query{i}"),
                        serde_json::Value::String(format!(
                            "repo:{repo} is:pr is:merged author:{login} merged:<{merged_at}"
                        )),
                    )
                })
                .collect();
            let data = self
                .graphql(installation, &query, serde_json::Value::Object(variables))
                .await?;
            for (i, (login, _)) in batch.iter().enumerate() {
                let before = data
                    .get(format!("author{i}"))
                    .and_then(|a| a.get("issueCount"))
                    .and_then(serde_json::Value::as_u64);
                if before == Some(0) {
                    first.push((*login).to_owned());
                }
            }
        }
        Ok(first)
    }

    /// GitHub's own notes for a release of `tag` at `target` since `previous` (its
    /// `.github/release.yml`, "New Contributors" and "Full Changelog" included).
    pub async fn generate_notes(
        &self,
        installation: u64,
        repo: &RepoFullName,
        tag: &str,
        target: &str,
        previous: Option<&str>,
    ) -> Result<String, GitHubError> {
        #[derive(Deserialize)]
        struct Generated {
            body: String,
        }
        let mut ask = serde_json::json!({ "tag_name": tag, "target_commitish": target });
        if let Some(previous) = previous {
            ask["previous_tag_name"] = serde_json::json!(previous);
        }
        let generated: Generated = self
            .request(
                installation,
                Method::POST,
                &format!("/repos/{repo}/releases/generate-notes"),
                Some(&ask),
            )
            .await?;
        Ok(generated.body)
    }

    /// Adds `labels` to issue or pull request `number` (labels it has already stay as they
    /// are; labels the repository lacks are created by GitHub).
    pub async fn add_labels(
        &self,
        installation: u64,
        repo: &RepoFullName,
        number: u64,
        labels: &[String],
    ) -> Result<(), GitHubError> {
        let _: serde_json::Value = self
            .request(
                installation,
                Method::POST,
                &format!("/repos/{repo}/issues/{number}/labels"),
                Some(&serde_json::json!({ "labels": labels })),
            )
            .await?;
        Ok(())
    }

    /// The repository's default branch.
    pub async fn default_branch(
        &self,
        installation: u64,
        repo: &RepoFullName,
    ) -> Result<String, GitHubError> {
        #[derive(Deserialize)]
        struct Repository {
            default_branch: String,
        }
        let found: Repository = self
            .request(installation, Method::GET, &format!("/repos/{repo}"), None)
            .await?;
        Ok(found.default_branch)
    }

    /// The repository's releases, newest first.
    pub async fn past_releases(
        &self,
        installation: u64,
        repo: &RepoFullName,
    ) -> Result<Vec<PastRelease>, GitHubError> {
        self.get_pages(installation, &format!("/repos/{repo}/releases"), LIMIT)
            .await
    }

    /// Merged pull requests, most recently updated first.
    pub async fn merged_pulls(
        &self,
        installation: u64,
        repo: &RepoFullName,
    ) -> Result<Vec<MergedPull>, GitHubError> {
        let wire: Vec<PullWire> = self
            .get_pages(
                installation,
                &format!("/repos/{repo}/pulls?state=closed&sort=updated&direction=desc"),
                LIMIT,
            )
            .await?;
        Ok(wire
            .into_iter()
            .filter_map(|p| {
                Some(MergedPull {
                    number: p.number,
                    title: p.title,
                    author: p.user.map(|u| u.login),
                    merged_at: p.merged_at?,
                    base: p.base.name,
                })
            })
            .collect())
    }

    /// The repository's deployments, newest first.
    pub async fn past_deployments(
        &self,
        installation: u64,
        repo: &RepoFullName,
    ) -> Result<Vec<PastDeployment>, GitHubError> {
        self.get_pages(installation, &format!("/repos/{repo}/deployments"), LIMIT)
            .await
    }

    /// A deployment's latest status, if it has one.
    pub async fn latest_status(
        &self,
        installation: u64,
        repo: &RepoFullName,
        deployment: i64,
    ) -> Result<Option<PastStatus>, GitHubError> {
        let statuses: Vec<PastStatus> = self
            .request(
                installation,
                Method::GET,
                &format!("/repos/{repo}/deployments/{deployment}/statuses?per_page=1"),
                None,
            )
            .await?;
        Ok(statuses.into_iter().next())
    }
}
