//! Facts from GitHub, in our own words: only what trainyard reads, already classified (a
//! closed pull request is either merged or not; a push is to a branch or a tag). The inbound
//! adapter turns webhook payloads into these; jobs carry them serialised.

use serde::{Deserialize, Serialize};

use super::ids::RepoFullName;

/// One webhook delivery we act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A pull request changed.
    PullRequest(PullRequestEvent),
    /// A release changed.
    Release(ReleaseEvent),
    /// A comment on an issue or pull request was written or edited.
    IssueComment(IssueCommentEvent),
    /// Commits or a tag were pushed, or a ref deleted.
    Push(PushEvent),
    /// A deployment was created.
    Deployment(DeploymentEvent),
    /// A deployment's status changed.
    DeploymentStatus(DeploymentStatusEvent),
    /// A workflow job waits for trainyard's deployment protection rule.
    ProtectionRule(ProtectionRuleEvent),
    /// The App was installed, removed, suspended or given new permissions.
    Installation(InstallationEvent),
    /// Repositories were added to or removed from an installation.
    InstallationRepositories(InstallationRepositoriesEvent),
}

impl Event {
    /// The repository the event is about, if it is about one.
    pub fn repository(&self) -> Option<&RepoFullName> {
        match self {
            Event::PullRequest(e) => Some(&e.repository),
            Event::Release(e) => Some(&e.repository),
            Event::IssueComment(e) => Some(&e.repository),
            Event::Push(e) => Some(&e.repository),
            Event::Deployment(e) => Some(&e.repository),
            Event::DeploymentStatus(e) => Some(&e.repository),
            Event::ProtectionRule(e) => Some(&e.repository),
            Event::Installation(_) | Event::InstallationRepositories(_) => None,
        }
    }

    /// The installation the delivery came through, if it says.
    pub fn installation_id(&self) -> Option<u64> {
        match self {
            Event::PullRequest(e) => e.installation_id,
            Event::Release(e) => e.installation_id,
            Event::IssueComment(e) => e.installation_id,
            Event::Push(e) => e.installation_id,
            Event::Deployment(e) => e.installation_id,
            Event::DeploymentStatus(e) => e.installation_id,
            Event::ProtectionRule(e) => e.installation_id,
            Event::Installation(e) => Some(e.installation_id),
            Event::InstallationRepositories(e) => Some(e.installation_id),
        }
    }
}

/// Who did something on GitHub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Login.
    pub login: String,
    /// Bots are ignored when they write commands, to avoid loops.
    pub is_bot: bool,
}

impl Actor {
    /// Nobody known (events stored before the sender was kept).
    pub fn unknown() -> Actor {
        Actor {
            login: String::new(),
            is_bot: false,
        }
    }
}

/// What happened to a pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum PullRequestAction {
    /// A label was added.
    Labeled {
        /// The label's name.
        label: String,
    },
    /// A label was removed.
    Unlabeled {
        /// The label's name.
        label: String,
    },
    /// Closed by merging.
    Merged,
    /// Closed without merging.
    ClosedUnmerged,
    /// Reopened.
    Reopened,
    /// Title, body or base changed.
    Edited,
    /// Opened.
    Opened,
    /// New commits were pushed to its branch.
    Synchronize,
    /// Anything else (assigned, review requested, …): nothing for trainyard.
    Other,
}

/// A pull request as trainyard needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    /// Number.
    pub number: u64,
    /// Title.
    pub title: String,
    /// Body, if any.
    pub body: Option<String>,
    /// Web URL.
    pub url: String,
    /// Author.
    pub author: Actor,
    /// Labels, by name.
    pub labels: Vec<String>,
    /// Branch it merges into.
    pub base_ref: String,
    /// Branch it comes from.
    pub head_ref: String,
    /// Its head commit (where its checks live).
    #[serde(default)]
    pub head_sha: Option<String>,
    /// Whether it is merged.
    pub merged: bool,
    /// The merge commit, once merged.
    pub merge_commit_sha: Option<String>,
    /// When it was merged (RFC 3339).
    pub merged_at: Option<String>,
}

