//! A release candidate's effects on GitHub, as recorded steps: the tag at the candidate's
//! commit, then a published pre-release (never marked latest) with what changed since the
//! previous candidate. A retry finds the tag by its ref and the pre-release by its tag, so
//! neither is made twice; a tag already at another commit blocks the train, as for finals.

use serde::{Deserialize, Serialize};
use tracing::Instrument as _;

use crate::domain::ids::RepoFullName;
use crate::domain::repo_config::RepoConfig;
use crate::domain::train::TrainState;
use crate::domain::train_event::TrainEvent;
use crate::github::git::RefCreated;
use crate::github::notes::ReleaseWrite;
use crate::handlers::kit::TrainContext;
use crate::handlers::kit::unit::UnitOfWork;
use crate::handlers::trains::{CandidateNotes, candidate_draft};
use crate::jobs::{BackgroundJob, JobError};
use crate::store::audit::{self, Entry};
use crate::store::candidates::{self, CandidateRow};
use crate::store::release_snapshots;
use crate::store::trains::{self, TrainRow};

use super::release::block;
use crate::handlers::kit::links::release_page;

/// Tags and publishes release candidate `number` of a train.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PublishCandidate {
    /// The repository.
    pub repository: RepoFullName,
    /// Its installation.
    pub installation: u64,
    /// The frozen train.
    pub train_id: i64,
    /// `N` of `rc.N`.
    pub number: u64,
}

impl BackgroundJob for PublishCandidate {
    const KIND: &'static str = "train.candidate";
    type Context = TrainContext;

    fn queue_key(&self) -> String {
        self.repository.to_string()
    }

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("candidate:{}:{}", self.train_id, self.number))
    }

    async fn run(self, ctx: TrainContext) -> Result<(), JobError> {
        let span = tracing::info_span!("candidate", train = self.train_id, number = self.number);
        async move {
            let (Some(train), Some(candidate)) = (
                trains::get(&ctx.db, self.train_id).await?,
                candidates::get(&ctx.db, self.train_id, self.number).await?,
            ) else {
                return Ok(());
            };
            if candidate.published_at.is_some() {
                return Ok(());
            }
            // A train rejected or abandoned before its candidate was tagged makes none.
            if candidate.tag_created_at.is_none() && train.state() != TrainState::Frozen {
                tracing::info!(state = %train.state, "the train left frozen first; no candidate");
                return Ok(());
            }
            if candidate.tag_created_at.is_none() && !self.tag(&ctx, &train, &candidate).await? {
                return Ok(());
            }
            self.publish(&ctx, &train, &candidate).await
        }
        .instrument(span)
        .await
    }
}

impl PublishCandidate {
    /// Creates the candidate's tag; `false` when the train is blocked instead.
    async fn tag(
        &self,
        ctx: &TrainContext,
        train: &TrainRow,
        candidate: &CandidateRow,
    ) -> Result<bool, JobError> {
        let (repo, installation) = (&self.repository, self.installation);
        let (tag, target) = (&candidate.tag_name, &candidate.target_sha);
        match ctx
            .github()?
            .create_ref(installation, repo, &format!("tags/{tag}"), target)
            .await?
        {
            RefCreated::Created => {}
            RefCreated::Exists { commit } if &commit == target => {}
            RefCreated::Exists { commit } => {
                let reason = format!(
                    "tag {tag} already exists at {commit}, not at the candidate's commit {target}"
                );
                tracing::warn!(%repo, %reason, "release candidate blocked");
                block(ctx, train, reason).await?;
                return Ok(false);
            }
        }
        let now = ctx.now();
        let mut tx = ctx.db.begin_write().await?;
        candidates::mark_tagged(&mut tx, train.id, self.number, now).await?;
        let entry = Entry::effect(
            repo.as_ref(),
            "github.tag",
            format!("tag {tag} at {target}"),
        )
        .on_train(&train.line, train.id)
        .once(format!("effect:candidate:{}:{}:tag", train.id, self.number));
        audit::record(&mut tx, &entry, now).await?;
        tx.commit()
            .await
            .map_err(|e| JobError::Failed(format!("cannot record the candidate's tag: {e}")))?;
        Ok(true)
    }

