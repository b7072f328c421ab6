//! Deployment commands and the rules that decide them, from facts gathered beforehand: the
//! environment's configuration, the actor's role, the environment's lock, the release meant
//! and whether the environment it must follow has deployed it.

use serde::{Deserialize, Serialize};

use super::permission::Permission;
use super::repo_config::EnvironmentKeys;

/// What a deployment command asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeployCommand {
    /// Deploy a released version (`None`: the latest release) to an environment.
    Deploy {
        /// The version or tag; `None` for the latest.
        version: Option<String>,
        /// The environment.
        environment: String,
        /// Deploy through a freeze window (admins only), for this reason.
        #[serde(default)]
        force: Option<String>,
    },
    /// Deploy the release the environment ran before its current one.
    Rollback {
        /// The environment.
        environment: String,
    },
    /// Hold an environment: nobody but the owner deploys there until it is unlocked.
    Lock {
        /// The environment.
        environment: String,
        /// Why.
        reason: String,
    },
    /// Release an environment's lock.
    Unlock {
        /// The environment.
        environment: String,
    },
    /// End the environment's bake now as if verified (admins only), for this reason.
    SkipBake {
        /// The environment.
        environment: String,
        /// Why.
        reason: String,
    },
}

impl DeployCommand {
    /// The command as typed.
    pub fn name(&self) -> &'static str {
        match self {
            DeployCommand::Deploy { .. } => "deploy",
            DeployCommand::Rollback { .. } => "rollback",
            DeployCommand::Lock { .. } => "lock",
            DeployCommand::Unlock { .. } => "unlock",
            DeployCommand::SkipBake { .. } => "verify",
        }
    }

    /// The environment it is about, as typed.
    pub fn environment(&self) -> &str {
        match self {
            DeployCommand::Deploy { environment, .. }
            | DeployCommand::Rollback { environment }
            | DeployCommand::Lock { environment, .. }
            | DeployCommand::Unlock { environment }
            | DeployCommand::SkipBake { environment, .. } => environment,
        }
    }
}

/// A released train, as a deployment names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// The train (none for a deployment someone else made).
    pub train_id: Option<i64>,
    /// Its version.
    pub version: String,
    /// Its tag.
    pub tag: String,
    /// The tagged commit.
    pub sha: String,
}

/// Who holds an environment, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// GitHub login.
    pub owner: String,
    /// Why.
    pub reason: String,
}

/// What the decision needs.
#[derive(Debug, Clone)]
pub struct DeployFacts<'a> {
    /// The environment's configuration, when it is configured.
    pub environment: Option<&'a EnvironmentKeys>,
    /// Every configured environment's name, for the refusal of an unknown one.
    pub configured: Vec<&'a str>,
    /// The actor's role on the repository.
    pub permission: Permission,
    /// Who gives the command.
    pub actor: &'a str,
    /// The environment's lock.
    pub lock: Option<Holder>,
    /// The release meant (deploy: the named or latest; rollback: the one before).
    pub release: Option<Release>,
    /// For an environment that `requires` another: whether that one deployed the release.
    pub required_deployed: Option<bool>,
    /// The freeze window the environment is in now, as configured.
    pub frozen: Option<String>,
    /// The release meant is a train's release candidate (a pre-release).
    pub candidate: bool,
    /// The release meant is neither released nor a published candidate (a train's final tag
    /// before its approval, or a tag trainyard did not make).
    pub unreleased: bool,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeployDecision {
    /// Request a deployment of this release.
    Request {
        /// The release.
        release: Release,
        /// A rollback.
        rollback: bool,
        /// Why a freeze window was overridden.
        forced: Option<String>,
    },
    /// Lock the environment.
    Lock,
    /// Unlock the environment.
    Unlock,
    /// End the environment's bake as skipped.
    SkipBake,
}