/// A pull request event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequestEvent {
    /// What happened.
    pub action: PullRequestAction,
    /// Where.
    pub repository: RepoFullName,
    /// Through which installation.
    pub installation_id: Option<u64>,
    /// The pull request after the change.
    pub pull_request: PullRequest,
    /// Who did it.
    pub sender: Actor,
    /// The repository's default branch (lines without a branch follow it).
    #[serde(default)]
    pub default_branch: Option<String>,
}

/// What happened to a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseAction {
    /// A draft was saved, or a release published without being a draft first.
    Created,
    /// Name, body or tag changed.
    Edited,
    /// A draft or pre-release was published.
    Published,
    /// A release was published, or a pre-release became a release.
    Released,
    /// A pre-release was created.
    Prereleased,
    /// A published release went back to draft.
    Unpublished,
    /// Deleted.
    Deleted,
}

/// A release as trainyard needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// Release id.
    pub id: u64,
    /// Tag.
    pub tag_name: String,
    /// Branch or commit the tag is (to be) created at.
    pub target_commitish: String,
    /// Title.
    pub name: Option<String>,
    /// Notes.
    pub body: Option<String>,
    /// Still a draft.
    pub draft: bool,
    /// Marked pre-release.
    pub prerelease: bool,
    /// Web URL.
    pub url: String,
    /// When published (RFC 3339).
    pub published_at: Option<String>,
}

/// A release event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseEvent {
    /// What happened.
    pub action: ReleaseAction,
    /// Where.
    pub repository: RepoFullName,
    /// Through which installation.
    pub installation_id: Option<u64>,
    /// The release after the change.
    pub release: Release,
    /// Who did it.
    pub sender: Actor,
}

/// Whether a comment is new or edited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum CommentAction {
    /// Written.
    Created,
    /// Edited; only commands that were not in the previous body count.
    Edited {
        /// The body before the edit, when GitHub sent it.
        previous_body: Option<String>,
    },
}

/// A comment event on an issue or pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueCommentEvent {
    /// Created or edited.
    pub action: CommentAction,
    /// Where.
    pub repository: RepoFullName,
    /// Through which installation.
    pub installation_id: Option<u64>,
    /// Issue or pull request number.
    pub issue_number: u64,
    /// Whether the issue is a pull request.
    pub is_pull_request: bool,
    /// Comment id.
    pub comment_id: u64,
    /// Comment text.
    pub body: String,
    /// Who wrote it.
    pub author: Actor,
    /// Who created or edited it now: the one acting (anyone with write access may edit
    /// another person's comment).
    #[serde(default = "Actor::unknown")]
    pub sender: Actor,
    /// The author's relation to the repository (`OWNER`, `MEMBER`, `COLLABORATOR`, `NONE`…).
    #[serde(default)]
    pub author_association: String,
    /// When the comment was written, or last edited (RFC 3339).
    #[serde(default)]
    pub written_at: Option<String>,
}

impl IssueCommentEvent {
    /// Whether the author belongs to the repository (owner, organisation member or invited
    /// collaborator): only their commands are taken, on a public repository as on a private.
    pub fn by_collaborator(&self) -> bool {
        matches!(
            self.author_association.as_str(),
            "OWNER" | "MEMBER" | "COLLABORATOR"
        )
    }

    /// Whether someone other than its author made this version of the comment.
    pub fn edited_by_another(&self) -> bool {
        matches!(self.action, CommentAction::Edited { .. })
            && !self.sender.login.eq_ignore_ascii_case(&self.author.login)
    }
}

/// A pushed ref.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum PushedRef {
    /// `refs/heads/<name>`.
    Branch(String),
    /// `refs/tags/<name>`.
    Tag(String),
    /// Anything else, full name.
    Other(String),
}

impl PushedRef {
    /// Classifies a full ref name.
    pub fn parse(full: &str) -> PushedRef {
        if let Some(branch) = full.strip_prefix("refs/heads/") {
            PushedRef::Branch(branch.to_owned())
        } else if let Some(tag) = full.strip_prefix("refs/tags/") {
            PushedRef::Tag(tag.to_owned())
        } else {
            PushedRef::Other(full.to_owned())
        }
    }
}

