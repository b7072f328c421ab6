//! From pull requests to a release draft, as release-drafter builds it: sort, categorize,
//! one line per change, headings and collapsed sections, contributors, the body template
//! (`header` + `template` + `footer`) with replacers, then the version variables, tag and
//! name. A body over GitHub's limit is shortened here, before anything is written.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::categorize::Categorizer;
use super::changes::{Commit, CommitAuthor, PullRequest};
use super::config::{CategoryKind, NotesConfig, SemverIncrement, SortBy, SortDirection};
use super::template::{self, TemplateValue, Variables};
use crate::domain::calver::{CalendarScheme, next_calendar_version};
use crate::domain::version::{self, Increment, PreviousRelease, VersionInputs};

/// GitHub refuses release bodies longer than this many characters.
pub const RELEASE_BODY_LIMIT: usize = 125_000;

/// What the draft is built from besides the configuration.
#[derive(Debug, Clone, Default)]
pub struct DraftInputs<'a> {
    /// Repository owner (`$OWNER`).
    pub owner: &'a str,
    /// Repository name (`$REPOSITORY`).
    pub repository: &'a str,
    /// Authors whose first merged pull request in the repository is among these
    /// (`$NEW_CONTRIBUTORS`); found by the caller when the template uses it.
    pub first_contributors: &'a [String],
    /// The baseline release, if any.
    pub last_release: Option<PreviousRelease<'a>>,
    /// Merged pull requests of the range (deduplicated, this repository's).
    pub pull_requests: &'a [PullRequest],
    /// Commits of the range.
    pub commits: &'a [Commit],
    /// Explicit tag (may use version variables).
    pub tag: Option<&'a str>,
    /// Explicit name (may use version variables).
    pub name: Option<&'a str>,
    /// Explicit version.
    pub version: Option<&'a str>,
    /// Conventional Commits titles also call for increments.
    pub conventional_titles: bool,
    /// First number of a new pre-release series.
    pub prerelease_start: u64,
    /// Web URL of GitHub (`https://github.com`), for bot links.
    pub server_url: &'a str,
    /// Where the full list lives, linked when the body must be shortened.
    pub compare_url: Option<&'a str>,
    /// Calendar versioning: the scheme, today's date (in the line's time zone) and the
    /// versions already released (tag prefix removed). `None`: SemVer.
    pub calendar: Option<CalendarVersioning<'a>>,
}

/// What a calendar version is computed from.
#[derive(Debug, Clone)]
pub struct CalendarVersioning<'a> {
    /// The scheme.
    pub scheme: CalendarScheme,
    /// Today.
    pub today: jiff::civil::Date,
    /// Versions already released.
    pub released: Vec<&'a str>,
}

/// The release to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// Name (may be empty: GitHub then shows the tag).
    pub name: String,
    /// Tag (may be empty for a draft).
    pub tag_name: String,
    /// Body.
    pub body: String,
    /// Pre-release.
    pub prerelease: bool,
    /// `make_latest`.
    pub make_latest: &'static str,
    /// The resolved version, e.g. `1.4.0`.
    pub resolved_version: String,
    /// The increment the changes called for.
    pub increment: Increment,
    /// Pull requests listed (after pre-include/pre-exclude).
    pub listed: usize,
    /// Whether the body had to be shortened to fit GitHub's limit.
    pub shortened: bool,
}

/// The notice put under a draft that has no baseline release to compare against.
pub fn no_baseline_notice(owner: &str, repository: &str) -> String {
    format!(
        "\n---\n> [!WARNING]\n> trainyard could not find a previous **published release** for \
         `{owner}/{repository}`. This draft was created **without a comparison baseline**.\n\n\
         > [!IMPORTANT]\n> Treat this draft as a manual starting point.\n> Review the proposed \
         version, tag, and notes before publishing.\n\n---\n"
    )
}

/// One section of `$CHANGES`.
#[derive(Debug, Clone)]
struct Section {
    heading: Option<String>,
    lines: Vec<String>,
    collapse_after: Option<usize>,
    /// Lines dropped to fit the body limit.
    dropped: usize,
    /// Characters of its lines (kept up to date while shortening).
    chars: usize,
}

