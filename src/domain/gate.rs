//! The release gate: may a deployment someone else runs (a GitHub Actions job behind
//! trainyard's deployment protection rule, or another tool asking the gate API) take this
//! commit to this environment now? Decided by [`deploy::decide`] with the same facts as a
//! `/release deploy`, for the release the commit is: rules that can never pass reject it;
//! rules that pass later (a lock, a freeze window, the environment it requires, the train's
//! approval) answer "not yet", and the request is decided again when that changes.

use super::deploy::{self, DeployCommand, DeployFacts, Release};
use super::permission::Permission;

/// What the commit is to trainyard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// A train's published release.
    Released(Release),
    /// A train's published release candidate.
    Candidate(Release),
    /// A train's cut release, not yet approved.
    AwaitingApproval(Release),
    /// None of those; the latest release, for the refusal.
    Unknown {
        /// The repository's latest release.
        latest: Option<Release>,
    },
}

/// An admin's forced deployment of the commit to the environment, which a freeze lets by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forced {
    /// The admin.
    pub by: String,
    /// Why.
    pub reason: String,
}

/// What the gate needs besides the deployment facts.
#[derive(Debug, Clone)]
pub struct GateFacts<'a> {
    /// The facts a `/release deploy` of the commit would be decided with; `release`,
    /// `candidate` and `unreleased` are filled from `standing`.
    pub deploy: DeployFacts<'a>,
    /// The environment asked for, as GitHub names it.
    pub environment: &'a str,
    /// The commit asked for.
    pub sha: &'a str,
    /// What it is.
    pub standing: Standing,
    /// An admin forced this commit to this environment.
    pub forced: Option<Forced>,
}

/// What the gate waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitFor {
    /// The environment's lock to be released.
    Unlock,
    /// The freeze window to end.
    WindowEnd,
    /// The environment it requires to deploy the release.
    Required,
    /// The train to be approved and published.
    Approval,
}

impl WaitFor {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            WaitFor::Unlock => "unlock",
            WaitFor::WindowEnd => "window_end",
            WaitFor::Required => "required",
            WaitFor::Approval => "approval",
        }
    }
}

/// The gate's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateAnswer {
    /// Let it deploy; why.
    Approved(String),
    /// Never for this request; why.
    Rejected(String),
    /// Not now; why, and what would change it.
    NotYet {
        /// Why.
        reason: String,
        /// What it waits for.
        until: WaitFor,
    },
}

impl GateAnswer {
    /// The reason given.
    pub fn reason(&self) -> &str {
        match self {
            GateAnswer::Approved(reason)
            | GateAnswer::Rejected(reason)
            | GateAnswer::NotYet { reason, .. } => reason,
        }
    }
}

/// The first seven characters of a commit, as GitHub shows it.
pub fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

/// Decides a gate request.
pub fn decide(facts: &GateFacts<'_>) -> GateAnswer {
    let (release, candidate, awaiting) = match &facts.standing {
        Standing::Released(release) => (release, false, false),
        Standing::Candidate(release) => (release, true, false),
        Standing::AwaitingApproval(release) => (release, false, true),
        Standing::Unknown { latest } => {
            return GateAnswer::Rejected(match latest {
                Some(latest) => format!(
                    "commit {} is not a release; the latest release, {}, is commit {}",
                    short(facts.sha),
                    latest.tag,
                    short(&latest.sha)
                ),
                None => format!(
                    "commit {} is not a release, and nothing has been released yet",
                    short(facts.sha)
                ),
            });
        }
    };
    let environment = facts
        .deploy
        .environment
        .map_or_else(|| facts.environment.to_owned(), |env| env.name.clone());
    let forced = facts
        .forced
        .as_ref()
        .filter(|_| facts.deploy.frozen.is_some());
    let command = DeployCommand::Deploy {
        version: Some(release.tag.clone()),
        environment,
        force: forced.map(|f| f.reason.clone()),
    };
    let full = DeployFacts {
        release: Some(release.clone()),
        candidate,
        unreleased: false,
        // The admin who forced it answers for the freeze.
        permission: if forced.is_some() {
            Permission::Admin
        } else {
            facts.deploy.permission
        },
        ..facts.deploy.clone()
    };
    // The rules no waiting changes first: the environment, the role, a candidate where final
    // releases go.
    let lasting = DeployFacts {
        lock: None,
        frozen: None,
        required_deployed: None,
        ..full.clone()
    };
    if let Err(reason) = deploy::decide(&command, &lasting) {
        return GateAnswer::Rejected(reason);
    }
    if awaiting {
        return GateAnswer::NotYet {
            reason: format!(
                "{} (commit {}) is cut but not released; it deploys once the train is approved",
                release.tag,
                short(&release.sha)
            ),
            until: WaitFor::Approval,
        };
    }
    match deploy::decide(&command, &full) {
        Ok(_) => GateAnswer::Approved(match forced {
            Some(forced) => format!(
                "{} (commit {}) is released; forced through the freeze by {}: {}",
                release.tag,
                short(&release.sha),
                forced.by,
                forced.reason
            ),
            None => format!(
                "{} (commit {}) is {}",
                release.tag,
                short(&release.sha),
                if candidate {
                    "a published release candidate"
                } else {
                    "released"
                }
            ),
        }),
        Err(reason) => GateAnswer::NotYet {
            until: waits_for(&full),
            reason,
        },
    }
}