/// Decides a deployment command; a refusal says why.
pub fn decide(command: &DeployCommand, facts: &DeployFacts<'_>) -> Result<DeployDecision, String> {
    let typed = command.environment();
    let Some(environment) = facts.environment else {
        return Err(if facts.configured.is_empty() {
            "no deployment environments are configured (`deploy.environments` in \
             .github/trainyard.yml)"
                .to_owned()
        } else {
            let hint = super::spelling::closest(typed, facts.configured.iter().copied())
                .map(|name| format!(" (did you mean `{name}`?)"))
                .unwrap_or_default();
            format!(
                "there is no environment `{typed}`{hint}; configured: {}",
                facts.configured.join(", ")
            )
        });
    };
    let name = &environment.name;
    // Skipping a bake lets an unproven release on: the admin's call, with a reason.
    if let DeployCommand::SkipBake { .. } = command {
        return if facts.permission < Permission::Admin {
            Err(format!(
                "skipping {name}'s bake needs the admin role; {} has {}",
                facts.actor, facts.permission
            ))
        } else {
            Ok(DeployDecision::SkipBake)
        };
    }
    let needed = environment.deploy_permission();
    if facts.permission < needed {
        return Err(format!(
            "{} to {name} needs the {} role; {} has {}",
            match command {
                DeployCommand::Lock { .. } | DeployCommand::Unlock { .. } => "locking",
                _ => "deploying",
            },
            needed,
            facts.actor,
            facts.permission
        ));
    }
    let held_by_other = facts
        .lock
        .as_ref()
        .filter(|lock| !lock.owner.eq_ignore_ascii_case(facts.actor));
    match command {
        DeployCommand::Deploy { .. } | DeployCommand::Rollback { .. } => {
            if let Some(lock) = held_by_other {
                return Err(format!(
                    "{name} is locked by {}: {}",
                    lock.owner, lock.reason
                ));
            }
            deployment(command, facts, environment)
        }
        DeployCommand::Lock { .. } => match &facts.lock {
            Some(lock) if lock.owner.eq_ignore_ascii_case(facts.actor) => {
                Err(format!("{name} is already locked by you: {}", lock.reason))
            }
            Some(lock) => Err(format!(
                "{name} is already locked by {}: {}",
                lock.owner, lock.reason
            )),
            None => Ok(DeployDecision::Lock),
        },
        DeployCommand::Unlock { .. } => match &facts.lock {
            Some(_) => Ok(DeployDecision::Unlock),
            None => Err(format!("{name} is not locked")),
        },
        DeployCommand::SkipBake { .. } => Ok(DeployDecision::SkipBake),
    }
}

/// A deployment or rollback to `environment` nobody else holds: the release exists and
/// suits the environment, what it requires ran, and a freeze holds unless an admin forces it
/// (a rollback restores service: freezes do not hold it).
fn deployment(
    command: &DeployCommand,
    facts: &DeployFacts<'_>,
    environment: &EnvironmentKeys,
) -> Result<DeployDecision, String> {
    let name = &environment.name;
    let Some(release) = facts.release.clone() else {
        return Err(match command {
            DeployCommand::Deploy {
                version: Some(version),
                ..
            } => format!("there is no released version {version}"),
            DeployCommand::Deploy { version: None, .. } => {
                "nothing has been released yet".to_owned()
            }
            _ => format!("{name} has no earlier successful release to roll back to"),
        });
    };
    if facts.candidate && environment.is_production() {
        return Err(format!(
            "{} is a release candidate; {name} is a production environment and takes \
             final releases",
            release.tag
        ));
    }
    if facts.unreleased && !facts.candidate {
        return Err(format!(
            "{} is not released; {name} takes released versions",
            release.tag
        ));
    }
    if let (Some(required), Some(false)) = (&environment.requires, facts.required_deployed) {
        return Err(format!(
            "{required} has no successful deployment of {}; deploy it there first",
            release.tag
        ));
    }
    let force = match command {
        DeployCommand::Deploy { force, .. } => force.clone(),
        _ => None,
    };
    if force.is_some() && facts.permission < Permission::Admin {
        return Err(format!(
            "forcing a deployment needs the admin role; {} has {}",
            facts.actor, facts.permission
        ));
    }
    // A rollback restores service: freezes do not hold it.
    let rollback = matches!(command, DeployCommand::Rollback { .. });
    let forced = match (&facts.frozen, force) {
        (Some(window), None) if !rollback => {
            return Err(format!(
                "{name} is frozen ({window}); an admin may deploy anyway with \
                 `/release deploy {} to {name} force <reason>`",
                release.version
            ));
        }
        (Some(_), Some(reason)) => Some(reason),
        _ => None,
    };
    Ok(DeployDecision::Request {
        release,
        rollback,
        forced,
    })
}

