//! What trainyard says, rendered for each surface: Slack Block Kit, Discord messages with
//! components, GitHub Markdown. Every piece of user text (titles, reasons, logins) passes
//! through the surface's escaping here and nowhere else.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use serenity::all::{ButtonStyle, CreateActionRow, CreateButton};

use crate::domain::chat_text;
use crate::domain::train_event::TrainEvent;

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Surface {
    /// Slack.
    Slack,
    /// Discord.
    Discord,
    /// A GitHub issue or pull request comment.
    GitHub,
}

impl Surface {
    /// Its name, as stored with accepted requests.
    pub fn as_str(self) -> &'static str {
        match self {
            Surface::Slack => "slack",
            Surface::Discord => "discord",
            Surface::GitHub => "github",
        }
    }

    /// Escapes user text for this surface.
    pub fn user(self, text: &str) -> String {
        match self {
            Surface::Slack => chat_text::slack(text),
            Surface::Discord => chat_text::discord(text),
            Surface::GitHub => chat_text::github(text),
        }
    }

    /// Bold.
    pub fn bold(self, text: &str) -> String {
        match self {
            Surface::Slack => format!("*{text}*"),
            Surface::Discord | Surface::GitHub => format!("**{text}**"),
        }
    }

    /// A code span of trusted text (names, versions); backticks inside are dropped.
    pub fn code(self, text: &str) -> String {
        format!("`{}`", text.replace('`', ""))
    }
}

/// One live train, as the status card shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainStatus {
    /// Train id (buttons carry it).
    pub id: i64,
    /// Line name.
    pub line: String,
    /// State name.
    pub state: String,
    /// Frozen version, or the version it would get now.
    pub version: Option<String>,
    /// Frozen tag.
    pub tag: Option<String>,
    /// Pull requests by category title (`Other` last), each `(number, title)`.
    pub categories: Vec<(String, Vec<(u64, String)>)>,
    /// Who approved.
    pub approvals: Vec<String>,
    /// Approvals needed.
    pub required: u32,
    /// Why it is blocked.
    pub blocked_reason: Option<String>,
    /// Its release candidates, oldest first.
    pub candidates: Vec<CandidateStatus>,
}

/// A release candidate on a train's card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidateStatus {
    /// Its tag.
    pub tag: String,
    /// The commit.
    pub target_sha: String,
    /// When it was cut (`2026-11-27 09:30 UTC`).
    pub when: String,
    /// Published as a pre-release.
    pub published: bool,
    /// Environments where it was deployed successfully.
    pub deployed: Vec<String>,
}

impl TrainStatus {
    fn passengers(&self) -> usize {
        self.categories.iter().map(|(_, prs)| prs.len()).sum()
    }

    fn headline(&self, surface: Surface) -> String {
        let version = match (&self.tag, &self.version) {
            (Some(tag), _) => format!(" {}", surface.code(tag)),
            (None, Some(v)) => format!(" (next: {})", surface.code(v)),
            _ => String::new(),
        };
        let n = self.passengers();
        format!(
            "{} {}{version} — {n} pull request{}",
            surface.bold(&format!("Train {}", self.line)),
            self.state,
            if n == 1 { "" } else { "s" }
        )
    }

    fn details(&self, surface: Surface, repo: &str, web_url: &str) -> String {
        let mut lines = Vec::new();
        for (title, prs) in &self.categories {
            lines.push(surface.bold(&surface.user(title)));
            for (number, pr_title) in prs.iter().take(15) {
                let link = match surface {
                    Surface::Slack => format!("<{web_url}/{repo}/pull/{number}|#{number}>"),
                    Surface::Discord => format!("[#{number}](<{web_url}/{repo}/pull/{number}>)"),
                    Surface::GitHub => format!("#{number}"),
                };
                lines.push(format!("• {} ({link})", surface.user(pr_title)));
            }
            if prs.len() > 15 {
                lines.push(format!("• … and {} more", prs.len() - 15));
            }
        }
        if self.state == "frozen" || !self.approvals.is_empty() {
            let who = if self.approvals.is_empty() {
                "none yet".to_owned()
            } else {
                self.approvals
                    .iter()
                    .map(|l| surface.user(l))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            lines.push(format!(
                "Approvals: {} of {} ({who})",
                self.approvals.len(),
                self.required
            ));
        }
        if !self.candidates.is_empty() {
            lines.push("Release candidates:".to_owned());
            for c in &self.candidates {
                let mut line = format!(
                    "• {} at {}, {}",
                    surface.code(&c.tag),
                    surface.code(c.target_sha.get(..7).unwrap_or(&c.target_sha)),
                    c.when
                );
                if !c.published {
                    line.push_str(" (being published)");
                }
                if !c.deployed.is_empty() {
                    let places: Vec<String> = c.deployed.iter().map(|e| surface.user(e)).collect();
                    line.push_str(&format!("; deployed to {}", places.join(", ")));
                }
                lines.push(line);
            }
        }
        if let Some(reason) = &self.blocked_reason {
            lines.push(format!("Blocked: {}", surface.user(reason)));
        }
        lines.join("\n")
    }
}

/// A repository's live trains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCard {
    /// `owner/name`.
    pub repository: String,
    /// GitHub's web URL, for links.
    pub web_url: String,
    /// Live trains, oldest first.
    pub trains: Vec<TrainStatus>,
    /// What holds the installation back at GitHub now (its budget's reserve, a pause after
    /// the secondary limit), said plainly; empty when nothing does.
    pub github_holds: Vec<String>,
}