/// Which of the rules that pass later held `facts`, in the order `decide` reads them.
fn waits_for(facts: &DeployFacts<'_>) -> WaitFor {
    let held_by_other = facts
        .lock
        .as_ref()
        .is_some_and(|lock| !lock.owner.eq_ignore_ascii_case(facts.actor));
    if held_by_other {
        WaitFor::Unlock
    } else if facts.required_deployed == Some(false) {
        WaitFor::Required
    } else {
        WaitFor::WindowEnd
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::deploy::Holder;
    use crate::domain::repo_config::EnvironmentKeys;

    fn env(name: &str) -> EnvironmentKeys {
        EnvironmentKeys {
            name: name.to_owned(),
            ..EnvironmentKeys::default()
        }
    }

    fn release(tag: &str, sha: &str) -> Release {
        Release {
            train_id: Some(1),
            version: tag.trim_start_matches('v').to_owned(),
            tag: tag.to_owned(),
            sha: sha.to_owned(),
        }
    }

    fn facts<'a>(environment: &'a EnvironmentKeys, standing: Standing) -> GateFacts<'a> {
        GateFacts {
            deploy: DeployFacts {
                environment: Some(environment),
                configured: vec![environment.name.as_str()],
                permission: environment.deploy_permission(),
                actor: "github-actions[bot]",
                lock: None,
                release: None,
                required_deployed: None,
                frozen: None,
                candidate: false,
                unreleased: false,
            },
            environment: &environment.name,
            sha: "aaaaaaaaaa",
            standing,
            forced: None,
        }
    }

    #[test]
    fn a_released_commit_passes_and_any_other_is_rejected_naming_both() {
        let production = env("production");
        let released = Standing::Released(release("v1.4.0", "aaaaaaaaaa"));
        assert_eq!(
            decide(&facts(&production, released)),
            GateAnswer::Approved("v1.4.0 (commit aaaaaaa) is released".into())
        );
        let mut other = facts(
            &production,
            Standing::Unknown {
                latest: Some(release("v1.4.0", "aaaaaaaaaa")),
            },
        );
        other.sha = "bbbbbbbbbb";
        assert_eq!(
            decide(&other),
            GateAnswer::Rejected(
                "commit bbbbbbb is not a release; the latest release, v1.4.0, is commit aaaaaaa"
                    .into()
            )
        );
    }

    #[test]
    fn candidates_go_only_where_final_releases_do_not() {
        let candidate = Standing::Candidate(release("v1.4.0-rc.1", "aaaaaaaaaa"));
        let staging = env("staging");
        assert!(matches!(
            decide(&facts(&staging, candidate.clone())),
            GateAnswer::Approved(_)
        ));
        let production = env("production");
        assert!(matches!(
            decide(&facts(&production, candidate)),
            GateAnswer::Rejected(reason) if reason.contains("is a release candidate")
        ));
    }

    #[test]
    fn what_passes_later_answers_not_yet_with_what_it_waits_for() {
        let production = EnvironmentKeys {
            requires: Some("staging".into()),
            ..env("production")
        };
        let released = Standing::Released(release("v1.4.0", "aaaaaaaaaa"));
        let mut locked = facts(&production, released.clone());
        locked.deploy.lock = Some(Holder {
            owner: "dave".into(),
            reason: "migration".into(),
        });
        assert!(matches!(
            decide(&locked),
            GateAnswer::NotYet { until: WaitFor::Unlock, reason } if reason.contains("locked by dave")
        ));
        let mut before_staging = facts(&production, released.clone());
        before_staging.deploy.required_deployed = Some(false);
        assert!(matches!(
            decide(&before_staging),
            GateAnswer::NotYet {
                until: WaitFor::Required,
                ..
            }
        ));
        let mut frozen = facts(&production, released.clone());
        frozen.deploy.frozen = Some("Fri 16:00-Mon 08:00".into());
        assert!(matches!(
            decide(&frozen),
            GateAnswer::NotYet {
                until: WaitFor::WindowEnd,
                ..
            }
        ));
        frozen.forced = Some(Forced {
            by: "olga".into(),
            reason: "outage".into(),
        });
        assert!(matches!(
            decide(&frozen),
            GateAnswer::Approved(reason) if reason.contains("forced through the freeze by olga: outage")
        ));
        let awaiting = Standing::AwaitingApproval(release("v1.4.0", "aaaaaaaaaa"));
        assert!(matches!(
            decide(&facts(&production, awaiting)),
            GateAnswer::NotYet {
                until: WaitFor::Approval,
                ..
            }
        ));
    }

    #[test]
    fn unknown_environments_and_short_roles_are_rejected_at_once() {
        let production = env("production");
        let mut unknown = facts(
            &production,
            Standing::AwaitingApproval(release("v1.4.0", "aaaaaaaaaa")),
        );
        unknown.deploy.environment = None;
        assert!(matches!(decide(&unknown), GateAnswer::Rejected(_)));
        let mut writer = facts(
            &production,
            Standing::Released(release("v1.4.0", "aaaaaaaaaa")),
        );
        writer.deploy.permission = Permission::Write;
        writer.deploy.actor = "carol";
        assert!(matches!(
            decide(&writer),
            GateAnswer::Rejected(reason) if reason.contains("carol has write")
        ));
    }
}
