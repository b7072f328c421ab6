//! What the notes engine reads from and writes to GitHub: releases (REST), the commits of a
//! comparison with their pull requests (GraphQL, paged, the page halved when GitHub times out
//! and grown back after successes), recently merged pull requests GitHub has not yet linked
//! to their commits, changed files, and the draft release itself.

use http::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::client::GitHubClient;
use super::error::GitHubError;
use crate::domain::ids::RepoFullName;
use crate::domain::notes::changes::{Author, Commit, CommitAuthor, PullRequest};
use crate::domain::notes::releases::ReleaseSummary;

/// GitHub answers at most this many releases (more gives a 500).
const RELEASE_LIST_LIMIT: usize = 1000;
/// Changed files GitHub lists for a pull request at most.
const PULL_REQUEST_FILES_LIMIT: usize = 3000;
/// Recently merged pull requests looked at by the recovery query.
const RECENT_MERGED_LOOKBACK: u32 = 20;
/// Successful pages before the page size doubles again after a halving.
const GROW_AFTER: u32 = 3;

const PULL_REQUEST_FIELDS: &str = "fragment trainyardPullRequest on PullRequest {
  title number url body mergedAt merged baseRefName headRefName
  author { __typename login url }
  baseRepository { nameWithOwner }
  labels(first: 100) { nodes { name } }
  mergeCommit { oid }
}";

const COMPARISON_QUERY: &str = "query trainyardComparison($owner: String!, $name: String!, \
$base: String!, $head: String!, $historyLimit: Int!, $after: String, $pullRequestLimit: Int!) {
  repository(owner: $owner, name: $name) {
    ref(qualifiedName: $base) {
      compare(headRef: $head) {
        commits(first: $historyLimit, after: $after) {
          pageInfo { hasNextPage endCursor }
          nodes {
            oid committedDate messageHeadline
            authors(first: 10) { nodes { name user { login } } }
            associatedPullRequests(first: $pullRequestLimit) { nodes { ...trainyardPullRequest } }
          }
        }
      }
    }
  }
}";

const RECENT_MERGED_QUERY: &str = "query trainyardRecentMerged($owner: String!, $name: String!, \
$baseRefName: String!, $limit: Int!) {
  repository(owner: $owner, name: $name) {
    pullRequests(states: MERGED, baseRefName: $baseRefName, first: $limit, \
orderBy: {field: UPDATED_AT, direction: DESC}) {
      nodes { ...trainyardPullRequest }
    }
  }
}";

const RESOLVE_QUERY: &str = "query trainyardResolveCommit($owner: String!, $name: String!, \
$expression: String!) {
  repository(owner: $owner, name: $name) { object(expression: $expression) { __typename oid } }
}";

const PULL_REQUEST_HEAD_QUERY: &str = "query trainyardPullRequestHead($owner: String!, \
$name: String!, $number: Int!) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) { headRefOid mergeCommit { oid } potentialMergeCommit { oid } }
  }
}";

/// One page of a comparison.
#[derive(Debug, Default)]
pub struct ComparisonPage {
    /// Commits, with their pull requests.
    pub commits: Vec<Commit>,
    /// Merged pull requests seen on these commits (not yet deduplicated).
    pub pull_requests: Vec<PullRequest>,
    /// Cursor of the next page, if any.
    pub next: Option<String>,
}

/// The whole comparison.
#[derive(Debug, Default)]
pub struct Comparison {
    /// Commits of the range.
    pub commits: Vec<Commit>,
    /// Every merged pull request seen (not yet deduplicated).
    pub pull_requests: Vec<PullRequest>,
    /// GraphQL calls made, failed ones included.
    pub calls: u32,
}

/// The release fields trainyard writes.
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
pub struct ReleaseWrite {
    /// Body.
    pub body: String,
    /// Draft.
    pub draft: bool,
    /// `"true"`, `"false"` or `"legacy"`.
    pub make_latest: String,
    /// Name (left out when empty on updates).
    pub name: String,
    /// Pre-release.
    pub prerelease: bool,
    /// Tag.
    pub tag_name: String,
    /// Target (left out when empty on updates).
    pub target_commitish: String,
}

