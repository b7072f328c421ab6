//! The facts a train command is decided on: its line, the train it acts on, the approval
//! rules from the configuration, who is aboard, the approvals so far, the actor's permission
//! (read from GitHub, never from the request) and, for `include`, the pull request itself.
//! Only reads: a refusal here changes nothing.

use crate::domain::candidate::{Candidates, LastCandidate};
use crate::domain::permission::Permission;
use crate::domain::repo_config::{LineKeys, RepoConfig};
use crate::domain::train::{
    self, Approval, ApprovalRules, CommandFacts, TrainCommand, TrainState, TrainView,
};
use crate::github::GitHubClient;
use crate::github::git::PullRequestFacts;
use crate::handlers::kit::TrainContext;
use crate::jobs::JobError;
use crate::store::candidates::{self, CandidateRow};
use crate::store::trains::{self, PassengerRow, TrainRow};

use crate::handlers::kit::command::RunTrainCommand;

/// What a command on a train is decided with.
#[derive(Debug)]
pub(crate) struct Facts {
    /// The line.
    pub line: LineKeys,
    /// The train it acts on.
    pub train: TrainRow,
    /// The line's open train when it is another one than `train`.
    pub other_open: Option<TrainRow>,
    /// The approval rules.
    pub rules: ApprovalRules,
    /// Who is aboard.
    pub passengers: Vec<PassengerRow>,
    /// Their numbers.
    pub boarded: Vec<u64>,
    /// Approvals so far.
    pub approvals: Vec<Approval>,
    /// What only GitHub knows.
    pub command_facts: CommandFacts,
    /// For `include`: the pull request.
    pub pull_request: Option<PullRequestFacts>,
    /// Its release candidates, oldest first.
    pub candidates: Vec<CandidateRow>,
    /// It uses candidates: the line cuts them, or one was cut.
    pub uses_candidates: bool,
}

impl Facts {
    /// The train as the state machine sees it.
    pub fn view(&self) -> TrainView<'_> {
        TrainView {
            state: self.train.state(),
            boarded: &self.boarded,
            cut_by: self.train.cut_by.as_deref(),
            approvals: &self.approvals,
            candidates: candidates_of(&self.train, Some(&self.line), &self.candidates),
        }
    }
}

/// Whether a train uses release candidates: its line cuts them, or one was cut.
pub(crate) fn uses_candidates(line: Option<&LineKeys>, candidates: &[CandidateRow]) -> bool {
    !candidates.is_empty() || line.and_then(|l| l.candidates).unwrap_or(false)
}

/// A frozen train's candidates as the state machine sees them; `None` when it uses none.
pub(crate) fn candidates_of<'a>(
    train: &'a TrainRow,
    line: Option<&LineKeys>,
    candidates: &'a [CandidateRow],
) -> Option<Candidates<'a>> {
    let target_sha = train.target_sha.as_deref()?;
    uses_candidates(line, candidates).then(|| Candidates {
        target_sha,
        last: candidates.last().map(|c| LastCandidate {
            number: c.number as u64,
            target_sha: &c.target_sha,
        }),
        final_requires_rc: line.and_then(|l| l.final_requires_rc).unwrap_or(true),
    })
}

/// Why the command is refused before the state machine is even asked.
type Refused = String;

