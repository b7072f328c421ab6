//! `/release preview [owner/repo] [line]`: the body `/release cut` would publish now —
//! made by the same code the cut uses, from the open train frozen at the branch head as the
//! cut would freeze it, so the two are byte-identical — and the pull requests added or
//! dropped since the last preview in that channel.

use super::{Asker, ChatFailure};
use crate::chat::cards::Surface;
use crate::domain::ids::RepoFullName;
use crate::domain::train::TrainState;
use crate::handlers::kit::{TrainContext, stored_config};
use crate::jobs::JobError;
use crate::store::previews::{self, PreviewPlace};
use crate::store::{installations, trains};

/// How much of the body a chat message shows before linking to the draft.
const CHAT_EXCERPT: usize = 1500;

/// The preview's reply, escaped for `asker`'s surface.
pub(super) async fn preview_text(
    ctx: &TrainContext,
    asker: &Asker,
    repo: &RepoFullName,
    line: Option<&str>,
) -> Result<String, ChatFailure> {
    let s = asker.surface;
    let config = stored_config(ctx, repo).await?;
    let line = line
        .map(str::to_owned)
        .unwrap_or_else(|| config.lines()[0].name.clone());
    let open = trains::in_states(&ctx.db, repo, &[TrainState::Open])
        .await?
        .into_iter()
        .find(|t| t.line == line);
    let passengers = match &open {
        Some(train) => trains::passengers(&ctx.db, train.id).await?,
        None => Vec::new(),
    };
    let (Some(train), false) = (open, passengers.is_empty()) else {
        return Ok(format!(
            "Nothing has boarded the {} line of {} since its last cut: a cut now would have \
             nothing to release.",
            s.code(&line),
            s.code(repo.as_ref())
        ));
    };
    let Some(installation) = installations::for_repository(&ctx.db, repo).await? else {
        return Ok(format!(
            "trainyard is not installed on {}.",
            s.code(repo.as_ref())
        ));
    };
    let draft = match cut_now(ctx, installation, repo, &train, &config).await {
        Ok(Some(draft)) => draft,
        Ok(None) => {
            return Ok(format!(
                "The branch {} does not exist: a cut now would be refused.",
                s.code(&train.branch)
            ));
        }
        Err(error) => {
            tracing::warn!(%repo, %error, "preview: GitHub did not answer");
            return Ok(
                "GitHub did not answer while the preview was made; ask again in a moment."
                    .to_owned(),
            );
        }
    };
    let mut numbers: Vec<u64> = passengers
        .iter()
        .filter_map(|p| u64::try_from(p.number).ok())
        .collect();
    numbers.sort_unstable();
    let surface = match s {
        Surface::Slack => "slack",
        Surface::Discord => "discord",
        Surface::GitHub => "github",
    };
    let place = PreviewPlace {
        surface,
        workspace: &asker.workspace,
        channel: &asker.channel,
        repository: repo.as_ref(),
        line: &line,
    };
    let before = previews::swap(&ctx.db, &place, &numbers, ctx.now()).await?;
    let heading = format!(
        "{} — the notes {} would publish now ({} pull request{}). {}",
        s.bold(&format!("Preview of {}", draft.tag_name_or_version())),
        s.code("/release cut"),
        numbers.len(),
        if numbers.len() == 1 { "" } else { "s" },
        since(before.as_deref(), &numbers)
    );
    let drafts = format!("{}/{repo}/releases", ctx.server_url.trim_end_matches('/'));
    Ok(match s {
        // The body verbatim, in a fence that renders nothing and mentions nobody.
        Surface::GitHub => format!("{heading}\n\n````markdown\n{}\n````", draft.body),
        Surface::Slack | Surface::Discord => {
            let excerpt: String = draft.body.chars().take(CHAT_EXCERPT).collect();
            let more = if excerpt.len() < draft.body.len() {
                "\n…"
            } else {
                ""
            };
            let fenced = excerpt.replace("```", "`\u{200b}``");
            let link = match s {
                Surface::Slack => format!("<{drafts}|the draft on GitHub>"),
                _ => format!("[the draft on GitHub](<{drafts}>)"),
            };
            format!(
                "{heading}\n```\n{}{more}\n```\nThe whole text: {link}",
                s.user(&fenced)
            )
        }
    })
}

/// The open train's draft as the cut would make it now: frozen at the branch head.
async fn cut_now(
    ctx: &TrainContext,
    installation: u64,
    repo: &RepoFullName,
    train: &trains::TrainRow,
    config: &crate::domain::repo_config::RepoConfig,
) -> Result<Option<Draft>, JobError> {
    let github = ctx.github()?;
    let Some(head) = github
        .branch_head(installation, repo, &train.branch)
        .await?
    else {
        return Ok(None);
    };
    let as_cut = trains::TrainRow {
        target_sha: Some(head),
        ..train.clone()
    };
    use crate::handlers::trains::draft::{draft_for, own_draft, train_body};
    let (draft, all) = draft_for(ctx, github, installation, repo, &as_cut, config).await?;
    Ok(Some(Draft {
        tag: crate::domain::train::release_tag(&draft.tag_name, &draft.resolved_version),
        body: train_body(train, &draft.body, own_draft(train, &all)),
    }))
}

/// What a preview shows.
struct Draft {
    tag: String,
    body: String,
}

impl Draft {
    fn tag_name_or_version(&self) -> &str {
        &self.tag
    }
}

/// "Since the last preview here: added #3, dropped #2."
fn since(before: Option<&[u64]>, now: &[u64]) -> String {
    let Some(before) = before else {
        return "The first preview here.".to_owned();
    };
    let list = |numbers: Vec<&u64>| {
        numbers
            .iter()
            .map(|n| format!("#{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let added: Vec<&u64> = now.iter().filter(|n| !before.contains(n)).collect();
    let dropped: Vec<&u64> = before.iter().filter(|n| !now.contains(n)).collect();
    match (added.is_empty(), dropped.is_empty()) {
        (true, true) => "Since the last preview here: no change.".to_owned(),
        (false, true) => format!("Since the last preview here: added {}.", list(added)),
        (true, false) => format!("Since the last preview here: dropped {}.", list(dropped)),
        (false, false) => format!(
            "Since the last preview here: added {}; dropped {}.",
            list(added),
            list(dropped)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::since;

    #[test]
    fn the_change_since_the_last_preview_is_told() {
        assert_eq!(since(None, &[1]), "The first preview here.");
        assert_eq!(
            since(Some(&[1, 2]), &[1, 2]),
            "Since the last preview here: no change."
        );
        assert_eq!(
            since(Some(&[1, 2]), &[1, 3, 4]),
            "Since the last preview here: added #3, #4; dropped #2."
        );
    }
}