/// A written release.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct WrittenRelease {
    /// Id.
    pub id: u64,
    /// Web page.
    pub html_url: String,
    /// Upload URL.
    #[serde(default)]
    pub upload_url: String,
}

#[derive(Deserialize)]
struct ReleaseWire {
    id: u64,
    tag_name: String,
    name: Option<String>,
    draft: bool,
    prerelease: bool,
    created_at: String,
    #[serde(default)]
    target_commitish: String,
    #[serde(default)]
    body: Option<String>,
}

impl GitHubClient {
    /// Sends a GraphQL query; GraphQL errors become [`GitHubError`]s.
    pub async fn graphql(
        &self,
        installation: u64,
        query: &str,
        variables: Value,
    ) -> Result<Value, GitHubError> {
        let body = json!({ "query": query, "variables": variables });
        let mut answer: Value = self
            .request(installation, Method::POST, "/graphql", Some(&body))
            .await?;
        if let Some(errors) = answer.get("errors").and_then(Value::as_array) {
            let messages: Vec<&str> = errors
                .iter()
                .filter_map(|e| e.get("message").and_then(Value::as_str))
                .collect();
            let not_found = errors
                .iter()
                .any(|e| e.get("type").and_then(Value::as_str) == Some("NOT_FOUND"));
            let message = messages.join("; ");
            return Err(if not_found {
                GitHubError::NotFound(message)
            } else {
                GitHubError::Other {
                    status: 200,
                    message,
                }
            });
        }
        Ok(answer
            .get_mut("data")
            .map(Value::take)
            .unwrap_or(Value::Null))
    }

    /// The repository's releases, newest first, as GitHub lists them (at most 1,000).
    pub async fn list_releases(
        &self,
        installation: u64,
        repo: &RepoFullName,
    ) -> Result<Vec<ReleaseSummary>, GitHubError> {
        let releases: Vec<ReleaseWire> = self
            .get_pages(
                installation,
                &format!("/repos/{repo}/releases"),
                RELEASE_LIST_LIMIT,
            )
            .await?;
        Ok(releases
            .into_iter()
            .map(|r| ReleaseSummary {
                id: r.id,
                tag_name: r.tag_name,
                name: r.name,
                draft: r.draft,
                prerelease: r.prerelease,
                created_at: r.created_at,
                target_commitish: r.target_commitish,
                body: r.body,
            })
            .collect())
    }

    /// GETs a REST list 100 items a page until a short page or `limit` items.
    pub(crate) async fn get_pages<T: serde::de::DeserializeOwned>(
        &self,
        installation: u64,
        route: &str,
        limit: usize,
    ) -> Result<Vec<T>, GitHubError> {
        let mut items = Vec::new();
        let separator = if route.contains('?') { '&' } else { '?' };
        for page in 1.. {
            let batch: Vec<T> = self
                .request(
                    installation,
                    Method::GET,
                    &format!("{route}{separator}per_page=100&page={page}"),
                    None,
                )
                .await?;
            let full = batch.len() == 100;
            items.extend(batch);
            if !full || items.len() >= limit {
                break;
            }
        }
        Ok(items)
    }