    /// Publishes the pre-release (or finds the one a lost answer left) and records it.
    async fn publish(
        &self,
        ctx: &TrainContext,
        train: &TrainRow,
        candidate: &CandidateRow,
    ) -> Result<(), JobError> {
        let github = ctx.github()?;
        let (repo, installation) = (&self.repository, self.installation);
        let tag = &candidate.tag_name;
        let config = ctx.config(installation, repo).await?;
        let config = &config.effective.config;
        let existing = github
            .list_releases(installation, repo)
            .await?
            .into_iter()
            .find(|r| &r.tag_name == tag);
        let release_id = match existing {
            Some(found) => found.id,
            None => {
                self.create_prerelease(ctx, train, candidate, config)
                    .await?
            }
        };
        release_snapshots::invalidate(&ctx.db, repo).await?;
        let url = release_page(&ctx.server_url, repo, tag);
        // A candidate goes to the `auto` environments that are not production, decided by
        // the same rules as a command.
        let release = crate::domain::deploy::Release {
            train_id: Some(train.id),
            version: candidate.version.clone(),
            tag: tag.clone(),
            sha: candidate.target_sha.clone(),
        };
        let environments: Vec<_> = config
            .automatic_environments()
            .into_iter()
            .filter(|env| !env.is_production())
            .collect();
        let automatic = crate::handlers::deploys::decide_automatic(
            &ctx.db,
            ctx.now(),
            config,
            repo,
            &release,
            crate::handlers::deploys::Standing::Candidate,
            &environments,
            None,
        )
        .await?;
        let mut unit = UnitOfWork::begin(&ctx.db, &ctx.queue, ctx.now()).await?;
        let now = unit.now();
        candidates::mark_published(unit.conn(), train.id, self.number, release_id, &url, now)
            .await?;
        let entry = Entry::effect(
            repo.as_ref(),
            "github.release",
            format!("published pre-release {release_id} as {tag}"),
        )
        .on_train(&train.line, train.id)
        .once(format!(
            "effect:candidate:{}:{}:release",
            train.id, self.number
        ));
        audit::record(unit.conn(), &entry, now).await?;
        let event = TrainEvent::CandidatePublished {
            tag: tag.clone(),
            url: Some(url),
        };
        unit.announce(train, &event).await?;
        let occasion = crate::handlers::deploys::Occasion {
            key: format!("{}:rc{}", train.id, self.number),
            why: "on publishing the candidate".into(),
            surface: "trainyard",
        };
        crate::handlers::deploys::apply_automatic(
            &mut unit,
            repo,
            installation,
            &occasion,
            automatic,
        )
        .await?;
        unit.commit().await?;
        tracing::info!(%repo, %tag, "release candidate published");
        Ok(())
    }

    /// Creates the candidate's pre-release: notes since the previous candidate (or the
    /// baseline), never GitHub's latest release. Its id.
    async fn create_prerelease(
        &self,
        ctx: &TrainContext,
        train: &TrainRow,
        candidate: &CandidateRow,
        config: &RepoConfig,
    ) -> Result<u64, JobError> {
        let github = ctx.github()?;
        let (repo, installation) = (&self.repository, self.installation);
        let tag = &candidate.tag_name;
        let earlier = candidates::of_train(&ctx.db, train.id)
            .await?
            .into_iter()
            .rfind(|c| c.number < candidate.number);
        let since = earlier
            .as_ref()
            .map(|c| (c.tag_name.as_str(), c.passenger_numbers()));
        let draft = candidate_draft(
            ctx,
            github,
            (installation, repo),
            train,
            config,
            &CandidateNotes {
                since: since
                    .as_ref()
                    .map(|(tag, numbers)| (*tag, numbers.as_slice())),
                version: &candidate.version,
                target: &candidate.target_sha,
            },
        )
        .await?;
        let write = ReleaseWrite {
            body: draft.body,
            draft: false,
            // A candidate is never GitHub's latest release.
            make_latest: "false".into(),
            name: tag.clone(),
            prerelease: true,
            tag_name: tag.clone(),
            target_commitish: candidate.target_sha.clone(),
        };
        Ok(github.create_release(installation, repo, &write).await?.id)
    }
}
