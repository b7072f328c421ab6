//! What an environment holds now, read the same way by every deployment decision (a
//! command, an automatic follow-up, the release gate): its lock, the freeze window it is in,
//! and whether the environment it `requires` has deployed the commit (and verified it, where
//! it verifies).

use crate::domain::deploy::Holder;
use crate::domain::repo_config::{EnvironmentKeys, RepoConfig};
use crate::store::{Db, StoreError, deployments};

/// An environment's state at one moment.
pub(crate) struct EnvironmentNow {
    /// Its lock.
    pub lock: Option<Holder>,
    /// The freeze window it is in, as configured.
    pub frozen: Option<String>,
    /// For an environment that `requires` another and a commit: whether that one deployed
    /// it successfully.
    pub required_deployed: Option<bool>,
}

/// `now` (epoch ms) in the configuration's deployment time zone, where freeze windows are read.
pub(crate) fn local_time(config: &RepoConfig, now: i64) -> jiff::civil::DateTime {
    config
        .deploy_time_zone()
        .to_datetime(jiff::Timestamp::from_millisecond(now).unwrap_or_default())
}

/// Reads `env`'s state in `repo` at `now`; `sha` is the commit meant, when known.
pub(crate) async fn environment_now(
    db: &Db,
    repo: &str,
    config: &RepoConfig,
    env: &EnvironmentKeys,
    sha: Option<&str>,
    now: i64,
) -> Result<EnvironmentNow, StoreError> {
    let lock = deployments::lock_of(db, repo, &env.name)
        .await?
        .map(|lock| Holder {
            owner: lock.owner,
            reason: lock.reason,
        });
    // An environment that verifies its deployments has "deployed" a commit once its bake
    // passed, not at GitHub's success.
    let required_deployed = match (&env.requires, sha) {
        (Some(required), Some(sha))
            if config
                .environment(required)
                .is_some_and(|r| r.verify.is_some()) =>
        {
            Some(crate::store::bakes::passed_with(db, repo, required, sha).await?)
        }
        (Some(required), Some(sha)) => {
            Some(deployments::succeeded_with(db, repo, required, sha).await?)
        }
        _ => None,
    };
    let frozen = env
        .freeze
        .as_ref()
        .and_then(|windows| crate::domain::freeze::frozen(windows, local_time(config, now)))
        .map(str::to_owned);
    Ok(EnvironmentNow {
        lock,
        frozen,
        required_deployed,
    })
}