/// Builds the draft.
pub fn build_draft(config: &NotesConfig, inputs: &DraftInputs<'_>) -> Draft {
    let categorizer = Categorizer::new(&config.categories);
    let mut pull_requests: Vec<&PullRequest> = inputs.pull_requests.iter().collect();
    sort_pull_requests(&mut pull_requests, config.sort_by, config.sort_direction);
    let evaluations: Vec<_> = pull_requests
        .iter()
        .map(|pr| categorizer.evaluate(pr))
        .collect();
    let included: Vec<&PullRequest> = pull_requests
        .iter()
        .zip(&evaluations)
        .filter(|(_, e)| e.included)
        .map(|(pr, _)| *pr)
        .collect();
    let authors = CommitAuthors::index(inputs.commits);
    let change_pieces = compile_change_template(&config.change_template);

    // Sections: uncategorized first, then changelog categories in configured order.
    let mut uncategorized = Section {
        heading: None,
        lines: Vec::new(),
        collapse_after: None,
        dropped: 0,
        chars: 0,
    };
    let mut by_category: Vec<Vec<String>> = vec![Vec::new(); config.categories.len()];
    let mut increment: Option<SemverIncrement> = None;
    let mut conventional: Option<Increment> = None;
    for (pr, evaluation) in pull_requests.iter().zip(&evaluations) {
        if !evaluation.included {
            continue;
        }
        increment = increment.max(evaluation.increment);
        if inputs.conventional_titles {
            conventional = conventional.max(crate::domain::bump::conventional_increment(
                &pr.title,
                Some(&pr.body),
            ));
        }
        let line = change_line(config, &change_pieces, pr, &authors, inputs.server_url);
        if evaluation.changelog.is_empty() {
            uncategorized.lines.push(line);
        } else {
            let (last, rest) = evaluation.changelog.split_last().unwrap_or((&0, &[]));
            for index in rest {
                by_category[*index].push(line.clone());
            }
            by_category[*last].push(line);
        }
    }
    let mut sections = vec![uncategorized];
    for (index, category) in config.categories.iter().enumerate() {
        if category.kind != CategoryKind::Changelog {
            continue;
        }
        let lines = std::mem::take(&mut by_category[index]);
        if !lines.is_empty() {
            sections.push(Section {
                heading: Some(template::render(
                    &config.category_template,
                    &single("$TITLE", &category.title),
                )),
                chars: 0,
                lines,
                collapse_after: category.collapse_after,
                dropped: 0,
            });
        }
    }
    if config.include_commits_without_pr {
        let lines: Vec<String> = inputs
            .commits
            .iter()
            .filter(|c| c.pull_requests.is_empty())
            .map(|c| commit_line(config, c, inputs.server_url))
            .collect();
        sections[0].lines.extend(lines);
    }

    for section in &mut sections {
        section.chars = section.lines.iter().map(|l| l.chars().count() + 1).sum();
    }
    let contributors = contributors_sentence(
        &included,
        &authors,
        &config.exclude_contributors,
        &config.no_contributors_template,
        inputs.server_url,
    );

    // Version.
    let by_labels: Option<Increment> = increment.map(Increment::from);
    let wanted = by_labels
        .max(conventional)
        .unwrap_or_else(|| config.default_increment.into());
    let wanted = if config.prerelease_identifier.is_some() {
        match wanted {
            Increment::Major => Increment::PreMajor,
            Increment::Minor => Increment::PreMinor,
            Increment::Patch => Increment::PrePatch,
            other => other,
        }
    } else {
        wanted
    };
    let given = inputs
        .version
        .or(inputs.tag)
        .or(inputs.name)
        .filter(|v| !v.is_empty());
    let version_vars = version::version_variables(&VersionInputs {
        last_release: inputs.last_release,
        given,
        template: &config.version_template,
        tag_prefix: &config.tag_prefix,
        prerelease_identifier: config.prerelease_identifier.as_deref(),
        increment: wanted,
        prerelease_start: inputs.prerelease_start,
    });
    let mut version_vars: Variables = version_vars
        .into_iter()
        .map(|(k, v)| (k, TemplateValue::Text(v)))
        .collect();
    if let Some(calendar) = &inputs.calendar {
        // The date decides the version; an explicitly given one still wins.
        let resolved = match given {
            Some(given) => given
                .trim_start_matches(config.tag_prefix.as_str())
                .to_owned(),
            None => next_calendar_version(
                calendar.scheme,
                calendar.today,
                calendar.released.iter().copied(),
            ),
        };
        version_vars.insert("$RESOLVED_VERSION".into(), TemplateValue::Text(resolved));
    }

    let body_template = format!("{}{}{}", config.header, config.template, config.footer);
    let previous_tag = inputs.last_release.map_or("", |r| r.tag_name);
    let render_body = |sections: &[Section]| {
        let mut vars: Variables = HashMap::new();
        vars.insert("$PREVIOUS_TAG".into(), previous_tag.into());
        vars.insert(
            "$CHANGES".into(),
            TemplateValue::Text(changes_text(config, sections, inputs.compare_url)),
        );
        vars.insert("$CONTRIBUTORS".into(), contributors.as_str().into());
        vars.insert(
            "$NEW_CONTRIBUTORS".into(),
            TemplateValue::Text(new_contributors_section(
                inputs.pull_requests,
                inputs.first_contributors,
            )),
        );
        vars.insert("$OWNER".into(), inputs.owner.into());
        vars.insert("$REPOSITORY".into(), inputs.repository.into());
        let mut body = template::render_with_replacers(&body_template, &vars, &config.replacers);
        body = template::render(&body, &version_vars);
        if inputs.last_release.is_none() {
            body.push_str(&no_baseline_notice(inputs.owner, inputs.repository));
        }
        body
    };
    // A list already longer than GitHub's limit on its own is cut before the first render,
    // so the replacers never run over text that cannot be sent.
    let listed_chars: usize = sections.iter().map(|s| s.chars).sum();
    let mut shortened = false;
    if listed_chars > RELEASE_BODY_LIMIT {
        shortened = shorten_by(&mut sections, listed_chars - RELEASE_BODY_LIMIT);
    }
    let mut body = render_body(&sections);
    loop {
        let length = body.chars().count();
        if length <= RELEASE_BODY_LIMIT {
            break;
        }
        shortened = true;
        // Cut the longest sections (by their lines' length) until the excess is covered,
        // then render once more to check: replacers may change lengths.
        if !shorten_by(&mut sections, length - RELEASE_BODY_LIMIT) {
            body = truncate_body(&body, inputs.compare_url);
            break;
        }
        body = render_body(&sections);
    }

    let tag_name = match inputs.tag {
        Some(tag) => template::render(tag, &version_vars),
        None => template::render(&config.tag_template, &version_vars),
    };
    let name = match inputs.name {
        Some(name) => template::render(name, &version_vars),
        None => template::render(&config.name_template, &version_vars),
    };
    let resolved_version = match version_vars.get("$RESOLVED_VERSION") {
        Some(TemplateValue::Text(v)) => v.clone(),
        _ => String::new(),
    };
    Draft {
        name,
        tag_name,
        body,
        prerelease: config.prerelease,
        make_latest: config.latest.as_api(),
        resolved_version,
        increment: wanted,
        listed: included.len(),
        shortened,
    }
}

