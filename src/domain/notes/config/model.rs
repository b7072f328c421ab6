//! The notes configuration as the engine uses it: categories of the four types with their
//! conditions, the templates with their defaults, the bounds an untrusted configuration is held
//! to, and its errors.

use super::{ConventionalMatch, Latest, NotesLayout};
use crate::domain::notes::template::{BadReplacer, Replacer};
use crate::domain::version::Increment;
use serde::Deserialize;

/// What a category does.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum CategoryKind {
    /// A section of the notes.
    Changelog,
    /// Only matching changes are considered at all.
    PreInclude,
    /// Matching changes are left out.
    PreExclude,
    /// Only contributes to the version.
    VersionResolver,
}

/// How a condition's list compares with a change's.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum MatchMode {
    /// At least one in common.
    #[default]
    Any,
    /// The change has all of them.
    All,
    /// The change has nothing else.
    Only,
    /// The same set.
    Exactly,
}

/// `major`, `minor` or `patch`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum SemverIncrement {
    /// Patch.
    Patch,
    /// Minor.
    Minor,
    /// Major.
    Major,
}

impl From<SemverIncrement> for Increment {
    fn from(value: SemverIncrement) -> Self {
        match value {
            SemverIncrement::Patch => Increment::Patch,
            SemverIncrement::Minor => Increment::Minor,
            SemverIncrement::Major => Increment::Major,
        }
    }
}

/// `sort-by`.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SortBy {
    /// Merge time.
    #[default]
    #[serde(alias = "date")]
    MergedAt,
    /// Title.
    Title,
}

/// `sort-direction`.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SortDirection {
    /// Newest (or last by title) first.
    #[default]
    Descending,
    /// Oldest first.
    Ascending,
}

/// A normalised category.
#[derive(Debug, Clone, PartialEq)]
pub struct Category {
    /// What it does.
    pub kind: CategoryKind,
    /// Heading (changelog categories).
    pub title: String,
    /// Any of these must match; empty means "the fallback" (changelog/version-resolver) or
    /// "everything" (pre-include/pre-exclude).
    pub when: Vec<Condition>,
    /// Stop at the first exclusive match.
    pub exclusive: bool,
    /// Fold above this many changes; `None` never.
    pub collapse_after: Option<usize>,
    /// The increment its changes call for, when set. A version-resolver category without
    /// `when` sets the default: the increment when no change calls for one.
    pub increment: Option<SemverIncrement>,
    /// Labels that keep a change out of this category.
    pub exclude_labels: Vec<String>,
    /// Authors whose changes stay out of this category.
    pub exclude_authors: Vec<String>,
}

/// A normalised condition.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Condition {
    /// Labels.
    pub labels: Vec<String>,
    /// How labels compare.
    pub labels_mode: MatchMode,
    /// Path patterns.
    pub paths: Vec<String>,
    /// How paths compare.
    pub paths_mode: MatchMode,
    /// Authors (any of them).
    pub authors: Vec<String>,
    /// Conventional title predicate.
    pub conventional: Option<ConventionalMatch>,
}

