//! From pull requests to a release draft, as release-drafter builds it: sort, categorize,
//! one line per change, headings and collapsed sections, contributors, the body template
//! (`header` + `template` + `footer`) with replacers, then the version variables, tag and
//! name. A body over GitHub's limit is shortened here, before anything is written.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::categorize::Categorizer;
use super::changes::{Commit, CommitAuthor, PullRequest};
use super::config::{
    CategoryKind, DEFAULT_CHANGE_AUTHOR_TEMPLATE, NotesConfig, NotesLayout, SemverIncrement,
    SortBy, SortDirection,
};
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
    /// The numbers of the pull requests the body lists, in ascending order (GitHub's layout
    /// leaves out those no category takes).
    pub listed_numbers: Vec<u64>,
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
    // Collect: the pull requests in the configured order, each evaluated against the
    // categories once.
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
    // Categorise: each change line in its sections, and what the changes call for.
    let Categorised {
        sections,
        mut listed_numbers,
        increment,
        conventional,
    } = categorise(config, inputs, &pull_requests, &evaluations, &authors);
    let contributors = contributors_sentence(
        &included,
        &authors,
        &config.exclude_contributors,
        &config.no_contributors_template,
        inputs.server_url,
    );
    // Version: the labels' and titles' increment, or what was given, or the calendar's.
    let (wanted, version_vars) = resolve_version(config, inputs, increment, conventional);
    let tag_name = match inputs.tag {
        Some(tag) => template::render(tag, &version_vars),
        None => template::render(&config.tag_template, &version_vars),
    };
    let resolved_version = match version_vars.get("$RESOLVED_VERSION") {
        Some(TemplateValue::Text(v)) => v.clone(),
        _ => String::new(),
    };
    // Render and fit GitHub's limit.
    let (body, shortened) = render_fitted(
        config,
        inputs,
        sections,
        &Rendering {
            included: &included,
            contributors: &contributors,
            version_vars: &version_vars,
            tag_name: &tag_name,
            resolved_version: &resolved_version,
        },
    );
    let name = match inputs.name {
        Some(name) => template::render(name, &version_vars),
        None => template::render(&config.name_template, &version_vars),
    };
    listed_numbers.sort_unstable();
    Draft {
        name,
        tag_name,
        body,
        prerelease: config.prerelease,
        make_latest: config.latest.as_api(),
        resolved_version,
        increment: wanted,
        listed: included.len(),
        listed_numbers,
        shortened,
    }
}

/// The change lines in their sections (uncategorized first, then the changelog categories in
/// configured order), the pull requests listed, and the increments the changes call for.
struct Categorised {
    sections: Vec<Section>,
    listed_numbers: Vec<u64>,
    increment: Option<SemverIncrement>,
    conventional: Option<Increment>,
}

