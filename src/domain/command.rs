//! The `/release …` grammar shared by Slack, Discord and GitHub comments. The surfaces only
//! find the text; this module turns it into a [`ChatCommand`] or a [`ParseError`] that names
//! the problem and suggests the closest command. `help` is generated from [`CommandName`], so
//! it cannot drift from what the parser accepts.

use super::deploy::DeployCommand;
use super::ids::RepoFullName;
use super::train::TrainCommand;

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
    pub const ALL: [CommandName; 20] = [
        CommandName::Help,
        CommandName::Status,
        CommandName::Notes,
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
            | ChatCommand::Link { .. }
            | ChatCommand::Deploys(_)
            | ChatCommand::Audit(_)
            | ChatCommand::Stats { .. }
            | ChatCommand::Unlink => return None,
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

/// Train line names: short, no spaces or markup.
fn is_line_name(word: &str) -> bool {
    (1..=64).contains(&word.len())
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !word.starts_with('-')
}

/// Versions as people type them: `1.2.3`, `v1.2.3`, `api-v1.2.3-rc.1`, `2026.11.0`.
pub fn is_version(word: &str) -> bool {
    let core = word.trim_start_matches(|c: char| c.is_ascii_alphabetic() || c == '-');
    let (numbers, rest) = match core.find(['-', '+']) {
        Some(i) => (&core[..i], &core[i..]),
        None => (core, ""),
    };
    let parts: Vec<&str> = numbers.split('.').collect();
    word.len() <= 100
        && (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit()))
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.'))
}

/// GitHub logins: 1–39 characters, alphanumerics and single inner hyphens.
fn is_login(word: &str) -> bool {
    (1..=39).contains(&word.len())
        && word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !word.starts_with('-')
        && !word.ends_with('-')
        && !word.contains("--")
}

pub use super::spelling::closest;

fn closest_command(word: &str) -> Option<&'static str> {
    closest(word, CommandName::ALL.map(CommandName::as_str))
}

/// Parses the text after `/release` (a leading `/release` is accepted too).
pub fn parse(text: &str) -> Result<ChatCommand, ParseError> {
    let text = text.trim();
    let text = text
        .strip_prefix("/release")
        .filter(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace))
        .unwrap_or(text);
    let mut words = text.split_whitespace();
    let Some(first) = words.next() else {
        return Err(ParseError::Empty);
    };
    let Some(name) = CommandName::parse(first) else {
        return Err(ParseError::UnknownCommand {
            given: clip(first),
            did_you_mean: closest_command(first),
        });
    };
    let mut args = Args {
        name,
        usage: name.usage(),
        rest: words.collect(),
        target: Target::default(),
    };
    if name.takes_target() {
        args.take_repository()?;
    }
    (grammar(name))(args)
}

/// How one command's words after the repository are read.
type Grammar = fn(Args<'_>) -> Result<ChatCommand, ParseError>;

/// The grammar table: each command with the shape of its arguments.
fn grammar(name: CommandName) -> Grammar {
    use CommandName as N;
    match name {
        N::Help => |_| Ok(ChatCommand::Help),
        N::Unlink => |args| args.nothing_more().map(|_| ChatCommand::Unlink),
        N::Link => link,
        N::Status => |args| args.line_only().map(ChatCommand::Status),
        N::Notes => |args| args.line_only().map(ChatCommand::Notes),
        N::Cut => |args| args.line_only().map(ChatCommand::Cut),
        N::Candidate => |args| args.line_only().map(ChatCommand::Candidate),
        N::Abandon => |args| args.line_only().map(ChatCommand::Abandon),
        N::Approve => approve,
        N::Reject => reject,
        N::Hotfix => hotfix,
        N::Include => |args| {
            pull_request(args).map(|(target, number)| ChatCommand::Include { target, number })
        },
        N::Exclude => |args| {
            pull_request(args).map(|(target, number)| ChatCommand::Exclude { target, number })
        },
        N::Deploy => deploy,
        N::Rollback => |args| {
            environment_only(args).map(|(target, environment)| ChatCommand::Rollback {
                target,
                environment,
            })
        },
        N::Unlock => |args| {
            environment_only(args).map(|(target, environment)| ChatCommand::Unlock {
                target,
                environment,
            })
        },
        N::Lock => lock,
        N::Stats => stats,
        N::Deploys => |args| args.nothing_more().map(ChatCommand::Deploys),
        N::Audit => |args| args.nothing_more().map(ChatCommand::Audit),
    }
}

/// The words of one command being read, and what has been read of them.
struct Args<'a> {
    name: CommandName,
    usage: String,
    rest: Vec<&'a str>,
    target: Target,
}

