//! The `/release …` grammar shared by Slack, Discord and GitHub comments. The surfaces only
//! find the text; this module turns it into a [`ChatCommand`] or a [`ParseError`] that names
//! the problem and suggests the closest command. `help` is generated from [`CommandName`], so
//! it cannot drift from what the parser accepts.

mod grammar;
#[cfg(test)]
mod tests;

use super::deploy::DeployCommand;
use super::ids::RepoFullName;
pub use super::spelling::closest;
use super::train::TrainCommand;
pub use grammar::{is_version, parse};

/// The repository and line a command is about; either may be left out where the channel is
/// routed to one repository (and the first line is meant).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// `owner/name`, when given.
    pub repo: Option<RepoFullName>,
    /// The train line, when given.
    pub line: Option<String>,
}

/// A parsed `/release` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatCommand {
    /// What commands there are.
    Help,
    /// The live trains of a repository.
    Status(Target),
    /// The open train's pull requests.
    Notes(Target),
    /// The body a cut would publish now, and what changed since the last preview.
    Preview(Target),
    /// Freeze the open train.
    Cut(Target),
    /// Tag and publish the frozen train's commit as its next release candidate.
    Candidate(Target),
    /// Approve the frozen train (the version, when given, must be the frozen one).
    Approve {
        /// Repository and line.
        target: Target,
        /// The version the approver means.
        version: Option<String>,
    },
    /// Send the frozen train back for a re-cut.
    Reject {
        /// Repository and line.
        target: Target,
        /// The version the rejecter means.
        version: Option<String>,
        /// Why.
        reason: String,
    },
    /// Open a hotfix train on the base version's release branch.
    Hotfix {
        /// Repository.
        target: Target,
        /// The release to fix.
        base: String,
    },
    /// Put a merged pull request on the train.
    Include {
        /// Repository and line.
        target: Target,
        /// The pull request.
        number: u64,
    },
    /// Take a pull request off the train.
    Exclude {
        /// Repository and line.
        target: Target,
        /// The pull request.
        number: u64,
    },
    /// End the train without a release.
    Abandon(Target),
    /// Deploy a released version (`None`: the latest) to an environment.
    Deploy {
        /// Repository.
        target: Target,
        /// The version or tag; `None` for `latest`.
        version: Option<String>,
        /// The environment.
        environment: String,
        /// `force <reason…>`: through a freeze window (admins).
        force: Option<String>,
    },
    /// Deploy the environment's previous successful release again.
    Rollback {
        /// Repository.
        target: Target,
        /// The environment.
        environment: String,
    },
    /// Hold an environment for a reason.
    Lock {
        /// Repository.
        target: Target,
        /// The environment.
        environment: String,
        /// Why.
        reason: String,
    },
    /// Release an environment.
    Unlock {
        /// Repository.
        target: Target,
        /// The environment.
        environment: String,
    },
    /// An environment's bake: shown, or skipped by an admin with a reason.
    Verify {
        /// Repository.
        target: Target,
        /// The environment.
        environment: String,
        /// `skip <reason…>`.
        skip: Option<String>,
    },
    /// What is deployed where, what is locked.
    Deploys(Target),
    /// The last audit records of a repository.
    Audit(Target),
    /// Release health over the last `days` days.
    Stats {
        /// The repository.
        target: Target,
        /// The window (1–365 days; 30 when not given).
        days: u16,
    },
    /// Link this chat user to a GitHub account.
    Link {
        /// The account the user means to sign in as (a hint to GitHub's sign-in page).
        login: Option<String>,
    },
    /// Forget this chat user's GitHub account.
    Unlink,
}

/// The command names, in help order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandName {
    /// `help`
    Help,
    /// `status`
    Status,
    /// `notes`
    Notes,
    /// `preview`
    Preview,
    /// `cut`
    Cut,
    /// `rc`
    Candidate,
    /// `approve`
    Approve,
    /// `reject`
    Reject,
    /// `hotfix`
    Hotfix,
    /// `include`
    Include,
    /// `exclude`
    Exclude,
    /// `abandon`
    Abandon,
    /// `deploy`
    Deploy,
    /// `rollback`
    Rollback,
    /// `lock`
    Lock,
    /// `unlock`
    Unlock,
    /// `verify`
    Verify,
    /// `deploys`
    Deploys,
    /// `audit`
    Audit,
    /// `stats`
    Stats,
    /// `link`
    Link,
    /// `unlink`
    Unlink,
}