fn categorise(
    config: &NotesConfig,
    inputs: &DraftInputs<'_>,
    pull_requests: &[&PullRequest],
    evaluations: &[crate::domain::notes::categorize::Evaluation],
    authors: &CommitAuthors<'_>,
) -> Categorised {
    let change_pieces = compile_change_template(&config.change_template);
    // A line names its category: one rendering per category it is listed under.
    let uses_category = change_pieces
        .iter()
        .any(|p| matches!(p, ChangePiece::Category));

    // Sections: uncategorized first, then changelog categories in configured order.
    let mut uncategorized = Section {
        heading: None,
        lines: Vec::new(),
        collapse_after: None,
        dropped: 0,
        chars: 0,
    };
    let mut by_category: Vec<Vec<String>> = vec![Vec::new(); config.categories.len()];
    // GitHub lists only what a category takes once there are categories.
    let github_layout = config.layout == NotesLayout::GitHub;
    let shows_uncategorized = !(github_layout
        && config
            .categories
            .iter()
            .any(|c| c.kind == CategoryKind::Changelog));
    let mut listed_numbers = Vec::new();
    let mut increment: Option<SemverIncrement> = None;
    let mut conventional: Option<Increment> = None;
    // Lines are rendered until they pass the expansion limit; the rest are counted as more.
    let mut rendered_bytes = 0usize;
    let mut unrendered = 0usize;
    for (pr, evaluation) in pull_requests.iter().zip(evaluations) {
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
        if rendered_bytes > template::EXPANSION_LIMIT {
            unrendered += 1;
            continue;
        }
        let mut line = |category: &str| {
            let line = change_line(
                config,
                &change_pieces,
                category,
                pr,
                authors,
                inputs.server_url,
            );
            rendered_bytes += line.len();
            line
        };
        if evaluation.changelog.is_empty() {
            if shows_uncategorized {
                uncategorized.lines.push(line(""));
                listed_numbers.push(pr.number);
            }
        } else if uses_category {
            listed_numbers.push(pr.number);
            for index in &evaluation.changelog {
                by_category[*index].push(line(&config.categories[*index].title));
            }
        } else {
            listed_numbers.push(pr.number);
            let line = line("");
            let (last, rest) = evaluation.changelog.split_last().unwrap_or((&0, &[]));
            rendered_bytes += line.len() * rest.len();
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
                // An empty category template writes no heading (release-drafter's rule).
                heading: Some(template::render(
                    &config.category_template,
                    &single("$TITLE", &category.title),
                ))
                .filter(|heading| !heading.is_empty()),
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

    sections[0].dropped += unrendered;
    for section in &mut sections {
        section.chars = section.lines.iter().map(|l| l.chars().count() + 1).sum();
    }
    sections[0].dropped += unrendered;
    for section in &mut sections {
        section.chars = section.lines.iter().map(|l| l.chars().count() + 1).sum();
    }
    Categorised {
        sections,
        listed_numbers,
        increment,
        conventional,
    }
}

/// The increment wanted and the version variables (`$RESOLVED_VERSION`, …): the labels' and
/// titles' increment (or the default), made a pre-release one with an identifier; an
/// explicitly given version wins; on calendar lines the date decides.
fn resolve_version(
    config: &NotesConfig,
    inputs: &DraftInputs<'_>,
    increment: Option<SemverIncrement>,
    conventional: Option<Increment>,
) -> (Increment, Variables) {
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

    (wanted, version_vars)
}

/// What the body is rendered from besides the sections.
struct Rendering<'r> {
    included: &'r [&'r PullRequest],
    contributors: &'r str,
    version_vars: &'r Variables,
    tag_name: &'r str,
    resolved_version: &'r str,
}

