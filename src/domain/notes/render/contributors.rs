//! Who contributed: pull request and commit authors, bots last, the new contributors section.

use crate::domain::notes::changes::{Commit, CommitAuthor, PullRequest};
use crate::domain::notes::config::{NotesConfig, NotesLayout};
use crate::domain::notes::template::{self, Variables};
use std::collections::HashMap;
use std::fmt::Write as _;

/// Authors of the commits of each pull request, in commit order.
pub(super) struct CommitAuthors<'a> {
    by_number: HashMap<u64, Vec<(&'a str, &'a CommitAuthor)>, BuildNumberHasher>,
}

/// Pull request numbers are small integers: a multiplicative hash is enough and much cheaper
/// than SipHash here (no untrusted key choice: the numbers come from GitHub).
pub(super) type BuildNumberHasher = std::hash::BuildHasherDefault<NumberHasher>;

#[derive(Default)]
pub(super) struct NumberHasher(u64);

impl std::hash::Hasher for NumberHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl<'a> CommitAuthors<'a> {
    pub(super) fn index(commits: &'a [Commit]) -> CommitAuthors<'a> {
        let mut by_number: HashMap<u64, Vec<(&str, &CommitAuthor)>, BuildNumberHasher> =
            HashMap::default();
        for commit in commits {
            for (repo, number) in &commit.pull_requests {
                by_number
                    .entry(*number)
                    .or_default()
                    .extend(commit.authors.iter().map(|a| (repo.as_str(), a)));
            }
        }
        CommitAuthors { by_number }
    }

    pub(super) fn of<'s>(
        &'s self,
        pr: &'s PullRequest,
    ) -> impl Iterator<Item = &'a CommitAuthor> + 's {
        self.by_number
            .get(&pr.number)
            .into_iter()
            .flatten()
            .filter(|(repo, _)| *repo == pr.base_repository)
            .map(|(_, author)| *author)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Contributor {
    Login {
        login: String,
        bot_url: Option<String>,
    },
    Name(String),
}

impl Contributor {
    pub(super) fn sort_name(&self) -> &str {
        match self {
            Contributor::Login { login, .. } => login,
            Contributor::Name(name) => name,
        }
    }

    pub(super) fn is_bot(&self) -> bool {
        matches!(self, Contributor::Login { login, bot_url } if bot_url.is_some() || login.ends_with("[bot]"))
    }

    /// `@login`, or a link to the App for a `[bot]` login.
    pub(super) fn mention_login_into(out: &mut String, login: &str, server_url: &str) {
        match login.strip_suffix("[bot]") {
            Some(app) => {
                let _ = write!(
                    out,
                    "[@{login}]({}/apps/{app})",
                    server_url.trim_end_matches('/')
                );
            }
            None => {
                out.push('@');
                out.push_str(login);
            }
        }
    }

    pub(super) fn mention(&self, server_url: &str) -> String {
        match self {
            Contributor::Name(name) => name.clone(),
            Contributor::Login { login, bot_url } => match login.strip_suffix("[bot]") {
                Some(app) => {
                    let url = bot_url.clone().unwrap_or_else(|| {
                        format!("{}/apps/{app}", server_url.trim_end_matches('/'))
                    });
                    format!("[@{login}]({url})")
                }
                None => format!("@{login}"),
            },
        }
    }
}

/// Contributors of `prs` (commit authors of their commits, and their authors), ordered as
/// release-drafter: pull request authors first, bots last, then by name.
pub(super) fn contributors<'p>(
    prs: &[&'p PullRequest],
    authors: &CommitAuthors<'p>,
    exclude: &[String],
) -> Vec<Contributor> {
    // Borrowed while collecting (thousands of pull requests, a few hundred people); owned
    // only for the people found. A later entry replaces an earlier one: a pull request's
    // author (with its bot link) overrides the same login seen as a commit author.
    #[derive(Clone, Copy)]
    struct Seen<'a> {
        /// Login without any `[bot]` suffix, or a git name.
        bare: &'a str,
        is_login: bool,
        is_bot: bool,
        bot_url: Option<&'a str>,
    }
    let login_seen = |login: &'p str, is_bot: bool, bot_url: Option<&'p str>| Seen {
        bare: login.strip_suffix("[bot]").unwrap_or(login),
        is_login: true,
        is_bot: is_bot || login.ends_with("[bot]"),
        bot_url,
    };
    let mut index: HashMap<(bool, bool, &str), usize> = HashMap::new();
    let mut list: Vec<Seen<'_>> = Vec::new();
    let mut put = |seen: Seen<'p>, list: &mut Vec<Seen<'p>>| {
        let key = (seen.is_login, seen.is_bot, seen.bare);
        match index.get(&key) {
            Some(&i) => list[i] = seen,
            None => {
                index.insert(key, list.len());
                list.push(seen);
            }
        }
    };
    for pr in prs {
        for author in authors.of(pr) {
            let seen = match author {
                CommitAuthor::User(login) => login_seen(login, false, None),
                CommitAuthor::Name(name) => Seen {
                    bare: name,
                    is_login: false,
                    is_bot: false,
                    bot_url: None,
                },
            };
            put(seen, &mut list);
        }
    }
    let mut pr_authors: std::collections::HashSet<(bool, &str)> = std::collections::HashSet::new();
    for pr in prs {
        if let Some(author) = &pr.author {
            let seen = login_seen(
                &author.login,
                author.is_bot,
                author.is_bot.then_some(author.url.as_str()),
            );
            pr_authors.insert((seen.is_bot, seen.bare));
            put(seen, &mut list);
        }
    }
    let mut people: Vec<(bool, bool, Contributor)> = list
        .into_iter()
        .filter_map(|seen| {
            if !seen.is_login {
                return Some((true, false, Contributor::Name(seen.bare.to_owned())));
            }
            // As release-drafter: `name` or `name[bot]` both exclude a bot.
            let excluded = exclude.iter().any(|e| {
                e == seen.bare || (seen.is_bot && e.strip_suffix("[bot]") == Some(seen.bare))
            });
            if excluded {
                return None;
            }
            let login = if seen.is_bot {
                format!("{}[bot]", seen.bare)
            } else {
                seen.bare.to_owned()
            };
            let is_author = pr_authors.contains(&(seen.is_bot, seen.bare));
            let contributor = Contributor::Login {
                login,
                bot_url: seen.bot_url.map(str::to_owned),
            };
            Some((!is_author, contributor.is_bot(), contributor))
        })
        .collect();
    people.sort_by(|a, b| {
        (a.0, a.1)
            .cmp(&(b.0, b.1))
            .then_with(|| cmp_ignoring_case(a.2.sort_name(), b.2.sort_name()))
    });
    people.into_iter().map(|(_, _, c)| c).collect()
}

pub(super) fn contributors_sentence(
    prs: &[&PullRequest],
    authors: &CommitAuthors<'_>,
    exclude: &[String],
    none: &str,
    server_url: &str,
) -> String {
    let list = contributors(prs, authors, exclude);
    let mentions: Vec<String> = list.iter().map(|c| c.mention(server_url)).collect();
    match mentions.as_slice() {
        [] => none.to_owned(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Whether a template asks for `$NEW_CONTRIBUTORS` (finding them costs GitHub calls).
pub fn wants_new_contributors(config: &NotesConfig) -> bool {
    config.layout == NotesLayout::GitHub
        || [&config.header, &config.template, &config.footer]
            .iter()
            .any(|t| t.contains("$NEW_CONTRIBUTORS"))
}

/// Each new contributor's first pull request among `prs` (the earliest merge; `first` are
/// the new logins, `excluded` left out), in merge order.
pub(super) fn first_pull_requests<'a>(
    prs: &'a [PullRequest],
    first: &[String],
    excluded: &[String],
) -> Vec<&'a PullRequest> {
    let mut firsts: Vec<&PullRequest> = Vec::new();
    for pr in prs {
        let Some(author) = &pr.author else {
            continue;
        };
        let login = author.login.as_str();
        if !first.iter().any(|f| f.eq_ignore_ascii_case(login))
            || excluded.iter().any(|e| e == login)
        {
            continue;
        }
        let same_author = |f: &&PullRequest| {
            f.author
                .as_ref()
                .is_some_and(|a| a.login.eq_ignore_ascii_case(login))
        };
        match firsts.iter_mut().find(|f| same_author(f)) {
            Some(earlier) if (&pr.merged_at, pr.number) < (&earlier.merged_at, earlier.number) => {
                *earlier = pr
            }
            Some(_) => {}
            None => firsts.push(pr),
        }
    }
    firsts.sort_by(|a, b| (&a.merged_at, a.number).cmp(&(&b.merged_at, b.number)));
    firsts
}

/// release-drafter's `$NEW_CONTRIBUTORS`: each new contributor's first pull request of the
/// range, when that one is listed, through `new-contributor-template`, one a line, in merge
/// order; `no-new-contributor-template` when there is nobody.
pub(super) fn new_contributors_list(
    config: &NotesConfig,
    all: &[PullRequest],
    included: &[&PullRequest],
    first: &[String],
) -> String {
    let mut firsts = first_pull_requests(all, first, &config.exclude_contributors);
    firsts.retain(|pr| included.iter().any(|i| std::ptr::eq(*i, *pr)));
    if firsts.is_empty() {
        return config.no_new_contributor_template.clone();
    }
    firsts
        .iter()
        .map(|pr| {
            let author = pr.author.as_ref();
            let login = author.map_or("", |a| a.login.as_str());
            let mut vars: Variables = HashMap::with_capacity(5);
            vars.insert("$AUTHOR".into(), login.into());
            vars.insert(
                "$AUTHOR_MENTION".into(),
                format!("@{login}").as_str().into(),
            );
            vars.insert(
                "$AUTHOR_URL".into(),
                author.map_or("", |a| a.url.as_str()).into(),
            );
            vars.insert("$NUMBER".into(), pr.number.to_string().as_str().into());
            vars.insert("$URL".into(), pr.url.as_str().into());
            template::render(&config.new_contributor_template, &vars)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// GitHub's "New Contributors" section: each first-time author once, in the order of their
/// first pull request here, linked to it; nothing when there is no one new.
pub fn new_contributors_section(prs: &[PullRequest], first: &[String]) -> String {
    let lines: Vec<String> = first_pull_requests(prs, first, &[])
        .into_iter()
        .filter_map(|pr| {
            let login = &pr.author.as_ref()?.login;
            Some(format!(
                "* @{login} made their first contribution in {}",
                pr.url
            ))
        })
        .collect();
    if lines.is_empty() {
        return String::new();
    }
    format!("## New Contributors\n{}", lines.join("\n"))
}

/// Case-insensitive first, then lower case before upper case (as `localeCompare` orders
/// plain names).
pub(super) fn cmp_ignoring_case(a: &str, b: &str) -> std::cmp::Ordering {
    a.chars()
        .flat_map(char::to_lowercase)
        .cmp(b.chars().flat_map(char::to_lowercase))
        .then_with(|| b.cmp(a))
}