impl<'a> Args<'a> {
    fn bad(&self, given: &str, expected: &'static str, did_you_mean: Option<String>) -> ParseError {
        ParseError::BadArgument {
            given: clip(given),
            expected,
            did_you_mean,
            usage: self.usage.clone(),
        }
    }

    fn too_many(&self, extra: &str) -> ParseError {
        self.bad(extra, "expected here", None)
    }

    fn missing(&self, argument: &'static str) -> ParseError {
        ParseError::MissingArgument {
            command: self.name.as_str(),
            argument,
            usage: self.usage.clone(),
        }
    }

    /// A leading `owner/repo`.
    fn take_repository(&mut self) -> Result<(), ParseError> {
        if let Some(word) = self.rest.first().filter(|w| w.contains('/')) {
            let repo = RepoFullName::parse(word)
                .map_err(|_| self.bad(word, "a repository (owner/name)", None))?;
            self.target.repo = Some(repo);
            self.rest.remove(0);
        }
        Ok(())
    }

    /// Nothing after the repository.
    fn nothing_more(self) -> Result<Target, ParseError> {
        match self.rest.first() {
            Some(extra) => Err(self.too_many(extra)),
            None => Ok(self.target),
        }
    }

    /// At most a line name.
    fn line_only(mut self) -> Result<Target, ParseError> {
        match self.rest.as_slice() {
            [] => {}
            [line] if is_line_name(line) => self.target.line = Some((*line).to_owned()),
            [line] => return Err(self.bad(line, "a train line name", None)),
            [_, extra, ..] => return Err(self.too_many(extra)),
        }
        Ok(self.target)
    }

    /// `[line] [version]` at the front, as approve and reject take them.
    fn line_and_version(&mut self) -> Option<String> {
        let rest = &mut self.rest;
        if rest.len() >= 2 && is_line_name(rest[0]) && !is_version(rest[0]) && is_version(rest[1]) {
            self.target.line = Some(rest.remove(0).to_owned());
        }
        let version = rest
            .first()
            .filter(|w| is_version(w))
            .map(|w| (*w).to_owned());
        if version.is_some() {
            rest.remove(0);
        }
        version
    }

    /// An environment name where `word` stands.
    fn environment(&self, word: &str) -> Result<String, ParseError> {
        environment_name(word).ok_or_else(|| self.bad(word, "an environment name", None))
    }
}

fn link(args: Args<'_>) -> Result<ChatCommand, ParseError> {
    let login = match args.rest.as_slice() {
        [] => None,
        [login] => {
            let login = login.trim_start_matches('@');
            if !is_login(login) {
                return Err(args.bad(login, "a GitHub login", None));
            }
            Some(login.to_owned())
        }
        [_, extra, ..] => return Err(args.too_many(extra)),
    };
    Ok(ChatCommand::Link { login })
}

fn approve(mut args: Args<'_>) -> Result<ChatCommand, ParseError> {
    let version = args.line_and_version();
    match args.rest.as_slice() {
        [] => {}
        [line] if args.target.line.is_none() && version.is_none() && is_line_name(line) => {
            args.target.line = Some((*line).to_owned());
        }
        [extra, ..] => return Err(args.too_many(extra)),
    }
    Ok(ChatCommand::Approve {
        target: args.target,
        version,
    })
}