/// The body, rendered and fitted to GitHub's limit (sections shortened first, the text cut
/// only when that is not enough), and whether anything was left out.
fn render_fitted(
    config: &NotesConfig,
    inputs: &DraftInputs<'_>,
    mut sections: Vec<Section>,
    r: &Rendering<'_>,
) -> (String, bool) {
    let github_layout = config.layout == NotesLayout::GitHub;
    let body_template = format!("{}{}{}", config.header, config.template, config.footer);
    let previous_tag = inputs.last_release.map_or("", |r| r.tag_name);
    let full_changelog = github_layout.then(|| {
        let tag = if r.tag_name.is_empty() {
            format!("v{}", r.resolved_version)
        } else {
            r.tag_name.to_owned()
        };
        full_changelog_url(inputs, previous_tag, &tag)
    });
    let new_contributors = if wants_new_contributors(config) && !github_layout {
        new_contributors_list(
            config,
            inputs.pull_requests,
            r.included,
            inputs.first_contributors,
        )
    } else {
        String::new()
    };
    let render_body = |sections: &[Section]| {
        if let Some(full_changelog) = &full_changelog {
            let mut body = github_body(
                sections,
                &new_contributors_section(inputs.pull_requests, inputs.first_contributors),
                full_changelog,
            );
            if inputs.last_release.is_none() {
                body.push_str(&no_baseline_notice(inputs.owner, inputs.repository));
            }
            return body;
        }
        let mut vars: Variables = HashMap::new();
        vars.insert("$PREVIOUS_TAG".into(), previous_tag.into());
        vars.insert(
            "$CHANGES".into(),
            TemplateValue::Text(changes_text(config, sections, inputs.compare_url)),
        );
        vars.insert("$CONTRIBUTORS".into(), r.contributors.into());
        vars.insert("$NEW_CONTRIBUTORS".into(), new_contributors.as_str().into());
        vars.insert("$OWNER".into(), inputs.owner.into());
        vars.insert("$REPOSITORY".into(), inputs.repository.into());
        // Bounded: past the limit the text is cut, and the loop below shortens it.
        let limit = template::EXPANSION_LIMIT;
        let mut body =
            template::render_with_replacers(&body_template, &vars, &config.replacers, limit)
                .unwrap_or_else(|(_, cut)| cut);
        body = template::render_within(&body, r.version_vars, limit).unwrap_or_else(|cut| cut);
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

    (body, shortened)
}

/// GitHub's "Full Changelog" link: the web comparison from the previous tag, or the tag's
/// commits for a first release (as GitHub writes it; never the API's URL).
fn full_changelog_url(inputs: &DraftInputs<'_>, previous_tag: &str, tag: &str) -> String {
    let base = format!(
        "{}/{}/{}",
        inputs.server_url.trim_end_matches('/'),
        inputs.owner,
        inputs.repository
    );
    if previous_tag.is_empty() {
        format!("{base}/commits/{tag}")
    } else {
        format!("{base}/compare/{previous_tag}...{tag}")
    }
}

/// A body in GitHub's generated-notes format: `## What's Changed` with each category's
/// `###` heading right above its lines, `## New Contributors`, and the Full Changelog line
/// (alone when nothing is listed, as GitHub writes it).
fn github_body(sections: &[Section], new_contributors: &str, full_changelog: &str) -> String {
    let listed: Vec<String> = sections
        .iter()
        .filter(|s| !s.lines.is_empty())
        .map(|s| {
            let mut text = s
                .heading
                .as_ref()
                .map_or(String::new(), |h| format!("{h}\n"));
            text.push_str(&s.lines.join("\n"));
            if s.dropped > 0 {
                text.push_str(&format!("\n* … and {} more", s.dropped));
            }
            text
        })
        .collect();
    let mut parts = Vec::new();
    if !listed.is_empty() {
        parts.push(format!("## What's Changed\n{}", listed.join("\n")));
    }
    if !new_contributors.is_empty() {
        parts.push(new_contributors.to_owned());
    }
    parts.push(format!("**Full Changelog**: {full_changelog}"));
    parts.join("\n\n")
}

/// The pull requests a generated body lists under "What's Changed": the numbers of lines
/// ending in a link to one of `repo`'s pull requests (`…/{owner}/{name}/pull/{number}`, on
/// whatever web host), New Contributors' lines left out.
pub fn pull_requests_listed_in(body: &str, repo: &str) -> Vec<u64> {
    let marker = format!("/{repo}/pull/");
    let mut numbers: Vec<u64> = body
        .lines()
        .filter(|line| line.starts_with("* ") || line.starts_with("- "))
        .filter(|line| !line.contains(" made their first contribution in "))
        .filter_map(|line| line.rsplit(' ').next())
        .filter(|link| link.starts_with("https://") || link.starts_with("http://"))
        .filter_map(|link| link.rsplit_once(marker.as_str()))
        .filter_map(|(_, number)| number.parse().ok())
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    numbers
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
    Category,
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
                "$CATEGORY" => ChangePiece::Category,
                other => ChangePiece::Text(other),
            },
        })
        .collect()
}

/// One pull request's line; `category` is the title of the category it is listed under
/// (empty when uncategorized).
fn change_line(
    config: &NotesConfig,
    pieces: &[ChangePiece<'_>],
    category: &str,
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
            ChangePiece::Authors => pr_authors_into(&mut out, config, pr, authors, server_url),
            ChangePiece::Body => out.push_str(&pr.body),
            ChangePiece::Url => out.push_str(&pr.url),
            ChangePiece::BaseRef => out.push_str(&pr.base_ref_name),
            ChangePiece::HeadRef => out.push_str(&pr.head_ref_name),
            ChangePiece::Category => out.push_str(category),
        }
        // A line longer than a whole release is of no use: stop before it grows further.
        if out.len() > RELEASE_BODY_LIMIT {
            template::cut_at(&mut out, RELEASE_BODY_LIMIT);
            break;
        }
    }
    out
}