/// Decides a deployment trainyard makes by itself (an `auto:` environment on publishing, an
/// `after:` one on its predecessor's success): the same rules as a person's command, with the
/// configuration's authority and no force. A held deployment says which command starts it.
pub fn decide_automatic(facts: &DeployFacts<'_>) -> Result<Release, String> {
    let (Some(environment), Some(release)) = (facts.environment, &facts.release) else {
        return Err("nothing to deploy".to_owned());
    };
    let command = DeployCommand::Deploy {
        version: Some(release.tag.clone()),
        environment: environment.name.clone(),
        force: None,
    };
    let authority = DeployFacts {
        permission: environment.deploy_permission(),
        ..facts.clone()
    };
    match decide(&command, &authority) {
        Ok(DeployDecision::Request { release, .. }) => Ok(release),
        Ok(_) => Err("not a deployment".to_owned()),
        // The lock is the first rule that holds a configured environment.
        Err(reason) if authority.lock.is_some() => Err(format!(
            "{reason}; once it is unlocked, `/release deploy {} to {}` starts it",
            release.tag, environment.name
        )),
        Err(reason) => Err(reason),
    }
}

/// Where a deployment is: trainyard's own states around GitHub's statuses.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DeploymentState {
    /// Decided; GitHub not asked yet.
    Requested,
    /// GitHub created it; no status yet.
    Created,
    /// Refused (by a rule, or by GitHub), with the reason kept beside it.
    Refused,
    /// GitHub's `queued`, `pending` or `in_progress`.
    Queued,
    /// GitHub's `pending`.
    Pending,
    /// GitHub's `in_progress`.
    InProgress,
    /// GitHub's `success`: the environment runs it.
    Success,
    /// GitHub's `failure`.
    Failure,
    /// GitHub's `error`.
    Error,
    /// GitHub's `inactive`: replaced by a later deployment.
    Inactive,
    /// A status GitHub may add later, kept as it came.
    Other(String),
}

impl DeploymentState {
    /// As stored and as GitHub names it.
    pub fn as_str(&self) -> &str {
        match self {
            DeploymentState::Requested => "requested",
            DeploymentState::Created => "created",
            DeploymentState::Refused => "refused",
            DeploymentState::Queued => "queued",
            DeploymentState::Pending => "pending",
            DeploymentState::InProgress => "in_progress",
            DeploymentState::Success => "success",
            DeploymentState::Failure => "failure",
            DeploymentState::Error => "error",
            DeploymentState::Inactive => "inactive",
            DeploymentState::Other(name) => name,
        }
    }

    /// From its stored or GitHub name.
    pub fn named(name: &str) -> DeploymentState {
        match name {
            "requested" => DeploymentState::Requested,
            "created" => DeploymentState::Created,
            "refused" => DeploymentState::Refused,
            "queued" => DeploymentState::Queued,
            "pending" => DeploymentState::Pending,
            "in_progress" => DeploymentState::InProgress,
            "success" => DeploymentState::Success,
            "failure" => DeploymentState::Failure,
            "error" => DeploymentState::Error,
            "inactive" => DeploymentState::Inactive,
            other => DeploymentState::Other(other.to_owned()),
        }
    }

    /// It failed (GitHub's `failure` or `error`).
    pub fn failed(&self) -> bool {
        matches!(self, DeploymentState::Failure | DeploymentState::Error)
    }
}

impl From<String> for DeploymentState {
    fn from(name: String) -> Self {
        DeploymentState::named(&name)
    }
}

/// Compared with its name (`state == "success"`).
impl PartialEq<&str> for DeploymentState {
    fn eq(&self, name: &&str) -> bool {
        self.as_str() == *name
    }
}