/// The notes configuration, defaults applied, ready for the engine.
#[derive(Debug, Clone)]
pub struct NotesConfig {
    /// Body template.
    pub template: String,
    /// Header.
    pub header: String,
    /// Footer.
    pub footer: String,
    /// Per pull request.
    pub change_template: String,
    /// Each author in `$AUTHORS`.
    pub change_author_template: String,
    /// Between authors.
    pub change_authors_separator: String,
    /// Before the last author (`None`: the separator).
    pub change_authors_final_separator: Option<String>,
    /// Per commit without a pull request.
    pub commit_template: String,
    /// Title escapes.
    pub change_title_escapes: String,
    /// When nothing changed.
    pub no_changes_template: String,
    /// Category heading.
    pub category_template: String,
    /// Normalised categories.
    pub categories: Vec<Category>,
    /// Excluded contributors.
    pub exclude_contributors: Vec<String>,
    /// When no contributor is left.
    pub no_contributors_template: String,
    /// Each new contributor.
    pub new_contributor_template: String,
    /// When nobody is new.
    pub no_new_contributor_template: String,
    /// Compiled replacers.
    pub replacers: Vec<Replacer>,
    /// Sort key.
    pub sort_by: SortBy,
    /// Sort order.
    pub sort_direction: SortDirection,
    /// Version template.
    pub version_template: String,
    /// Name template (empty: none).
    pub name_template: String,
    /// Tag template (empty: none).
    pub tag_template: String,
    /// Tag prefix.
    pub tag_prefix: String,
    /// Pre-release.
    pub prerelease: bool,
    /// Pre-release identifier.
    pub prerelease_identifier: Option<String>,
    /// Include published pre-releases as baselines.
    pub include_pre_releases: bool,
    /// `make_latest`.
    pub latest: Latest,
    /// Release target override.
    pub commitish: Option<String>,
    /// Previous releases must target `commitish`.
    pub filter_by_commitish: bool,
    /// Previous releases must satisfy this range.
    pub filter_by_range: Option<semver::VersionReq>,
    /// Commits per comparison page.
    pub history_limit: u32,
    /// Pull requests per commit.
    pub pull_request_limit: u32,
    /// List commits without pull requests.
    pub include_commits_without_pr: bool,
    /// The increment when no change calls for one (a version-resolver category without
    /// `when`, or legacy `version-resolver.default`; patch otherwise).
    pub default_increment: SemverIncrement,
    /// How the body is laid out.
    pub layout: NotesLayout,
}

/// trainyard's default page size of the commit history (release-drafter's is 15).
pub const DEFAULT_HISTORY_LIMIT: u32 = 100;

/// Pull requests asked for per commit.
pub const DEFAULT_PULL_REQUEST_LIMIT: u32 = 5;

/// release-drafter's default line per change.
pub const DEFAULT_CHANGE_TEMPLATE: &str = "* $TITLE (#$NUMBER) $AUTHORS";

/// release-drafter's default for each author in `$AUTHORS`.
pub const DEFAULT_CHANGE_AUTHOR_TEMPLATE: &str = "$AUTHOR_MENTION";

/// release-drafter's default line per new contributor.
pub const DEFAULT_NEW_CONTRIBUTOR_TEMPLATE: &str =
    "* $AUTHOR_MENTION made their first contribution in #$NUMBER";

/// Line per commit without a pull request.
pub const DEFAULT_COMMIT_TEMPLATE: &str = "* $TITLE ($SHA) $AUTHORS";

/// The body when none is configured.
pub const DEFAULT_TEMPLATE: &str = "## What's Changed\n\n$CHANGES\n";

/// What a notes configuration may ask for, checked when it is read; what it renders is
/// bounded again while rendering ([`crate::domain::notes::template::EXPANSION_LIMIT`]).
pub mod bounds {
    /// Replacers.
    pub const REPLACERS: usize = 50;
    /// Categories.
    pub const CATEGORIES: usize = 100;
    /// Autolabeler rules (each with at most
    /// [`crate::domain::autolabel::MAX_PATTERNS`] patterns per key).
    pub const AUTOLABELER_RULES: usize = 100;
    /// Characters of `template`, `header` or `footer`.
    pub const BODY_TEMPLATE_CHARS: usize = 20_000;
    /// Characters of any other template, a separator, or a replacer's search or replacement.
    pub const TEMPLATE_CHARS: usize = 2_000;
    /// How many times over the replacers may grow notes (tried on a sample when read).
    pub const REPLACER_GROWTH: usize = 8;
    /// The sample of notes the replacers are tried on (bytes).
    pub const GROWTH_SAMPLE: usize = 12_500;
}

/// A configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotesConfigError {
    /// A replacer's search cannot be compiled.
    #[error(transparent)]
    Replacer(#[from] BadReplacer),
    /// A key's value is not acceptable.
    #[error("`{key}`: {reason}")]
    Invalid {
        /// The key.
        key: String,
        /// Why.
        reason: String,
    },
}

pub(super) fn invalid(key: &str, reason: impl Into<String>) -> NotesConfigError {
    NotesConfigError::Invalid {
        key: key.to_owned(),
        reason: reason.into(),
    }
}

impl Category {
    pub(super) fn with_when(mut self, when: Vec<Condition>) -> Category {
        self.when = when;
        self
    }
}
