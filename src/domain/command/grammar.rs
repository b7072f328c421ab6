//! The command grammar: a table from each command to the shape of its arguments, and one small
//! reader per shape; each mistake answered with what was expected there and the command's
//! usage.

use super::{ChatCommand, CommandName, ParseError, Target, clip};
use crate::domain::ids::RepoFullName;
use crate::domain::spelling::closest;

/// Train line names: short, no spaces or markup.
pub(super) fn is_line_name(word: &str) -> bool {
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
pub(super) fn is_login(word: &str) -> bool {
    (1..=39).contains(&word.len())
        && word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !word.starts_with('-')
        && !word.ends_with('-')
        && !word.contains("--")
}

pub(super) fn closest_command(word: &str) -> Option<&'static str> {
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
pub(super) type Grammar = fn(Args<'_>) -> Result<ChatCommand, ParseError>;

/// The grammar table: each command with the shape of its arguments.
pub(super) fn grammar(name: CommandName) -> Grammar {
    use CommandName as N;
    match name {
        N::Help => |_| Ok(ChatCommand::Help),
        N::Unlink => |args| args.nothing_more().map(|_| ChatCommand::Unlink),
        N::Link => link,
        N::Status => |args| args.line_only().map(ChatCommand::Status),
        N::Notes => |args| args.line_only().map(ChatCommand::Notes),
        N::Preview => |args| args.line_only().map(ChatCommand::Preview),
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
        N::Verify => verify,
        N::Stats => stats,
        N::Deploys => |args| args.nothing_more().map(ChatCommand::Deploys),
        N::Audit => |args| args.nothing_more().map(ChatCommand::Audit),
    }
}

/// The words of one command being read, and what has been read of them.
pub(super) struct Args<'a> {
    pub(super) name: CommandName,
    pub(super) usage: String,
    pub(super) rest: Vec<&'a str>,
    pub(super) target: Target,
}

impl<'a> Args<'a> {
    pub(super) fn bad(
        &self,
        given: &str,
        expected: &'static str,
        did_you_mean: Option<String>,
    ) -> ParseError {
        ParseError::BadArgument {
            given: clip(given),
            expected,
            did_you_mean,
            usage: self.usage.clone(),
        }
    }

    pub(super) fn too_many(&self, extra: &str) -> ParseError {
        self.bad(extra, "expected here", None)
    }

    pub(super) fn missing(&self, argument: &'static str) -> ParseError {
        ParseError::MissingArgument {
            command: self.name.as_str(),
            argument,
            usage: self.usage.clone(),
        }
    }

    /// A leading `owner/repo`.
    pub(super) fn take_repository(&mut self) -> Result<(), ParseError> {
        if let Some(word) = self.rest.first().filter(|w| w.contains('/')) {
            let repo = RepoFullName::parse(word)
                .map_err(|_| self.bad(word, "a repository (owner/name)", None))?;
            self.target.repo = Some(repo);
            self.rest.remove(0);
        }
        Ok(())
    }

    /// Nothing after the repository.
    pub(super) fn nothing_more(self) -> Result<Target, ParseError> {
        match self.rest.first() {
            Some(extra) => Err(self.too_many(extra)),
            None => Ok(self.target),
        }
    }

    /// At most a line name.
    pub(super) fn line_only(mut self) -> Result<Target, ParseError> {
        match self.rest.as_slice() {
            [] => {}
            [line] if is_line_name(line) => self.target.line = Some((*line).to_owned()),
            [line] => return Err(self.bad(line, "a train line name", None)),
            [_, extra, ..] => return Err(self.too_many(extra)),
        }
        Ok(self.target)
    }

    /// `[line] [version]` at the front, as approve and reject take them.
    pub(super) fn line_and_version(&mut self) -> Option<String> {
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
    pub(super) fn environment(&self, word: &str) -> Result<String, ParseError> {
        environment_name(word).ok_or_else(|| self.bad(word, "an environment name", None))
    }
}

pub(super) fn link(args: Args<'_>) -> Result<ChatCommand, ParseError> {
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

pub(super) fn approve(mut args: Args<'_>) -> Result<ChatCommand, ParseError> {
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

pub(super) fn reject(mut args: Args<'_>) -> Result<ChatCommand, ParseError> {
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

pub(super) fn hotfix(args: Args<'_>) -> Result<ChatCommand, ParseError> {
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
pub(super) fn pull_request(mut args: Args<'_>) -> Result<(Target, u64), ParseError> {
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
pub(super) fn deploy(args: Args<'_>) -> Result<ChatCommand, ParseError> {
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
pub(super) fn environment_only(args: Args<'_>) -> Result<(Target, String), ParseError> {
    let environment = match args.rest.as_slice() {
        [] => return Err(args.missing("an environment")),
        [environment] => args.environment(environment)?,
        [_, extra, ..] => return Err(args.too_many(extra)),
    };
    Ok((args.target, environment))
}

pub(super) fn lock(args: Args<'_>) -> Result<ChatCommand, ParseError> {
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

/// `<environment> [skip <reason…>]`.
pub(super) fn verify(args: Args<'_>) -> Result<ChatCommand, ParseError> {
    let Some((environment, rest)) = args.rest.split_first() else {
        return Err(args.missing("an environment"));
    };
    let environment = args.environment(environment)?;
    let skip = match rest {
        [] => None,
        [word, reason @ ..] if word.eq_ignore_ascii_case("skip") => {
            let reason = reason.join(" ");
            if reason.is_empty() {
                return Err(args.missing("a reason to skip the bake"));
            }
            Some(reason.chars().take(500).collect())
        }
        [extra, ..] => return Err(args.bad(extra, "`skip <reason…>`", None)),
    };
    Ok(ChatCommand::Verify {
        target: args.target,
        environment,
        skip,
    })
}

pub(super) fn stats(args: Args<'_>) -> Result<ChatCommand, ParseError> {
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
pub(super) fn environment_name(word: &str) -> Option<String> {
    ((1..=255).contains(&word.len()) && !word.chars().any(|c| c.is_control() || c == '/'))
        .then(|| word.to_owned())
}

pub(super) fn pull_request_number(word: &str) -> Option<u64> {
    let digits = word.strip_prefix('#').unwrap_or(word);
    if digits.is_empty() || digits.len() > 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n > 0)
}