    /// One comparison page of `page_size` commits after `after`.
    #[allow(clippy::too_many_arguments)]
    pub async fn comparison_page(
        &self,
        installation: u64,
        repo: &RepoFullName,
        base: &str,
        head: &str,
        page_size: u32,
        after: Option<&str>,
        pull_request_limit: u32,
    ) -> Result<ComparisonPage, GitHubError> {
        let query = format!("{COMPARISON_QUERY}\n{PULL_REQUEST_FIELDS}");
        let data = self
            .graphql(
                installation,
                &query,
                json!({
                    "owner": repo.owner(), "name": repo.name(), "base": base, "head": head,
                    "historyLimit": page_size, "after": after,
                    "pullRequestLimit": pull_request_limit,
                }),
            )
            .await?;
        let reference = &data["repository"]["ref"];
        if reference.is_null() {
            return Err(GitHubError::NotFound(format!(
                "`{base}` is not a tag or branch of {repo}"
            )));
        }
        let commits = &reference["compare"]["commits"];
        if commits.is_null() {
            return Err(GitHubError::NotFound(format!(
                "`{head}` cannot be compared with `{base}` in {repo}"
            )));
        }
        let wire: CommitsWire = serde_json::from_value(commits.clone())
            .map_err(|e| GitHubError::Decode(format!("comparison commits: {e}")))?;
        let mut page = ComparisonPage {
            next: wire
                .page_info
                .has_next_page
                .then_some(wire.page_info.end_cursor)
                .flatten(),
            ..ComparisonPage::default()
        };
        for node in wire.nodes {
            let wire_prs: Vec<PullRequestWire> = node
                .associated_pull_requests
                .nodes
                .into_iter()
                .flatten()
                .collect();
            let keys: Vec<(String, u64)> = wire_prs
                .iter()
                .map(|p| {
                    let repo = p
                        .base_repository
                        .as_ref()
                        .map_or("", |r| &r.name_with_owner);
                    (repo.to_owned(), p.number)
                })
                .collect();
            let prs: Vec<PullRequest> = wire_prs
                .into_iter()
                .filter_map(PullRequestWire::into_domain)
                .collect();
            let mut authors: Vec<CommitAuthor> = Vec::new();
            let wire_authors = match node.authors {
                Some(list) => list.nodes.into_iter().flatten().collect(),
                None => node.author.into_iter().collect::<Vec<_>>(),
            };
            for author in wire_authors {
                let entry = match (author.user, author.name) {
                    (Some(user), _) => CommitAuthor::User(user.login),
                    (None, Some(name)) => CommitAuthor::Name(name),
                    (None, None) => continue,
                };
                if !authors.contains(&entry) {
                    authors.push(entry);
                }
            }
            page.commits.push(Commit {
                oid: node.oid,
                headline: node
                    .message_headline
                    .or_else(|| {
                        node.message
                            .map(|m| m.lines().next().unwrap_or("").to_owned())
                    })
                    .unwrap_or_default(),
                committed_at: node.committed_date.unwrap_or_default(),
                authors,
                pull_requests: keys,
            });
            page.pull_requests.extend(prs);
        }
        Ok(page)
    }

