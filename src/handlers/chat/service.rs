//! The command service: which surface and workspace may ask, which repository a command is
//! about, read answers given at once, and changes accepted (recorded and enqueued together).

use super::linking::link_answer;
use super::status::{notes_text, status_card};
use super::{Answer, Asker, ChatFailure, Pinned, Reply, ReplyTo, chat_surface};
use crate::chat::cards::Surface;
use crate::domain::command::{self, ChatCommand, ParseError, Target};
use crate::domain::ids::RepoFullName;
use crate::domain::train::TrainState;
use crate::handlers::commands::intake::{self, Door};
use crate::handlers::kit::TrainContext;
use crate::handlers::kit::command::RunTrainCommand;
use crate::handlers::kit::stored_config;
use crate::settings::Settings;
use crate::store::chat::{self as chat_store, ChatSurface};
use crate::store::{StoreError, audit, installations, trains};

/// Answers a parsed command: the asker's own commands and reads at once, changes once
/// accepted (their outcome follows through `reply_to`).
pub async fn answer(
    ctx: &TrainContext,
    asker: &Asker,
    parsed: Result<ChatCommand, ParseError>,
    reply_to: ReplyTo,
    command_id: &str,
    pinned: Option<Pinned>,
) -> Result<Answer, ChatFailure> {
    let s = asker.surface;
    if let Some(refusal) = not_allowed(&ctx.settings, asker) {
        return Ok(Answer::Now(Reply::private(refusal)));
    }
    let command = match parsed {
        Ok(command) => command,
        Err(error) => return Ok(Answer::Now(Reply::private(s.user(&error.to_string())))),
    };
    if let Some(reply) = own_command(ctx, asker, &command).await? {
        return Ok(Answer::Now(reply));
    }
    let target = command.target().cloned().unwrap_or_default();
    let repo = match resolve_repository(ctx, asker, &target).await? {
        Ok(repo) => repo,
        Err(refusal) => return Ok(Answer::Now(Reply::private(refusal))),
    };
    match command.train_command() {
        None => read(ctx, asker, &command, &repo, &target)
            .await
            .map(Answer::Now),
        Some(change) => {
            let request = Change {
                command: &command,
                change,
                repo,
                target,
                reply_to,
                command_id,
                pinned,
            };
            accept_change(ctx, asker, request).await
        }
    }
}

/// `help`, `link` and `unlink`: about the asker, not a repository.
async fn own_command(
    ctx: &TrainContext,
    asker: &Asker,
    command: &ChatCommand,
) -> Result<Option<Reply>, ChatFailure> {
    let text = match command {
        ChatCommand::Help => command::help(),
        ChatCommand::Link { login } => link_answer(ctx, asker, login.as_deref()).await?,
        ChatCommand::Unlink => match chat_surface(asker.surface) {
            None => "GitHub comments need no link: you are your GitHub account.".to_owned(),
            Some(surface) => {
                if chat_store::unlink(&ctx.db, surface, &asker.workspace, &asker.user).await? {
                    "Your GitHub account is no longer linked.".to_owned()
                } else {
                    "No GitHub account was linked.".to_owned()
                }
            }
        },
        _ => return Ok(None),
    };
    Ok(Some(Reply::private(text)))
}

/// `status`, `notes`, `preview`, `deploys`, `audit` and `stats`: answered at once.
async fn read(
    ctx: &TrainContext,
    asker: &Asker,
    command: &ChatCommand,
    repo: &RepoFullName,
    target: &Target,
) -> Result<Reply, ChatFailure> {
    let s = asker.surface;
    if let Some(line) = &target.line
        && let Some(refusal) = unknown_line(ctx, repo, line, s).await?
    {
        return Ok(Reply::private(refusal));
    }
    if let ChatCommand::Stats { days, .. } = command {
        return Ok(Reply {
            text: stats_text(ctx, s, repo, i64::from(*days)).await?,
            ephemeral: false,
            card: None,
        });
    }
    if let ChatCommand::Audit(_) = command {
        let query = audit::Query {
            repository: Some(repo.to_string()),
            since: None,
            limit: 10,
        };
        let records = audit::recent(&ctx.db, &query).await?;
        let mut text = format!("{} — audit, newest first", s.bold(repo.as_ref()));
        if records.is_empty() {
            text.push_str("\nNothing recorded yet.");
        }
        for record in &records {
            text.push('\n');
            text.push_str(&s.user(&audit::line(record)));
        }
        return Ok(Reply {
            text,
            ephemeral: false,
            card: None,
        });
    }
    if let ChatCommand::Verify {
        environment,
        skip: None,
        ..
    } = command
    {
        let text =
            crate::handlers::deploys::verify::status_text(&ctx.db, repo, environment, s, ctx.now())
                .await?;
        return Ok(Reply {
            text,
            ephemeral: false,
            card: None,
        });
    }
    if let ChatCommand::Deploys(_) = command {
        let text = crate::handlers::deploys::deploys_text(&ctx.db, repo, s, ctx.now()).await?;
        return Ok(Reply {
            text,
            ephemeral: false,
            card: None,
        });
    }
    if let ChatCommand::Preview(_) = command {
        let text = super::preview::preview_text(ctx, asker, repo, target.line.as_deref()).await?;
        return Ok(Reply {
            text,
            ephemeral: false,
            card: None,
        });
    }
    if let ChatCommand::Notes(_) = command {
        let text = notes_text(ctx, repo, target.line.as_deref(), s).await?;
        return Ok(Reply {
            text,
            ephemeral: false,
            card: None,
        });
    }
    let card = status_card(ctx, repo, target.line.as_deref()).await?;
    Ok(Reply {
        text: card.text(s),
        ephemeral: false,
        card: Some(card),
    })
}

