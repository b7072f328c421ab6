//! The `trainyard` check run on every pull request: where it stands with its train, from
//! "will board `main` when merged" to "deployed: staging ✓ production ✓", kept current as the
//! train moves. A pull request's webhook records it ([`note_pull_request`]); every event that
//! moves a train marks its passengers (`UnitOfWork::announce_for`); one sync per repository
//! then writes only the checks whose text changed, paced by the installation's write budget
//! on the store (GitHub's content-creation limits), and skipping stages a pull request has
//! already left behind when the budget makes it wait.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::domain::ids::RepoFullName;
use crate::domain::pr_check::{self, CheckText, Standing};
use crate::domain::repo_config::RepoConfig;
use crate::domain::train::{self, Boarding, BoardingFacts, BoardingRules, TrainState};
use crate::github::checks::CHECK_NAME;
use crate::handlers::kit::unit::SyncPullRequestChecks;
use crate::handlers::kit::{TrainContext, stored_config};
use crate::jobs::{BackgroundJob, JobError};
use crate::store::pr_checks::{self, PrCheck, SeenPull, Sent};
use crate::store::steps::{self, StepState};
use crate::store::write_budgets::{self, Window};
use crate::store::{Db, candidates, deployments, trains};

/// How much of an installation's content-creation budget check runs may take, in fixed
/// windows on the store: at most 80 in any 60 seconds and 480 in any hour however the
/// windows fall (GitHub: 80 a minute, 500 an hour), leaving the rest of the minute to
/// releases, comments and deployments.
pub const CHECK_WRITES: [Window; 2] = [
    Window {
        name: "minute",
        millis: 60_000,
        allows: 40,
    },
    Window {
        name: "hour",
        millis: 3_600_000,
        allows: 240,
    },
];

/// Checks looked at per run; a larger backlog runs again at once.
const BATCH: i64 = 100;

/// Records what a pull request's webhook shows of it and has its check synced: in the
/// webhook's job, one row and one (deduplicated) sync per repository.
pub async fn note_pull_request(
    db: &Db,
    queue: &crate::jobs::Queue,
    installation: u64,
    event: &crate::domain::event::PullRequestEvent,
    received_at: i64,
    now: i64,
) -> Result<(), JobError> {
    use crate::domain::event::PullRequestAction as A;
    let pr = &event.pull_request;
    let Some(head_sha) = pr.head_sha.as_deref() else {
        return Ok(());
    };
    let closed = matches!(event.action, A::Merged | A::ClosedUnmerged) || pr.merged;
    let pull = SeenPull {
        repository: event.repository.as_ref(),
        number: pr.number,
        installation_id: installation,
        head_sha,
        base_ref: &pr.base_ref,
        default_branch: event.default_branch.as_deref(),
        labels: &pr.labels,
        merged: pr.merged,
        closed,
        // Deliveries may be handled out of order (a burst of labels waits as one job):
        // what an older one says never overwrites a newer one.
        event_at: received_at,
    };
    record_pull(db, queue, &event.repository, &pull, now).await
}

/// Records a pull request's facts and has its check synced, together.
async fn record_pull(
    db: &Db,
    queue: &crate::jobs::Queue,
    repository: &RepoFullName,
    pull: &SeenPull<'_>,
    now: i64,
) -> Result<(), JobError> {
    let mut tx = db.begin_write().await?;
    pr_checks::seen(&mut tx, pull, now).await?;
    queue
        .enqueue(
            &mut tx,
            &SyncPullRequestChecks {
                repository: repository.clone(),
            },
        )
        .await?;
    tx.commit()
        .await
        .map_err(|e| JobError::Failed(format!("cannot record the pull request: {e}")))?;
    queue.wake();
    Ok(())
}

/// Refreshes an open pull request's check from GitHub once a window of label events has
/// closed (see `handlers::events::CHECK_WINDOW_MS`): one read covers the whole burst.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshPullRequestCheck {
    /// The installation.
    pub installation: u64,
    /// The repository.
    pub repository: RepoFullName,
    /// The pull request.
    pub number: u64,
    /// Not read before this (epoch ms): the window's end.
    pub not_before: i64,
}

impl BackgroundJob for RefreshPullRequestCheck {
    const KIND: &'static str = "checks.refresh";
    type Context = TrainContext;

    fn queue_key(&self) -> String {
        format!("checks:{}", self.repository)
    }

    /// While one waits, another adds nothing: it reads the pull request after both.
    fn dedupe_key(&self) -> Option<String> {
        Some(format!("pr-refresh:{}#{}", self.repository, self.number))
    }