impl StatusCard {
    /// The card as text (Discord content, GitHub Markdown, Slack fallback).
    pub fn text(&self, surface: Surface) -> String {
        let mut out = format!("{} — release trains", surface.bold(&self.repository));
        if self.trains.is_empty() {
            out.push_str("\nNo live train: nothing has boarded since the last release.");
        }
        for train in &self.trains {
            out.push_str("\n\n");
            out.push_str(&train.headline(surface));
            let details = train.details(surface, &self.repository, &self.web_url);
            if !details.is_empty() {
                out.push('\n');
                out.push_str(&details);
            }
        }
        for hold in &self.github_holds {
            out.push_str("\n\n");
            out.push_str(&format!("{} {hold}", surface.bold("GitHub budget:")));
        }
        out
    }

    /// Slack blocks: a section per train, approval buttons on frozen ones.
    pub fn slack_blocks(&self) -> Value {
        let surface = Surface::Slack;
        let mut blocks = vec![json!({
            "type": "header",
            "text": { "type": "plain_text", "text": format!("{} — release trains", self.repository) }
        })];
        if self.trains.is_empty() {
            blocks.push(section(
                "No live train: nothing has boarded since the last release.",
            ));
        }
        for train in &self.trains {
            blocks.push(section(&train.headline(surface)));
            let details = train.details(surface, &self.repository, &self.web_url);
            if !details.is_empty() {
                // Section text is limited to 3,000 characters.
                blocks.push(section(&clip(&details, 2900)));
            }
            if train.state == "frozen" {
                blocks.push(slack_approval_actions(train.id, train.tag.as_deref()));
            }
        }
        for hold in &self.github_holds {
            blocks.push(section(&format!("*GitHub budget:* {hold}")));
        }
        Value::Array(blocks)
    }

    /// Discord components: approval buttons for the first frozen train.
    pub fn discord_components(&self) -> Vec<CreateActionRow> {
        match self.trains.iter().find(|t| t.state == "frozen") {
            Some(train) => discord_approval_components(train.id, train.tag.as_deref()),
            None => Vec::new(),
        }
    }
}

fn section(text: &str) -> Value {
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": text } })
}

fn clip(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut clipped: String = text.chars().take(limit).collect();
    clipped.push('…');
    clipped
}

/// What an approval button carries: the train and the version it was shown with, so a button
/// pressed after a re-cut cannot approve a different version.
pub fn button_value(train_id: i64, tag: Option<&str>) -> String {
    format!("{train_id}:{}", tag.unwrap_or(""))
}

/// Reads a button value back.
pub fn parse_button_value(value: &str) -> Option<(i64, Option<String>)> {
    let (id, tag) = value.split_once(':')?;
    let id = id.parse().ok()?;
    let tag = (!tag.is_empty()).then(|| tag.to_owned());
    Some((id, tag))
}

/// Slack's Approve / Reject buttons.
pub fn slack_approval_actions(train_id: i64, tag: Option<&str>) -> Value {
    let value = button_value(train_id, tag);
    json!({
        "type": "actions",
        "block_id": format!("train_approval:{train_id}"),
        "elements": [
            { "type": "button", "action_id": "approve", "style": "primary", "value": value,
              "text": { "type": "plain_text", "text": "Approve" } },
            { "type": "button", "action_id": "reject", "style": "danger", "value": value,
              "text": { "type": "plain_text", "text": "Reject" },
              "confirm": {
                  "title": { "type": "plain_text", "text": "Reject this train?" },
                  "text": { "type": "plain_text", "text": "It goes back to open for a re-cut." },
                  "confirm": { "type": "plain_text", "text": "Reject" },
                  "deny": { "type": "plain_text", "text": "Cancel" } } }
        ]
    })
}