fn single(name: &str, value: &str) -> Variables {
    let mut vars = HashMap::with_capacity(1);
    vars.insert(name.to_owned(), TemplateValue::Text(value.to_owned()));
    vars
}

/// Sorts as release-drafter: by merge time or title (UTF-16 order, as JavaScript compares
/// strings), stable.
fn sort_pull_requests(prs: &mut [&PullRequest], by: SortBy, direction: SortDirection) {
    match by {
        SortBy::MergedAt => {
            // GitHub's timestamps (`2026-11-27T09:30:00Z`) as a number: one integer compare
            // instead of a string compare per step; ties and odd formats fall back to text.
            let key = |pr: &PullRequest| {
                let mut n: u64 = 0;
                for b in pr.merged_at.bytes().filter(u8::is_ascii_digit).take(14) {
                    n = n * 10 + u64::from(b - b'0');
                }
                n
            };
            let cmp = |a: &&PullRequest, b: &&PullRequest| {
                key(a)
                    .cmp(&key(b))
                    .then_with(|| a.merged_at.cmp(&b.merged_at))
            };
            match direction {
                SortDirection::Ascending => prs.sort_by(cmp),
                SortDirection::Descending => prs.sort_by(|a, b| cmp(b, a)),
            }
        }
        SortBy::Title => {
            let cmp = |a: &&PullRequest, b: &&PullRequest| {
                a.title.encode_utf16().cmp(b.title.encode_utf16())
            };
            match direction {
                SortDirection::Ascending => prs.sort_by(cmp),
                SortDirection::Descending => prs.sort_by(|a, b| cmp(b, a)),
            }
        }
    }
}