    async fn run(self, ctx: TrainContext) -> Result<(), JobError> {
        let now = ctx.now();
        if now < self.not_before {
            return Err(JobError::RetryAt {
                until: jiff::Timestamp::from_millisecond(self.not_before)
                    .map_err(|e| JobError::Permanent(e.to_string()))?,
                reason: "waiting for the burst of label events to end".into(),
            });
        }
        let github = ctx.github()?;
        let Some(pr) = github
            .pull_request(self.installation, &self.repository, self.number)
            .await?
        else {
            return Ok(());
        };
        let Some(head_sha) = pr.head_sha.as_deref() else {
            return Ok(());
        };
        let pull = SeenPull {
            repository: self.repository.as_ref(),
            number: self.number,
            installation_id: self.installation,
            head_sha,
            base_ref: &pr.base_ref,
            default_branch: None,
            labels: &pr.labels,
            merged: pr.merged,
            closed: pr.state == "closed",
            // Read now: newer than every webhook received so far.
            event_at: now,
        };
        record_pull(&ctx.db, &ctx.queue, &self.repository, &pull, now).await
    }
}

/// Whether a pull request event may change its check.
pub fn concerns(event: &crate::domain::event::PullRequestEvent) -> bool {
    use crate::domain::event::PullRequestAction as A;
    event.pull_request.head_sha.is_some()
        && matches!(
            event.action,
            A::Opened
                | A::Reopened
                | A::Synchronize
                | A::Labeled { .. }
                | A::Unlabeled { .. }
                | A::Merged
                | A::ClosedUnmerged
                | A::Edited
        )
}

impl BackgroundJob for SyncPullRequestChecks {
    const KIND: &'static str = "checks.sync";
    type Context = TrainContext;

    /// Apart from the repository's train work: a paced sync never holds up a release.
    fn queue_key(&self) -> String {
        format!("checks:{}", self.repository)
    }

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("checks:{}", self.repository))
    }

    async fn run(self, ctx: TrainContext) -> Result<(), JobError> {
        let dirty = pr_checks::dirty(&ctx.db, self.repository.as_ref(), BATCH).await?;
        if dirty.is_empty() {
            return Ok(());
        }
        let full = dirty.len() as i64 == BATCH;
        let config = stored_config(&ctx, &self.repository).await?;
        let mut sync = CheckSync {
            ctx: &ctx,
            repo: &self.repository,
            config: &config,
            projected: HashMap::new(),
        };
        for check in &dirty {
            sync.one(check).await?;
        }
        // An open train's passengers read its projected tag: one boarding may move it for
        // all of them; those whose check says another are marked for the next round.
        let mut stale = 0;
        for (train_id, tag) in &sync.projected {
            let title = pr_check::render(&Standing::Boarded { tag: tag.clone() }, None).title;
            stale += pr_checks::mark_stale_passengers(
                &ctx.db,
                self.repository.as_ref(),
                *train_id,
                &title,
            )
            .await?;
        }
        if full || stale > 0 {
            ctx.queue.enqueue_now(&self).await?;
        }
        Ok(())
    }
}

/// One sync's facts, read once.
struct CheckSync<'a> {
    ctx: &'a TrainContext,
    repo: &'a RepoFullName,
    config: &'a RepoConfig,
    /// Open trains' projected tags.
    projected: HashMap<i64, Option<String>>,
}

