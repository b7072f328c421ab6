//! From pull requests to a release draft, as release-drafter builds it: sort, categorize,
//! one line per change, headings and collapsed sections, contributors, the body template
//! (`header` + `template` + `footer`) with replacers, then the version variables, tag and
//! name. A body over GitHub's limit is shortened here, before anything is written.

mod categorise;
mod contributors;
mod fit;
mod lines;
#[cfg(test)]
mod tests;

use super::categorize::Categorizer;
use super::changes::{Commit, PullRequest};
use super::config::{NotesConfig, SemverIncrement};
use super::template::{self, TemplateValue, Variables};
use crate::domain::calver::{CalendarScheme, next_calendar_version};
use crate::domain::version::{self, Increment, PreviousRelease, VersionInputs};
use categorise::{Categorised, categorise, sort_pull_requests};
use contributors::{CommitAuthors, contributors_sentence};
pub use contributors::{new_contributors_section, wants_new_contributors};
use fit::{Rendering, render_fitted};
pub use fit::{fit_body, pull_requests_listed_in};

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
