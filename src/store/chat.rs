//! Chat routing, linked identities, answered requests, train threads and event deliveries
//! (see `migrations/*/0008_chat.sql`).

use sqlx::FromRow;

use super::{Db, StoreError};
use crate::domain::ids::RepoFullName;

/// A chat surface with channels (GitHub comments need no routing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChatSurface {
    /// Slack.
    Slack,
    /// Discord.
    Discord,
}

impl ChatSurface {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            ChatSurface::Slack => "slack",
            ChatSurface::Discord => "discord",
        }
    }

    /// From its stored name.
    pub fn parse(name: &str) -> Option<ChatSurface> {
        match name {
            "slack" => Some(ChatSurface::Slack),
            "discord" => Some(ChatSurface::Discord),
            _ => None,
        }
    }
}

/// A channel routed to a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Slack or Discord.
    pub surface: ChatSurface,
    /// Channel id.
    pub channel: String,
    /// Whether train events are announced there.
    pub announce: bool,
}

/// Replaces a repository's routes.
pub async fn set_routes(db: &Db, repo: &RepoFullName, routes: &[Route]) -> Result<(), StoreError> {
    let mut tx = db.pool().begin().await?;
    sqlx::query("DELETE FROM chat_routes WHERE repository = $1")
        .bind(repo.as_ref())
        .execute(&mut *tx)
        .await?;
    for route in routes {
        sqlx::query(
            "INSERT INTO chat_routes (surface, channel, repository, announce) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (surface, channel, repository) DO NOTHING",
        )
        .bind(route.surface.as_str())
        .bind(&route.channel)
        .bind(repo.as_ref())
        .bind(i64::from(route.announce))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The repositories a channel speaks for, sorted.
pub async fn repositories_of_channel(
    db: &Db,
    surface: ChatSurface,
    channel: &str,
) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT repository FROM chat_routes WHERE surface = $1 AND channel = $2 ORDER BY repository",
    )
    .bind(surface.as_str())
    .bind(channel)
    .fetch_all(db.pool())
    .await?)
}

/// The channels a repository's train events are announced in.
pub async fn announce_channels(db: &Db, repo: &RepoFullName) -> Result<Vec<Route>, StoreError> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT surface, channel, announce FROM chat_routes WHERE repository = $1 AND announce = 1 \
         ORDER BY surface, channel",
    )
    .bind(repo.as_ref())
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(surface, channel, announce)| {
            Some(Route {
                surface: ChatSurface::parse(&surface)?,
                channel,
                announce: announce != 0,
            })
        })
        .collect())
}

/// A linked chat user.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Identity {
    /// GitHub user id.
    pub github_id: i64,
    /// GitHub login at the time of linking.
    pub github_login: String,
}

/// Links a chat user to a GitHub account (again: the new account replaces the old).
pub async fn link(
    conn: &mut sqlx::AnyConnection,
    surface: ChatSurface,
    workspace: &str,
    chat_user: &str,
    identity: &Identity,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO chat_identities (surface, workspace, chat_user, github_id, github_login, linked_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (surface, workspace, chat_user) DO UPDATE SET \
         github_id = excluded.github_id, github_login = excluded.github_login, linked_at = excluded.linked_at",
    )
    .bind(surface.as_str())
    .bind(workspace)
    .bind(chat_user)
    .bind(identity.github_id)
    .bind(&identity.github_login)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Forgets a chat user's GitHub account; true when one was linked.
pub async fn unlink(
    db: &Db,
    surface: ChatSurface,
    workspace: &str,
    chat_user: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "DELETE FROM chat_identities WHERE surface = $1 AND workspace = $2 AND chat_user = $3",
    )
    .bind(surface.as_str())
    .bind(workspace)
    .bind(chat_user)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() > 0)
}

/// The GitHub account a chat user linked.
pub async fn identity(
    db: &Db,
    surface: ChatSurface,
    workspace: &str,
    chat_user: &str,
) -> Result<Option<Identity>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT github_id, github_login FROM chat_identities \
         WHERE surface = $1 AND workspace = $2 AND chat_user = $3",
    )
    .bind(surface.as_str())
    .bind(workspace)
    .bind(chat_user)
    .fetch_optional(db.pool())
    .await?)
}

/// Records a request as answered; false when it was already (a retry).
pub async fn claim_request(
    conn: &mut sqlx::AnyConnection,
    surface: &str,
    request_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO chat_requests (surface, request_id, received_at) VALUES ($1, $2, $3) \
         ON CONFLICT (surface, request_id) DO NOTHING",
    )
    .bind(surface)
    .bind(request_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Forgets answered requests older than `before`; returns how many.
pub async fn prune_requests(db: &Db, before: i64) -> Result<u64, StoreError> {
    Ok(
        sqlx::query("DELETE FROM chat_requests WHERE received_at < $1")
            .bind(before)
            .execute(db.pool())
            .await?
            .rows_affected(),
    )
}

/// The thread a train has in a channel.
pub async fn thread(
    db: &Db,
    train_id: i64,
    surface: ChatSurface,
    channel: &str,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT thread FROM chat_threads WHERE train_id = $1 AND surface = $2 AND channel = $3",
    )
    .bind(train_id)
    .bind(surface.as_str())
    .bind(channel)
    .fetch_optional(db.pool())
    .await?)
}

/// Records a train's thread in a channel (the first one stays).
pub async fn set_thread(
    db: &Db,
    train_id: i64,
    surface: ChatSurface,
    channel: &str,
    thread: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO chat_threads (train_id, surface, channel, thread) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (train_id, surface, channel) DO NOTHING",
    )
    .bind(train_id)
    .bind(surface.as_str())
    .bind(channel)
    .bind(thread)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Whether a channel already has an event.
pub async fn event_delivered(db: &Db, event_id: i64, route: &Route) -> Result<bool, StoreError> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT event_id FROM train_event_deliveries \
         WHERE event_id = $1 AND surface = $2 AND channel = $3",
    )
    .bind(event_id)
    .bind(route.surface.as_str())
    .bind(&route.channel)
    .fetch_optional(db.pool())
    .await?;
    Ok(found.is_some())
}

/// Records that a channel has an event.
pub async fn mark_event_delivered(
    db: &Db,
    event_id: i64,
    route: &Route,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO train_event_deliveries (event_id, surface, channel, delivered_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (event_id, surface, channel) DO NOTHING",
    )
    .bind(event_id)
    .bind(route.surface.as_str())
    .bind(&route.channel)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(())
}