    /// The whole comparison, `page_size` commits a page at most. A page GitHub fails to
    /// produce in time (502, 504, timeout) is asked again at half the size; the size grows
    /// back after a few good pages. `progress` hears the commit count after each page.
    #[allow(clippy::too_many_arguments)]
    pub async fn comparison(
        &self,
        installation: u64,
        repo: &RepoFullName,
        base: &str,
        head: &str,
        page_size: u32,
        pull_request_limit: u32,
        mut progress: impl FnMut(usize),
    ) -> Result<Comparison, GitHubError> {
        let mut all = Comparison::default();
        let mut size = page_size.max(1);
        let mut good_pages = 0;
        let mut cursor: Option<String> = None;
        loop {
            all.calls += 1;
            match self
                .comparison_page(
                    installation,
                    repo,
                    base,
                    head,
                    size,
                    cursor.as_deref(),
                    pull_request_limit,
                )
                .await
            {
                Ok(page) => {
                    all.commits.extend(page.commits);
                    all.pull_requests.extend(page.pull_requests);
                    progress(all.commits.len());
                    good_pages += 1;
                    if size < page_size && good_pages >= GROW_AFTER {
                        size = (size * 2).min(page_size);
                        good_pages = 0;
                    }
                    match page.next {
                        Some(next) => cursor = Some(next),
                        None => return Ok(all),
                    }
                }
                Err(GitHubError::Transient(reason)) if size > 1 => {
                    size /= 2;
                    good_pages = 0;
                    tracing::info!(%repo, page_size = size, %reason, "comparison page failed; asking for a smaller page");
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Recently merged pull requests into `base_ref_name` (the recovery for pull requests
    /// GitHub has not yet linked to their merge commit).
    pub async fn recent_merged_pull_requests(
        &self,
        installation: u64,
        repo: &RepoFullName,
        base_ref_name: &str,
    ) -> Result<Vec<PullRequest>, GitHubError> {
        let query = format!("{RECENT_MERGED_QUERY}\n{PULL_REQUEST_FIELDS}");
        let data = self
            .graphql(
                installation,
                &query,
                json!({
                    "owner": repo.owner(), "name": repo.name(),
                    "baseRefName": base_ref_name, "limit": RECENT_MERGED_LOOKBACK,
                }),
            )
            .await?;
        let nodes = data["repository"]["pullRequests"]["nodes"].clone();
        let wire: Vec<Option<PullRequestWire>> = serde_json::from_value(nodes)
            .map_err(|e| GitHubError::Decode(format!("recent pull requests: {e}")))?;
        Ok(wire
            .into_iter()
            .flatten()
            .filter_map(PullRequestWire::into_domain)
            .collect())
    }

    /// The commit `expression` (`refs/tags/v1^{commit}`, a sha, a branch) points to.
    pub async fn resolve_commit(
        &self,
        installation: u64,
        repo: &RepoFullName,
        expression: &str,
    ) -> Result<String, GitHubError> {
        let data = self
            .graphql(
                installation,
                RESOLVE_QUERY,
                json!({ "owner": repo.owner(), "name": repo.name(), "expression": expression }),
            )
            .await?;
        data["repository"]["object"]["oid"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| GitHubError::NotFound(format!("`{expression}` in {repo}")))
    }

    /// The commit a pull request's merge ref stands for: its merge commit, else GitHub's
    /// test merge, else its head.
    pub async fn pull_request_merge_commit(
        &self,
        installation: u64,
        repo: &RepoFullName,
        number: u64,
    ) -> Result<String, GitHubError> {
        let data = self
            .graphql(
                installation,
                PULL_REQUEST_HEAD_QUERY,
                json!({ "owner": repo.owner(), "name": repo.name(), "number": number }),
            )
            .await?;
        let pr = &data["repository"]["pullRequest"];
        [
            &pr["mergeCommit"]["oid"],
            &pr["potentialMergeCommit"]["oid"],
            &pr["headRefOid"],
        ]
        .into_iter()
        .find_map(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| GitHubError::NotFound(format!("pull request #{number} of {repo}")))
    }

    /// The files a pull request changed.
    pub async fn pull_request_files(
        &self,
        installation: u64,
        repo: &RepoFullName,
        number: u64,
    ) -> Result<Vec<String>, GitHubError> {
        #[derive(Deserialize)]
        struct File {
            filename: String,
        }
        let files: Vec<File> = self
            .get_pages(
                installation,
                &format!("/repos/{repo}/pulls/{number}/files"),
                PULL_REQUEST_FILES_LIMIT,
            )
            .await?;
        Ok(files.into_iter().map(|f| f.filename).collect())
    }

    /// Creates a release.
    pub async fn create_release(
        &self,
        installation: u64,
        repo: &RepoFullName,
        release: &ReleaseWrite,
    ) -> Result<WrittenRelease, GitHubError> {
        let body = serde_json::to_value(release)
            .map_err(|e| GitHubError::Decode(format!("release body: {e}")))?;
        self.request(
            installation,
            Method::POST,
            &format!("/repos/{repo}/releases"),
            Some(&body),
        )
        .await
    }

    /// Updates release `id`; an empty name, tag or target is left as it is on GitHub.
    pub async fn update_release(
        &self,
        installation: u64,
        repo: &RepoFullName,
        id: u64,
        release: &ReleaseWrite,
    ) -> Result<WrittenRelease, GitHubError> {
        let mut body = serde_json::to_value(release)
            .map_err(|e| GitHubError::Decode(format!("release body: {e}")))?;
        if let Some(fields) = body.as_object_mut() {
            for key in ["name", "tag_name", "target_commitish"] {
                if fields.get(key).and_then(Value::as_str) == Some("") {
                    fields.remove(key);
                }
            }
        }
        self.request(
            installation,
            Method::PATCH,
            &format!("/repos/{repo}/releases/{id}"),
            Some(&body),
        )
        .await
    }

    /// A file's text and blob sha at `reference`; `None` when there is no such file.
    pub async fn file_contents(
        &self,
        installation: u64,
        repo: &RepoFullName,
        path: &str,
        reference: Option<&str>,
    ) -> Result<Option<RepositoryFile>, GitHubError> {
        #[derive(Deserialize)]
        struct Contents {
            sha: String,
            #[serde(default)]
            content: String,
            #[serde(default)]
            encoding: String,
        }
        let route = match reference {
            Some(r) => format!("/repos/{repo}/contents/{path}?ref={r}"),
            None => format!("/repos/{repo}/contents/{path}"),
        };
        let contents: Contents = match self.request(installation, Method::GET, &route, None).await {
            Ok(c) => c,
            Err(GitHubError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        if contents.encoding != "base64" {
            return Err(GitHubError::Decode(format!(
                "{path}: unexpected encoding `{}`",
                contents.encoding
            )));
        }
        use base64::Engine as _;
        let compact: String = contents.content.split_whitespace().collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|e| GitHubError::Decode(format!("{path}: {e}")))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| GitHubError::Decode(format!("{path} is not UTF-8 text")))?;
        Ok(Some(RepositoryFile {
            sha: contents.sha,
            text,
        }))
    }
}

/// A file read from a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryFile {
    /// Blob sha.
    pub sha: String,
    /// Its text.
    pub text: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommitsWire {
    page_info: PageInfo,
    #[serde(default)]
    nodes: Vec<CommitWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommitWire {
    oid: Option<String>,
    committed_date: Option<String>,
    message_headline: Option<String>,
    message: Option<String>,
    author: Option<GitActorWire>,
    authors: Option<Nodes<GitActorWire>>,
    associated_pull_requests: Nodes<PullRequestWire>,
}

#[derive(Deserialize)]
struct Nodes<T> {
    #[serde(default = "Vec::new")]
    nodes: Vec<Option<T>>,
}

#[derive(Deserialize)]
struct GitActorWire {
    name: Option<String>,
    user: Option<Login>,
}

#[derive(Deserialize)]
struct Login {
    login: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PullRequestWire {
    title: String,
    number: u64,
    #[serde(default)]
    url: String,
    body: Option<String>,
    merged_at: Option<String>,
    #[serde(default)]
    merged: bool,
    #[serde(default)]
    base_ref_name: String,
    #[serde(default)]
    head_ref_name: String,
    author: Option<AuthorWire>,
    base_repository: Option<NameWithOwner>,
    labels: Option<Nodes<LabelWire>>,
    merge_commit: Option<Oid>,
}

#[derive(Deserialize)]
struct AuthorWire {
    #[serde(rename = "__typename", default)]
    typename: String,
    login: String,
    #[serde(default)]
    url: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NameWithOwner {
    name_with_owner: String,
}

#[derive(Deserialize)]
struct LabelWire {
    name: String,
}

#[derive(Deserialize)]
struct Oid {
    oid: String,
}

impl PullRequestWire {
    /// The pull request, if merged (the only kind that goes into notes).
    fn into_domain(self) -> Option<PullRequest> {
        if !self.merged {
            return None;
        }
        Some(PullRequest {
            number: self.number,
            title: self.title,
            body: self.body.unwrap_or_default(),
            url: self.url,
            author: self.author.map(|a| Author {
                is_bot: a.typename == "Bot",
                login: a.login,
                url: a.url,
            }),
            merged_at: self.merged_at.unwrap_or_default(),
            labels: self
                .labels
                .map(|l| l.nodes.into_iter().flatten().map(|l| l.name).collect())
                .unwrap_or_default(),
            base_ref_name: self.base_ref_name,
            head_ref_name: self.head_ref_name,
            base_repository: self
                .base_repository
                .map(|r| r.name_with_owner)
                .unwrap_or_default(),
            merge_commit: self.merge_commit.map(|c| c.oid),
            changed_files: Vec::new(),
        })
    }
}
