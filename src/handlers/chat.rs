//! `/release …` from Slack, Discord and GitHub comments, after the surface has verified the
//! request and found the text. Reading commands (`help`, `status`, `notes`) and the user's
//! own (`link`, `unlink`) are answered at once from the store; commands that change a train
//! are acknowledged and enqueued as [`RunTrainCommand`], whose outcome is relayed to where the
//! command came from ([`ReplyTo`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};

use crate::chat::ChatError;
use crate::chat::cards::{StatusCard, Surface, TrainStatus};
use crate::chat::discord::DiscordClient;
use crate::chat::slack::SlackClient;
use crate::domain::command::{self, ChatCommand, ParseError, Target};
use crate::domain::ids::RepoFullName;
use crate::domain::notes::categorize::Categorizer;
use crate::domain::repo_config::RepoConfig;
use crate::domain::train::TrainState;
use crate::handlers::train_commands::RunTrainCommand;
use crate::handlers::trains::{TrainContext, passenger_pull_requests};
use crate::jobs::QueueError;
use crate::ports::GitHubPort;
use crate::settings::Settings;
use crate::store::chat::{self as chat_store, ChatSurface};
use crate::store::{StoreError, installations, repo_configs, trains};

/// The chat services' clients, where configured.
#[derive(Clone, Debug, Default)]
pub struct ChatClients {
    /// Slack.
    pub slack: Option<SlackClient>,
    /// Discord.
    pub discord: Option<DiscordClient>,
}

impl ChatClients {
    /// Clients for the configured services.
    pub fn from_settings(settings: &Settings) -> ChatClients {
        ChatClients {
            slack: settings
                .slack
                .as_ref()
                .map(|s| SlackClient::new(&settings.slack_api_url, s.bot_token.clone())),
            discord: settings.discord.as_ref().map(|d| {
                DiscordClient::new(
                    &settings.discord_api_url,
                    d.application_id,
                    d.bot_token.clone(),
                )
            }),
        }
    }
}

/// Who asked, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asker {
    /// Slack, Discord or a GitHub comment.
    pub surface: Surface,
    /// Slack team id or Discord guild id (empty for GitHub).
    pub workspace: String,
    /// Channel id (empty for GitHub).
    pub channel: String,
    /// Chat user id, or the commenter's GitHub login.
    pub user: String,
    /// The repository a GitHub comment was written in.
    pub comment_repository: Option<RepoFullName>,
}

/// Where the outcome of an enqueued command goes. Its URL and token are credentials: they
/// are kept out of `Debug` output, and so out of logs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "surface", rename_all = "snake_case")]
pub enum ReplyTo {
    /// A slash command's or button's `response_url` (30 minutes), else the channel.
    Slack {
        /// The response URL.
        response_url: String,
        /// The channel, for `chat.postMessage` when the URL is spent.
        channel: String,
        /// When the command came (epoch ms).
        issued_at: i64,
    },
    /// A deferred interaction's `@original` (15 minutes), else the channel.
    Discord {
        /// The interaction token.
        token: String,
        /// The channel, for a bot message after the token expired.
        channel: String,
        /// When the command came (epoch ms).
        issued_at: i64,
    },
    /// A reply comment on the issue or pull request.
    GitHub {
        /// Issue or pull request number.
        issue_number: u64,
    },
}

impl std::fmt::Debug for ReplyTo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplyTo::Slack { channel, .. } => {
                write!(f, "Slack({channel}, response_url: [redacted])")
            }
            ReplyTo::Discord { channel, .. } => write!(f, "Discord({channel}, token: [redacted])"),
            ReplyTo::GitHub { issue_number } => write!(f, "GitHub(#{issue_number})"),
        }
    }
}

impl ReplyTo {
    /// The surface this goes to.
    pub fn surface(&self) -> Surface {
        match self {
            ReplyTo::Slack { .. } => Surface::Slack,
            ReplyTo::Discord { .. } => Surface::Discord,
            ReplyTo::GitHub { .. } => Surface::GitHub,
        }
    }
}

/// What to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The text, already escaped for its surface.
    pub text: String,
    /// Only the asker sees it (refusals, help, link URLs).
    pub ephemeral: bool,
    /// A status card to show with it.
    pub card: Option<StatusCard>,
}