impl std::fmt::Display for DeploymentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> EnvironmentKeys {
        EnvironmentKeys {
            name: name.into(),
            ..EnvironmentKeys::default()
        }
    }

    fn release() -> Release {
        Release {
            train_id: Some(1),
            version: "1.4.0".into(),
            tag: "v1.4.0".into(),
            sha: "abc".into(),
        }
    }

    fn facts<'a>(environment: &'a EnvironmentKeys, permission: Permission) -> DeployFacts<'a> {
        DeployFacts {
            environment: Some(environment),
            configured: vec!["staging", "production"],
            permission,
            actor: "bob",
            lock: None,
            release: Some(release()),
            required_deployed: None,
            frozen: None,
            candidate: false,
            unreleased: false,
        }
    }

    fn deploy(to: &str) -> DeployCommand {
        DeployCommand::Deploy {
            version: Some("1.4.0".into()),
            environment: to.into(),
            force: None,
        }
    }

    #[test]
    fn a_freeze_holds_all_but_admins_who_say_why_and_rollbacks() {
        let production = env("production");
        let mut frozen = facts(&production, Permission::Maintain);
        frozen.frozen = Some("Fri 16:00-Mon 08:00".into());
        assert_eq!(
            decide(&deploy("production"), &frozen),
            Err(
                "production is frozen (Fri 16:00-Mon 08:00); an admin may deploy anyway with \
                 `/release deploy 1.4.0 to production force <reason>`"
                    .into()
            )
        );
        let forced = DeployCommand::Deploy {
            version: Some("1.4.0".into()),
            environment: "production".into(),
            force: Some("hotfix for the outage".into()),
        };
        assert!(decide(&forced, &frozen).is_err(), "maintain may not force");
        frozen.permission = Permission::Admin;
        assert_eq!(
            decide(&forced, &frozen),
            Ok(DeployDecision::Request {
                release: release(),
                rollback: false,
                forced: Some("hotfix for the outage".into())
            })
        );
        let rollback = DeployCommand::Rollback {
            environment: "production".into(),
        };
        assert!(decide(&rollback, &frozen).is_ok());
    }

    #[test]
    fn production_needs_maintain_by_default() {
        let production = env("production");
        let refused = decide(
            &deploy("production"),
            &facts(&production, Permission::Write),
        );
        assert_eq!(
            refused,
            Err("deploying to production needs the maintain role; bob has write".into())
        );
        assert!(
            decide(
                &deploy("production"),
                &facts(&production, Permission::Maintain)
            )
            .is_ok()
        );
        assert!(
            decide(
                &deploy("staging"),
                &facts(&env("staging"), Permission::Write)
            )
            .is_ok()
        );
    }

    #[test]
    fn a_lock_refuses_everyone_but_its_owner() {
        let staging = env("staging");
        let mut held = facts(&staging, Permission::Admin);
        held.lock = Some(Holder {
            owner: "Alice".into(),
            reason: "load test".into(),
        });
        assert_eq!(
            decide(&deploy("staging"), &held),
            Err("staging is locked by Alice: load test".into())
        );
        held.actor = "alice";
        assert!(decide(&deploy("staging"), &held).is_ok());
    }

    #[test]
    fn order_and_unknown_environments_are_refused_with_the_reason() {
        let mut production = env("production");
        production.requires = Some("staging".into());
        let mut not_yet = facts(&production, Permission::Admin);
        not_yet.required_deployed = Some(false);
        assert_eq!(
            decide(&deploy("production"), &not_yet),
            Err("staging has no successful deployment of v1.4.0; deploy it there first".into())
        );
        let mut unknown = facts(&production, Permission::Admin);
        unknown.environment = None;
        assert_eq!(
            decide(&deploy("prodution"), &unknown),
            Err("there is no environment `prodution` (did you mean `production`?); configured: staging, production".into())
        );
    }

    #[test]
    fn automatic_deployments_follow_the_same_rules_with_the_configurations_authority() {
        let production = env("production");
        // The configuration allows it: no person's role is needed.
        let mut automatic = facts(&production, Permission::None);
        automatic.actor = "trainyard";
        assert_eq!(decide_automatic(&automatic), Ok(release()));

        automatic.lock = Some(Holder {
            owner: "dave".into(),
            reason: "migration".into(),
        });
        assert_eq!(
            decide_automatic(&automatic),
            Err(
                "production is locked by dave: migration; once it is unlocked, \
                 `/release deploy v1.4.0 to production` starts it"
                    .into()
            )
        );
        automatic.lock = None;
        automatic.frozen = Some("Fri 16:00-Mon 08:00".into());
        assert!(
            decide_automatic(&automatic)
                .is_err_and(|r| r.starts_with("production is frozen (Fri 16:00-Mon 08:00)")),
            "no force for trainyard"
        );
        automatic.frozen = None;
        automatic.candidate = true;
        assert!(decide_automatic(&automatic).is_err_and(|r| r.contains("release candidate")));
        automatic.candidate = false;
        automatic.unreleased = true;
        assert_eq!(
            decide_automatic(&automatic),
            Err("v1.4.0 is not released; production takes released versions".into())
        );
    }
}
