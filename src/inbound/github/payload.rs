//! Webhook payloads → [`Event`]. Small serde structs with only the fields we read; a payload
//! that does not fit names the JSON path that failed.

use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};

use crate::domain::event::{
    Actor, CommentAction, DeploymentEvent, DeploymentStatusEvent, Event, InstallationAction,
    InstallationEvent, InstallationRepositoriesEvent, IssueCommentEvent, ProtectionRuleEvent,
    PullRequest, PullRequestAction, PullRequestEvent, PushEvent, PushedRef, Release, ReleaseAction,
    ReleaseEvent,
};
use crate::domain::ids::RepoFullName;

/// What a delivery turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// An event we act on (boxed: events are large, ignored deliveries common).
    Handled(Box<Event>),
    /// Valid, but an event or action we do not act on.
    Ignored,
}

/// Why a payload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {event} payload at `{path}`: {message}")]
pub struct PayloadError {
    /// The event name.
    pub event: String,
    /// JSON path of the failure (`.` for the document itself).
    pub path: String,
    /// What was wrong.
    pub message: String,
}

/// The fields every payload may carry, read first to route the rest.
#[derive(Deserialize)]
struct Envelope {
    action: Option<String>,
}

/// The events [`parse`] acts on (others are recorded and ignored). GitHub delivers the
/// installation events to every App; the rest must be subscribed (`app-manifest.yml`).
pub const HANDLED_EVENTS: [&str; 9] = [
    "pull_request",
    "release",
    "issue_comment",
    "push",
    "deployment",
    "deployment_status",
    "deployment_protection_rule",
    "installation",
    "installation_repositories",
];

/// Parses the delivery of `event` with `body`; also returns the payload's `action`.
pub fn parse(event: &str, body: &[u8]) -> Result<(Option<String>, Parsed), PayloadError> {
    let envelope: Envelope = decode(event, body)?;
    let parsed = classify(event, envelope.action.as_deref().unwrap_or(""), body)?;
    Ok((envelope.action, parsed))
}

fn classify(event: &str, action: &str, body: &[u8]) -> Result<Parsed, PayloadError> {
    let handled = match (event, action) {
        (
            "pull_request",
            "labeled" | "unlabeled" | "closed" | "reopened" | "edited" | "opened" | "synchronize",
        ) => pull_request(event, body)?,
        (
            "release",
            "created" | "edited" | "published" | "released" | "prereleased" | "unpublished"
            | "deleted",
        ) => release(event, body)?,
        ("issue_comment", "created" | "edited") => issue_comment(event, body)?,
        ("push", _) => push(event, body)?,
        ("deployment", "created") => deployment(event, body)?,
        ("deployment_status", "created") => deployment_status(event, body)?,
        ("deployment_protection_rule", "requested") => protection_rule(event, body)?,
        (
            "installation",
            "created" | "deleted" | "suspend" | "unsuspend" | "new_permissions_accepted",
        ) => installation(event, body)?,
        ("installation_repositories", "added" | "removed") => {
            installation_repositories(event, body)?
        }
        // The envelope already proved the body is JSON.
        _ => return Ok(Parsed::Ignored),
    };
    Ok(Parsed::Handled(Box::new(handled)))
}

fn decode<T: DeserializeOwned>(event: &str, body: &[u8]) -> Result<T, PayloadError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| PayloadError {
        event: event.to_owned(),
        path: e.path().to_string(),
        message: e.into_inner().to_string(),
    })
}

#[derive(Deserialize)]
struct Repo {
    full_name: RepoFullName,
    default_branch: Option<String>,
}

#[derive(Deserialize)]
struct InstallationRef {
    id: u64,
}

#[derive(Deserialize)]
struct User {
    login: String,
    #[serde(rename = "type")]
    kind: Option<String>,
}

impl From<User> for Actor {
    fn from(user: User) -> Actor {
        Actor {
            is_bot: user.kind.as_deref() == Some("Bot"),
            login: user.login,
        }
    }
}

#[derive(Deserialize)]
struct Label {
    name: String,
}

#[derive(Deserialize)]
struct Branch {
    #[serde(rename = "ref")]
    name: String,
    #[serde(default)]
    sha: Option<String>,
}

#[derive(Deserialize)]
struct PullRequestPayload {
    action: String,
    label: Option<Label>,
    pull_request: PullRequestBody,
    repository: Repo,
    installation: Option<InstallationRef>,
    sender: User,
}

#[derive(Deserialize)]
struct PullRequestBody {
    number: u64,
    title: String,
    body: Option<String>,
    html_url: String,
    user: User,
    labels: Vec<Label>,
    base: Branch,
    head: Branch,
    merged: Option<bool>,
    merge_commit_sha: Option<String>,
    merged_at: Option<String>,
}