impl Reply {
    fn private(text: String) -> Reply {
        Reply {
            text,
            ephemeral: true,
            card: None,
        }
    }
}

/// The answer to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Complete.
    Now(Reply),
    /// Acknowledged; the outcome follows through the [`ReplyTo`].
    Later(Reply),
    /// The same request was accepted before (a retry): nothing more is done.
    AlreadyAccepted,
}

/// A command could not be answered (the store or queue failed): the surface says so.
#[derive(Debug, thiserror::Error)]
pub enum ChatFailure {
    /// The store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The queue.
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl From<ChatFailure> for crate::jobs::JobError {
    fn from(error: ChatFailure) -> Self {
        crate::jobs::JobError::Failed(error.to_string())
    }
}

/// A button press or a command pinned to one train: the train and the tag it showed.
pub type Pinned = (i64, Option<String>);

/// Answers a parsed command.
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
    match &command {
        ChatCommand::Help => return Ok(Answer::Now(Reply::private(command::help()))),
        ChatCommand::Link { login } => {
            return Ok(Answer::Now(Reply::private(link_answer(
                ctx,
                asker,
                login.as_deref(),
            ))));
        }
        ChatCommand::Unlink => {
            let text = match chat_surface(s) {
                None => "GitHub comments need no link: you are your GitHub account.".to_owned(),
                Some(surface) => {
                    if chat_store::unlink(&ctx.db, surface, &asker.workspace, &asker.user).await? {
                        "Your GitHub account is no longer linked.".to_owned()
                    } else {
                        "No GitHub account was linked.".to_owned()
                    }
                }
            };
            return Ok(Answer::Now(Reply::private(text)));
        }
        _ => {}
    }
    let target = command.target().cloned().unwrap_or_default();
    let repo = match resolve_repository(ctx, asker, &target).await? {
        Ok(repo) => repo,
        Err(refusal) => return Ok(Answer::Now(Reply::private(refusal))),
    };
    if let (Some(line), ChatCommand::Status(_) | ChatCommand::Notes(_)) = (&target.line, &command)
        && let Some(refusal) = unknown_line(ctx, &repo, line, s).await?
    {
        return Ok(Answer::Now(Reply::private(refusal)));
    }
    if let ChatCommand::Notes(_) = &command {
        let text = notes_text(ctx, &repo, target.line.as_deref(), s).await?;
        return Ok(Answer::Now(Reply {
            text,
            ephemeral: false,
            card: None,
        }));
    }
    let Some(train_command) = command.train_command() else {
        // status: read the store, answer now.
        let card = status_card(ctx, &repo, target.line.as_deref()).await?;
        let text = card.text(s);
        return Ok(Answer::Now(Reply {
            text,
            ephemeral: false,
            card: Some(card),
        }));
    };
    let actor = match s {
        Surface::GitHub => asker.user.clone(),
        _ => {
            let surface = chat_surface(s).unwrap_or(ChatSurface::Slack);
            match chat_store::identity(&ctx.db, surface, &asker.workspace, &asker.user).await? {
                Some(identity) => identity.github_login,
                None => {
                    return Ok(Answer::Now(Reply::private(
                        "Link your GitHub account first: `/release link`. Commands that change \
                         a train are checked against your permission on the repository."
                            .to_owned(),
                    )));
                }
            }
        }
    };
    let Some(installation) = installations::for_repository(&ctx.db, &repo).await? else {
        return Ok(Answer::Now(Reply::private(format!(
            "trainyard is not installed on {}",
            s.code(repo.as_ref())
        ))));
    };
    let line_text = target
        .line
        .as_deref()
        .map(|l| format!(" {}", s.code(l)))
        .unwrap_or_default();
    let ack = match &command {
        ChatCommand::Cut(_) => format!("Cutting {} train{line_text}…", s.code(repo.as_ref())),
        ChatCommand::Approve { .. } => {
            format!("Approving the {} train{line_text}…", s.code(repo.as_ref()))
        }
        ChatCommand::Reject { .. } => {
            format!("Rejecting the {} train{line_text}…", s.code(repo.as_ref()))
        }
        ChatCommand::Include { number, .. } => {
            format!(
                "Putting #{number} on the {} train{line_text}…",
                s.code(repo.as_ref())
            )
        }
        ChatCommand::Exclude { number, .. } => {
            format!(
                "Taking #{number} off the {} train{line_text}…",
                s.code(repo.as_ref())
            )
        }
        ChatCommand::Abandon(_) => {
            format!("Abandoning the {} train{line_text}…", s.code(repo.as_ref()))
        }
        ChatCommand::Hotfix { base, .. } => format!(
            "Opening a hotfix train for {} on {}…",
            s.code(base),
            s.code(repo.as_ref())
        ),
        _ => String::new(),
    };
    let (train_id, expect_tag) = match pinned {
        Some((id, tag)) => (Some(id), tag),
        None => (None, command.version().map(str::to_owned)),
    };
    let job = RunTrainCommand {
        repository: repo.clone(),
        installation,
        line: target.line.clone(),
        actor,
        command: train_command,
        command_id: command_id.to_owned(),
        by_schedule: false,
        reply_to: Some(reply_to),
        train_id,
        expect_version: expect_tag,
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

/// Records the request as accepted and enqueues its command, in one transaction: a retried
/// request finds it accepted, and an accepted one always has its job. `false` for a retry.
async fn accept(
    ctx: &TrainContext,
    surface: Surface,
    job: &RunTrainCommand,
) -> Result<bool, ChatFailure> {
    let mut tx = ctx.db.begin_write().await?;
    let now = ctx.now();
    if !chat_store::claim_request(&mut tx, surface.as_str(), &job.command_id, now).await? {
        return Ok(false);
    }
    let (_, runnable) = ctx.queue.enqueue_with_hint(&mut tx, job).await?;
    tx.commit().await.map_err(StoreError::from)?;
    if runnable {
        ctx.queue.wake();
    }
    Ok(true)
}

fn chat_surface(surface: Surface) -> Option<ChatSurface> {
    match surface {
        Surface::Slack => Some(ChatSurface::Slack),
        Surface::Discord => Some(ChatSurface::Discord),
        Surface::GitHub => None,
    }
}

/// The command an Approve / Reject button stands for (on Slack and Discord alike), with the
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

/// Parsed configurations by repository and blob sha, so chat answers do not parse YAML on
/// every request.
#[derive(Debug, Clone, Default)]
pub struct ConfigCache(Arc<Mutex<HashMap<String, CachedConfig>>>);

/// A parsed configuration and the blob sha it was parsed from.
type CachedConfig = (String, Arc<RepoConfig>);

/// Why `line` names no line of the repository (configured, or a live hotfix line), with the
/// closest name as a hint.
async fn unknown_line(
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

/// The configuration in force, as stored (no GitHub call).
async fn stored_config(
    ctx: &TrainContext,
    repo: &RepoFullName,
) -> Result<Arc<RepoConfig>, StoreError> {
    let Some(repo_configs::RepoConfigRow {
        source_path: Some(path),
        config_text: Some(text),
        blob_sha,
        ..
    }) = repo_configs::get(&ctx.db, repo).await?
    else {
        return Ok(Arc::default());
    };
    let sha = blob_sha.unwrap_or_default();
    let mut cache = ctx.configs.0.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((cached_sha, config)) = cache.get(repo.as_ref())
        && *cached_sha == sha
    {
        return Ok(config.clone());
    }
    let config = Arc::new(RepoConfig::from_file(&path, &text).unwrap_or_default());
    cache.insert(repo.to_string(), (sha, config.clone()));
    Ok(config)
}

/// The live trains of a repository, from the store (no GitHub call: this answers within
/// Slack's and Discord's 3 seconds).
pub async fn status_card(
    ctx: &TrainContext,
    repo: &RepoFullName,
    line: Option<&str>,
) -> Result<StatusCard, StoreError> {
    let config = stored_config(ctx, repo).await?;
    let live = [
        TrainState::Open,
        TrainState::Frozen,
        TrainState::Approved,
        TrainState::Blocked,
    ];
    let mut rows = trains::in_states(&ctx.db, repo, &live).await?;
    rows.reverse();
    let mut statuses = Vec::new();
    for train in rows.iter().filter(|t| line.is_none_or(|l| t.line == l)) {
        statuses.push(train_status(ctx, repo, &config, train).await?);
    }
    Ok(StatusCard {
        repository: repo.to_string(),
        web_url: ctx.server_url.clone(),
        trains: statuses,
    })
}

/// One train's card, whatever its state (the root message of its chat threads).
pub async fn train_card(
    ctx: &TrainContext,
    repo: &RepoFullName,
    train_id: i64,
) -> Result<Option<StatusCard>, StoreError> {
    let Some(train) = trains::get(&ctx.db, train_id).await? else {
        return Ok(None);
    };
    let config = stored_config(ctx, repo).await?;
    Ok(Some(StatusCard {
        repository: repo.to_string(),
        web_url: ctx.server_url.clone(),
        trains: vec![train_status(ctx, repo, &config, &train).await?],
    }))
}

async fn train_status(
    ctx: &TrainContext,
    repo: &RepoFullName,
    config: &RepoConfig,
    train: &trains::TrainRow,
) -> Result<TrainStatus, StoreError> {
    let required = config
        .approvals
        .as_ref()
        .and_then(|a| a.required)
        .unwrap_or(1);
    let passengers = trains::passengers(&ctx.db, train.id).await?;
    let pull_requests = passenger_pull_requests(&passengers, repo, &train.branch, &ctx.server_url);
    let mut categories: Vec<(String, Vec<(u64, String)>)> = Vec::new();
    let mut other = Vec::new();
    match config.line_notes(&train.line) {
        Ok(notes) => {
            let categorizer = Categorizer::new(&notes.categories);
            for pr in &pull_requests {
                let evaluation = categorizer.evaluate(pr);
                let title = evaluation
                    .changelog
                    .first()
                    .and_then(|i| notes.categories.get(*i))
                    .map(|c| c.title.clone())
                    .filter(|t| !t.is_empty());
                match title {
                    Some(title) => match categories.iter_mut().find(|(t, _)| *t == title) {
                        Some((_, prs)) => prs.push((pr.number, pr.title.clone())),
                        None => categories.push((title, vec![(pr.number, pr.title.clone())])),
                    },
                    None => other.push((pr.number, pr.title.clone())),
                }
            }
        }
        Err(_) => {
            other = pull_requests
                .iter()
                .map(|p| (p.number, p.title.clone()))
                .collect()
        }
    }
    if !other.is_empty() {
        categories.push(("Other changes".to_owned(), other));
    }
    // Approvals only exist after a cut: an open train needs no query for them.
    let approvals = if train.state() == TrainState::Open {
        Vec::new()
    } else {
        trains::approvals(&ctx.db, train.id).await?
    };
    Ok(TrainStatus {
        id: train.id,
        line: train.line.clone(),
        state: train.state.clone(),
        version: train.version.clone(),
        tag: train.tag_name.clone(),
        categories,
        approvals: approvals.into_iter().map(|a| a.login).collect(),
        required,
        blocked_reason: train.blocked_reason.clone(),
    })
}

/// The notes the line's train would be released with, generated from its passengers in the
/// store (the version and compare link come with the draft on GitHub).
async fn notes_text(
    ctx: &TrainContext,
    repo: &RepoFullName,
    line: Option<&str>,
    s: Surface,
) -> Result<String, StoreError> {
    use crate::domain::notes::render::{self, DraftInputs};
    use crate::domain::version::PreviousRelease;
    let config = stored_config(ctx, repo).await?;
    let line = line
        .map(str::to_owned)
        .unwrap_or_else(|| config.lines()[0].name.clone());
    let mut live = trains::in_states(&ctx.db, repo, &[TrainState::Frozen, TrainState::Open])
        .await?
        .into_iter()
        .filter(|t| t.line == line)
        .collect::<Vec<_>>();
    // The oldest frozen train first: that is the one being released.
    live.sort_by_key(|t| (t.state() != TrainState::Frozen, t.id));
    let Some(train) = live.first() else {
        return Ok(format!(
            "The {} line of {} has no train: nothing has boarded.",
            s.code(&line),
            s.code(repo.as_ref())
        ));
    };
    let Ok(notes) = config.line_notes(&train.line) else {
        return Ok("The repository's notes configuration cannot be used.".to_owned());
    };
    let passengers = trains::passengers(&ctx.db, train.id).await?;
    let pull_requests = passenger_pull_requests(&passengers, repo, &train.branch, &ctx.server_url);
    let draft = render::build_draft(
        &notes,
        &DraftInputs {
            owner: repo.owner(),
            repository: repo.name(),
            last_release: train.baseline_tag.as_deref().map(|tag| PreviousRelease {
                tag_name: tag,
                name: None,
            }),
            pull_requests: &pull_requests,
            version: train.version.as_deref(),
            conventional_titles: config.conventional_commits(),
            prerelease_start: config.prerelease_start(),
            server_url: &ctx.server_url,
            ..DraftInputs::default()
        },
    );
    let heading = format!(
        "{} ({}):",
        s.bold(&format!("Notes of the {} {} train", repo, train.line)),
        train.tag_name.as_deref().unwrap_or(&train.state)
    );
    // The notes are GitHub Markdown; chat shows them as written, in a code block (whose
    // content mentions nobody and renders no markup).
    let body: String = draft.body.chars().take(1800).collect();
    Ok(match s {
        Surface::GitHub => format!("{heading}\n\n{}", s.user(&draft.body)),
        Surface::Slack => format!(
            "{heading}\n```\n{}\n```",
            s.user(&body.replace("```", "`\u{200b}``"))
        ),
        Surface::Discord => format!(
            "{heading}\n```\n{}\n```",
            body.replace("```", "`\u{200b}``")
        ),
    })
}

/// How long a link URL stays valid.
const LINK_STATE_TTL_MS: i64 = 10 * 60 * 1000;

/// What a signed OAuth `state` binds: the chat surface, workspace and user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkState {
    /// `slack` or `discord`.
    pub surface: String,
    /// Team or guild id.
    pub workspace: String,
    /// Chat user id.
    pub user: String,
    /// Expiry (epoch ms).
    pub expires_at: i64,
}

fn state_mac(settings: &Settings) -> Option<hmac::Hmac<sha2::Sha256>> {
    let oauth = settings.github_oauth.as_ref()?;
    // A key of its own, derived from the client secret: the secret itself signs nothing else.
    let mut derive =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(oauth.client_secret.expose().as_bytes()).ok()?;
    derive.update(b"trainyard link state v1");
    let key = derive.finalize().into_bytes();
    hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).ok()
}

/// Signs a link state.
pub fn sign_link_state(settings: &Settings, state: &LinkState) -> Option<String> {
    let mut mac = state_mac(settings)?;
    let payload = serde_json::to_vec(state).ok()?;
    mac.update(&payload);
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    Some(format!(
        "{}.{}",
        engine.encode(&payload),
        engine.encode(mac.finalize().into_bytes())
    ))
}

/// Checks a link state's signature and expiry.
pub fn verify_link_state(settings: &Settings, text: &str, now: i64) -> Result<LinkState, String> {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (payload, signature) = text
        .split_once('.')
        .ok_or("the sign-in state is malformed")?;
    let payload = engine
        .decode(payload)
        .map_err(|_| "the sign-in state is malformed")?;
    let signature = engine
        .decode(signature)
        .map_err(|_| "the sign-in state is malformed")?;
    let mut mac = state_mac(settings).ok_or("linking is not configured")?;
    mac.update(&payload);
    mac.verify_slice(&signature)
        .map_err(|_| "the sign-in state was not made by this trainyard")?;
    let state: LinkState =
        serde_json::from_slice(&payload).map_err(|_| "the sign-in state is malformed")?;
    if state.expires_at < now {
        return Err("the link expired; ask for a new one with `/release link`".to_owned());
    }
    Ok(state)
}

fn link_answer(ctx: &TrainContext, asker: &Asker, login: Option<&str>) -> String {
    let Some(surface) = chat_surface(asker.surface) else {
        return "GitHub comments need no link: you are your GitHub account.".to_owned();
    };
    let settings = &ctx.settings;
    let (Some(oauth), Some(public_url)) = (&settings.github_oauth, &settings.public_url) else {
        return "Linking is not set up on this trainyard (it needs TRAINYARD_GITHUB_CLIENT_ID, \
                TRAINYARD_GITHUB_CLIENT_SECRET and TRAINYARD_PUBLIC_URL)."
            .to_owned();
    };
    let state = LinkState {
        surface: surface.as_str().to_owned(),
        workspace: asker.workspace.clone(),
        user: asker.user.clone(),
        expires_at: ctx.now() + LINK_STATE_TTL_MS,
    };
    let Some(state) = sign_link_state(settings, &state) else {
        return "Linking is not set up on this trainyard.".to_owned();
    };
    let mut query = vec![
        ("client_id", oauth.client_id.clone()),
        ("redirect_uri", redirect_uri(public_url)),
        ("state", state),
        ("allow_signup", "false".to_owned()),
    ];
    if let Some(login) = login {
        query.push(("login", login.to_owned()));
    }
    let query = serde_urlencoded::to_string(&query).unwrap_or_default();
    let url = format!("{}/login/oauth/authorize?{query}", settings.github_web_url);
    match asker.surface {
        Surface::Slack => format!(
            "<{url}|Sign in with GitHub> to link your account (the link works for 10 minutes)."
        ),
        _ => format!(
            "[Sign in with GitHub](<{url}>) to link your account (the link works for 10 minutes)."
        ),
    }
}

/// Where GitHub sends the user back.
pub fn redirect_uri(public_url: &str) -> String {
    format!("{}/oauth/github/callback", public_url.trim_end_matches('/'))
}

/// Relays a command's outcome to where it came from.
pub async fn relay(
    ctx: &TrainContext,
    github_target: Option<(u64, &RepoFullName)>,
    reply_to: &ReplyTo,
    text: &str,
    refused: bool,
) -> Result<(), crate::jobs::JobError> {
    let now = ctx.now();
    match reply_to {
        ReplyTo::Slack {
            response_url,
            channel,
            issued_at,
        } => {
            let Some(slack) = &ctx.chat.slack else {
                return Ok(());
            };
            let message = serde_json::json!({
                "response_type": if refused { "ephemeral" } else { "in_channel" },
                "text": text,
            });
            // A response_url takes 5 posts in 30 minutes; after that, the bot posts.
            if now - issued_at < 29 * 60 * 1000 {
                match slack.respond(response_url, &message).await {
                    Ok(()) => return Ok(()),
                    Err(ChatError::Gone { .. }) => {}
                    Err(other) => return Err(other.into()),
                }
            }
            slack.post_message(channel, None, &message).await?;
        }
        ReplyTo::Discord {
            token,
            channel,
            issued_at,
        } => {
            let Some(discord) = &ctx.chat.discord else {
                return Ok(());
            };
            let message = serde_json::json!({ "content": text });
            if now - issued_at < 14 * 60 * 1000 {
                // Refusals are for the asker's eyes only; outcomes for the channel.
                let answered = if refused {
                    discord.answer_privately(token, &message).await
                } else {
                    discord.edit_original(token, &message).await
                };
                match answered {
                    Ok(()) => return Ok(()),
                    Err(ChatError::Gone { .. }) => {}
                    Err(other) => return Err(other.into()),
                }
            }
            discord.create_message(channel, None, &message).await?;
        }
        ReplyTo::GitHub { issue_number } => {
            let Some((installation, repo)) = github_target else {
                return Ok(());
            };
            ctx.github()?
                .create_comment(installation, repo, *issue_number, text)
                .await?;
        }
    }
    Ok(())
}

/// Posts an immediate answer that the HTTP response cannot carry (Slack buttons).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendReply {
    /// Where.
    pub reply_to: ReplyTo,
    /// What (escaped for the surface).
    pub text: String,
    /// Only the asker sees it.
    pub ephemeral: bool,
}

impl crate::jobs::BackgroundJob for SendReply {
    const KIND: &'static str = "chat.reply";
    type Context = TrainContext;

    fn queue_key(&self) -> String {
        "chat.reply".to_owned()
    }

    async fn run(self, ctx: TrainContext) -> Result<(), crate::jobs::JobError> {
        relay(&ctx, None, &self.reply_to, &self.text, self.ephemeral).await
    }
}
