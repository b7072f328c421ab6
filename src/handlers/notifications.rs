//! Train events to the channels routed to their repository: one thread per train (its root
//! message is the train's card, edited in place as the train moves), each event a reply in
//! it. Every (event, channel) pair is recorded once posted, so a retry posts only what is
//! missing.

use serde_json::json;

use crate::chat::ChatError;
use crate::chat::cards::{self, StatusCard, Surface};
use crate::chat::discord::{DiscordClient, DiscordMessage, clip};
use crate::chat::slack::SlackClient;
use crate::domain::ids::RepoFullName;
use crate::domain::train_event::TrainEvent;
use crate::handlers::chat::train_card;
use crate::handlers::kit::TrainContext;
use crate::handlers::kit::unit::DeliverTrainEvents;
use crate::jobs::{BackgroundJob, JobError};
use crate::store::chat::{self as chat_store, ChatSurface, Route};
use crate::store::steps::{self, StepState};
use crate::store::trains::{self, TrainEventRow};

impl BackgroundJob for DeliverTrainEvents {
    const KIND: &'static str = "chat.notify";
    type Context = TrainContext;

    /// In event order per repository, apart from its train work (a slow chat service never
    /// holds up a release).
    fn queue_key(&self) -> String {
        format!("notify:{}", self.repository)
    }

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("notify:{}", self.repository))
    }

    async fn run(self, ctx: TrainContext) -> Result<(), JobError> {
        let repo = &self.repository;
        let routes = chat_store::announce_channels(&ctx.db, repo).await?;
        // Each channel on its own: one that is down waits (its later events too, to keep
        // their order) while the others are served; one that refuses for good is skipped.
        let mut waiting: Vec<&Route> = Vec::new();
        let mut retry = None;
        for event in trains::undelivered_events(&ctx.db, repo).await? {
            let mut pending = false;
            for route in &routes {
                if waiting.contains(&route) {
                    pending = true;
                    continue;
                }
                if chat_store::event_delivered(&ctx.db, event.id, route).await? {
                    continue;
                }
                match deliver(&ctx, repo, &event, route).await {
                    Ok(Delivery::Posted) => {
                        chat_store::mark_event_delivered(&ctx.db, event.id, route, ctx.now())
                            .await?;
                    }
                    Ok(Delivery::NotConfigured) => {}
                    Ok(Delivery::Refused(reason)) => {
                        tracing::warn!(%repo, channel = %route.channel, %reason, "channel refused the event; skipped");
                        chat_store::mark_event_delivered(&ctx.db, event.id, route, ctx.now())
                            .await?;
                    }
                    Err(error) => {
                        tracing::warn!(%repo, channel = %route.channel, %error, "channel unavailable; its events wait");
                        waiting.push(route);
                        pending = true;
                        retry.get_or_insert(error);
                    }
                }
            }
            if !pending {
                trains::mark_event_done(&ctx.db, event.id, ctx.now()).await?;
            }
        }
        match retry {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

/// How posting an event to one channel ended.
enum Delivery {
    /// Posted.
    Posted,
    /// The surface is not configured in this process.
    NotConfigured,
    /// The channel refused for good (gone, not a channel the bot may post to).
    Refused(String),
}

/// A refusal for good is an outcome; anything else (outage, rate limit) is an error.
fn refusal(error: ChatError) -> Result<Delivery, JobError> {
    match error {
        ChatError::Gone { .. } | ChatError::Refused { .. } => {
            Ok(Delivery::Refused(error.to_string()))
        }
        other => Err(other.into()),
    }
}

/// A message in its service's shape.
enum Message {
    /// Slack's `text` and `blocks`.
    Slack(serde_json::Value),
    /// Discord's content and components.
    Discord(DiscordMessage),
}

fn card_message(card: &StatusCard, surface: Surface) -> Message {
    match surface {
        Surface::Slack => {
            Message::Slack(json!({ "text": card.text(surface), "blocks": card.slack_blocks() }))
        }
        _ => Message::Discord(DiscordMessage {
            content: clip(&card.text(surface)),
            components: card.discord_components(),
        }),
    }
}

fn event_message(
    event: &TrainEvent,
    text: String,
    train_id: Option<i64>,
    surface: Surface,
) -> Message {
    // A cut asks for approval: its message carries the buttons. A production deployment
    // that failed offers a one-press rollback (checked like the command).
    let buttons = match (event, train_id) {
        (TrainEvent::Cut { tag, .. }, Some(id)) => Some(Buttons::Approval(id, tag.clone())),
        (
            TrainEvent::Deployment {
                production: true,
                state,
                environment,
                ..
            },
            Some(id),
        ) if state == "failure" || state == "error" => {
            Some(Buttons::Rollback(id, environment.clone()))
        }
        _ => None,
    };
    match surface {
        Surface::Slack => {
            let mut blocks = vec![json!({
                "type": "section", "text": { "type": "mrkdwn", "text": text }
            })];
            match &buttons {
                Some(Buttons::Approval(id, tag)) => {
                    blocks.push(cards::slack_approval_actions(*id, Some(tag)));
                }
                Some(Buttons::Rollback(id, environment)) => {
                    blocks.push(cards::slack_rollback_action(*id, environment));
                }
                None => {}
            }
            Message::Slack(json!({ "text": text, "blocks": blocks }))
        }
        _ => {
            let components = match &buttons {
                Some(Buttons::Approval(id, tag)) => {
                    cards::discord_approval_components(*id, Some(tag))
                }
                Some(Buttons::Rollback(id, environment)) => {
                    cards::discord_rollback_components(*id, environment)
                }
                None => Vec::new(),
            };
            Message::Discord(DiscordMessage {
                content: clip(&text),
                components,
            })
        }
    }
}

/// The buttons an event's message carries.
enum Buttons {
    /// Approve / Reject a cut train (id, tag).
    Approval(i64, String),
    /// Roll back a failed production deployment (train id, environment).
    Rollback(i64, String),
}

/// A channel's service: posts (in a thread) and edits messages.
enum Poster<'a> {
    Slack(&'a SlackClient),
    Discord(&'a DiscordClient),
}

impl Poster<'_> {
    /// Posts, as a reply in `thread` when given; returns the new message's id (Slack `ts`).
    async fn post(
        &self,
        channel: &str,
        thread: Option<&str>,
        message: &Message,
    ) -> Result<String, ChatError> {
        match (self, message) {
            (Poster::Slack(slack), Message::Slack(m)) => {
                slack.post_message(channel, thread, m).await
            }
            (Poster::Discord(discord), Message::Discord(m)) => {
                discord.create_message(channel, thread, m).await
            }
            _ => Err(another_service()),
        }
    }

    /// Replaces a message's content.
    async fn edit(&self, channel: &str, id: &str, message: &Message) -> Result<(), ChatError> {
        match (self, message) {
            (Poster::Slack(slack), Message::Slack(m)) => slack.update_message(channel, id, m).await,
            (Poster::Discord(discord), Message::Discord(m)) => {
                discord.edit_message(channel, id, m).await
            }
            _ => Err(another_service()),
        }
    }
}

/// Messages are shaped for the route's own service; this would be a bug, refused for good.
fn another_service() -> ChatError {
    ChatError::Refused {
        service: "trainyard",
        reason: "a message shaped for another service".into(),
    }
}

/// Posts one event to one channel; false when the channel's service is not configured.
async fn deliver(
    ctx: &TrainContext,
    repo: &RepoFullName,
    event: &TrainEventRow,
    route: &Route,
) -> Result<Delivery, JobError> {
    let Some(detail) = event.event() else {
        return Ok(Delivery::Posted);
    };
    let surface = match route.surface {
        ChatSurface::Slack => Surface::Slack,
        ChatSurface::Discord => Surface::Discord,
    };
    let text = cards::event_text(&detail, repo.as_ref(), &event.line, surface);
    let message = event_message(&detail, text, event.train_id, surface);
    let card = match event.train_id {
        Some(id) => train_card(ctx, repo, id).await?,
        None => None,
    };
    let thread = match event.train_id {
        Some(id) => chat_store::thread(&ctx.db, id, route.surface, &route.channel).await?,
        None => None,
    };
    let channel = &route.channel;
    let poster = match route.surface {
        ChatSurface::Slack => ctx.chat.slack.as_ref().map(Poster::Slack),
        ChatSurface::Discord => ctx.chat.discord.as_ref().map(Poster::Discord),
    };
    let Some(poster) = poster else {
        return Ok(Delivery::NotConfigured);
    };
    let root = match (&thread, &card, event.train_id) {
        (Some(root), Some(card), _) => {
            // The card is a courtesy: failing to edit it does not hold up the event.
            if let Err(error) = poster
                .edit(channel, root, &card_message(card, surface))
                .await
            {
                tracing::warn!(%repo, %error, "could not update the train's card");
            }
            Some(root.clone())
        }
        (None, Some(card), Some(train_id)) => {
            let root = match poster
                .post(channel, None, &card_message(card, surface))
                .await
            {
                Ok(root) => root,
                Err(error) => return refusal(error),
            };
            chat_store::set_thread(&ctx.db, train_id, route.surface, channel, &root).await?;
            Some(root)
        }
        _ => None,
    };
    // One message per deployment, edited as it moves (queued → in progress → success).
    let step = match &detail {
        TrainEvent::Deployment { deployment, .. } if *deployment > 0 => Some(format!(
            "chat-message:{}:{channel}:deployment:{deployment}",
            route.surface.as_str()
        )),
        _ => None,
    };
    let now = ctx.now();
    if let Some(step) = &step
        && let StepState::Done(message_id) = steps::start(&ctx.db, step, now).await?
    {
        return match poster.edit(channel, &message_id, &message).await {
            Ok(()) => Ok(Delivery::Posted),
            Err(error) => refusal(error),
        };
    }
    match poster.post(channel, root.as_deref(), &message).await {
        Ok(message_id) => {
            if let Some(step) = &step {
                steps::finish(&ctx.db, step, &message_id, ctx.now()).await?;
            }
            Ok(Delivery::Posted)
        }
        Err(error) => refusal(error),
    }
}