/// Release health in a few lines: the DORA figures, then the trains'.
async fn stats_text(
    ctx: &TrainContext,
    s: Surface,
    repo: &RepoFullName,
    days: i64,
) -> Result<String, ChatFailure> {
    use crate::domain::health::{self, Basis, Spread};
    let history = super::status::release_history(ctx, repo).await?;
    let h = health::compute(&history, ctx.now(), days);
    let spread = |x: &Spread| match (x.median_secs, x.p90_secs) {
        (Some(median), Some(p90)) => format!(
            "median {}, p90 {} ({} sample{})",
            health::human(median),
            health::human(p90),
            x.count,
            if x.count == 1 { "" } else { "s" }
        ),
        _ => "no samples".to_owned(),
    };
    let frequency = match h.basis {
        Basis::Deployments => format!(
            "{:.1} production deployments a week ({} in all)",
            h.per_week, h.production_deployments
        ),
        Basis::Releases => format!("{:.1} releases a week ({} in all)", h.per_week, h.releases),
    };
    let failure = match h.change_failure_rate.fraction() {
        Some(rate) => format!(
            "{:.0}% ({} of {})",
            rate * 100.0,
            h.change_failure_rate.failed,
            h.change_failure_rate.total
        ),
        None => "nothing to count".to_owned(),
    };
    let per_train = h
        .pull_requests_per_train
        .map_or("-".to_owned(), |n| format!("{n:.1}"));
    Ok([
        format!(
            "{} — release health, last {days} days",
            s.bold(repo.as_ref())
        ),
        format!("Lead time to release: {}", spread(&h.lead_time_to_release)),
        format!(
            "Lead time to production: {}",
            spread(&h.lead_time_to_production)
        ),
        format!("Frequency: {frequency}"),
        format!("Change failure rate: {failure}"),
        format!("Time to restore: {}", spread(&h.time_to_restore)),
        format!(
            "Verification: {} of {} bakes failed; their restore: {}",
            h.bake_failures.failed,
            h.bake_failures.total,
            spread(&h.bake_restore)
        ),
        format!(
            "Trains: {} released, {per_train} pull requests each; cut to release {}; \
             approval wait {}; {} rejected cuts",
            h.releases,
            spread(&h.cut_to_release),
            spread(&h.approval_wait),
            h.rejected_cuts
        ),
    ]
    .join("\n"))
}

/// A command that changes a train, on its way to the queue.
struct Change<'a> {
    command: &'a ChatCommand,
    change: crate::domain::train::TrainCommand,
    repo: RepoFullName,
    target: Target,
    reply_to: ReplyTo,
    command_id: &'a str,
    pinned: Option<Pinned>,
}

