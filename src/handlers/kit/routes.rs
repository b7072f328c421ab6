//! Checking the channels a repository's configuration names before any event is posted there.
//! A repository's configuration is written by whoever can push to it; the workspaces and
//! guilds the bot serves are the operator's choice. A route is kept only when its channel is
//! in an allowed workspace or guild and the bot can post there; otherwise the whole
//! configuration is refused with the reason, like any other configuration error.

use crate::chat::ChatError;
use crate::chat::discord::DiscordClient;
use crate::chat::slack::SlackClient;
use crate::domain::ids::RepoFullName;
use crate::handlers::kit::ChatClients;
use crate::jobs::JobError;
use crate::settings::Settings;
use crate::store::Db;
use crate::store::chat::{ChatSurface, Route, repositories_of_channel};
use crate::store::installations;

/// What the operator lets a repository's configuration reach: channels of the chat services
/// in the workspaces and guilds this trainyard serves, and the repositories `_extends` may
/// read besides the repository itself and its owner's `.github`.
#[derive(Clone, Debug, Default)]
pub struct ConfigReach {
    slack: Option<(SlackClient, Vec<String>)>,
    discord: Option<(DiscordClient, Vec<String>)>,
    extends: Vec<String>,
    shared_channels: Vec<String>,
}

impl ConfigReach {
    /// `repositories` (`owner/name`, or `owner/*` for all of an owner's) may be extended too.
    pub fn extending(mut self, repositories: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.extends = repositories.into_iter().map(Into::into).collect();
        self
    }

    /// Whether `repo`'s configuration may extend a file of `target`: its own, its owner's
    /// `.github`, or one the operator lists.
    pub fn may_extend(&self, repo: &RepoFullName, target: &RepoFullName) -> bool {
        let same_owner = target.owner().eq_ignore_ascii_case(repo.owner());
        (same_owner
            && (target.name().eq_ignore_ascii_case(repo.name())
                || target.name().eq_ignore_ascii_case(".github")))
            || self
                .extends
                .iter()
                .any(|allowed| match allowed.split_once('/') {
                    Some((owner, "*")) => owner.eq_ignore_ascii_case(target.owner()),
                    _ => allowed.eq_ignore_ascii_case(target.as_ref()),
                })
    }

    /// The checks for the configured services and their allow-lists.
    pub fn new(chat: &ChatClients, settings: &Settings) -> ConfigReach {
        ConfigReach {
            extends: settings.extends_repositories.clone(),
            shared_channels: settings.shared_channels.clone(),
            slack: chat.slack.clone().zip(
                settings
                    .slack
                    .as_ref()
                    .map(|slack| slack.workspaces.clone()),
            ),
            discord: chat.discord.clone().zip(
                settings
                    .discord
                    .as_ref()
                    .map(|discord| discord.guilds.clone()),
            ),
        }
    }

    /// Channels `routes` name that repositories of another installation already route to,
    /// one sentence each: one installation's announcements and commands never share a
    /// channel with another's (another customer, perhaps) unless the operator lets that
    /// channel be shared. The other repository is not named.
    pub async fn taken(
        &self,
        db: &Db,
        repo: &RepoFullName,
        installation: u64,
        routes: &[Route],
    ) -> Result<Vec<String>, JobError> {
        let mut refusals = Vec::new();
        for route in routes {
            if self
                .shared_channels
                .iter()
                .any(|shared| shared == "*" || *shared == route.channel)
            {
                continue;
            }
            for other in repositories_of_channel(db, route.surface, &route.channel).await? {
                let Ok(other) = RepoFullName::parse(&other) else {
                    continue;
                };
                if other.as_ref().eq_ignore_ascii_case(repo.as_ref()) {
                    continue;
                }
                if installations::for_repository(db, &other)
                    .await?
                    .is_some_and(|theirs| theirs != installation)
                {
                    let key = match route.surface {
                        ChatSurface::Slack => "chat.slack-channel",
                        ChatSurface::Discord => "chat.discord-channel",
                    };
                    refusals.push(format!(
                        "{key}: channel {} already announces the releases of a repository of \
                         another installation; this trainyard's operator may let it be shared \
                         (TRAINYARD_SHARED_CHANNELS)",
                        route.channel
                    ));
                    break;
                }
            }
        }
        Ok(refusals)
    }

