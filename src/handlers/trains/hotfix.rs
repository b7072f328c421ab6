//! `hotfix <version>`: a train on `release/<major>.<minor>` for the next patch of a published
//! release, the branch created from the release's tag when it does not exist.

use crate::domain::permission::Permission;
use crate::domain::repo_config::RepoConfig;
use crate::domain::train;
use crate::domain::version::{Increment, Version};
use crate::github::GitHubClient;
use crate::github::git::RefCreated;
use crate::handlers::kit::TrainContext;
use crate::handlers::kit::unit::UnitOfWork;
use crate::jobs::JobError;
use crate::store::trains;

use crate::handlers::kit::command::{CommandReply, Decided, RunTrainCommand, refused};

/// Opens the hotfix train (the existing one when the line already has an open train).
pub(crate) async fn open(
    ctx: &TrainContext,
    github: &GitHubClient,
    request: &RunTrainCommand,
    base: &str,
    config: &RepoConfig,
) -> Result<Decided, JobError> {
    let (repo, installation) = (&request.repository, request.installation);
    let permission = github
        .collaborator_permission(installation, repo, &request.actor)
        .await?;
    if permission < Permission::Write {
        return refused(format!(
            "`hotfix` needs write permission on the repository; {} has {permission}",
            request.actor
        ));
    }
    let prefix = config
        .notes_keys()
        .ok()
        .and_then(|k| k.tag_prefix)
        .unwrap_or_default();
    let Some(version) = Version::from_tag(base, &prefix) else {
        return refused(format!("`{base}` is not a version"));
    };
    let releases = github.list_releases(installation, repo).await?;
    let Some(release) = releases.iter().find(|r| {
        !r.draft
            && Version::from_tag(&r.tag_name, &prefix)
                .is_some_and(|v| v.cmp_precedence(&version).is_eq())
    }) else {
        return refused(format!("{repo} has no published release {base} to fix"));
    };
    let branch = train::hotfix_branch(&version);
    let line = train::hotfix_line(&version);
    let existed = github
        .branch_head(installation, repo, &branch)
        .await?
        .is_some();
    if !existed {
        let Some(sha) = github
            .ref_commit(installation, repo, &format!("tags/{}", release.tag_name))
            .await?
        else {
            return refused(format!("the tag {} of {base} is gone", release.tag_name));
        };
        // Created by an earlier attempt that did not get to commit: it is ours.
        let (RefCreated::Created | RefCreated::Exists { .. }) = github
            .create_ref(installation, repo, &format!("heads/{branch}"), &sha)
            .await?;
    }
    let mut unit = UnitOfWork::begin(&ctx.db, &ctx.queue, ctx.now()).await?;
    let now = unit.now();
    trains::open_hotfix_train(unit.conn(), repo, &line, &branch, &release.tag_name, now).await?;
    let next = version.increment(Increment::Patch, None);
    let created = if existed {
        ""
    } else {
        " (branch created from the release tag)"
    };
    let text = format!(
        "hotfix line `{line}` open on {branch} for {next}{created}; pull requests merged into \
         {branch} with the `{}` label board it (`cut {line}` when they have)",
        train::HOTFIX_LABEL
    );
    Ok((CommandReply::Done(text), Some(unit)))
}