fn pull_request(event: &str, body: &[u8]) -> Result<Event, PayloadError> {
    let p: PullRequestPayload = decode(event, body)?;
    let merged = p.pull_request.merged.unwrap_or(false) || p.pull_request.merged_at.is_some();
    let label = || {
        p.label
            .as_ref()
            .map(|l| l.name.clone())
            .ok_or_else(|| PayloadError {
                event: event.to_owned(),
                path: "label".into(),
                message: format!("missing on a {} action", p.action),
            })
    };
    let action = match p.action.as_str() {
        "labeled" => PullRequestAction::Labeled { label: label()? },
        "unlabeled" => PullRequestAction::Unlabeled { label: label()? },
        "closed" if merged => PullRequestAction::Merged,
        "closed" => PullRequestAction::ClosedUnmerged,
        "reopened" => PullRequestAction::Reopened,
        "opened" => PullRequestAction::Opened,
        "synchronize" => PullRequestAction::Synchronize,
        "edited" => PullRequestAction::Edited,
        _ => PullRequestAction::Other,
    };
    let pr = p.pull_request;
    Ok(Event::PullRequest(PullRequestEvent {
        action,
        default_branch: p.repository.default_branch,
        repository: p.repository.full_name,
        installation_id: p.installation.map(|i| i.id),
        pull_request: PullRequest {
            number: pr.number,
            title: pr.title,
            body: pr.body,
            url: pr.html_url,
            author: pr.user.into(),
            labels: pr.labels.into_iter().map(|l| l.name).collect(),
            base_ref: pr.base.name,
            head_ref: pr.head.name,
            head_sha: pr
                .head
                .sha
                .filter(|sha| sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit())),
            merged,
            // Before a merge GitHub fills this with a test-merge commit; only keep it once merged.
            merge_commit_sha: if merged { pr.merge_commit_sha } else { None },
            merged_at: pr.merged_at,
        },
        sender: p.sender.into(),
    }))
}

#[derive(Deserialize)]
struct ReleasePayload {
    action: ReleaseAction,
    release: ReleaseBody,
    repository: Repo,
    installation: Option<InstallationRef>,
    sender: User,
}

#[derive(Deserialize)]
struct ReleaseBody {
    id: u64,
    tag_name: String,
    target_commitish: String,
    name: Option<String>,
    body: Option<String>,
    draft: bool,
    prerelease: bool,
    html_url: String,
    published_at: Option<String>,
}

fn release(event: &str, body: &[u8]) -> Result<Event, PayloadError> {
    let p: ReleasePayload = decode(event, body)?;
    let r = p.release;
    Ok(Event::Release(ReleaseEvent {
        action: p.action,
        repository: p.repository.full_name,
        installation_id: p.installation.map(|i| i.id),
        release: Release {
            id: r.id,
            tag_name: r.tag_name,
            target_commitish: r.target_commitish,
            name: r.name,
            body: r.body,
            draft: r.draft,
            prerelease: r.prerelease,
            url: r.html_url,
            published_at: r.published_at,
        },
        sender: p.sender.into(),
    }))
}

#[derive(Deserialize)]
struct IssueCommentPayload {
    action: String,
    changes: Option<CommentChanges>,
    issue: Issue,
    comment: Comment,
    repository: Repo,
    installation: Option<InstallationRef>,
    sender: User,
}

#[derive(Deserialize)]
struct CommentChanges {
    body: Option<ChangedFrom>,
}

#[derive(Deserialize)]
struct ChangedFrom {
    from: String,
}