impl CommandName {
    /// Every command, in the order help lists them.
    pub const ALL: [CommandName; 22] = [
        CommandName::Help,
        CommandName::Status,
        CommandName::Notes,
        CommandName::Preview,
        CommandName::Cut,
        CommandName::Candidate,
        CommandName::Approve,
        CommandName::Reject,
        CommandName::Hotfix,
        CommandName::Include,
        CommandName::Exclude,
        CommandName::Abandon,
        CommandName::Deploy,
        CommandName::Rollback,
        CommandName::Lock,
        CommandName::Unlock,
        CommandName::Deploys,
        CommandName::Verify,
        CommandName::Audit,
        CommandName::Stats,
        CommandName::Link,
        CommandName::Unlink,
    ];

    /// As typed.
    pub fn as_str(self) -> &'static str {
        match self {
            CommandName::Help => "help",
            CommandName::Status => "status",
            CommandName::Notes => "notes",
            CommandName::Preview => "preview",
            CommandName::Cut => "cut",
            CommandName::Candidate => "rc",
            CommandName::Approve => "approve",
            CommandName::Reject => "reject",
            CommandName::Hotfix => "hotfix",
            CommandName::Include => "include",
            CommandName::Exclude => "exclude",
            CommandName::Abandon => "abandon",
            CommandName::Deploy => "deploy",
            CommandName::Rollback => "rollback",
            CommandName::Lock => "lock",
            CommandName::Unlock => "unlock",
            CommandName::Deploys => "deploys",
            CommandName::Verify => "verify",
            CommandName::Audit => "audit",
            CommandName::Stats => "stats",
            CommandName::Link => "link",
            CommandName::Unlink => "unlink",
        }
    }

    /// Its arguments, as help shows them.
    pub fn arguments(self) -> &'static str {
        match self {
            CommandName::Help | CommandName::Unlink => "",
            CommandName::Status
            | CommandName::Notes
            | CommandName::Preview
            | CommandName::Cut
            | CommandName::Candidate
            | CommandName::Abandon => "[owner/repo] [line]",
            CommandName::Approve => "[owner/repo] [line] [version]",
            CommandName::Reject => "[owner/repo] [line] [version] <reason…>",
            CommandName::Hotfix => "[owner/repo] <base-version>",
            CommandName::Include | CommandName::Exclude => "[owner/repo] [line] #<pr>",
            CommandName::Link => "[github-login]",
            CommandName::Deploy => {
                "[owner/repo] <version|latest> to <environment> [force <reason…>]"
            }
            CommandName::Rollback | CommandName::Unlock => "[owner/repo] <environment>",
            CommandName::Lock => "[owner/repo] <environment> <reason…>",
            CommandName::Verify => "[owner/repo] <environment> [skip <reason…>]",
            CommandName::Deploys | CommandName::Audit => "[owner/repo]",
            CommandName::Stats => "[owner/repo] [days]",
        }
    }

    /// What it does, in one line.
    pub fn summary(self) -> &'static str {
        match self {
            CommandName::Help => "this list",
            CommandName::Status => "the live trains: state, version, pull requests, approvals",
            CommandName::Notes => "the pull requests on the train, by category",
            CommandName::Preview => {
                "the release notes a cut would publish now, and what changed since the last preview"
            }
            CommandName::Cut => "freeze the open train at the branch head; the next one opens",
            CommandName::Candidate => {
                "tag and publish the frozen commit as the next release candidate (pre-release)"
            }
            CommandName::Approve => "approve the frozen train; the last approval releases it",
            CommandName::Reject => "send the frozen train back for a re-cut",
            CommandName::Hotfix => "open a hotfix train on release/<major>.<minor>",
            CommandName::Include => "put a merged pull request on the train",
            CommandName::Exclude => "take a pull request off the train",
            CommandName::Abandon => "end the train without a release",
            CommandName::Deploy => "request a GitHub deployment of a release",
            CommandName::Rollback => "deploy the environment's previous successful release",
            CommandName::Lock => "hold an environment: only you deploy there until unlocked",
            CommandName::Unlock => "release an environment's lock",
            CommandName::Deploys => "what is deployed where, what is locked",
            CommandName::Verify => {
                "an environment's bake after a deployment; admins may skip it with a reason"
            }
            CommandName::Audit => "the last 10 audit records: who did what, how it ended",
            CommandName::Stats => "release health: lead time, frequency, failures, restores",
            CommandName::Link => "link your chat account to your GitHub account",
            CommandName::Unlink => "forget your linked GitHub account",
        }
    }

    /// Whether it may name a repository (`owner/repo`) first.
    fn takes_target(self) -> bool {
        !matches!(
            self,
            CommandName::Help | CommandName::Link | CommandName::Unlink
        )
    }

    /// `cut [owner/repo] [line]`.
    pub fn usage(self) -> String {
        match self.arguments() {
            "" => format!("/release {}", self.as_str()),
            args => format!("/release {} {args}", self.as_str()),
        }
    }

    fn parse(word: &str) -> Option<CommandName> {
        CommandName::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(word))
    }
}