/// Authors of the commits of each pull request, in commit order.
struct CommitAuthors<'a> {
    by_number: HashMap<u64, Vec<(&'a str, &'a CommitAuthor)>, BuildNumberHasher>,
}

/// Pull request numbers are small integers: a multiplicative hash is enough and much cheaper
/// than SipHash here (no untrusted key choice: the numbers come from GitHub).
type BuildNumberHasher = std::hash::BuildHasherDefault<NumberHasher>;

#[derive(Default)]
struct NumberHasher(u64);

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
    fn index(commits: &'a [Commit]) -> CommitAuthors<'a> {
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

    fn of<'s>(&'s self, pr: &'s PullRequest) -> impl Iterator<Item = &'a CommitAuthor> + 's {
        self.by_number
            .get(&pr.number)
            .into_iter()
            .flatten()
            .filter(|(repo, _)| *repo == pr.base_repository)
            .map(|(_, author)| *author)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Contributor {
    Login {
        login: String,
        bot_url: Option<String>,
    },
    Name(String),
}

impl Contributor {
    fn sort_name(&self) -> &str {
        match self {
            Contributor::Login { login, .. } => login,
            Contributor::Name(name) => name,
        }
    }

    fn is_bot(&self) -> bool {
        matches!(self, Contributor::Login { login, bot_url } if bot_url.is_some() || login.ends_with("[bot]"))
    }

    /// `@login`, or a link to the App for a `[bot]` login.
    fn mention_login_into(out: &mut String, login: &str, server_url: &str) {
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

    fn mention(&self, server_url: &str) -> String {
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
fn contributors<'p>(
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

fn contributors_sentence(
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

/// The per-change template, parsed once per draft.
#[derive(Debug, Clone, Copy)]
enum ChangePiece<'t> {
    Text(&'t str),
    Title,
    Number,
    Author,
    Authors,
    Body,
    Url,
    BaseRef,
    HeadRef,
}

fn compile_change_template(template: &str) -> Vec<ChangePiece<'_>> {
    template::tokens(template)
        .into_iter()
        .map(|token| match token {
            template::Token::Text(text) => ChangePiece::Text(text),
            template::Token::Variable(name) => match name {
                "$TITLE" => ChangePiece::Title,
                "$NUMBER" => ChangePiece::Number,
                "$AUTHOR" => ChangePiece::Author,
                "$AUTHORS" => ChangePiece::Authors,
                "$BODY" => ChangePiece::Body,
                "$URL" => ChangePiece::Url,
                "$BASE_REF_NAME" => ChangePiece::BaseRef,
                "$HEAD_REF_NAME" => ChangePiece::HeadRef,
                other => ChangePiece::Text(other),
            },
        })
        .collect()
}

fn change_line(
    config: &NotesConfig,
    pieces: &[ChangePiece<'_>],
    pr: &PullRequest,
    authors: &CommitAuthors<'_>,
    server_url: &str,
) -> String {
    let mut out = String::with_capacity(config.change_template.len() + pr.title.len() + 32);
    for piece in pieces {
        match piece {
            ChangePiece::Text(text) => out.push_str(text),
            ChangePiece::Title => {
                escape_title_into(&mut out, &pr.title, &config.change_title_escapes)
            }
            ChangePiece::Number => {
                let _ = write!(out, "{}", pr.number);
            }
            ChangePiece::Author => match &pr.author {
                None => out.push_str("ghost"),
                Some(a) if a.is_bot => {
                    let _ = write!(out, "[{}[bot]]({})", a.login, a.url);
                }
                Some(a) => out.push_str(&a.login),
            },
            ChangePiece::Authors => pr_authors_into(&mut out, pr, authors, server_url),
            ChangePiece::Body => out.push_str(&pr.body),
            ChangePiece::Url => out.push_str(&pr.url),
            ChangePiece::BaseRef => out.push_str(&pr.base_ref_name),
            ChangePiece::HeadRef => out.push_str(&pr.head_ref_name),
        }
    }
    out
}

/// `$AUTHORS` of one pull request: its author, then its commits' other authors (bots last,
/// by name), mentioned and separated by commas; `@ghost` when nobody is known.
fn pr_authors_into(
    out: &mut String,
    pr: &PullRequest,
    authors: &CommitAuthors<'_>,
    server_url: &str,
) {
    // Borrowed views: this runs once per pull request.
    #[derive(PartialEq)]
    enum Who<'a> {
        Login(&'a str),
        Name(&'a str),
    }
    // The author as commits name it: bots commit as `app[bot]`.
    let is_author = |login: &str| {
        pr.author.as_ref().is_some_and(|a| {
            login == a.login || (a.is_bot && login.strip_suffix("[bot]") == Some(a.login.as_str()))
        })
    };
    let mut others: Vec<Who<'_>> = Vec::new();
    for commit_author in authors.of(pr) {
        let who = match commit_author {
            CommitAuthor::User(login) if is_author(login) => continue,
            CommitAuthor::User(login) => Who::Login(login),
            CommitAuthor::Name(name) => Who::Name(name),
        };
        if !others.contains(&who) {
            others.push(who);
        }
    }
    fn name_of<'a>(w: &Who<'a>) -> &'a str {
        match w {
            Who::Login(s) | Who::Name(s) => s,
        }
    }
    let is_bot = |w: &Who<'_>| matches!(w, Who::Login(l) if l.ends_with("[bot]"));
    if others.len() > 1 {
        others.sort_by(|a, b| {
            is_bot(a)
                .cmp(&is_bot(b))
                .then_with(|| cmp_ignoring_case(name_of(a), name_of(b)))
        });
    }
    let mut first = true;
    if let Some(author) = &pr.author {
        first = false;
        let login = author.login.as_str();
        if author.is_bot {
            // An App's bot account links to the App.
            let bare = login.strip_suffix("[bot]").unwrap_or(login);
            let _ = write!(out, "[@{bare}[bot]]({})", author.url);
        } else {
            Contributor::mention_login_into(out, login, server_url);
        }
    }
    for who in &others {
        if !first {
            out.push_str(", ");
        }
        first = false;
        match who {
            Who::Login(login) => Contributor::mention_login_into(out, login, server_url),
            Who::Name(name) => out.push_str(name),
        }
    }
    if first {
        out.push_str("@ghost");
    }
}

/// Case-insensitive first, then lower case before upper case (as `localeCompare` orders
/// plain names).
fn cmp_ignoring_case(a: &str, b: &str) -> std::cmp::Ordering {
    a.chars()
        .flat_map(char::to_lowercase)
        .cmp(b.chars().flat_map(char::to_lowercase))
        .then_with(|| b.cmp(a))
}

fn commit_line(config: &NotesConfig, commit: &Commit, server_url: &str) -> String {
    let sha = commit.oid.as_deref().map_or("", |o| &o[..o.len().min(7)]);
    let authors: Vec<String> = commit
        .authors
        .iter()
        .map(|a| match a {
            CommitAuthor::User(login) => Contributor::Login {
                login: login.clone(),
                bot_url: None,
            }
            .mention(server_url),
            CommitAuthor::Name(name) => name.clone(),
        })
        .collect();
    let mut vars: Variables = HashMap::new();
    vars.insert(
        "$TITLE".into(),
        TemplateValue::Text(escape_title(&commit.headline, &config.change_title_escapes)),
    );
    vars.insert("$SHA".into(), sha.into());
    vars.insert("$AUTHORS".into(), TemplateValue::Text(authors.join(", ")));
    template::render(&config.commit_template, &vars)
}

/// Escapes `escapes` characters in a title (`@` and `#` are defused with an empty HTML
/// comment so they do not notify or link); code spans in backticks stay as they are unless
/// the backtick itself is to be escaped.
fn escape_title_into(out: &mut String, title: &str, escapes: &str) {
    if escapes.is_empty() && !title.contains('`') {
        out.push_str(title);
        return;
    }
    // Escapes are nearly always ASCII: test those with a bit mask.
    let mut ascii: u128 = 1 << b'`';
    for c in escapes.chars().filter(char::is_ascii) {
        ascii |= 1 << (c as u32);
    }
    let all_ascii = escapes.is_ascii();
    let find_special = |text: &str| {
        if all_ascii {
            // Multi-byte characters never match: scan bytes.
            text.bytes().position(|b| b < 128 && ascii & (1 << b) != 0)
        } else {
            text.find(|c: char| {
                if c.is_ascii() {
                    ascii & (1 << (c as u32)) != 0
                } else {
                    escapes.contains(c)
                }
            })
        }
    };
    let mut rest = title;
    while let Some(at) = find_special(rest) {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let c = rest.chars().next().unwrap_or('`');
        if escapes.contains(c) {
            match c {
                '@' | '#' => {
                    out.push(c);
                    out.push_str("<!---->");
                }
                _ => {
                    out.push('\\');
                    out.push(c);
                }
            }
            rest = &rest[c.len_utf8()..];
        } else {
            // A code span: copied whole, or a lone backtick.
            match rest[1..].find('`') {
                Some(end) => {
                    out.push_str(&rest[..end + 2]);
                    rest = &rest[end + 2..];
                }
                None => {
                    out.push('`');
                    rest = &rest[1..];
                }
            }
        }
    }
    out.push_str(rest);
}

fn escape_title(title: &str, escapes: &str) -> String {
    let mut out = String::with_capacity(title.len());
    escape_title_into(&mut out, title, escapes);
    out
}

fn changes_text(config: &NotesConfig, sections: &[Section], compare_url: Option<&str>) -> String {
    if sections.iter().all(|s| s.lines.is_empty()) {
        return config.no_changes_template.clone();
    }
    let mut parts: Vec<String> = Vec::new();
    for section in sections {
        if section.lines.is_empty() {
            continue;
        }
        let mut list = section.lines.join("\n");
        if section.dropped > 0 {
            list.push_str(&format!(
                "\n* … and {} more{}",
                section.dropped,
                compare_url.map_or(String::new(), |u| format!(" in the [full comparison]({u})"))
            ));
        }
        let total = section.lines.len() + section.dropped;
        let text = match (&section.heading, section.collapse_after) {
            (Some(heading), Some(after)) if total > after => format!(
                "{heading}\n\n<details>\n<summary>{total} change{}</summary>\n\n{list}\n</details>",
                if total > 1 { "s" } else { "" }
            ),
            (Some(heading), _) => format!("{heading}\n\n{list}"),
            (None, _) => list,
        };
        parts.push(text);
    }
    parts.join("\n\n").trim().to_owned()
}

/// Drops lines from the end of the longest sections until about `excess` characters (and a
/// margin for the "… and N more" lines) are gone; false when nothing is left to cut.
fn shorten_by(sections: &mut [Section], excess: usize) -> bool {
    let mut to_cut = excess + 200 * sections.len();
    let mut cut_any = false;
    while to_cut > 0 {
        let longest = sections
            .iter_mut()
            .filter(|s| s.lines.len() > 1)
            .max_by_key(|s| s.chars);
        let Some(section) = longest else {
            return cut_any;
        };
        // Halve the section, or less when that covers the rest of the excess.
        let keep_at_least = section.lines.len() / 2;
        while section.lines.len() > keep_at_least.max(1) && to_cut > 0 {
            let Some(line) = section.lines.pop() else {
                break;
            };
            let gone = line.chars().count() + 1;
            section.chars -= gone.min(section.chars);
            section.dropped += 1;
            to_cut = to_cut.saturating_sub(gone);
            cut_any = true;
        }
    }
    cut_any
}

/// A body written elsewhere (GitHub's generated notes) within GitHub's limit, leaving room
/// for trainyard's marker and a maintainer's highlights; says whether it was shortened.
pub fn fit_body(body: &str) -> (String, bool) {
    // Room kept for the marker and highlights around the notes.
    const ROOM: usize = 5_000;
    if body.chars().count() + ROOM <= RELEASE_BODY_LIMIT {
        return (body.to_owned(), false);
    }
    let keep = RELEASE_BODY_LIMIT - ROOM - 200;
    let mut out: String = body.chars().take(keep).collect();
    out.push_str(&format!(
        "\n\n… (shortened to fit GitHub's {RELEASE_BODY_LIMIT}-character limit)"
    ));
    (out, true)
}

/// Whether a template asks for `$NEW_CONTRIBUTORS` (finding them costs GitHub calls).
pub fn wants_new_contributors(config: &NotesConfig) -> bool {
    [&config.header, &config.template, &config.footer]
        .iter()
        .any(|t| t.contains("$NEW_CONTRIBUTORS"))
}

/// GitHub's "New Contributors" section: each first-time author once, in the order of their
/// first pull request here, linked to it; nothing when there is no one new.
pub fn new_contributors_section(prs: &[PullRequest], first: &[String]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    let mut lines = Vec::new();
    let mut ordered: Vec<&PullRequest> = prs.iter().collect();
    ordered.sort_by_key(|pr| pr.number);
    for pr in ordered {
        let Some(author) = &pr.author else {
            continue;
        };
        let login = author.login.as_str();
        if seen.contains(&login) || !first.iter().any(|f| f.eq_ignore_ascii_case(login)) {
            continue;
        }
        seen.push(login);
        lines.push(format!(
            "* @{login} made their first contribution in {}",
            pr.url
        ));
    }
    if lines.is_empty() {
        return String::new();
    }
    format!("## New Contributors\n{}", lines.join("\n"))
}

/// Last resort for a body whose template alone is too long.
fn truncate_body(body: &str, compare_url: Option<&str>) -> String {
    let suffix = format!(
        "\n\n… (shortened to fit GitHub's {RELEASE_BODY_LIMIT}-character limit{})",
        compare_url.map_or(String::new(), |u| format!("; [full comparison]({u})"))
    );
    let keep = RELEASE_BODY_LIMIT.saturating_sub(suffix.chars().count());
    let mut out: String = body.chars().take(keep).collect();
    out.push_str(&suffix);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::notes::changes::Author;
    use crate::domain::notes::config::NotesKeys;

    fn pr(number: u64, login: &str, is_bot: bool, merged_at: &str) -> PullRequest {
        PullRequest {
            number,
            title: format!("Change {number}"),
            body: String::new(),
            url: format!("https://github.com/acme/api/pull/{number}"),
            author: Some(Author {
                login: login.to_owned(),
                is_bot,
                url: format!("https://github.com/apps/{login}"),
            }),
            merged_at: merged_at.to_owned(),
            labels: Vec::new(),
            base_ref_name: "main".into(),
            head_ref_name: "topic".into(),
            base_repository: "acme/api".into(),
            merge_commit: None,
            changed_files: Vec::new(),
        }
    }

    fn commit(number: u64, authors: Vec<CommitAuthor>) -> Commit {
        Commit {
            oid: None,
            headline: String::new(),
            committed_at: String::new(),
            authors,
            pull_requests: vec![("acme/api".into(), number)],
        }
    }

    fn draft(keys: NotesKeys, prs: &[PullRequest], commits: &[Commit]) -> Draft {
        let config = keys.resolve().expect("config");
        build_draft(
            &config,
            &DraftInputs {
                owner: "acme",
                repository: "api",
                last_release: Some(PreviousRelease {
                    tag_name: "v1.0.0",
                    name: None,
                }),
                pull_requests: prs,
                commits,
                server_url: "https://github.com",
                ..DraftInputs::default()
            },
        )
    }

    #[test]
    fn new_contributors_are_listed_as_github_lists_them() {
        let mut prs = vec![
            pr(9, "newbie", false, "2026-11-02T00:00:00Z"),
            pr(4, "newbie", false, "2026-11-01T00:00:00Z"),
            pr(5, "old-hand", false, "2026-11-01T00:00:00Z"),
        ];
        prs[0].url = "https://github.com/acme/api/pull/9".into();
        prs[1].url = "https://github.com/acme/api/pull/4".into();
        assert_eq!(
            new_contributors_section(&prs, &["newbie".into()]),
            "## New Contributors\n* @newbie made their first contribution in https://github.com/acme/api/pull/4"
        );
        assert_eq!(new_contributors_section(&prs, &[]), "");
    }

    #[test]
    fn contributors_put_authors_first_bots_last_and_merge_a_bot_seen_twice() {
        let prs = [
            pr(1, "zed", false, "2026-11-01T00:00:00Z"),
            pr(2, "dependabot", true, "2026-11-02T00:00:00Z"),
        ];
        let commits = [
            commit(
                1,
                vec![
                    CommitAuthor::User("zed".into()),
                    CommitAuthor::Name("Ada Lovelace".into()),
                ],
            ),
            commit(1, vec![CommitAuthor::User("amy".into())]),
            commit(2, vec![CommitAuthor::User("dependabot[bot]".into())]),
        ];
        let keys = NotesKeys {
            template: Some("$CONTRIBUTORS\n$CHANGES".into()),
            ..NotesKeys::default()
        };
        let body = draft(keys, &prs, &commits).body;
        assert_eq!(
            body,
            "@zed, [@dependabot[bot]](https://github.com/apps/dependabot), Ada Lovelace and @amy\n\
             * Change 2 (#2) [@dependabot[bot]](https://github.com/apps/dependabot)\n\
             * Change 1 (#1) @zed, Ada Lovelace, @amy"
        );
        let keys = NotesKeys {
            template: Some("$CONTRIBUTORS".into()),
            exclude_contributors: Some(vec!["dependabot".into(), "zed".into()]),
            ..NotesKeys::default()
        };
        assert_eq!(draft(keys, &prs, &commits).body, "Ada Lovelace and @amy");
    }

    #[test]
    fn titles_are_escaped_outside_code_spans() {
        assert_eq!(
            escape_title("Fix @team's `a_b` in #12 *now*", "@#_*"),
            "Fix @<!---->team's `a_b` in #<!---->12 \\*now\\*"
        );
        assert_eq!(escape_title("a `b` c", "`"), "a \\`b\\` c");
        assert_eq!(escape_title("plain", ""), "plain");
    }

    #[test]
    fn collapsed_sections_and_no_changes() {
        let mut prs = vec![
            pr(1, "a", false, "2026-11-01T00:00:00Z"),
            pr(2, "b", false, "2026-11-02T00:00:00Z"),
        ];
        for p in &mut prs {
            p.labels = vec!["deps".into()];
        }
        let yaml = "template: $CHANGES\ncategories:\n  - title: Deps\n    label: deps\n    collapse-after: 1\n";
        let keys = crate::domain::repo_config::RepoConfig::from_release_drafter("f", yaml)
            .expect("config")
            .notes_keys()
            .expect("keys");
        assert_eq!(
            draft(keys.clone(), &prs, &[]).body,
            "## Deps\n\n<details>\n<summary>2 changes</summary>\n\n* Change 2 (#2) @b\n* Change 1 (#1) @a\n</details>"
        );
        assert_eq!(draft(keys, &[], &[]).body, "* No changes");
    }

    #[test]
    fn commits_without_pull_requests_are_listed_when_asked() {
        let prs = [pr(1, "a", false, "2026-11-01T00:00:00Z")];
        let commits = [
            commit(1, vec![CommitAuthor::User("a".into())]),
            Commit {
                oid: Some("0123456789abcdef".into()),
                headline: "Fix typo".into(),
                committed_at: String::new(),
                authors: vec![CommitAuthor::User("b".into())],
                pull_requests: Vec::new(),
            },
        ];
        let keys = NotesKeys {
            template: Some("$CHANGES".into()),
            include_commits_without_pr: Some(true),
            ..NotesKeys::default()
        };
        assert_eq!(
            draft(keys, &prs, &commits).body,
            "* Change 1 (#1) @a\n* Fix typo (0123456) @b"
        );
    }

    #[test]
    fn calendar_versions_come_from_the_date_and_earlier_releases() {
        let config = NotesKeys {
            template: Some("$RESOLVED_VERSION".into()),
            tag_template: Some("v$RESOLVED_VERSION".into()),
            ..NotesKeys::default()
        }
        .resolve()
        .expect("config");
        let draft = build_draft(
            &config,
            &DraftInputs {
                owner: "acme",
                repository: "api",
                calendar: Some(CalendarVersioning {
                    scheme: CalendarScheme::YearMonthMicro,
                    today: jiff::civil::date(2026, 11, 27),
                    released: vec!["2026.11.0", "2026.10.3"],
                }),
                ..DraftInputs::default()
            },
        );
        assert_eq!(draft.tag_name, "v2026.11.1");
        assert!(draft.body.starts_with("2026.11.1"));
    }
}