#[derive(Deserialize)]
struct Issue {
    number: u64,
    pull_request: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct Comment {
    id: u64,
    body: Option<String>,
    user: User,
    #[serde(default)]
    author_association: String,
    created_at: Option<String>,
    updated_at: Option<String>,
}

fn issue_comment(event: &str, body: &[u8]) -> Result<Event, PayloadError> {
    let p: IssueCommentPayload = decode(event, body)?;
    let action = if p.action == "edited" {
        CommentAction::Edited {
            previous_body: p.changes.and_then(|c| c.body).map(|b| b.from),
        }
    } else {
        CommentAction::Created
    };
    Ok(Event::IssueComment(IssueCommentEvent {
        action,
        repository: p.repository.full_name,
        installation_id: p.installation.map(|i| i.id),
        issue_number: p.issue.number,
        is_pull_request: p.issue.pull_request.is_some(),
        comment_id: p.comment.id,
        body: p.comment.body.unwrap_or_default(),
        author: p.comment.user.into(),
        sender: p.sender.into(),
        author_association: p.comment.author_association,
        written_at: p.comment.updated_at.or(p.comment.created_at),
    }))
}

#[derive(Deserialize)]
struct PushPayload {
    #[serde(rename = "ref")]
    full_ref: String,
    before: String,
    after: String,
    #[serde(default)]
    created: bool,
    #[serde(default)]
    deleted: bool,
    #[serde(default)]
    forced: bool,
    #[serde(default)]
    commits: Vec<PushCommit>,
    repository: Repo,
    installation: Option<InstallationRef>,
}

#[derive(Deserialize)]
struct PushCommit {
    #[serde(default)]
    added: Vec<String>,
    #[serde(default)]
    modified: Vec<String>,
    #[serde(default)]
    removed: Vec<String>,
}

fn push(event: &str, body: &[u8]) -> Result<Event, PayloadError> {
    let p: PushPayload = decode(event, body)?;
    let mut changed_paths: Vec<String> = p
        .commits
        .into_iter()
        .flat_map(|c| c.added.into_iter().chain(c.modified).chain(c.removed))
        .collect();
    changed_paths.sort();
    changed_paths.dedup();
    Ok(Event::Push(PushEvent {
        repository: p.repository.full_name,
        default_branch: p.repository.default_branch,
        installation_id: p.installation.map(|i| i.id),
        pushed_ref: PushedRef::parse(&p.full_ref),
        before: p.before,
        after: p.after,
        created: p.created,
        deleted: p.deleted,
        forced: p.forced,
        changed_paths,
    }))
}

#[derive(Deserialize)]
struct DeploymentPayload {
    deployment: DeploymentBody,
    repository: Repo,
    installation: Option<InstallationRef>,
}

#[derive(Deserialize)]
struct DeploymentBody {
    id: u64,
    sha: String,
    #[serde(rename = "ref")]
    git_ref: String,
    environment: String,
    task: String,
    description: Option<String>,
    creator: Option<User>,
    #[serde(default)]
    payload: serde_json::Value,
}

/// The request id trainyard writes into its deployments' payloads (an object, or the same
/// as a JSON string).
fn request_id(payload: &serde_json::Value) -> Option<String> {
    let object = match payload {
        serde_json::Value::String(text) => serde_json::from_str(text).ok()?,
        other => other.clone(),
    };
    object
        .get("request_id")?
        .as_str()
        .filter(|id| id.len() <= 200)
        .map(str::to_owned)
}

fn deployment(event: &str, body: &[u8]) -> Result<Event, PayloadError> {
    let p: DeploymentPayload = decode(event, body)?;
    let d = p.deployment;
    Ok(Event::Deployment(DeploymentEvent {
        repository: p.repository.full_name,
        installation_id: p.installation.map(|i| i.id),
        deployment_id: d.id,
        sha: d.sha,
        git_ref: d.git_ref,
        environment: d.environment,
        task: d.task,
        description: d.description,
        creator: d.creator.map(Actor::from),
        request_id: request_id(&d.payload),
    }))
}

#[derive(Deserialize)]
struct ProtectionRulePayload {
    environment: String,
    event: Option<String>,
    deployment_callback_url: String,
    deployment: Option<ProtectedDeployment>,
    sha: Option<String>,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    repository: Repo,
    installation: Option<InstallationRef>,
    sender: User,
}

#[derive(Deserialize)]
struct ProtectedDeployment {
    sha: String,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
}

/// The workflow run a protection rule's callback URL names:
/// `…/repos/{owner}/{repo}/actions/runs/{run_id}/deployment_protection_rule`.
fn run_id_of(callback: &str) -> Option<u64> {
    let (before, _) = callback.rsplit_once("/deployment_protection_rule")?;
    let (runs, id) = before.rsplit_once('/')?;
    runs.ends_with("/actions/runs").then_some(())?;
    id.parse().ok()
}

fn protection_rule(event: &str, body: &[u8]) -> Result<Event, PayloadError> {
    let p: ProtectionRulePayload = decode(event, body)?;
    let refuse = |path: &str, message: &str| PayloadError {
        event: event.to_owned(),
        path: path.to_owned(),
        message: message.to_owned(),
    };
    let run_id = run_id_of(&p.deployment_callback_url).ok_or_else(|| {
        refuse(
            "deployment_callback_url",
            "names no workflow run (…/actions/runs/{id}/deployment_protection_rule)",
        )
    })?;
    let (sha, git_ref) = match p.deployment {
        Some(d) => (d.sha, d.git_ref.or(p.git_ref)),
        None => (p.sha.unwrap_or_default(), p.git_ref),
    };
    let is_commit = sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit());
    if !is_commit {
        return Err(refuse("deployment.sha", "is not a commit sha"));
    }
    if p.environment.is_empty() || p.environment.len() > 255 {
        return Err(refuse("environment", "must be 1 to 255 characters"));
    }
    Ok(Event::ProtectionRule(ProtectionRuleEvent {
        repository: p.repository.full_name,
        installation_id: p.installation.map(|i| i.id),
        environment: p.environment,
        run_id,
        sha: sha.to_ascii_lowercase(),
        git_ref,
        run_event: p.event,
        sender: Actor::from(p.sender),
    }))
}