impl ChatCommand {
    /// Its name.
    pub fn name(&self) -> CommandName {
        match self {
            ChatCommand::Help => CommandName::Help,
            ChatCommand::Status(_) => CommandName::Status,
            ChatCommand::Notes(_) => CommandName::Notes,
            ChatCommand::Preview(_) => CommandName::Preview,
            ChatCommand::Cut(_) => CommandName::Cut,
            ChatCommand::Candidate(_) => CommandName::Candidate,
            ChatCommand::Approve { .. } => CommandName::Approve,
            ChatCommand::Reject { .. } => CommandName::Reject,
            ChatCommand::Hotfix { .. } => CommandName::Hotfix,
            ChatCommand::Include { .. } => CommandName::Include,
            ChatCommand::Exclude { .. } => CommandName::Exclude,
            ChatCommand::Abandon(_) => CommandName::Abandon,
            ChatCommand::Deploy { .. } => CommandName::Deploy,
            ChatCommand::Rollback { .. } => CommandName::Rollback,
            ChatCommand::Lock { .. } => CommandName::Lock,
            ChatCommand::Unlock { .. } => CommandName::Unlock,
            ChatCommand::Deploys(_) => CommandName::Deploys,
            ChatCommand::Verify { .. } => CommandName::Verify,
            ChatCommand::Audit(_) => CommandName::Audit,
            ChatCommand::Stats { .. } => CommandName::Stats,
            ChatCommand::Link { .. } => CommandName::Link,
            ChatCommand::Unlink => CommandName::Unlink,
        }
    }

    /// The repository and line, for commands about a repository.
    pub fn target(&self) -> Option<&Target> {
        match self {
            ChatCommand::Help | ChatCommand::Link { .. } | ChatCommand::Unlink => None,
            ChatCommand::Status(t)
            | ChatCommand::Notes(t)
            | ChatCommand::Preview(t)
            | ChatCommand::Cut(t)
            | ChatCommand::Candidate(t)
            | ChatCommand::Abandon(t)
            | ChatCommand::Approve { target: t, .. }
            | ChatCommand::Reject { target: t, .. }
            | ChatCommand::Hotfix { target: t, .. }
            | ChatCommand::Include { target: t, .. }
            | ChatCommand::Exclude { target: t, .. }
            | ChatCommand::Deploy { target: t, .. }
            | ChatCommand::Rollback { target: t, .. }
            | ChatCommand::Lock { target: t, .. }
            | ChatCommand::Unlock { target: t, .. }
            | ChatCommand::Verify { target: t, .. }
            | ChatCommand::Deploys(t)
            | ChatCommand::Audit(t)
            | ChatCommand::Stats { target: t, .. } => Some(t),
        }
    }

    /// The train command it gives, for commands that change a train; `None` for those that
    /// only read (`help`, `status`, `notes`) or concern the user (`link`, `unlink`).
    pub fn train_command(&self) -> Option<TrainCommand> {
        Some(match self {
            ChatCommand::Help
            | ChatCommand::Status(_)
            | ChatCommand::Notes(_)
            | ChatCommand::Preview(_)
            | ChatCommand::Link { .. }
            | ChatCommand::Deploys(_)
            | ChatCommand::Audit(_)
            | ChatCommand::Stats { .. }
            | ChatCommand::Verify { skip: None, .. }
            | ChatCommand::Unlink => return None,
            ChatCommand::Verify {
                environment,
                skip: Some(reason),
                ..
            } => TrainCommand::Deploy(DeployCommand::SkipBake {
                environment: environment.clone(),
                reason: reason.clone(),
            }),
            ChatCommand::Cut(_) => TrainCommand::Cut,
            ChatCommand::Candidate(_) => TrainCommand::Candidate,
            ChatCommand::Approve { .. } => TrainCommand::Approve,
            ChatCommand::Reject { reason, .. } => TrainCommand::Reject {
                reason: reason.clone(),
            },
            ChatCommand::Hotfix { base, .. } => TrainCommand::Hotfix { base: base.clone() },
            ChatCommand::Include { number, .. } => TrainCommand::Include { number: *number },
            ChatCommand::Exclude { number, .. } => TrainCommand::Exclude { number: *number },
            ChatCommand::Abandon(_) => TrainCommand::Abandon,
            ChatCommand::Deploy {
                version,
                environment,
                force,
                ..
            } => TrainCommand::Deploy(DeployCommand::Deploy {
                version: version.clone(),
                environment: environment.clone(),
                force: force.clone(),
            }),
            ChatCommand::Rollback { environment, .. } => {
                TrainCommand::Deploy(DeployCommand::Rollback {
                    environment: environment.clone(),
                })
            }
            ChatCommand::Lock {
                environment,
                reason,
                ..
            } => TrainCommand::Deploy(DeployCommand::Lock {
                environment: environment.clone(),
                reason: reason.clone(),
            }),
            ChatCommand::Unlock { environment, .. } => {
                TrainCommand::Deploy(DeployCommand::Unlock {
                    environment: environment.clone(),
                })
            }
        })
    }

