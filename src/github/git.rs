//! The train steps' GitHub calls, typed: branches, pull requests, comparisons, tags,
//! releases and reactions. Handlers call these and never build REST paths; ref names are
//! percent-encoded segment by segment (a tag may hold `+`, `#` or spaces' kin, and `/`
//! separates its segments as GitHub expects).

use http::Method;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

use super::{GitHubClient, GitHubError};
use crate::domain::ids::RepoFullName;

/// Everything but RFC 3986's unreserved characters is escaped in a path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A ref or branch name for a URL path: each `/`-separated segment escaped.
pub fn ref_path(name: &str) -> String {
    name.split('/')
        .map(|segment| utf8_percent_encode(segment, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// A pull request as the train commands see it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PullRequestFacts {
    /// Title.
    pub title: String,
    /// Merged.
    #[serde(default)]
    pub merged: bool,
    /// The merge commit.
    pub merge_commit_sha: Option<String>,
    /// When it was merged (RFC 3339).
    pub merged_at: Option<String>,
    /// The branch it was merged into.
    #[serde(deserialize_with = "base_ref")]
    #[serde(rename = "base")]
    pub base_ref: String,
    /// Its author's login.
    #[serde(deserialize_with = "login")]
    #[serde(rename = "user")]
    pub author: String,
    /// Its labels' names.
    #[serde(deserialize_with = "label_names", default)]
    pub labels: Vec<String>,
    /// Its body, if any.
    #[serde(default)]
    pub body: Option<String>,
    /// `open` or `closed`.
    #[serde(default)]
    pub state: String,
    /// Its head commit.
    #[serde(deserialize_with = "head_sha", rename = "head", default)]
    pub head_sha: Option<String>,
}

fn head_sha<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    struct Head {
        sha: Option<String>,
    }
    Ok(Head::deserialize(d)?.sha)
}

fn base_ref<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    struct Base {
        r#ref: String,
    }
    Ok(Base::deserialize(d)?.r#ref)
}

fn login<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    struct User {
        login: String,
    }
    Ok(User::deserialize(d)?.login)
}

fn label_names<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    struct Label {
        name: String,
    }
    Ok(Vec::<Label>::deserialize(d)?
        .into_iter()
        .map(|l| l.name)
        .collect())
}

#[derive(Deserialize)]
struct Sha {
    sha: String,
}

#[derive(Deserialize)]
struct GitObject {
    sha: String,
    r#type: String,
}

#[derive(Deserialize)]
struct Ref {
    object: GitObject,
}

/// How creating a ref ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefCreated {
    /// It was made now.
    Created,
    /// It existed already, pointing at this commit (tag objects peeled).
    Exists {
        /// The commit it names.
        commit: String,
    },
}