/// Accepts a change from a linked (or, on GitHub, the commenting) account on an installed
/// repository: recorded and enqueued together, acknowledged now.
async fn accept_change(
    ctx: &TrainContext,
    asker: &Asker,
    request: Change<'_>,
) -> Result<Answer, ChatFailure> {
    let s = asker.surface;
    let Some((actor, actor_id)) = actor(ctx, asker).await? else {
        let reason = "Link your GitHub account first: `/release link`. Commands that change a \
                      train are checked against your permission on the repository.";
        let who = format!("{} user {} (not linked)", s.as_str(), asker.user);
        refused_now(ctx, &request, &who, reason).await?;
        return Ok(Answer::Now(Reply::private(reason.to_owned())));
    };
    let Some(installation) = installations::for_repository(&ctx.db, &request.repo).await? else {
        let reason = format!(
            "trainyard is not installed on {}",
            s.code(request.repo.as_ref())
        );
        refused_now(ctx, &request, &actor, &reason).await?;
        return Ok(Answer::Now(Reply::private(reason)));
    };
    let repo = request.repo;
    let ack = acknowledgement(s, request.command, &repo, request.target.line.as_deref());
    let (train_id, expect_version) = match request.pinned {
        Some((id, tag)) => (Some(id), tag),
        None => (None, request.command.version().map(str::to_owned)),
    };
    let job = RunTrainCommand {
        repository: repo,
        installation,
        line: request.target.line,
        actor,
        actor_id,
        command: request.change,
        command_id: request.command_id.to_owned(),
        by_schedule: false,
        reply_to: Some(request.reply_to),
        train_id,
        expect_version,
    };
    if !accept(ctx, s, &job).await? {
        return Ok(Answer::AlreadyAccepted);
    }
    Ok(Answer::Later(Reply {
        text: ack,
        ephemeral: false,
        card: None,
    }))
}

/// Audits a change refused before it reached a train (nothing else changed, so the record
/// stands alone; a retried request is recorded once).
async fn refused_now(
    ctx: &TrainContext,
    request: &Change<'_>,
    who: &str,
    reason: &str,
) -> Result<(), ChatFailure> {
    let entry = audit::Entry {
        repository: request.repo.to_string(),
        line: request.target.line.clone().unwrap_or_default(),
        actor_login: who.to_owned(),
        surface: audit::surface_of(request.command_id).to_owned(),
        action: format!("command.{}", request.command.name().as_str()),
        outcome: "refused".into(),
        detail: reason.to_owned(),
        key: Some(format!("command:{}", request.command_id)),
        ..audit::Entry::default()
    };
    audit::record_alone(&ctx.db, &entry, ctx.now()).await?;
    Ok(())
}

/// Who acts: the commenter on GitHub; in chat, the GitHub account the chat user linked.
/// Linked chat users come with their GitHub user id, the identity that counts.
async fn actor(
    ctx: &TrainContext,
    asker: &Asker,
) -> Result<Option<(String, Option<i64>)>, ChatFailure> {
    let Some(surface) = chat_surface(asker.surface) else {
        return Ok(Some((asker.user.clone(), None)));
    };
    Ok(
        chat_store::identity(&ctx.db, surface, &asker.workspace, &asker.user)
            .await?
            .map(|identity| (identity.github_login, Some(identity.github_id))),
    )
}

/// What the asker sees while the command runs.
fn acknowledgement(
    s: Surface,
    command: &ChatCommand,
    repo: &RepoFullName,
    line: Option<&str>,
) -> String {
    let repo = s.code(repo.as_ref());
    let line = line.map(|l| format!(" {}", s.code(l))).unwrap_or_default();
    match command {
        ChatCommand::Cut(_) => format!("Cutting {repo} train{line}…"),
        ChatCommand::Approve { .. } => format!("Approving the {repo} train{line}…"),
        ChatCommand::Reject { .. } => format!("Rejecting the {repo} train{line}…"),
        ChatCommand::Include { number, .. } => {
            format!("Putting #{number} on the {repo} train{line}…")
        }
        ChatCommand::Exclude { number, .. } => {
            format!("Taking #{number} off the {repo} train{line}…")
        }
        ChatCommand::Abandon(_) => format!("Abandoning the {repo} train{line}…"),
        ChatCommand::Hotfix { base, .. } => {
            format!("Opening a hotfix train for {} on {repo}…", s.code(base))
        }
        _ => String::new(),
    }
}

/// Hands the change to the one command intake, through the asker's door. `false` for a retry.
async fn accept(
    ctx: &TrainContext,
    surface: Surface,
    job: &RunTrainCommand,
) -> Result<bool, ChatFailure> {
    let door = match surface {
        Surface::Slack => Door::Slack,
        Surface::Discord => Door::Discord,
        Surface::GitHub => Door::Comment,
    };
    Ok(intake::submit(ctx, door, job).await?)
}