    /// Why `routes` cannot be used, one sentence each (empty when all can). A service that is
    /// down is an error to retry, not a refusal.
    pub async fn refusals(&self, routes: &[Route]) -> Result<Vec<String>, JobError> {
        let mut refusals = Vec::new();
        for route in routes {
            let refusal = match route.surface {
                ChatSurface::Slack => self.slack_refusal(&route.channel).await?,
                ChatSurface::Discord => self.discord_refusal(&route.channel).await?,
            };
            refusals.extend(refusal);
        }
        Ok(refusals)
    }

    async fn slack_refusal(&self, channel: &str) -> Result<Option<String>, JobError> {
        let key = "chat.slack-channel";
        let Some((slack, workspaces)) = &self.slack else {
            return Ok(Some(format!(
                "{key}: Slack is not configured on this trainyard"
            )));
        };
        if workspaces.is_empty() {
            return Ok(Some(format!(
                "{key}: this trainyard serves no Slack workspace (TRAINYARD_SLACK_WORKSPACES is empty)"
            )));
        }
        let info = match slack.channel_info(channel).await {
            Ok(info) => info,
            Err(ChatError::Refused { reason, .. }) if reason.contains("channel_not_found") => {
                return Ok(Some(format!(
                    "{key}: the bot cannot see channel {channel}; check the id, and invite the bot if it is private"
                )));
            }
            Err(ChatError::Refused { reason, .. }) => {
                return Ok(Some(format!(
                    "{key}: Slack refused to look up channel {channel} ({reason})"
                )));
            }
            Err(other) => return Err(other.into()),
        };
        let team = match &info.context_team_id {
            Some(team) => team.clone(),
            None => slack.bot_team().await?,
        };
        let name = info
            .name
            .as_deref()
            .map_or_else(|| channel.to_owned(), |name| format!("#{name} ({channel})"));
        Ok(if !workspaces.contains(&team) {
            Some(format!(
                "{key}: channel {name} belongs to workspace {team}, which this trainyard does not serve"
            ))
        } else if info.is_archived {
            Some(format!("{key}: channel {name} is archived"))
        } else if !info.is_member {
            Some(format!(
                "{key}: the bot is not in channel {name}; invite it there (`/invite @trainyard`)"
            ))
        } else {
            None
        })
    }

    async fn discord_refusal(&self, channel: &str) -> Result<Option<String>, JobError> {
        let key = "chat.discord-channel";
        let Some((discord, guilds)) = &self.discord else {
            return Ok(Some(format!(
                "{key}: Discord is not configured on this trainyard"
            )));
        };
        if guilds.is_empty() {
            return Ok(Some(format!(
                "{key}: this trainyard serves no Discord guild (TRAINYARD_DISCORD_GUILDS is empty)"
            )));
        }
        let info = match discord.channel(channel).await {
            Ok(info) => info,
            Err(ChatError::Gone { .. }) => {
                return Ok(Some(format!("{key}: channel {channel} does not exist")));
            }
            Err(ChatError::Refused { .. }) => {
                return Ok(Some(format!(
                    "{key}: the bot cannot see channel {channel}; give it View Channel and Send Messages there"
                )));
            }
            Err(other) => return Err(other.into()),
        };
        let name = info
            .name
            .as_deref()
            .map_or_else(|| channel.to_owned(), |name| format!("#{name} ({channel})"));
        Ok(match &info.guild_id {
            Some(guild) if !guilds.contains(guild) => Some(format!(
                "{key}: channel {name} belongs to guild {guild}, which this trainyard does not serve"
            )),
            None => Some(format!("{key}: channel {name} is not in a guild")),
            Some(_) if !info.takes_messages() => {
                Some(format!("{key}: channel {name} is not a text channel"))
            }
            Some(_) => None,
        })
    }
}
