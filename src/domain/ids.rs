//! Identifiers that are valid by construction.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A repository's `owner/name`, checked against GitHub's rules for both parts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RepoFullName(String);

impl TryFrom<String> for RepoFullName {
    type Error = InvalidRepoName;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        RepoFullName::parse(&s)
    }
}

impl From<RepoFullName> for String {
    fn from(repo: RepoFullName) -> String {
        repo.0
    }
}

/// Why a repository name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{given:?} is not a repository name of the form owner/name")]
pub struct InvalidRepoName {
    /// What was given (cut to 100 characters).
    pub given: String,
}

/// GitHub logins are at most 39 characters; repository names at most 100.
const MAX_OWNER_LEN: usize = 39;
const MAX_NAME_LEN: usize = 100;

impl RepoFullName {
    /// Parses `owner/name`.
    pub fn parse(s: &str) -> Result<Self, InvalidRepoName> {
        let invalid = || InvalidRepoName {
            given: s.chars().take(100).collect(),
        };
        let (owner, name) = s.split_once('/').ok_or_else(invalid)?;
        let owner_ok = !owner.is_empty()
            && owner.len() <= MAX_OWNER_LEN
            && owner
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !owner.starts_with('-');
        let name_ok = !name.is_empty()
            && name.len() <= MAX_NAME_LEN
            && name != "."
            && name != ".."
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if owner_ok && name_ok {
            Ok(RepoFullName(s.to_owned()))
        } else {
            Err(invalid())
        }
    }

    /// The owner part.
    pub fn owner(&self) -> &str {
        self.0.split_once('/').map_or("", |(owner, _)| owner)
    }

    /// The name part.
    pub fn name(&self) -> &str {
        self.0.split_once('/').map_or("", |(_, name)| name)
    }
}

impl AsRef<str> for RepoFullName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RepoFullName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_repository_names() {
        for ok in ["acme/api", "rust-lang/rust", "a/b.c_d-e", "x1/.github"] {
            let repo = RepoFullName::parse(ok).expect(ok);
            assert_eq!(repo.to_string(), ok);
        }
        let repo = RepoFullName::parse("acme/api").expect("valid");
        assert_eq!((repo.owner(), repo.name()), ("acme", "api"));
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [
            "",
            "acme",
            "acme/",
            "/api",
            "acme/api/x",
            "ac me/api",
            "-acme/api",
            "acme/..",
            "acme/<script>",
            "@channel/x",
        ] {
            assert!(RepoFullName::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
