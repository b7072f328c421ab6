//! Labels a pull request by the repository's `autolabeler` rules when it is opened, reopened,
//! pushed to or edited: its changed files are listed (when a rule looks at files, or for the
//! `trainyard/config` check of a new head commit) and the labels it lacks are added in one
//! call; nothing is called when it has them all.

use serde::{Deserialize, Serialize};

use crate::domain::autolabel::{Facts, labels_for, missing, needs_files};
use crate::domain::event::{PullRequestAction, PullRequestEvent};
use crate::handlers::config_check::CheckConfigChange;
use crate::handlers::kit::TrainContext;
use crate::jobs::{BackgroundJob, JobError};

/// Labels one pull request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AutolabelPullRequest {
    /// Its installation.
    pub installation: u64,
    /// The event, with the pull request as it was then.
    pub event: PullRequestEvent,
}

impl AutolabelPullRequest {
    /// Whether the autolabeler looks at this event (as release-drafter's does).
    pub fn concerns(event: &PullRequestEvent) -> bool {
        !event.pull_request.merged
            && matches!(
                event.action,
                PullRequestAction::Opened
                    | PullRequestAction::Reopened
                    | PullRequestAction::Synchronize
                    | PullRequestAction::Edited
            )
    }
}

impl BackgroundJob for AutolabelPullRequest {
    const KIND: &'static str = "pull_request.autolabel";
    type Context = TrainContext;

    fn queue_key(&self) -> String {
        self.event.repository.to_string()
    }

    /// A burst of pushes to one pull request is labelled once.
    fn dedupe_key(&self) -> Option<String> {
        Some(format!(
            "autolabel:{}#{}",
            self.event.repository, self.event.pull_request.number
        ))
    }

    async fn run(self, ctx: TrainContext) -> Result<(), JobError> {
        let github = ctx.github()?;
        let repo = &self.event.repository;
        let config = ctx.config(self.installation, repo).await?;
        let rules = config
            .effective
            .config
            .autolabel_rules()
            .map_err(|e| JobError::Permanent(e.to_string()))?;
        let pr = &self.event.pull_request;
        // One read of the changed files serves the rules and the configuration check.
        let config_check = CheckConfigChange::for_event(self.installation, &self.event);
        let files = if needs_files(&rules) || config_check.is_some() {
            github
                .pull_request_files(self.installation, repo, pr.number)
                .await?
        } else {
            Vec::new()
        };
        if let Some(check) = config_check {
            check.check_files(&ctx, &files).await?;
        }
        if rules.is_empty() {
            return Ok(());
        }
        let facts = Facts {
            files: &files,
            head_ref: &pr.head_ref,
            title: &pr.title,
            body: pr.body.as_deref(),
        };
        let labels = missing(labels_for(&rules, facts), &pr.labels);
        if labels.is_empty() {
            return Ok(());
        }
        github
            .add_labels(self.installation, repo, pr.number, &labels)
            .await?;
        tracing::info!(%repo, number = pr.number, ?labels, "pull request labelled");
        Ok(())
    }
}
