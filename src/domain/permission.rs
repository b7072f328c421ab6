//! Repository permission levels, ordered as GitHub's roles are.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A person's role on a repository, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// No access.
    None,
    /// Read.
    Read,
    /// Triage.
    Triage,
    /// Write (push).
    Write,
    /// Maintain.
    Maintain,
    /// Admin.
    Admin,
}

impl Permission {
    /// From GitHub's collaborator-permission answer: `role_name` when it is a built-in role
    /// (it distinguishes maintain and triage), else the coarse `permission`.
    pub fn from_github(permission: &str, role_name: Option<&str>) -> Permission {
        role_name
            .and_then(Permission::from_name)
            .or_else(|| Permission::from_name(permission))
            .unwrap_or(Permission::None)
    }

    /// A role by its GitHub name.
    pub fn from_name(name: &str) -> Option<Permission> {
        Some(match name {
            "none" => Permission::None,
            "read" | "pull" => Permission::Read,
            "triage" => Permission::Triage,
            "write" | "push" => Permission::Write,
            "maintain" => Permission::Maintain,
            "admin" => Permission::Admin,
            _ => return None,
        })
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Permission::None => "none",
            Permission::Read => "read",
            Permission::Triage => "triage",
            Permission::Write => "write",
            Permission::Maintain => "maintain",
            Permission::Admin => "admin",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_read_from_githubs_answer() {
        assert!(Permission::Admin > Permission::Maintain);
        assert!(Permission::Maintain > Permission::Write);
        assert!(Permission::Triage > Permission::Read);
        assert_eq!(
            Permission::from_github("write", Some("maintain")),
            Permission::Maintain
        );
        assert_eq!(
            Permission::from_github("read", Some("triage")),
            Permission::Triage
        );
        // A custom role falls back to its base permission.
        assert_eq!(
            Permission::from_github("write", Some("release-manager")),
            Permission::Write
        );
        assert_eq!(Permission::from_github("bogus", None), Permission::None);
    }
}