fn reject(mut args: Args<'_>) -> Result<ChatCommand, ParseError> {
    let version = args.line_and_version();
    let reason = args.rest.join(" ");
    if reason.is_empty() {
        return Err(args.missing("a reason"));
    }
    Ok(ChatCommand::Reject {
        target: args.target,
        version,
        reason: reason.chars().take(500).collect(),
    })
}

fn hotfix(args: Args<'_>) -> Result<ChatCommand, ParseError> {
    match args.rest.as_slice() {
        [] => Err(args.missing("the version to fix")),
        [base] if is_version(base) => Ok(ChatCommand::Hotfix {
            base: (*base).to_owned(),
            target: args.target,
        }),
        [base] => Err(args.bad(base, "a version", None)),
        [_, extra, ..] => Err(args.too_many(extra)),
    }
}

/// `[line] <#number>`, as include and exclude take it.
fn pull_request(mut args: Args<'_>) -> Result<(Target, u64), ParseError> {
    if args.rest.len() == 2 && is_line_name(args.rest[0]) {
        args.target.line = Some(args.rest.remove(0).to_owned());
    }
    let number = match args.rest.as_slice() {
        [] => return Err(args.missing("a pull request number")),
        [pr] => pull_request_number(pr).ok_or_else(|| {
            let digits: String = pr.chars().filter(char::is_ascii_digit).collect();
            let hint = (!digits.is_empty() && digits.len() <= 10).then(|| format!("#{digits}"));
            args.bad(pr, "a pull request number (#123)", hint)
        })?,
        [_, extra, ..] => return Err(args.too_many(extra)),
    };
    Ok((args.target, number))
}

/// `<version|latest> to <environment> [force <reason…>]`; "to" may be left out.
fn deploy(args: Args<'_>) -> Result<ChatCommand, ParseError> {
    let (what, environment, tail) = match args.rest.as_slice() {
        [] | [_] => return Err(args.missing("a version and an environment")),
        [_, to] if to.eq_ignore_ascii_case("to") => {
            return Err(ParseError::MissingArgument {
                command: "deploy",
                argument: "an environment",
                usage: format!("{} (after `{to}`)", args.usage),
            });
        }
        [what, to, environment, tail @ ..] if to.eq_ignore_ascii_case("to") => {
            (*what, *environment, tail)
        }
        [what, environment, tail @ ..] => (*what, *environment, tail),
    };
    let force = match tail {
        [] => None,
        [word, reason @ ..] if word.eq_ignore_ascii_case("force") => {
            if reason.is_empty() {
                return Err(ParseError::MissingArgument {
                    command: "deploy",
                    argument: "a reason to force it",
                    usage: format!("{} force <reason…>", args.usage),
                });
            }
            Some(reason.join(" ").chars().take(500).collect())
        }
        [extra, ..] => return Err(args.too_many(extra)),
    };
    let version = if what.eq_ignore_ascii_case("latest") {
        None
    } else if is_version(what) {
        Some(what.to_owned())
    } else {
        return Err(args.bad(what, "a version or `latest`", None));
    };
    let environment = args.environment(environment)?;
    Ok(ChatCommand::Deploy {
        target: args.target,
        version,
        environment,
        force,
    })
}

/// `<environment>`, as rollback and unlock take it.
fn environment_only(args: Args<'_>) -> Result<(Target, String), ParseError> {
    let environment = match args.rest.as_slice() {
        [] => return Err(args.missing("an environment")),
        [environment] => args.environment(environment)?,
        [_, extra, ..] => return Err(args.too_many(extra)),
    };
    Ok((args.target, environment))
}

fn lock(args: Args<'_>) -> Result<ChatCommand, ParseError> {
    let Some((environment, reason)) = args.rest.split_first() else {
        return Err(args.missing("an environment and a reason"));
    };
    let environment = args.environment(environment)?;
    let reason = reason.join(" ");
    if reason.is_empty() {
        return Err(args.missing("a reason"));
    }
    Ok(ChatCommand::Lock {
        target: args.target,
        environment,
        reason: reason.chars().take(500).collect(),
    })
}

