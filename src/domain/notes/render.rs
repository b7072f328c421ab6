//! From pull requests to a release draft, as release-drafter builds it: sort, categorize,
//! one line per change, headings and collapsed sections, contributors, the body template
//! (`header` + `template` + `footer`) with replacers, then the version variables, tag and
//! name. A body over GitHub's limit is shortened here, before anything is written.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use super::categorize::Categorizer;
use super::changes::{Commit, CommitAuthor, PullRequest};
use super::config::{CategoryKind, NotesConfig, SemverIncrement, SortBy, SortDirection};
use super::template::{self, TemplateValue, Variables};
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
    let needs_authors = config.change_template.contains("$AUTHORS");

    // Sections: uncategorized first, then changelog categories in configured order.
    let mut uncategorized = Section {
        heading: None,
        lines: Vec::new(),
        collapse_after: None,
        dropped: 0,
    };
    let mut by_category: HashMap<usize, Vec<String>> = HashMap::new();
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
        let line = change_line(config, pr, &authors, needs_authors, inputs.server_url);
        if evaluation.changelog.is_empty() {
            uncategorized.lines.push(line);
        } else {
            let (last, rest) = evaluation.changelog.split_last().unwrap_or((&0, &[]));
            for index in rest {
                by_category.entry(*index).or_default().push(line.clone());
            }
            by_category.entry(*last).or_default().push(line);
        }
    }
    let mut sections = vec![uncategorized];
    for (index, category) in config.categories.iter().enumerate() {
        if category.kind != CategoryKind::Changelog {
            continue;
        }
        if let Some(lines) = by_category.remove(&index) {
            sections.push(Section {
                heading: Some(template::render(
                    &config.category_template,
                    &single("$TITLE", &category.title),
                )),
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
    let version_vars: Variables = version_vars
        .into_iter()
        .map(|(k, v)| (k, TemplateValue::Text(v)))
        .collect();

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
        vars.insert("$OWNER".into(), inputs.owner.into());
        vars.insert("$REPOSITORY".into(), inputs.repository.into());
        let mut body = template::render_with_replacers(&body_template, &vars, &config.replacers);
        body = template::render(&body, &version_vars);
        if inputs.last_release.is_none() {
            body.push_str(&no_baseline_notice(inputs.owner, inputs.repository));
        }
        body
    };
    let mut body = render_body(&sections);
    let mut shortened = false;
    while body.chars().count() > RELEASE_BODY_LIMIT {
        if !shorten_longest(&mut sections) {
            body = truncate_body(&body, inputs.compare_url);
            shortened = true;
            break;
        }
        shortened = true;
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
    let key_cmp = |a: &&PullRequest, b: &&PullRequest| match by {
        SortBy::MergedAt => a.merged_at.cmp(&b.merged_at),
        SortBy::Title => a.title.encode_utf16().cmp(b.title.encode_utf16()),
    };
    match direction {
        SortDirection::Ascending => prs.sort_by(key_cmp),
        SortDirection::Descending => prs.sort_by(|a, b| key_cmp(b, a)),
    }
}

/// Authors of the commits of each pull request, in commit order.
struct CommitAuthors<'a> {
    by_number: HashMap<u64, Vec<(&'a str, &'a CommitAuthor)>>,
}

impl<'a> CommitAuthors<'a> {
    fn index(commits: &'a [Commit]) -> CommitAuthors<'a> {
        let mut by_number: HashMap<u64, Vec<(&str, &CommitAuthor)>> = HashMap::new();
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
    prs: impl IntoIterator<Item = &'p PullRequest> + Clone,
    authors: &CommitAuthors<'_>,
    exclude: &[String],
) -> Vec<Contributor> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut list: Vec<Contributor> = Vec::new();
    let mut put =
        |key: String, contributor: Contributor, list: &mut Vec<Contributor>| match seen.get(&key) {
            Some(&i) => list[i] = contributor,
            None => {
                seen.insert(key, list.len());
                list.push(contributor);
            }
        };
    for pr in prs.clone() {
        for author in authors.of(pr) {
            match author {
                CommitAuthor::User(login) => put(
                    format!("login:{login}"),
                    Contributor::Login {
                        login: login.clone(),
                        bot_url: None,
                    },
                    &mut list,
                ),
                CommitAuthor::Name(name) => put(
                    format!("name:{name}"),
                    Contributor::Name(name.clone()),
                    &mut list,
                ),
            }
        }
    }
    let mut pr_authors: HashSet<String> = HashSet::new();
    for pr in prs {
        if let Some(author) = &pr.author {
            let login = if author.is_bot && !author.login.ends_with("[bot]") {
                format!("{}[bot]", author.login)
            } else {
                author.login.clone()
            };
            pr_authors.insert(login.clone());
            put(
                format!("login:{login}"),
                Contributor::Login {
                    login,
                    bot_url: author.is_bot.then(|| author.url.clone()),
                },
                &mut list,
            );
        }
    }
    list.retain(|c| match c {
        Contributor::Name(_) => true,
        Contributor::Login { login, .. } => !exclude
            .iter()
            .any(|e| e == login || format!("{e}[bot]") == *login),
    });
    list.sort_by(|a, b| {
        let a_author = matches!(a, Contributor::Login { login, .. } if pr_authors.contains(login));
        let b_author = matches!(b, Contributor::Login { login, .. } if pr_authors.contains(login));
        b_author
            .cmp(&a_author)
            .then(a.is_bot().cmp(&b.is_bot()))
            .then_with(|| locale_compare(a.sort_name(), b.sort_name()))
    });
    list
}

/// An approximation of JavaScript's `localeCompare`: case-insensitive first, then lower case
/// before upper case.
fn locale_compare(a: &str, b: &str) -> Ordering {
    a.to_lowercase()
        .cmp(&b.to_lowercase())
        .then_with(|| b.cmp(a))
}

fn contributors_sentence(
    prs: &[&PullRequest],
    authors: &CommitAuthors<'_>,
    exclude: &[String],
    none: &str,
    server_url: &str,
) -> String {
    let list = contributors(prs.iter().copied(), authors, exclude);
    let mentions: Vec<String> = list.iter().map(|c| c.mention(server_url)).collect();
    match mentions.as_slice() {
        [] => none.to_owned(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn change_line(
    config: &NotesConfig,
    pr: &PullRequest,
    authors: &CommitAuthors<'_>,
    needs_authors: bool,
    server_url: &str,
) -> String {
    let author = match &pr.author {
        None => Cow::Borrowed("ghost"),
        Some(a) if a.is_bot => Cow::Owned(format!("[{}[bot]]({})", a.login, a.url)),
        Some(a) => Cow::Borrowed(a.login.as_str()),
    };
    let authors_text = if needs_authors {
        let list = contributors(std::iter::once(pr), authors, &[]);
        if list.is_empty() {
            "@ghost".to_owned()
        } else {
            list.iter()
                .map(|c| c.mention(server_url))
                .collect::<Vec<_>>()
                .join(", ")
        }
    } else {
        String::new()
    };
    let mut vars: Variables = HashMap::with_capacity(10);
    vars.insert(
        "$TITLE".into(),
        TemplateValue::Text(escape_title(&pr.title, &config.change_title_escapes)),
    );
    vars.insert("$NUMBER".into(), TemplateValue::Text(pr.number.to_string()));
    vars.insert("$AUTHORS".into(), TemplateValue::Text(authors_text));
    vars.insert("$AUTHOR".into(), TemplateValue::Text(author.into_owned()));
    vars.insert("$BODY".into(), pr.body.as_str().into());
    vars.insert("$URL".into(), pr.url.as_str().into());
    vars.insert("$BASE_REF_NAME".into(), pr.base_ref_name.as_str().into());
    vars.insert("$HEAD_REF_NAME".into(), pr.head_ref_name.as_str().into());
    template::render(&config.change_template, &vars)
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
fn escape_title(title: &str, escapes: &str) -> String {
    if escapes.is_empty() && !title.contains('`') {
        return title.to_owned();
    }
    let mut out = String::with_capacity(title.len() + 8);
    let mut rest = title;
    while let Some(c) = rest.chars().next() {
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
        } else if c == '`' {
            match rest[1..].find('`') {
                Some(end) => {
                    out.push_str(&rest[..end + 2]);
                    rest = &rest[end + 2..];
                }
                None => {
                    out.push(c);
                    rest = &rest[1..];
                }
            }
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
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

/// Halves the longest section; false when nothing is left to shorten.
fn shorten_longest(sections: &mut [Section]) -> bool {
    let longest = sections
        .iter_mut()
        .filter(|s| s.lines.len() > 1)
        .max_by_key(|s| s.lines.iter().map(String::len).sum::<usize>());
    match longest {
        Some(section) => {
            let keep = section.lines.len() / 2;
            section.dropped += section.lines.len() - keep;
            section.lines.truncate(keep);
            true
        }
        None => false,
    }
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