/// Discord's Approve / Reject buttons (custom ids `approve:<value>`, `reject:<value>`).
pub fn discord_approval_components(train_id: i64, tag: Option<&str>) -> Vec<CreateActionRow> {
    let value = button_value(train_id, tag);
    vec![CreateActionRow::Buttons(vec![
        CreateButton::new(format!("approve:{value}"))
            .label("Approve")
            .style(ButtonStyle::Success),
        CreateButton::new(format!("reject:{value}"))
            .label("Reject")
            .style(ButtonStyle::Danger),
    ])]
}

/// Slack's Rollback button for a failed production deployment of a train.
pub fn slack_rollback_action(train_id: i64, environment: &str) -> Value {
    json!({
        "type": "actions",
        "block_id": format!("rollback:{train_id}"),
        "elements": [
            { "type": "button", "action_id": "rollback", "style": "danger",
              "value": button_value(train_id, Some(environment)),
              "text": { "type": "plain_text", "text": "Roll back" },
              "confirm": {
                  "title": { "type": "plain_text", "text": "Roll back?" },
                  "text": { "type": "plain_text",
                            "text": "The previous successful release is deployed again." },
                  "confirm": { "type": "plain_text", "text": "Roll back" },
                  "deny": { "type": "plain_text", "text": "Cancel" } } }
        ]
    })
}

/// Discord's Rollback button (custom id `rollback:<value>`, at most 100 characters).
pub fn discord_rollback_components(train_id: i64, environment: &str) -> Vec<CreateActionRow> {
    // Custom ids hold at most 100 characters.
    let custom_id: String = format!("rollback:{}", button_value(train_id, Some(environment)))
        .chars()
        .take(100)
        .collect();
    vec![CreateActionRow::Buttons(vec![
        CreateButton::new(custom_id)
            .label("Roll back")
            .style(ButtonStyle::Danger),
    ])]
}