    /// The version an `approve` or `reject` names.
    pub fn version(&self) -> Option<&str> {
        match self {
            ChatCommand::Approve { version, .. } | ChatCommand::Reject { version, .. } => {
                version.as_deref()
            }
            _ => None,
        }
    }
}

/// Why text is not a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Nothing after `/release`.
    #[error("no command given; try `/release help`")]
    Empty,
    /// The first word is not a command.
    #[error("`{given}` is not a command{}; try `/release help`", suggestion(.did_you_mean))]
    UnknownCommand {
        /// What was typed.
        given: String,
        /// The closest command.
        did_you_mean: Option<&'static str>,
    },
    /// A required argument is missing.
    #[error("`{command}` needs {argument}: `{usage}`")]
    MissingArgument {
        /// The command.
        command: &'static str,
        /// What is missing.
        argument: &'static str,
        /// Its usage.
        usage: String,
    },
    /// An argument does not fit.
    #[error("`{given}` is not {expected}{}: `{usage}`", suggestion(.did_you_mean))]
    BadArgument {
        /// What was typed.
        given: String,
        /// What was expected there.
        expected: &'static str,
        /// The closest fit, when there is one.
        did_you_mean: Option<String>,
        /// The command's usage.
        usage: String,
    },
}

fn suggestion<S: AsRef<str>>(did_you_mean: &Option<S>) -> String {
    match did_you_mean {
        Some(s) => format!(" (did you mean `{}`?)", s.as_ref()),
        None => String::new(),
    }
}

/// The help text, generated from [`CommandName`].
pub fn help() -> String {
    let mut text = String::from("Commands:\n");
    for name in CommandName::ALL {
        text.push_str(&format!("• `{}` — {}\n", name.usage(), name.summary()));
    }
    text.push_str(
        "The repository may be left out in a channel routed to one repository; the line \
         defaults to the first configured one.",
    );
    text
}

/// Arguments are echoed in errors: keep them short.
fn clip(word: &str) -> String {
    let mut clipped: String = word.chars().take(40).collect();
    if clipped.len() < word.len() {
        clipped.push('…');
    }
    clipped
}

/// The `/release …` lines of a GitHub comment, in order: lines inside code blocks, block
/// quotes and inline code are not commands.
pub fn command_lines(markdown: &str) -> Vec<String> {
    use pulldown_cmark::{Event, Parser, Tag, TagEnd};
    let mut lines = Vec::new();
    let mut quoted = 0usize;
    let mut code = 0usize;
    let mut in_paragraph_text = String::new();
    let flush = |text: &mut String, lines: &mut Vec<String>| {
        for line in text.lines() {
            let line = line.trim();
            if line == "/release" || line.starts_with("/release ") {
                lines.push(line.to_owned());
            }
        }
        text.clear();
    };
    for event in Parser::new(markdown) {
        match event {
            Event::Start(Tag::BlockQuote(_)) => quoted += 1,
            Event::End(TagEnd::BlockQuote(_)) => quoted = quoted.saturating_sub(1),
            Event::Start(Tag::CodeBlock(_)) => code += 1,
            Event::End(TagEnd::CodeBlock) => code = code.saturating_sub(1),
            Event::Start(Tag::Paragraph) | Event::Start(Tag::Item) => {
                flush(&mut in_paragraph_text, &mut lines);
            }
            Event::End(TagEnd::Paragraph) | Event::End(TagEnd::Item) => {
                flush(&mut in_paragraph_text, &mut lines);
            }
            Event::Text(text) if quoted == 0 && code == 0 => in_paragraph_text.push_str(&text),
            // Inline code breaks a command: `/release cut` in backticks is an example.
            Event::Code(_) => in_paragraph_text.push('\u{1}'),
            Event::SoftBreak | Event::HardBreak => in_paragraph_text.push('\n'),
            _ => {}
        }
    }
    flush(&mut in_paragraph_text, &mut lines);
    lines.into_iter().filter(|l| !l.contains('\u{1}')).collect()
}

/// Command lines of an edited comment that were not in its previous body.
pub fn new_command_lines(body: &str, previous: Option<&str>) -> Vec<String> {
    let before = previous.map(command_lines).unwrap_or_default();
    command_lines(body)
        .into_iter()
        .filter(|line| !before.contains(line))
        .collect()
}
