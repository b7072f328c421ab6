//! What the notes are made of: merged pull requests and the commits of the range, as GitHub
//! reports them (the GitHub adapter fills these from its GraphQL answers).

/// Who opened a pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    /// Login (bots without their `[bot]` suffix, as GraphQL gives them).
    pub login: String,
    /// A GitHub App's bot account.
    pub is_bot: bool,
    /// Profile URL.
    pub url: String,
}

/// A merged pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    /// Number.
    pub number: u64,
    /// Title.
    pub title: String,
    /// Body (empty when none).
    pub body: String,
    /// Web URL.
    pub url: String,
    /// Author; `None` for deleted accounts (shown as `ghost`).
    pub author: Option<Author>,
    /// Merge time, RFC 3339 as GitHub writes it (sorts as text).
    pub merged_at: String,
    /// Label names.
    pub labels: Vec<String>,
    /// Base branch.
    pub base_ref_name: String,
    /// Head branch.
    pub head_ref_name: String,
    /// `owner/name` of the repository it was merged into.
    pub base_repository: String,
    /// Merge commit, when known.
    pub merge_commit: Option<String>,
    /// Changed files; fetched only when a condition looks at paths.
    pub changed_files: Vec<String>,
}

/// A commit author: a GitHub user, or only a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitAuthor {
    /// A GitHub user.
    User(String),
    /// A git name with no GitHub account.
    Name(String),
}

/// A commit of the range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// Full sha, when reported.
    pub oid: Option<String>,
    /// First line of the message.
    pub headline: String,
    /// Committed at, RFC 3339.
    pub committed_at: String,
    /// Its authors (co-authors included).
    pub authors: Vec<CommitAuthor>,
    /// `owner/name#number` of its associated pull requests.
    pub pull_requests: Vec<(String, u64)>,
}