/// A train event as a line of text.
pub fn event_text(event: &TrainEvent, repository: &str, line: &str, surface: Surface) -> String {
    let train = surface.bold(&format!("{repository} {line}"));
    match event {
        TrainEvent::Boarded { number, title } => {
            format!("#{number} boarded {train}: {}", surface.user(title))
        }
        TrainEvent::Left { number } => format!("#{number} left {train}"),
        TrainEvent::Cut {
            tag,
            target_sha,
            by,
            passengers,
            approvals_required,
            ..
        } => format!(
            "{train} was cut as {} at {} by {} with {passengers} pull request{}; {} approval{} \
             needed",
            surface.code(tag),
            surface.code(&target_sha.chars().take(7).collect::<String>()),
            surface.user(by),
            if *passengers == 1 { "" } else { "s" },
            approvals_required,
            if *approvals_required == 1 { "" } else { "s" }
        ),
        TrainEvent::Approved { by, have, required } => format!(
            "{} approved {train} ({have} of {required})",
            surface.user(by)
        ),
        TrainEvent::Rejected { by, reason } => format!(
            "{} rejected {train}: {}; it is open again for a re-cut",
            surface.user(by),
            surface.user(reason)
        ),
        TrainEvent::Released { tag, url } => match (url, surface) {
            (Some(url), Surface::Slack) => {
                format!("{train} released: <{url}|{}>", surface.user(tag))
            }
            (Some(url), _) => format!("{train} released: [{}](<{url}>)", surface.user(tag)),
            (None, _) => format!("{train} released: {}", surface.code(tag)),
        },
        TrainEvent::Blocked { reason } => {
            format!("{train} is blocked: {}", surface.user(reason))
        }
        TrainEvent::Candidate {
            tag,
            target_sha,
            by,
        } => format!(
            "{} asked for release candidate {} of {train} at {}; tagging and publishing a \
             pre-release",
            surface.user(by),
            surface.code(tag),
            surface.code(target_sha.get(..7).unwrap_or(target_sha))
        ),
        TrainEvent::CandidatePublished { tag, url } => match (url, surface) {
            (Some(url), Surface::Slack) => format!(
                "{train}: release candidate <{url}|{}> is published (pre-release)",
                surface.user(tag)
            ),
            (Some(url), _) => format!(
                "{train}: release candidate [{}](<{url}>) is published (pre-release)",
                surface.user(tag)
            ),
            (None, _) => format!(
                "{train}: release candidate {} is published (pre-release)",
                surface.code(tag)
            ),
        },
        TrainEvent::ChangelogProposed { number, refused } => match refused {
            Some(reason) => format!(
                "{train}: the branch refused the changelog commit ({}); the changelog is \
                 proposed in #{number} instead",
                surface.user(reason)
            ),
            None => format!("{train}: the changelog is proposed in #{number}"),
        },
        TrainEvent::TargetMoved { number, target_sha } => format!(
            "#{number} joined {train}; its frozen commit moved to {}: the next release \
             candidate tags it",
            surface.code(target_sha.get(..7).unwrap_or(target_sha))
        ),
        TrainEvent::Abandoned { by } => {
            format!("{train} was abandoned by {}", surface.user(by))
        }
        TrainEvent::PublishUndone { by, reason } => format!(
            "{} published the draft of {train} on GitHub; it is a draft again: {}",
            surface.user(by),
            surface.user(reason)
        ),
        TrainEvent::ConfigRefused { error } => format!(
            "{}: the new configuration was refused and the last good one stays in force: {}",
            surface.bold(repository),
            surface.user(error)
        ),
        TrainEvent::Deployment {
            environment,
            reference,
            state,
            by,
            detail,
            url,
            rollback,
            ..
        } => {
            let what = format!(
                "{} of {} to {}",
                if *rollback { "Rollback" } else { "Deployment" },
                surface.code(reference),
                surface.bold(&surface.user(environment))
            );
            let how = match state.as_str() {
                "requested" => format!("requested by {}", surface.user(by)),
                "refused" => "refused".to_owned(),
                "success" => "succeeded".to_owned(),
                "failure" => "failed".to_owned(),
                "error" => "errored".to_owned(),
                "in_progress" => "in progress".to_owned(),
                other => surface.user(other),
            };
            let detail = detail
                .as_deref()
                .filter(|d| !d.is_empty())
                .map(|d| format!(": {}", surface.user(d)))
                .unwrap_or_default();
            let link = match (url.as_deref(), surface) {
                (Some(url), Surface::Slack) => format!(" (<{url}|open>)"),
                (Some(url), _) => format!(" ([open](<{url}>))"),
                (None, _) => String::new(),
            };
            format!("{what} {how}{detail}{link}")
        }
        TrainEvent::DeploymentHeld {
            environment,
            reference,
            reason,
        } => format!(
            "Automatic deployment of {} to {} held: {}",
            surface.code(reference),
            surface.bold(&surface.user(environment)),
            surface.user(reason)
        ),
        TrainEvent::Verification {
            environment,
            reference,
            state,
            detail,
        } => {
            let (reference, environment, detail) = (
                surface.code(reference),
                surface.bold(&surface.user(environment)),
                surface.user(detail),
            );
            match state.as_str() {
                "baking" => format!("🍞 {reference} bakes on {environment}: {detail}"),
                "verified" => format!("✅ {reference} verified on {environment}: {detail}"),
                "breached" => {
                    format!("🚨 {reference} failed verification on {environment}: {detail}")
                }
                "skipped" => format!("⏭️ {reference}'s bake on {environment} skipped: {detail}"),
                "restored" => format!("🩹 {environment} restored to {reference}: {detail}"),
                "expired" | "superseded" => {
                    format!("⌛ {reference}'s bake on {environment} {state}: {detail}")
                }
                other => format!("{reference} on {environment}: {other}: {detail}"),
            }
        }
        TrainEvent::Gate {
            environment,
            reference,
            run_id,
            state,
            reason,
        } => format!(
            "Workflow run {run_id} deploying {} to {} {}: {}",
            surface.code(reference),
            surface.bold(&surface.user(environment)),
            match state.as_str() {
                "approved" => "approved",
                "rejected" => "rejected",
                _ => "waits",
            },
            surface.user(reason)
        ),
        TrainEvent::EnvironmentLock {
            environment,
            by,
            reason,
        } => match reason {
            Some(reason) => format!(
                "{} was locked by {}: {}",
                surface.bold(&surface.user(environment)),
                surface.user(by),
                surface.user(reason)
            ),
            None => format!(
                "{} was unlocked by {}",
                surface.bold(&surface.user(environment)),
                surface.user(by)
            ),
        },
        TrainEvent::CutReminder { cut_at, passengers } => {
            let at = jiff::Timestamp::from_millisecond(*cut_at)
                .map(|t| t.strftime("%H:%M UTC").to_string())
                .unwrap_or_default();
            format!(
                "{train} will be cut at {at} with {passengers} pull request{} on board; label \
                 what should ride it now",
                if *passengers == 1 { "" } else { "s" }
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn button_values_round_trip() {
        assert_eq!(
            parse_button_value(&button_value(7, Some("v1.2.0"))),
            Some((7, Some("v1.2.0".into())))
        );
        assert_eq!(parse_button_value("7:"), Some((7, None)));
        assert_eq!(parse_button_value("x:1"), None);
    }

    #[test]
    fn event_text_escapes_user_text() {
        let event = TrainEvent::Boarded {
            number: 3,
            title: "<!channel> @everyone".into(),
        };
        let slack = event_text(&event, "acme/api", "main", Surface::Slack);
        assert!(slack.contains("&lt;!channel&gt;"), "{slack}");
        let discord = event_text(&event, "acme/api", "main", Surface::Discord);
        assert!(!discord.contains("@everyone"), "{discord}");
    }
}