fn stats(args: Args<'_>) -> Result<ChatCommand, ParseError> {
    let days = match args.rest.as_slice() {
        [] => 30,
        [days] => days
            .parse::<u16>()
            .ok()
            .filter(|d| (1..=365).contains(d))
            .ok_or_else(|| args.bad(days, "a number of days (1–365)", None))?,
        [_, extra, ..] => return Err(args.too_many(extra)),
    };
    Ok(ChatCommand::Stats {
        target: args.target,
        days,
    })
}

/// GitHub environment names: up to 255 characters, no `/` or control characters.
fn environment_name(word: &str) -> Option<String> {
    ((1..=255).contains(&word.len()) && !word.chars().any(|c| c.is_control() || c == '/'))
        .then(|| word.to_owned())
}

fn pull_request_number(word: &str) -> Option<u64> {
    let digits = word.strip_prefix('#').unwrap_or(word);
    if digits.is_empty() || digits.len() > 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n > 0)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(name: &str) -> Option<RepoFullName> {
        Some(RepoFullName::parse(name).expect("repo"))
    }

    #[test]
    fn every_command_in_help_parses_from_its_usage() {
        let text = help();
        for name in CommandName::ALL {
            assert!(text.contains(&name.usage()), "{text}");
            let example = match name {
                CommandName::Reject => "reject broken build".to_owned(),
                CommandName::Hotfix => "hotfix 1.2.0".to_owned(),
                CommandName::Include | CommandName::Exclude => format!("{} #4", name.as_str()),
                CommandName::Deploy => "deploy v1.2.0 to production".to_owned(),
                CommandName::Rollback | CommandName::Unlock => {
                    format!("{} staging", name.as_str())
                }
                CommandName::Lock => "lock production database migration".to_owned(),
                _ => name.as_str().to_owned(),
            };
            assert_eq!(parse(&example).expect(&example).name(), name);
        }
    }

    #[test]
    fn targets_lines_and_versions() {
        assert_eq!(
            parse("/release cut acme/api backend"),
            Ok(ChatCommand::Cut(Target {
                repo: repo("acme/api"),
                line: Some("backend".into())
            }))
        );
        assert_eq!(
            parse("approve acme/api v1.4.0"),
            Ok(ChatCommand::Approve {
                target: Target {
                    repo: repo("acme/api"),
                    line: None
                },
                version: Some("v1.4.0".into())
            })
        );
        assert_eq!(
            parse("APPROVE web 2026.11.0"),
            Ok(ChatCommand::Approve {
                target: Target {
                    repo: None,
                    line: Some("web".into())
                },
                version: Some("2026.11.0".into())
            })
        );
        assert_eq!(
            parse("reject 1.4.0 the migration is   not ready"),
            Ok(ChatCommand::Reject {
                target: Target::default(),
                version: Some("1.4.0".into()),
                reason: "the migration is not ready".into()
            })
        );
        assert_eq!(
            parse("include #12"),
            Ok(ChatCommand::Include {
                target: Target::default(),
                number: 12
            })
        );
        assert_eq!(
            parse("exclude acme/api api 12"),
            Ok(ChatCommand::Exclude {
                target: Target {
                    repo: repo("acme/api"),
                    line: Some("api".into())
                },
                number: 12
            })
        );
        assert_eq!(
            parse("link @octo-cat"),
            Ok(ChatCommand::Link {
                login: Some("octo-cat".into())
            })
        );
    }

    #[test]
    fn deployment_commands_parse_with_or_without_to() {
        assert_eq!(
            parse("/release deploy acme/api latest to production"),
            Ok(ChatCommand::Deploy {
                target: Target {
                    repo: repo("acme/api"),
                    line: None
                },
                version: None,
                environment: "production".into(),
                force: None
            })
        );
        assert_eq!(
            parse("deploy v1.4.0 staging"),
            Ok(ChatCommand::Deploy {
                target: Target::default(),
                version: Some("v1.4.0".into()),
                environment: "staging".into(),
                force: None
            })
        );
        assert_eq!(
            parse("deploy 1.4.0 to production force outage fix"),
            Ok(ChatCommand::Deploy {
                target: Target::default(),
                version: Some("1.4.0".into()),
                environment: "production".into(),
                force: Some("outage fix".into())
            })
        );
        assert_eq!(
            parse("lock production db migration running"),
            Ok(ChatCommand::Lock {
                target: Target::default(),
                environment: "production".into(),
                reason: "db migration running".into()
            })
        );
        assert!(parse("deploy soon to production").is_err());
        assert!(parse("rollback a/b/c").is_err());
    }

    #[test]
    fn errors_name_the_problem_and_suggest() {
        assert_eq!(
            parse("aprove").expect_err("typo").to_string(),
            "`aprove` is not a command (did you mean `approve`?); try `/release help`"
        );
        assert_eq!(
            parse("deploy acme/api")
                .expect_err("incomplete")
                .to_string(),
            "`deploy` needs a version and an environment: \
             `/release deploy [owner/repo] <version|latest> to <environment> [force <reason…>]`"
        );
        assert_eq!(
            parse("deploy 1.4.0 to")
                .expect_err("no environment")
                .to_string(),
            "`deploy` needs an environment: \
             `/release deploy [owner/repo] <version|latest> to <environment> [force <reason…>] \
             (after `to`)`"
        );
        assert_eq!(
            parse("lock production").expect_err("no reason").to_string(),
            "`lock` needs a reason: `/release lock [owner/repo] <environment> <reason…>`"
        );
        assert_eq!(
            parse("").expect_err("empty").to_string(),
            "no command given; try `/release help`"
        );
        assert_eq!(
            parse("include 12a").expect_err("bad").to_string(),
            "`12a` is not a pull request number (#123) (did you mean `#12`?): \
             `/release include [owner/repo] [line] #<pr>`"
        );
        assert_eq!(
            parse("reject").expect_err("reason").to_string(),
            "`reject` needs a reason: `/release reject [owner/repo] [line] [version] <reason…>`"
        );
        assert_eq!(
            parse("hotfix latest").expect_err("version").to_string(),
            "`latest` is not a version: `/release hotfix [owner/repo] <base-version>`"
        );
        assert!(matches!(
            parse("cut acme/api/x"),
            Err(ParseError::BadArgument {
                expected: "a repository (owner/name)",
                ..
            })
        ));
        assert!(matches!(
            parse("cut <!channel>"),
            Err(ParseError::BadArgument {
                expected: "a train line name",
                ..
            })
        ));
        assert!(matches!(
            parse("status a b"),
            Err(ParseError::BadArgument { .. })
        ));
        let long = "x".repeat(5000);
        let message = parse(&long).expect_err("long").to_string();
        assert!(message.len() < 120, "{message}");
    }

    #[test]
    fn comment_commands_skip_code_and_quotes() {
        let body = "Thanks!\n/release include #12\n\n> /release cut\n\n```\n/release abandon\n```\n\n\
                    Use `/release cut` to cut.\n\n    /release approve\n\n- /release status\n";
        assert_eq!(
            command_lines(body),
            ["/release include #12", "/release status"]
        );
        assert_eq!(
            new_command_lines(
                "/release include #12\n/release exclude #3",
                Some("/release include #12")
            ),
            ["/release exclude #3"]
        );
        assert!(command_lines("/released today").is_empty());
    }

    #[test]
    fn versions() {
        for v in [
            "1.2.3",
            "v1.2.3",
            "api-v1.2.3-rc.1",
            "2026.11.0",
            "2026.11",
            "v1.0.0+b.1",
        ] {
            assert!(is_version(v), "{v}");
        }
        for v in ["latest", "1", "v1..2", "1.2.3.4", "<@U123>"] {
            assert!(!is_version(v), "{v}");
        }
    }
}