impl GitHubClient {
    /// The commit `branch` points to now; `None` when there is no such branch.
    pub async fn branch_head(
        &self,
        installation: u64,
        repo: &RepoFullName,
        branch: &str,
    ) -> Result<Option<String>, GitHubError> {
        #[derive(Deserialize)]
        struct Branch {
            commit: Sha,
        }
        let route = format!("/repos/{repo}/branches/{}", ref_path(branch));
        match self
            .request::<Branch>(installation, Method::GET, &route, None)
            .await
        {
            Ok(found) => Ok(Some(found.commit.sha)),
            Err(GitHubError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Pull request `number`; `None` when it does not exist.
    pub async fn pull_request(
        &self,
        installation: u64,
        repo: &RepoFullName,
        number: u64,
    ) -> Result<Option<PullRequestFacts>, GitHubError> {
        let route = format!("/repos/{repo}/pulls/{number}");
        match self.request(installation, Method::GET, &route, None).await {
            Ok(pr) => Ok(Some(pr)),
            Err(GitHubError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether `commit` is `target` or one of its ancestors.
    pub async fn compare_contains(
        &self,
        installation: u64,
        repo: &RepoFullName,
        target: &str,
        commit: &str,
    ) -> Result<bool, GitHubError> {
        #[derive(Deserialize)]
        struct Comparison {
            status: String,
        }
        let route = format!(
            "/repos/{repo}/compare/{}...{}?per_page=1",
            ref_path(commit),
            ref_path(target)
        );
        let comparison: Comparison = self
            .request(installation, Method::GET, &route, None)
            .await?;
        Ok(matches!(comparison.status.as_str(), "ahead" | "identical"))
    }

    /// Creates `refs/<name>` at `sha`, or says where the existing ref points (GitHub answers
    /// 422 when it exists).
    pub async fn create_ref(
        &self,
        installation: u64,
        repo: &RepoFullName,
        name: &str,
        sha: &str,
    ) -> Result<RefCreated, GitHubError> {
        let body = serde_json::json!({ "ref": format!("refs/{name}"), "sha": sha });
        let route = format!("/repos/{repo}/git/refs");
        match self
            .request::<serde_json::Value>(installation, Method::POST, &route, Some(&body))
            .await
        {
            Ok(_) => Ok(RefCreated::Created),
            Err(GitHubError::Validation(message)) => {
                match self.ref_commit(installation, repo, name).await? {
                    Some(commit) => Ok(RefCreated::Exists { commit }),
                    // Refused for another reason than existing.
                    None => Err(GitHubError::Validation(message)),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Creates an annotated tag object for `commit` with `message`; returns its sha.
    pub async fn create_tag_object(
        &self,
        installation: u64,
        repo: &RepoFullName,
        tag: &str,
        message: &str,
        commit: &str,
    ) -> Result<String, GitHubError> {
        let body = serde_json::json!({
            "tag": tag, "message": message, "object": commit, "type": "commit",
        });
        let route = format!("/repos/{repo}/git/tags");
        let created: Sha = self
            .request(installation, Method::POST, &route, Some(&body))
            .await?;
        Ok(created.sha)
    }

    /// The commit `refs/<name>` names (an annotated tag peeled to its commit); `None` when
    /// the ref does not exist.
    pub async fn ref_commit(
        &self,
        installation: u64,
        repo: &RepoFullName,
        name: &str,
    ) -> Result<Option<String>, GitHubError> {
        let route = format!("/repos/{repo}/git/ref/{}", ref_path(name));
        let found: Ref = match self.request(installation, Method::GET, &route, None).await {
            Ok(found) => found,
            Err(GitHubError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        if found.object.r#type != "tag" {
            return Ok(Some(found.object.sha));
        }
        #[derive(Deserialize)]
        struct TagObject {
            object: Sha,
        }
        let route = format!("/repos/{repo}/git/tags/{}", found.object.sha);
        let tag: TagObject = self
            .request(installation, Method::GET, &route, None)
            .await?;
        Ok(Some(tag.object.sha))
    }

    /// Publishes draft `release_id` as `tag` at `commit`, made the latest; returns its page.
    pub async fn publish_release(
        &self,
        installation: u64,
        repo: &RepoFullName,
        release_id: u64,
        tag: &str,
        commit: &str,
    ) -> Result<String, GitHubError> {
        #[derive(Deserialize)]
        struct Published {
            #[serde(default)]
            html_url: String,
        }
        let body = serde_json::json!({
            "draft": false, "tag_name": tag, "target_commitish": commit, "make_latest": "true",
        });
        let route = format!("/repos/{repo}/releases/{release_id}");
        let published: Published = self
            .request(installation, Method::PATCH, &route, Some(&body))
            .await?;
        Ok(published.html_url)
    }

    /// Puts a published release back to draft (its tag stays).
    pub async fn unpublish_release(
        &self,
        installation: u64,
        repo: &RepoFullName,
        release_id: u64,
    ) -> Result<(), GitHubError> {
        let route = format!("/repos/{repo}/releases/{release_id}");
        let body = serde_json::json!({ "draft": true });
        self.request::<serde_json::Value>(installation, Method::PATCH, &route, Some(&body))
            .await?;
        Ok(())
    }

    /// Deletes a release; one already gone counts as deleted.
    pub async fn delete_release(
        &self,
        installation: u64,
        repo: &RepoFullName,
        release_id: u64,
    ) -> Result<(), GitHubError> {
        let route = format!("/repos/{repo}/releases/{release_id}");
        match self
            .request_raw(installation, Method::DELETE, &route, None)
            .await
        {
            Ok((status, _, _)) if status.is_success() || status.as_u16() == 404 => Ok(()),
            Ok((status, headers, body)) => Err(GitHubError::from_response(
                status,
                &headers,
                &body,
                self.now(),
            )),
            Err(e) => Err(e),
        }
    }

    /// Reacts to an issue comment (`eyes`, `confused`, `+1`, …); reacting twice is one
    /// reaction on GitHub.
    pub async fn react_to_comment(
        &self,
        installation: u64,
        repo: &RepoFullName,
        comment_id: u64,
        content: &str,
    ) -> Result<(), GitHubError> {
        let route = format!("/repos/{repo}/issues/comments/{comment_id}/reactions");
        let body = serde_json::json!({ "content": content });
        self.request::<serde_json::Value>(installation, Method::POST, &route, Some(&body))
            .await?;
        Ok(())
    }

    /// The id of a comment on issue or pull request `number` whose body contains `marker`,
    /// looked for in its first thousand comments.
    pub async fn find_comment(
        &self,
        installation: u64,
        repo: &RepoFullName,
        number: u64,
        marker: &str,
    ) -> Result<Option<u64>, GitHubError> {
        #[derive(Deserialize)]
        struct Comment {
            id: u64,
            #[serde(default)]
            body: Option<String>,
        }
        for page in 1..=10 {
            let route = format!("/repos/{repo}/issues/{number}/comments?per_page=100&page={page}");
            let comments: Vec<Comment> = self
                .request(installation, Method::GET, &route, None)
                .await?;
            if let Some(found) = comments
                .iter()
                .find(|c| c.body.as_deref().is_some_and(|b| b.contains(marker)))
            {
                return Ok(Some(found.id));
            }
            if comments.len() < 100 {
                break;
            }
        }
        Ok(None)
    }

    /// The current login of the GitHub user with this id; `None` when the account is gone.
    pub async fn user_login(
        &self,
        installation: u64,
        user_id: i64,
    ) -> Result<Option<String>, GitHubError> {
        #[derive(serde::Deserialize)]
        struct User {
            login: String,
        }
        let route = format!("/user/{user_id}");
        match self
            .request::<User>(installation, Method::GET, &route, None)
            .await
        {
            Ok(user) => Ok(Some(user.login)),
            Err(GitHubError::NotFound(_)) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Whether a comment on `commit` contains `marker` (looked for in its first thousand).
    pub async fn commit_comment_exists(
        &self,
        installation: u64,
        repo: &RepoFullName,
        commit: &str,
        marker: &str,
    ) -> Result<bool, GitHubError> {
        #[derive(Deserialize)]
        struct Comment {
            #[serde(default)]
            body: Option<String>,
        }
        for page in 1..=10 {
            let route = format!(
                "/repos/{repo}/commits/{}/comments?per_page=100&page={page}",
                ref_path(commit)
            );
            let comments: Vec<Comment> = self
                .request(installation, Method::GET, &route, None)
                .await?;
            if comments
                .iter()
                .any(|c| c.body.as_deref().is_some_and(|b| b.contains(marker)))
            {
                return Ok(true);
            }
            if comments.len() < 100 {
                break;
            }
        }
        Ok(false)
    }

    /// Comments on a commit (a refused configuration is reported where it was pushed).
    pub async fn comment_on_commit(
        &self,
        installation: u64,
        repo: &RepoFullName,
        commit: &str,
        body: &str,
    ) -> Result<(), GitHubError> {
        let route = format!("/repos/{repo}/commits/{}/comments", ref_path(commit));
        let body = serde_json::json!({ "body": body });
        self.request::<serde_json::Value>(installation, Method::POST, &route, Some(&body))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ref_names_are_escaped_segment_by_segment() {
        assert_eq!(ref_path("tags/v1.2.0"), "tags/v1.2.0");
        assert_eq!(ref_path("heads/release/1.4"), "heads/release/1.4");
        assert_eq!(ref_path("tags/v1.2.0+build.7"), "tags/v1.2.0%2Bbuild.7");
        assert_eq!(ref_path("heads/feature#1 ?x"), "heads/feature%231%20%3Fx");
        assert_eq!(ref_path("tags/api-v1.0.0"), "tags/api-v1.0.0");
    }
}