/// The command an Approve / Reject / Roll back button stands for (on Slack and Discord alike), with the
/// train it was shown with; `None` for a button that is not ours or whose train is gone.
pub async fn button_command(
    db: &crate::store::Db,
    action: &str,
    value: &str,
) -> Result<Option<(ChatCommand, Pinned)>, ChatFailure> {
    let Some((train_id, tag)) = crate::chat::cards::parse_button_value(value) else {
        return Ok(None);
    };
    let Some(train) = trains::get(db, train_id).await? else {
        return Ok(None);
    };
    let target = Target {
        repo: RepoFullName::parse(&train.repository).ok(),
        line: Some(train.line.clone()),
    };
    let command = match action {
        "approve" => ChatCommand::Approve {
            target,
            version: None,
        },
        "reject" => ChatCommand::Reject {
            target,
            version: None,
            reason: "rejected with the button".to_owned(),
        },
        // A failed production deployment's button: the environment rides in the tag's place.
        "rollback" => match &tag {
            Some(environment) => ChatCommand::Rollback {
                target: Target {
                    line: None,
                    ..target
                },
                environment: environment.clone(),
            },
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    Ok(Some((command, (train_id, tag))))
}

/// Workspaces and guilds must be allow-listed.
fn not_allowed(settings: &Settings, asker: &Asker) -> Option<String> {
    let (allowed, setting, what) = match asker.surface {
        Surface::GitHub => return None,
        Surface::Slack => (
            settings.slack.as_ref().map(|s| &s.workspaces),
            "TRAINYARD_SLACK_WORKSPACES",
            "workspace",
        ),
        Surface::Discord => (
            settings.discord.as_ref().map(|d| &d.guilds),
            "TRAINYARD_DISCORD_GUILDS",
            "server",
        ),
    };
    if allowed.is_some_and(|list| list.iter().any(|w| w == &asker.workspace)) {
        return None;
    }
    Some(format!(
        "This {what} is not allowed to use this trainyard (its operator lists allowed ones in \
         {setting})."
    ))
}

/// The repository a command is about: the comment's own on GitHub; in chat, one routed to
/// the channel (a channel only reaches repositories whose configuration names it).
async fn resolve_repository(
    ctx: &TrainContext,
    asker: &Asker,
    target: &Target,
) -> Result<Result<RepoFullName, String>, ChatFailure> {
    let s = asker.surface;
    if let Some(origin) = &asker.comment_repository {
        return Ok(match &target.repo {
            Some(named) if named != origin => Err(format!(
                "Commands in {} act on it only; use chat for {}.",
                s.code(origin.as_ref()),
                s.code(named.as_ref())
            )),
            _ => Ok(origin.clone()),
        });
    }
    let Some(surface) = chat_surface(s) else {
        return Ok(Err("no repository given".to_owned()));
    };
    let key = match surface {
        ChatSurface::Slack => "slack-channel",
        ChatSurface::Discord => "discord-channel",
    };
    let routed = chat_store::repositories_of_channel(&ctx.db, surface, &asker.channel).await?;
    Ok(match (&target.repo, routed.as_slice()) {
        (Some(named), _) if routed.iter().any(|r| r == named.as_ref()) => Ok(named.clone()),
        (Some(named), _) => Err(format!(
            "{} is not routed to this channel: its `.github/trainyard.yml` needs `chat: \
             {{{key}: {}}}`.",
            s.code(named.as_ref()),
            s.code(&asker.channel)
        )),
        (None, [one]) => RepoFullName::parse(one).map_err(|e| e.to_string()),
        (None, []) => Err(format!(
            "This channel speaks for no repository yet: add `chat: {{{key}: {}}}` to a \
             repository's `.github/trainyard.yml`.",
            s.code(&asker.channel)
        )),
        (None, many) => Err(format!(
            "This channel speaks for several repositories; name one: {}",
            many.iter()
                .map(|r| s.code(r))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    })
}

/// Why `line` names no line of the repository (configured, or a live hotfix line), with the
/// closest name as a hint.
pub(super) async fn unknown_line(
    ctx: &TrainContext,
    repo: &RepoFullName,
    line: &str,
    s: Surface,
) -> Result<Option<String>, StoreError> {
    let config = stored_config(ctx, repo).await?;
    let mut names: Vec<String> = config.lines().into_iter().map(|l| l.name).collect();
    if names.iter().any(|n| n == line) {
        return Ok(None);
    }
    let live = [
        TrainState::Open,
        TrainState::Frozen,
        TrainState::Approved,
        TrainState::Blocked,
    ];
    names.extend(
        trains::in_states(&ctx.db, repo, &live)
            .await?
            .into_iter()
            .map(|t| t.line),
    );
    if names.iter().any(|n| n == line) {
        return Ok(None);
    }
    names.dedup();
    let hint = command::closest(line, names.iter().map(String::as_str))
        .map(|n| format!(" (did you mean {}?)", s.code(n)))
        .unwrap_or_default();
    Ok(Some(format!(
        "{} has no train line {}{hint}; its lines: {}",
        s.code(repo.as_ref()),
        s.code(line),
        names
            .iter()
            .map(|n| s.code(n))
            .collect::<Vec<_>>()
            .join(", ")
    )))
}