/// Gathers the facts, or the reason there is nothing to act on.
pub(crate) async fn facts(
    ctx: &TrainContext,
    github: &GitHubClient,
    request: &RunTrainCommand,
    config: &RepoConfig,
) -> Result<Result<Facts, Refused>, JobError> {
    let line = match find_line(ctx, request, config).await? {
        Ok(line) => line,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let (train, other_open) = match find_train(ctx, request, &line).await? {
        Ok(found) => found,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let rules = config.approval_rules();
    let permission = if request.by_schedule {
        Permission::Admin
    } else {
        github
            .collaborator_permission(request.installation, &request.repository, &request.actor)
            .await?
    };
    let passengers = trains::passengers(&ctx.db, train.id).await?;
    let boarded = passengers.iter().map(|p| p.number as u64).collect();
    let approvals = trains::approvals(&ctx.db, train.id).await?;
    let candidates = candidates::of_train(&ctx.db, train.id).await?;
    let uses_candidates = uses_candidates(Some(&line), &candidates);
    let mut command_facts = CommandFacts {
        permission: Some(permission),
        ..CommandFacts::default()
    };
    let mut pull_request = None;
    if let TrainCommand::Include { number } = &request.command
        && permission >= request.command.required_permission(&rules)
    {
        // Asked only of people who may include: nobody else makes us look things up.
        let Some(pr) = github
            .pull_request(request.installation, &request.repository, *number)
            .await?
        else {
            return Ok(Err(format!(
                "{} has no pull request #{number}",
                request.repository
            )));
        };
        command_facts.merged_into_line = pr.merged && pr.base_ref == train.branch;
        if let (Some(sha), Some(target)) = (&pr.merge_commit_sha, &train.target_sha) {
            command_facts.in_frozen_range = github
                .compare_contains(request.installation, &request.repository, target, sha)
                .await?;
            // A train with candidates may take a later fix: its merge commit must descend
            // from the frozen commit.
            if !command_facts.in_frozen_range && uses_candidates {
                command_facts.after_frozen_range = github
                    .compare_contains(request.installation, &request.repository, sha, target)
                    .await?;
            }
        }
        pull_request = Some(pr);
    }
    Ok(Ok(Facts {
        line,
        train,
        other_open,
        rules,
        passengers,
        boarded,
        approvals,
        command_facts,
        pull_request,
        candidates,
        uses_candidates,
    }))
}

/// The line the command names (the first configured one by default). Hotfix lines live as
/// long as their trains, outside the configuration.
async fn find_line(
    ctx: &TrainContext,
    request: &RunTrainCommand,
    config: &RepoConfig,
) -> Result<Result<LineKeys, Refused>, JobError> {
    let lines = config.lines();
    let live = trains::in_states(
        &ctx.db,
        &request.repository,
        &[TrainState::Open, TrainState::Frozen],
    )
    .await?;
    let hotfix_line = |train: &TrainRow| LineKeys {
        name: train.line.clone(),
        branch: Some(train.branch.clone()),
        ..Default::default()
    };
    let Some(name) = &request.line else {
        // A version named without a line (`approve 1.0.1`) finds the line cut at it.
        if let Some(expected) = &request.expect_version
            && let Some(train) = live.iter().find(|t| {
                t.state() == TrainState::Frozen
                    && [&t.tag_name, &t.version].iter().any(|v| {
                        v.as_deref()
                            .is_some_and(|v| version_core(v) == version_core(expected))
                    })
            })
        {
            return Ok(Ok(match lines.iter().find(|l| l.name == train.line) {
                Some(line) => line.clone(),
                None => hotfix_line(train),
            }));
        }
        return Ok(Ok(lines[0].clone()));
    };
    if let Some(line) = lines.iter().find(|l| &l.name == name) {
        return Ok(Ok(line.clone()));
    }
    if let Some(train) = live.iter().find(|t| &t.line == name && t.is_hotfix()) {
        return Ok(Ok(hotfix_line(train)));
    }
    let hint = crate::domain::command::closest(name, lines.iter().map(|l| l.name.as_str()))
        .map(|l| format!(" (did you mean `{l}`?)"))
        .unwrap_or_default();
    Ok(Err(format!(
        "{} has no train line `{name}`{hint}",
        request.repository
    )))
}

/// The train the command acts on, and the line's open train when that is another one.
async fn find_train(
    ctx: &TrainContext,
    request: &RunTrainCommand,
    line: &LineKeys,
) -> Result<Result<(TrainRow, Option<TrainRow>), Refused>, JobError> {
    let live: Vec<TrainRow> = trains::in_states(
        &ctx.db,
        &request.repository,
        &[TrainState::Open, TrainState::Frozen],
    )
    .await?
    .into_iter()
    .filter(|t| t.line == line.name)
    .collect();
    let states: Vec<TrainState> = live.iter().map(TrainRow::state).collect();
    let Some(train) = train::select_train(&request.command, &states).map(|i| live[i].clone())
    else {
        if let Some(id) = request.train_id {
            return Ok(Err(no_longer(ctx, &request.repository, id).await?));
        }
        return Ok(Err(format!(
            "line `{}` has no train yet: nothing has boarded",
            line.name
        )));
    };
    if let Some(id) = request.train_id
        && id != train.id
    {
        return Ok(Err(no_longer(ctx, &request.repository, id).await?));
    }
    if let Some(expected) = &request.expect_version
        && let Some(refusal) = version_mismatch(&train, &line.name, expected)
    {
        return Ok(Err(refusal));
    }
    let other_open = live
        .into_iter()
        .find(|t| t.state() == TrainState::Open && t.id != train.id);
    Ok(Ok((train, other_open)))
}

/// Why the train is not the version the person named, if it is not.
fn version_mismatch(train: &TrainRow, line: &str, expected: &str) -> Option<String> {
    let matches = |v: &Option<String>| {
        v.as_deref()
            .is_some_and(|v| version_core(v) == version_core(expected))
    };
    if train.state() == TrainState::Open {
        return Some(format!(
            "the `{line}` train has not been cut yet; there is no {expected} to act on"
        ));
    }
    if !matches(&train.tag_name) && !matches(&train.version) {
        return Some(format!(
            "the `{line}` train waiting for approval is {}, not {expected}",
            train.tag_name.as_deref().unwrap_or("unversioned")
        ));
    }
    None
}

/// `v1.2.0`, `api-v1.2.0` and `1.2.0` name the same version.
fn version_core(text: &str) -> &str {
    text.trim_start_matches(|c: char| !c.is_ascii_digit())
}

/// Why a button's train can no longer be acted on. A train is looked up within the
/// command's repository only: another repository's says nothing here.
async fn no_longer(
    ctx: &TrainContext,
    repository: &crate::domain::ids::RepoFullName,
    train_id: i64,
) -> Result<String, JobError> {
    let train = trains::get(&ctx.db, train_id)
        .await?
        .filter(|t| t.repository.eq_ignore_ascii_case(repository.as_ref()));
    Ok(match train {
        Some(train) => format!(
            "that train ({}) is {} now; this button no longer applies",
            train.tag_name.as_deref().unwrap_or(&train.line),
            train.state
        ),
        None => "that train no longer exists".to_owned(),
    })
}