#[derive(Deserialize)]
struct DeploymentStatusPayload {
    deployment_status: StatusBody,
    deployment: DeploymentId,
    repository: Repo,
    installation: Option<InstallationRef>,
    sender: Option<User>,
}

#[derive(Deserialize)]
struct DeploymentId {
    id: u64,
    #[serde(default)]
    sha: String,
    #[serde(rename = "ref", default)]
    git_ref: String,
    creator: Option<User>,
    #[serde(default)]
    payload: serde_json::Value,
}

#[derive(Deserialize)]
struct StatusBody {
    id: u64,
    state: String,
    environment: Option<String>,
    description: Option<String>,
    environment_url: Option<String>,
    log_url: Option<String>,
    target_url: Option<String>,
    creator: Option<User>,
}

fn deployment_status(event: &str, body: &[u8]) -> Result<Event, PayloadError> {
    let p: DeploymentStatusPayload = decode(event, body)?;
    let s = p.deployment_status;
    let non_empty = |u: Option<String>| u.filter(|u| !u.is_empty());
    Ok(Event::DeploymentStatus(DeploymentStatusEvent {
        repository: p.repository.full_name,
        installation_id: p.installation.map(|i| i.id),
        deployment_id: p.deployment.id,
        status_id: s.id,
        state: s.state,
        environment: s.environment.unwrap_or_default(),
        description: s.description,
        url: non_empty(s.environment_url)
            .or(non_empty(s.log_url))
            .or(non_empty(s.target_url)),
        request_id: request_id(&p.deployment.payload),
        sha: p.deployment.sha,
        git_ref: p.deployment.git_ref,
        creator: p.deployment.creator.map(Actor::from),
        reported_by: s.creator.or(p.sender).map(Actor::from),
    }))
}

#[derive(Deserialize)]
struct InstallationPayload {
    action: InstallationAction,
    installation: InstallationBody,
    #[serde(default)]
    repositories: Vec<RepoName>,
}

#[derive(Deserialize)]
struct InstallationBody {
    id: u64,
    account: User,
}

#[derive(Deserialize)]
struct RepoName {
    full_name: RepoFullName,
}

fn installation(event: &str, body: &[u8]) -> Result<Event, PayloadError> {
    let p: InstallationPayload = decode(event, body)?;
    Ok(Event::Installation(InstallationEvent {
        action: p.action,
        installation_id: p.installation.id,
        account: p.installation.account.login,
        repositories: p.repositories.into_iter().map(|r| r.full_name).collect(),
    }))
}

#[derive(Deserialize)]
struct InstallationRepositoriesPayload {
    installation: InstallationBody,
    #[serde(default)]
    repositories_added: Vec<RepoName>,
    #[serde(default)]
    repositories_removed: Vec<RepoName>,
}

fn installation_repositories(event: &str, body: &[u8]) -> Result<Event, PayloadError> {
    let p: InstallationRepositoriesPayload = decode(event, body)?;
    Ok(Event::InstallationRepositories(
        InstallationRepositoriesEvent {
            installation_id: p.installation.id,
            account: p.installation.account.login,
            added: p
                .repositories_added
                .into_iter()
                .map(|r| r.full_name)
                .collect(),
            removed: p
                .repositories_removed
                .into_iter()
                .map(|r| r.full_name)
                .collect(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_json_names_where_it_broke() {
        let err = parse("pull_request", br#"{"action": "closed", "number": }"#).unwrap_err();
        assert_eq!(err.path, "number");
        assert!(err.message.starts_with("expected value"), "{err}");
        let err = parse("watch", b"not json").unwrap_err();
        assert_eq!(err.event, "watch");
    }

    #[test]
    fn a_wrong_type_names_its_path() {
        let body = br#"{"action":"created","release":{"id":"seven"},"repository":{},"sender":{}}"#;
        let err = parse("release", body).unwrap_err();
        assert_eq!(err.path, "release.id");
    }

    #[test]
    fn a_bad_repository_name_is_refused() {
        let body = br#"{"action":"created","installation":{"id":1,"account":{"login":"a"}},
                        "repositories":[{"full_name":"no-slash"}]}"#;
        let err = parse("installation", body).unwrap_err();
        assert_eq!(err.path, "repositories[0].full_name");
    }

    #[test]
    fn unknown_events_and_actions_are_ignored() {
        let ignored = |action: &str| Ok((Some(action.to_owned()), Parsed::Ignored));
        assert_eq!(
            parse("watch", br#"{"action":"started"}"#),
            ignored("started")
        );
        assert_eq!(
            parse("pull_request", br#"{"action":"assigned"}"#),
            ignored("assigned")
        );
        assert_eq!(
            parse("issue_comment", br#"{"action":"deleted"}"#),
            ignored("deleted")
        );
    }
}