/// `$AUTHORS` of one pull request: its author, then its commits' other authors (bots last,
/// by name), each through `change-author-template` (`$AUTHOR_MENTION` by default) and
/// joined by `change-authors-separator` (`, `), `change-authors-final-separator` before the
/// last; the template with `ghost` when nobody is known.
fn pr_authors_into(
    out: &mut String,
    config: &NotesConfig,
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
    // Each author as (`$AUTHOR`, `$AUTHOR_MENTION`) written into `into`.
    let write_author = |into: &mut String, index: usize, mention: bool| match index {
        0 if pr.author.is_some() => {
            let Some(author) = &pr.author else { return };
            let login = author.login.as_str();
            let bare = login.strip_suffix("[bot]").unwrap_or(login);
            match (author.is_bot, mention) {
                // An App's bot account links to the App.
                (true, true) => {
                    let _ = write!(into, "[@{bare}[bot]]({})", author.url);
                }
                (true, false) => {
                    let _ = write!(into, "{bare}[bot]");
                }
                (false, true) => Contributor::mention_login_into(into, login, server_url),
                (false, false) => into.push_str(login),
            }
        }
        i => {
            let who = &others[i - usize::from(pr.author.is_some())];
            match (who, mention) {
                (Who::Login(login), true) => {
                    Contributor::mention_login_into(into, login, server_url)
                }
                (Who::Login(login), false) => into.push_str(login),
                (Who::Name(name), _) => into.push_str(name),
            }
        }
    };
    let count = usize::from(pr.author.is_some()) + others.len();
    let plain_mentions = config.change_author_template == DEFAULT_CHANGE_AUTHOR_TEMPLATE;
    if count == 0 {
        out.push_str(&render_author(
            &config.change_author_template,
            "ghost",
            "@ghost",
        ));
        return;
    }
    for index in 0..count {
        if index > 0 {
            let last = index + 1 == count;
            out.push_str(match &config.change_authors_final_separator {
                Some(final_separator) if last => final_separator,
                _ => &config.change_authors_separator,
            });
        }
        if plain_mentions {
            // The default template: straight into the line, no template pass.
            write_author(out, index, true);
        } else {
            let (mut author, mut mention) = (String::new(), String::new());
            write_author(&mut author, index, false);
            write_author(&mut mention, index, true);
            out.push_str(&render_author(
                &config.change_author_template,
                &author,
                &mention,
            ));
        }
    }
}