/// A push event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushEvent {
    /// Where.
    pub repository: RepoFullName,
    /// The repository's default branch.
    pub default_branch: Option<String>,
    /// Through which installation.
    pub installation_id: Option<u64>,
    /// Which ref.
    pub pushed_ref: PushedRef,
    /// Commit before (all zeros when created).
    pub before: String,
    /// Commit after (all zeros when deleted).
    pub after: String,
    /// The ref was created.
    pub created: bool,
    /// The ref was deleted.
    pub deleted: bool,
    /// Force-pushed.
    pub forced: bool,
    /// Paths added, modified or removed by the pushed commits (for config reloads).
    pub changed_paths: Vec<String>,
}

/// A deployment (created).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentEvent {
    /// Where.
    pub repository: RepoFullName,
    /// Through which installation.
    pub installation_id: Option<u64>,
    /// Deployment id.
    pub deployment_id: u64,
    /// Commit.
    pub sha: String,
    /// Ref as requested.
    pub git_ref: String,
    /// Environment.
    pub environment: String,
    /// Task.
    pub task: String,
    /// Description.
    pub description: Option<String>,
    /// Who created it.
    pub creator: Option<Actor>,
    /// The request id trainyard put in the payload, for its own deployments.
    #[serde(default)]
    pub request_id: Option<String>,
}

/// A workflow run's job for an environment waits for trainyard's answer
/// (`deployment_protection_rule`, `requested`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectionRuleEvent {
    /// Where.
    pub repository: RepoFullName,
    /// Through which installation.
    pub installation_id: Option<u64>,
    /// The environment the job deploys to.
    pub environment: String,
    /// The workflow run, from the callback URL GitHub gives.
    pub run_id: u64,
    /// The commit it deploys.
    pub sha: String,
    /// The ref it deploys.
    pub git_ref: Option<String>,
    /// What started the run (`push`, `workflow_dispatch`, …).
    pub run_event: Option<String>,
    /// Who started it.
    pub sender: Actor,
}

/// A deployment status (created).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentStatusEvent {
    /// Where.
    pub repository: RepoFullName,
    /// Through which installation.
    pub installation_id: Option<u64>,
    /// Deployment id.
    pub deployment_id: u64,
    /// Status id.
    pub status_id: u64,
    /// `pending`, `in_progress`, `queued`, `success`, `failure`, `error`, `waiting`, `inactive`.
    pub state: String,
    /// Environment.
    pub environment: String,
    /// Description.
    pub description: Option<String>,
    /// Link to the deployed thing or its log.
    pub url: Option<String>,
    /// The deployment's commit.
    #[serde(default)]
    pub sha: String,
    /// The deployment's ref.
    #[serde(default)]
    pub git_ref: String,
    /// Who created the deployment.
    #[serde(default)]
    pub creator: Option<Actor>,
    /// The request id trainyard put in the deployment's payload, for its own.
    #[serde(default)]
    pub request_id: Option<String>,
    /// Who posted the status (its creator, else the webhook's sender): the one an automatic
    /// follow-up is made on behalf of.
    #[serde(default)]
    pub reported_by: Option<Actor>,
}

/// What happened to an installation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstallationAction {
    /// Installed.
    Created,
    /// Uninstalled.
    Deleted,
    /// Suspended by the account.
    Suspend,
    /// Suspension lifted.
    Unsuspend,
    /// New permissions accepted.
    NewPermissionsAccepted,
}

/// An installation event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallationEvent {
    /// What happened.
    pub action: InstallationAction,
    /// Installation id.
    pub installation_id: u64,
    /// The account (user or organisation) it is installed on.
    pub account: String,
    /// Repositories listed with the event (on creation).
    pub repositories: Vec<RepoFullName>,
}

/// Repositories added to or removed from an installation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallationRepositoriesEvent {
    /// Installation id.
    pub installation_id: u64,
    /// The account.
    pub account: String,
    /// Added repositories.
    pub added: Vec<RepoFullName>,
    /// Removed repositories.
    pub removed: Vec<RepoFullName>,
}