impl CheckSync<'_> {
    /// Sends `check`'s text if it changed, within the write budget.
    async fn one(&mut self, check: &PrCheck) -> Result<(), JobError> {
        let Some((standing, url)) = self.standing(check).await? else {
            // Merged and bound for a train that has not taken it yet: its boarding marks it
            // again; nothing is written in between.
            pr_checks::synced(&self.ctx.db, check, None, self.ctx.now()).await?;
            return Ok(());
        };
        let text = pr_check::render(&standing, url.as_deref());
        let unchanged = check.check_run_id.is_some()
            && check.sent_title.as_deref() == Some(text.title.as_str())
            && check.sent_summary.as_deref() == Some(text.summary.as_str());
        let now = self.ctx.now();
        if unchanged {
            pr_checks::synced(&self.ctx.db, check, None, now).await?;
            return Ok(());
        }
        let installation = u64::try_from(check.installation_id)
            .map_err(|_| JobError::Permanent("installation id out of range".into()))?;
        if let Err(until) =
            write_budgets::take(&self.ctx.db, installation, &CHECK_WRITES, now).await?
        {
            return Err(JobError::RetryAt {
                until: jiff::Timestamp::from_millisecond(until)
                    .map_err(|e| JobError::Permanent(e.to_string()))?,
                reason: "pacing check runs within GitHub's content-creation limits".into(),
            });
        }
        let id = self
            .write(check, installation, &text, url.as_deref())
            .await?;
        let sent = Sent {
            check_run_id: id,
            title: &text.title,
            summary: &text.summary,
        };
        pr_checks::synced(&self.ctx.db, check, Some(&sent), self.ctx.now()).await?;
        Ok(())
    }

    /// Creates the check run (once: a lost answer is found by its external id) or updates
    /// it; returns its id.
    async fn write(
        &self,
        check: &PrCheck,
        installation: u64,
        text: &CheckText,
        url: Option<&str>,
    ) -> Result<i64, JobError> {
        let github = self.ctx.github()?;
        if let Some(id) = check.check_run_id {
            github
                .update_check_run(installation, self.repo, id, text, url)
                .await?;
            return Ok(id);
        }
        let external_id = format!("trainyard:{}", check.number);
        let key = check.create_step();
        let found = match steps::start(&self.ctx.db, &key, self.ctx.now()).await? {
            StepState::Done(id) => id.parse::<i64>().ok(),
            StepState::Uncertain => {
                github
                    .find_check_run(
                        installation,
                        self.repo,
                        CHECK_NAME,
                        &check.head_sha,
                        &external_id,
                    )
                    .await?
            }
            StepState::New => None,
        };
        let id = match found {
            Some(id) => {
                github
                    .update_check_run(installation, self.repo, id, text, url)
                    .await?;
                id
            }
            None => {
                github
                    .create_check_run(
                        installation,
                        self.repo,
                        CHECK_NAME,
                        &check.head_sha,
                        &external_id,
                        text,
                        url,
                    )
                    .await?
            }
        };
        steps::finish(&self.ctx.db, &key, &id.to_string(), self.ctx.now()).await?;
        Ok(id)
    }

    /// Where `check`'s pull request stands, and the release page to link.
    async fn standing(
        &mut self,
        check: &PrCheck,
    ) -> Result<Option<(Standing, Option<String>)>, JobError> {
        let number = u64::try_from(check.number).unwrap_or_default();
        let installation = u64::try_from(check.installation_id).unwrap_or_default();
        let db = &self.ctx.db;
        let Some(train) = trains::latest_train_of(db, self.repo, number).await? else {
            return Ok(self.not_aboard(check).await?.map(|s| (s, None)));
        };
        let page = |tag: &str| {
            crate::handlers::kit::links::release_page(&self.ctx.server_url, self.repo, tag)
        };
        let tag = train.tag_name.clone().unwrap_or_default();
        Ok(Some(match train.state() {
            TrainState::Open => {
                let projected = self
                    .projected_tag(installation, &train.line, &train.branch, Some(&train), None)
                    .await?;
                (Standing::Boarded { tag: projected }, None)
            }
            TrainState::Released => {
                let environments = self.deployed(&tag).await?;
                let standing = if environments.is_empty() {
                    Standing::Released { tag: tag.clone() }
                } else {
                    Standing::Deployed {
                        tag: tag.clone(),
                        environments,
                    }
                };
                (standing, Some(page(&tag)))
            }
            _ => {
                let candidate = candidates::of_train(db, train.id)
                    .await?
                    .into_iter()
                    .filter(|c| c.published_at.is_some())
                    .filter(|c| c.passenger_numbers().contains(&number))
                    .max_by_key(|c| c.number);
                match candidate {
                    Some(c) => (
                        Standing::Candidate {
                            tag: c.tag_name.clone(),
                        },
                        Some(page(&c.tag_name)),
                    ),
                    None => (Standing::Frozen { tag }, None),
                }
            }
        }))
    }

    /// A pull request on no train: open and bound for a line, or why it rides none; `None`
    /// for one merged into a line that has not boarded it yet.
    async fn not_aboard(&mut self, check: &PrCheck) -> Result<Option<Standing>, JobError> {
        if check.closed != 0 && check.merged == 0 {
            return Ok(Some(Standing::Riding {
                why: "closed without merging: rides no train".into(),
            }));
        }
        let installation = u64::try_from(check.installation_id).unwrap_or_default();
        let labels = check.label_names();
        let default_branch = check.default_branch.as_deref().unwrap_or(&check.base_ref);
        let mut why = None;
        for line in self.config.lines() {
            let rules = BoardingRules::of(&line, default_branch);
            let facts = BoardingFacts {
                merged: true,
                base_ref: &check.base_ref,
                labels: &labels,
                changed_files: &[],
            };
            // Paths are read when it merges; until then a path-scoped line is told as if
            // they matched.
            let rules_now = BoardingRules {
                paths: Vec::new(),
                ..rules
            };
            match train::boarding(&rules_now, &facts) {
                Boarding::Boards if check.merged == 0 => {
                    let open = trains::in_states(&self.ctx.db, self.repo, &[TrainState::Open])
                        .await?
                        .into_iter()
                        .find(|t| t.line == line.name && !t.is_hotfix());
                    let next = self
                        .projected_tag(
                            installation,
                            &line.name,
                            &rules_now.branch,
                            open.as_ref(),
                            Some(check),
                        )
                        .await?;
                    return Ok(Some(Standing::WillBoard {
                        line: line.name.clone(),
                        next,
                    }));
                }
                Boarding::Boards => return Ok(None),
                Boarding::Stays(reason) if rules_now.branch == check.base_ref => {
                    why.get_or_insert(match reason {
                        "does not carry the boarding label" => format!(
                            "not labelled `{}`: will not board `{}`",
                            rules_now.boarding_label, line.name
                        ),
                        "carries the skip label" => format!(
                            "labelled `{}`: will not board `{}`",
                            rules_now.skip_label, line.name
                        ),
                        other => format!("{other}: will not board `{}`", line.name),
                    });
                }
                Boarding::Stays(_) => {}
            }
        }
        Ok(Some(Standing::Riding {
            why: why.unwrap_or_else(|| {
                format!(
                    "merges into `{}`, which no train line releases",
                    check.base_ref
                )
            }),
        }))
    }

    /// The tag the line's open train would be released with (with `extra` aboard too, for a
    /// pull request not merged yet): the notes engine's resolution, as `/release notes` gives
    /// it, from the train's baseline or the kept list of releases. No GitHub call.
    async fn projected_tag(
        &mut self,
        installation: u64,
        line: &str,
        branch: &str,
        train: Option<&trains::TrainRow>,
        extra: Option<&PrCheck>,
    ) -> Result<Option<String>, JobError> {
        let cached = train.filter(|_| extra.is_none()).map(|t| t.id);
        if let Some(tag) = cached.and_then(|id| self.projected.get(&id)) {
            return Ok(tag.clone());
        }
        use crate::domain::version::PreviousRelease;
        use crate::handlers::trains::drafting::{LineFacts, VersionRules, line_draft};
        let Ok(notes) = self.config.line_notes(line) else {
            return Ok(None);
        };
        let passengers = match train {
            Some(train) => trains::passengers(&self.ctx.db, train.id).await?,
            None => Vec::new(),
        };
        let mut pull_requests = crate::handlers::trains::draft::passenger_pull_requests(
            &passengers,
            self.repo,
            branch,
            &self.ctx.server_url,
        );
        if let Some(extra) = extra {
            let number = u64::try_from(extra.number).unwrap_or_default();
            pull_requests.push(crate::domain::notes::changes::PullRequest {
                number,
                title: String::new(),
                body: String::new(),
                url: format!("{}/{}/pull/{number}", self.ctx.server_url, self.repo),
                author: None,
                merged_at: String::new(),
                labels: extra.label_names(),
                base_ref_name: branch.to_owned(),
                head_ref_name: String::new(),
                base_repository: self.repo.to_string(),
                merge_commit: None,
                changed_files: Vec::new(),
            });
        }
        let baseline = match train.and_then(|t| t.baseline_tag.clone()) {
            Some(tag) => Some(tag),
            None => {
                // The kept list of releases (listed once, as the drafts list them).
                let kept = crate::handlers::trains::draft::releases_of(
                    self.ctx,
                    self.ctx.github()?,
                    installation,
                    self.repo,
                )
                .await?;
                crate::domain::notes::releases::find_previous(&kept, &notes, branch)
                    .last
                    .map(|r| r.tag_name.clone())
            }
        };
        let draft = line_draft(
            &notes,
            VersionRules::of(self.config),
            (self.repo, &self.ctx.server_url),
            LineFacts {
                pull_requests: &pull_requests,
                baseline: baseline.as_deref().map(|tag| PreviousRelease {
                    tag_name: tag,
                    name: None,
                }),
                head: branch,
                ..LineFacts::default()
            },
        );
        let tag = Some(draft.resolved_version)
            .filter(|v| !v.is_empty())
            .map(|version| crate::domain::train::release_tag(&draft.tag_name, &version));
        if let Some(id) = cached {
            self.projected.insert(id, tag.clone());
        }
        Ok(tag)
    }

    /// Each configured environment with a deployment of `tag`: whether its latest succeeded.
    async fn deployed(&self, tag: &str) -> Result<Vec<(String, bool)>, JobError> {
        let mut environments = Vec::new();
        for env in self.config.environments() {
            let history =
                deployments::history(&self.ctx.db, self.repo.as_ref(), &env.name, 50).await?;
            let latest = history.iter().find(|d| {
                d.ref_name == tag
                    && (d.state == crate::domain::deploy::DeploymentState::Success
                        || d.state.failed())
            });
            if let Some(d) = latest {
                environments.push((
                    env.name.clone(),
                    d.state == crate::domain::deploy::DeploymentState::Success,
                ));
            }
        }
        Ok(environments)
    }
}