/// One author through `change-author-template`.
fn render_author(template: &str, author: &str, mention: &str) -> String {
    let mut vars: Variables = HashMap::with_capacity(2);
    vars.insert("$AUTHOR".into(), author.into());
    vars.insert("$AUTHOR_MENTION".into(), mention.into());
    template::render(template, &vars)
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
    template::render_within(&config.commit_template, &vars, RELEASE_BODY_LIMIT)
        .unwrap_or_else(|cut| cut)
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
        let list = match section.collapse_after {
            Some(after) if total > after => format!(
                "<details>\n<summary>{total} change{}</summary>\n\n{list}\n</details>",
                if total > 1 { "s" } else { "" }
            ),
            _ => list,
        };
        let text = match &section.heading {
            Some(heading) => format!("{heading}\n\n{list}"),
            None => list,
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
    config.layout == NotesLayout::GitHub
        || [&config.header, &config.template, &config.footer]
            .iter()
            .any(|t| t.contains("$NEW_CONTRIBUTORS"))
}

/// Each new contributor's first pull request among `prs` (the earliest merge; `first` are
/// the new logins, `excluded` left out), in merge order.
fn first_pull_requests<'a>(
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
fn new_contributors_list(
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
    use crate::domain::notes::config::{NotesKeys, ReplacerKeys};

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

    fn release_yml(text: &str) -> NotesConfig {
        crate::domain::repo_config::RepoConfig::from_github_release_yml(".github/release.yml", text)
            .expect("release.yml")
            .notes_keys()
            .expect("keys")
            .resolve()
            .expect("config")
    }

    fn labelled(mut pr: PullRequest, labels: &[&str]) -> PullRequest {
        pr.labels = labels.iter().map(|l| (*l).to_owned()).collect();
        pr
    }

    /// GitHub's documented format ("Automatically generated release notes"): `###` headings
    /// right above their lines, oldest merge first, New Contributors, then the Full Changelog
    /// link on the web host.
    #[test]
    fn a_release_yml_is_written_in_githubs_format() {
        let config = release_yml(
            "changelog:\n  exclude:\n    labels: [ignore]\n  categories:\n    \
             - title: Breaking Changes 🛠\n      labels: [breaking]\n    \
             - title: Exciting New Features 🎉\n      labels: [feature]\n",
        );
        let prs = [
            labelled(pr(12, "carol", false, "2026-11-03T00:00:00Z"), &["feature"]),
            labelled(pr(10, "alice", false, "2026-11-01T00:00:00Z"), &["feature"]),
            labelled(pr(11, "bob", false, "2026-11-02T00:00:00Z"), &["breaking"]),
            // No category takes it: GitHub leaves it out.
            pr(13, "dave", false, "2026-11-04T00:00:00Z"),
            labelled(
                pr(14, "erin", false, "2026-11-05T00:00:00Z"),
                &["feature", "ignore"],
            ),
        ];
        let draft = build_draft(
            &config,
            &DraftInputs {
                owner: "acme",
                repository: "api",
                first_contributors: &["carol".to_owned()],
                last_release: Some(PreviousRelease {
                    tag_name: "v1.0.0",
                    name: None,
                }),
                pull_requests: &prs,
                server_url: "https://github.com",
                ..DraftInputs::default()
            },
        );
        assert_eq!(
            draft.body,
            "## What's Changed\n\
             ### Breaking Changes 🛠\n\
             * Change 11 by @bob in https://github.com/acme/api/pull/11\n\
             ### Exciting New Features 🎉\n\
             * Change 10 by @alice in https://github.com/acme/api/pull/10\n\
             * Change 12 by @carol in https://github.com/acme/api/pull/12\n\
             \n\
             ## New Contributors\n\
             * @carol made their first contribution in https://github.com/acme/api/pull/12\n\
             \n\
             **Full Changelog**: https://github.com/acme/api/compare/v1.0.0...v1.0.1"
        );
        assert_eq!(draft.listed_numbers, [10, 11, 12]);
        assert_eq!(
            pull_requests_listed_in(&draft.body, "acme/api"),
            [10, 11, 12]
        );
    }

    #[test]
    fn a_release_yml_without_categories_lists_everything_and_a_first_release_links_its_commits() {
        let config = release_yml("changelog:\n  exclude:\n    authors: [octocat]\n");
        let prs = [
            pr(2, "alice", false, "2026-11-01T00:00:00Z"),
            pr(3, "octocat", false, "2026-11-02T00:00:00Z"),
        ];
        let draft = build_draft(
            &config,
            &DraftInputs {
                owner: "acme",
                repository: "api",
                pull_requests: &prs,
                version: Some("0.1.0"),
                server_url: "https://github.example.com/",
                ..DraftInputs::default()
            },
        );
        assert!(
            draft.body.starts_with(
                "## What's Changed\n\
                 * Change 2 by @alice in https://github.com/acme/api/pull/2\n\
                 \n\
                 **Full Changelog**: https://github.example.com/acme/api/commits/v0.1.0"
            ),
            "{}",
            draft.body
        );

        // Nothing listed: the Full Changelog line alone, as GitHub writes it.
        let draft = build_draft(
            &config,
            &DraftInputs {
                owner: "acme",
                repository: "api",
                last_release: Some(PreviousRelease {
                    tag_name: "v0.1.0",
                    name: None,
                }),
                pull_requests: &prs[1..],
                server_url: "https://github.com",
                ..DraftInputs::default()
            },
        );
        assert_eq!(
            draft.body,
            "**Full Changelog**: https://github.com/acme/api/compare/v0.1.0...v0.1.1"
        );
        assert!(draft.listed_numbers.is_empty());
    }

    /// release-drafter's `generate contributors sentence` cases (build-release-payload.test.ts
    /// at c03148ea): octocat's pull request with commits co-authored by jetersen, cchanche and
    /// a bot.
    fn co_authored() -> (PullRequest, Vec<Commit>) {
        let mut pull = pr(3, "octocat", false, "2026-11-01T00:00:00Z");
        pull.title = "Adds missing <example>".into();
        let commits = vec![commit(
            3,
            vec![
                CommitAuthor::User("octocat".into()),
                CommitAuthor::User("jetersen".into()),
                CommitAuthor::User("cchanche".into()),
                CommitAuthor::User("github-actions[bot]".into()),
            ],
        )];
        (pull, commits)
    }

    fn changes(keys: NotesKeys, prs: &[PullRequest], commits: &[Commit]) -> String {
        draft(
            NotesKeys {
                template: Some("$CHANGES".into()),
                ..keys
            },
            prs,
            commits,
        )
        .body
    }

    #[test]
    fn authors_follow_the_author_template_and_separators() {
        let (pull, commits) = co_authored();
        let human = &commits[..];
        let template = |t: &str| NotesKeys {
            change_template: Some(t.into()),
            ..NotesKeys::default()
        };
        assert_eq!(
            changes(template("$AUTHORS"), std::slice::from_ref(&pull), human),
            "@octocat, @cchanche, @jetersen, \
             [@github-actions[bot]](https://github.com/apps/github-actions)"
        );
        assert_eq!(
            changes(
                NotesKeys {
                    change_authors_final_separator: Some(" and ".into()),
                    ..template("$AUTHORS")
                },
                std::slice::from_ref(&pull),
                human
            ),
            "@octocat, @cchanche, @jetersen and \
             [@github-actions[bot]](https://github.com/apps/github-actions)"
        );
        assert_eq!(
            changes(
                NotesKeys {
                    change_author_template: Some("$AUTHOR: $AUTHOR_MENTION".into()),
                    ..template("$AUTHOR | $AUTHORS")
                },
                std::slice::from_ref(&pull),
                human
            ),
            "octocat | octocat: @octocat, cchanche: @cchanche, jetersen: @jetersen, \
             github-actions[bot]: [@github-actions[bot]](https://github.com/apps/github-actions)"
        );
        // A deleted account is the ghost, through the template too.
        let mut deleted = pull.clone();
        deleted.author = None;
        assert_eq!(
            changes(
                NotesKeys {
                    change_author_template: Some("$AUTHOR: $AUTHOR_MENTION".into()),
                    ..template("$AUTHORS")
                },
                &[deleted],
                &[]
            ),
            "ghost: @ghost"
        );
    }

    /// release-drafter's README example: `$CATEGORY` in the line, no category headings, and
    /// a newline-separated author list make a YAML changelog.
    #[test]
    fn the_multiline_author_example_of_release_drafters_readme() {
        let (mut pull, commits) = co_authored();
        pull.labels = vec!["bug".into()];
        let mut todo = pr(2, "ghost", false, "2026-10-01T00:00:00Z");
        todo.title = "B2".into();
        todo.author = None;
        let keys: NotesKeys = serde_saphyr::from_str(
            "template: \"$CHANGES\"\n\
             categories:\n  - title: bug\n    when:\n      label: bug\n  - title: todo\n\
             category-template: \"\"\n\
             change-template: |-\n  - type: $CATEGORY\n    message: |-\n      $TITLE\n    \
             pull: $NUMBER\n    authors:\n      $AUTHORS\n\
             change-author-template: \"- $AUTHOR\"\n\
             change-authors-separator: \"\\n    \"\n",
        )
        .expect("yaml");
        assert_eq!(
            draft(keys, &[pull, todo], &commits[..]).body,
            "- type: bug\n  message: |-\n    Adds missing <example>\n  pull: 3\n  authors:\n    \
             - octocat\n    - cchanche\n    - jetersen\n    - github-actions[bot]\n\n\
             - type: todo\n  message: |-\n    B2\n  pull: 2\n  authors:\n    - ghost"
        );
    }

    #[test]
    fn new_contributors_follow_release_drafters_templates() {
        let keys = |extra: NotesKeys| NotesKeys {
            template: Some("$NEW_CONTRIBUTORS".into()),
            ..extra
        };
        let build = |keys: NotesKeys, prs: &[PullRequest], first: &[String]| {
            build_draft(
                &keys.resolve().expect("config"),
                &DraftInputs {
                    owner: "acme",
                    repository: "api",
                    first_contributors: first,
                    last_release: Some(PreviousRelease {
                        tag_name: "v1.0.0",
                        name: None,
                    }),
                    pull_requests: prs,
                    server_url: "https://github.com",
                    ..DraftInputs::default()
                },
            )
            .body
        };
        let mut newcomer = pr(42, "first-timer", false, "2026-11-02T00:00:00Z");
        newcomer.author.as_mut().expect("author").url = "https://github.com/first-timer".into();
        let regular = pr(7, "jetersen", false, "2026-11-01T00:00:00Z");
        let both = [regular.clone(), newcomer.clone()];
        let first = ["first-timer".to_owned()];
        assert_eq!(
            build(keys(NotesKeys::default()), &both, &first),
            "* @first-timer made their first contribution in #42"
        );
        assert_eq!(
            build(keys(NotesKeys::default()), &both, &[]),
            "* No new contributors"
        );
        assert_eq!(
            build(
                keys(NotesKeys {
                    no_new_contributor_template: Some(
                        "Nobody made their first contribution".into()
                    ),
                    ..NotesKeys::default()
                }),
                &both,
                &[]
            ),
            "Nobody made their first contribution"
        );
        assert_eq!(
            build(
                keys(NotesKeys {
                    new_contributor_template: Some(
                        "* [$AUTHOR]($AUTHOR_URL) made their first contribution in [#$NUMBER]($URL)"
                            .into()
                    ),
                    ..NotesKeys::default()
                }),
                &both,
                &first
            ),
            "* [first-timer](https://github.com/first-timer) made their first contribution in \
             [#42](https://github.com/acme/api/pull/42)"
        );
        // Their first pull request here is left out by a pre-exclude category: not listed,
        // even though a later one is.
        let mut skipped = newcomer.clone();
        skipped.number = 41;
        skipped.merged_at = "2026-11-01T00:00:00Z".into();
        skipped.labels = vec!["skip-changelog".into()];
        let skip: NotesKeys = serde_saphyr::from_str(
            "template: $NEW_CONTRIBUTORS\n\
             categories:\n  - type: pre-exclude\n    when:\n      label: skip-changelog\n",
        )
        .expect("yaml");
        assert_eq!(
            build(skip, &[newcomer, skipped], &first),
            "* No new contributors"
        );
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

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

        /// Whatever the replacers, templates and pull requests, a configuration is refused
        /// when read or renders a body within GitHub's limit, and no step of the render
        /// passes the expansion limit.
        #[test]
        fn any_configuration_renders_within_the_bounds(
            searches in proptest::collection::vec(
                proptest::sample::select(vec![
                    "/[\\s\\S]+/", "/(?:)/g", "/./g", "/\\w+/g", "/BOOM[\\s\\S]*/",
                    "/#(\\d+)/g", "Change", "/$/m",
                ]),
                0..14,
            ),
            repeats in proptest::collection::vec(0usize..12, 14),
            changes in 1usize..40,
            template_repeats in 1usize..3_000,
            titles in proptest::collection::vec("[a-zA-Z #@!$&*()\\[\\]]{0,80}", 1..30),
            body_bytes in 0usize..70_000,
        ) {
            let replacers = searches
                .iter()
                .zip(&repeats)
                .map(|(search, n)| ReplacerKeys {
                    search: (*search).to_owned(),
                    replace: format!("<{}>", "$&".repeat(*n)),
                })
                .collect();
            let keys = NotesKeys {
                replacers: Some(replacers),
                template: Some("$CHANGES $RESOLVED_VERSION".repeat(template_repeats)),
                change_template: Some("* $TITLE (#$NUMBER) $BODY".into()),
                ..NotesKeys::default()
            };
            let Ok(config) = keys.resolve() else {
                return Ok(());
            };
            let prs: Vec<PullRequest> = (0..changes)
                .map(|i| {
                    let mut pr = pr(i as u64 + 1, "octocat", false, "2026-11-27T09:00:00Z");
                    pr.title = format!("BOOM {}", titles[i % titles.len()]);
                    pr.body = "b".repeat(body_bytes);
                    pr
                })
                .collect();
            let made = build_draft(
                &config,
                &DraftInputs {
                    owner: "acme",
                    repository: "api",
                    pull_requests: &prs,
                    server_url: "https://github.com",
                    ..DraftInputs::default()
                },
            );
            proptest::prop_assert!(made.body.chars().count() <= RELEASE_BODY_LIMIT);
            let vars: template::Variables = [("$CHANGES".to_owned(), "x".repeat(body_bytes).into())]
                .into_iter()
                .collect();
            let rendered = template::render_with_replacers(
                &config.template,
                &vars,
                &config.replacers,
                template::EXPANSION_LIMIT,
            );
            let text = match rendered {
                Ok(text) | Err((_, text)) => text,
            };
            proptest::prop_assert!(text.len() <= template::EXPANSION_LIMIT);
        }
    }
}
