//! The operator's sub-commands on the store and the queue: `migrate`, `jobs`, `audit`,
//! `token`, and registering Discord's `/release` command.

use anyhow::Context;

use crate::clock::SystemClock;
use crate::settings::Settings;
use crate::state::AppState;
use crate::store::Db;

/// `trainyard migrate`: applies the store's migrations and says which.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let url = settings.database_url.expose();
    let db = Db::connect(url).await?;
    let pending = match db.readiness().await? {
        crate::store::Readiness::Ready => Vec::new(),
        crate::store::Readiness::MigrationsPending(pending) => pending,
    };
    db.migrate().await?;
    if pending.is_empty() {
        println!("the {} store is up to date: nothing to apply", db.backend());
    } else {
        let versions: Vec<String> = pending.iter().map(|v| format!("{v:04}")).collect();
        println!(
            "applied {} migration{} to the {} store: {}",
            pending.len(),
            if pending.len() == 1 { "" } else { "s" },
            db.backend(),
            versions.join(", ")
        );
    }
    Ok(())
}

/// `trainyard discord register-commands [--guild G]`.
pub async fn register_discord_commands(
    settings: &Settings,
    guild: Option<String>,
) -> anyhow::Result<()> {
    let Some(discord) = &settings.discord else {
        anyhow::bail!(
            "Discord is not configured: set TRAINYARD_DISCORD_PUBLIC_KEY, \
             TRAINYARD_DISCORD_APPLICATION_ID and TRAINYARD_DISCORD_BOT_TOKEN"
        );
    };
    let client = crate::chat::discord::DiscordClient::new(
        &settings.discord_api_url,
        discord.application_id,
        &discord.bot_token,
    )?;
    let registered = client
        .register_commands(
            guild.as_deref(),
            &crate::inbound::discord::release_command(),
        )
        .await
        .context("registering the /release command")?;
    let count = registered;
    match guild {
        Some(guild) => println!("registered {count} command(s) in guild {guild}"),
        None => println!(
            "registered {count} global command(s); Discord may take up to an hour to show them"
        ),
    }
    Ok(())
}

/// `trainyard jobs [--run]`: the queue's counts and its dead and parked jobs.
pub async fn jobs(settings: Settings, run: bool) -> anyhow::Result<()> {
    let state = AppState::open(settings, std::sync::Arc::new(SystemClock)).await?;
    if run {
        let drained = state
            .runner()
            .run_pending()
            .await
            .context("running due jobs")?;
        println!(
            "ran due jobs: {} completed, {} will retry, {} waiting, {} dead",
            drained.completed, drained.retrying, drained.rescheduled, drained.dead
        );
    }
    let deliveries = crate::store::deliveries::count(&state.db).await?;
    println!("deliveries recorded: {deliveries}");
    let counts = state.queue.counts().await?;
    println!(
        "queued {}  running {}  retrying {}  dead {}",
        counts.queued, counts.running, counts.retrying, counts.dead
    );
    for job in state.queue.jobs().await? {
        if job.state == crate::jobs::JobState::Dead {
            println!(
                "dead #{} {} [{}] after {} attempts: {}",
                job.id,
                job.kind,
                job.queue_key,
                job.attempts,
                job.last_error.as_deref().unwrap_or("-")
            );
        } else if job.parked {
            // Failing, but no longer holding up its repository's other jobs.
            println!(
                "parked #{} {} [{}] attempt {} of {}, next at {}: {}",
                job.id,
                job.kind,
                job.queue_key,
                job.attempts,
                job.max_attempts,
                job.run_at,
                job.last_error.as_deref().unwrap_or("-")
            );
        }
    }
    Ok(())
}

/// `trainyard audit`: the audit trail, newest first.
pub async fn audit(
    settings: &Settings,
    repo: Option<String>,
    since: Option<&str>,
    limit: i64,
    json: bool,
) -> anyhow::Result<()> {
    let db = Db::connect(settings.database_url.expose()).await?;
    db.migrate().await?;
    let query = crate::store::audit::Query {
        repository: repo,
        since: since.map(super::since_millis).transpose()?,
        limit,
    };
    let records = crate::store::audit::recent(&db, &query).await?;
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    for record in &records {
        if json {
            writeln!(out, "{}", serde_json::to_string(record)?)?;
        } else {
            writeln!(out, "{}", crate::store::audit::line(record))?;
        }
    }
    if records.is_empty() && !json {
        writeln!(out, "no audit records")?;
    }
    Ok(())
}

/// `trainyard token issue|list|revoke`.
pub async fn token(settings: &Settings, action: super::TokenAction) -> anyhow::Result<()> {
    use crate::store::api_tokens;
    let db = Db::connect(settings.database_url.expose()).await?;
    db.migrate().await?;
    let now = jiff::Timestamp::now().as_millisecond();
    let when = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms)
            .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default()
    };
    match action {
        super::TokenAction::Issue { repo, label } => {
            let repo = crate::domain::ids::RepoFullName::parse(&repo)
                .map_err(|e| anyhow::anyhow!("--repo {repo:?}: {e}"))?;
            anyhow::ensure!(
                !label.is_empty() && label.len() <= 64,
                "--label: 1 to 64 characters"
            );
            let (id, token) = api_tokens::issue(&db, repo.as_ref(), &label, now).await?;
            eprintln!(
                "token {id} for {repo} ({label}); it is shown once, keep it in your deploy \
                 tool's secrets:"
            );
            println!("{token}");
        }
        super::TokenAction::List { repo } => {
            for t in api_tokens::list(&db, repo.as_deref()).await? {
                let state = match t.revoked_at {
                    Some(at) => format!("revoked {}", when(at)),
                    None => "live".to_owned(),
                };
                println!(
                    "{}\t{}\t{}\tissued {}\t{state}",
                    t.id,
                    t.repository,
                    t.label,
                    when(t.created_at)
                );
            }
        }
        super::TokenAction::Revoke { id } => {
            anyhow::ensure!(
                api_tokens::revoke(&db, id, now).await?,
                "no live token {id}"
            );
            println!("token {id} revoked");
        }
    }
    db.close().await;
    Ok(())
}
