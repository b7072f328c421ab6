//! The notes configuration: release-drafter's keys, unchanged, as typed structs (unknown keys
//! and wrong types are errors naming the key and line), then normalised the way release-drafter
//! v7 does: legacy `label`/`labels`, `exclude-labels`, `include-labels`, `include-paths`,
//! `exclude-paths` and `version-resolver` become categories of the four types (`changelog`,
//! `pre-include`, `pre-exclude`, `version-resolver`) with `when` conditions.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::template::{BadReplacer, Replacer};
use crate::domain::version::Increment;

/// The keys as written (release-drafter's names). Every field is optional so that a
/// `trainyard.yml` can split them between its `notes` and `version` sections.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct NotesKeys {
    /// `_extends` (release-drafter's inheritance), resolved when the configuration is read.
    #[serde(rename = "_extends", default)]
    pub extends: Option<serde::de::IgnoredAny>,
    /// The body: `$CHANGES`, `$CONTRIBUTORS`, `$PREVIOUS_TAG`, version variables, ….
    pub template: Option<String>,
    /// Put before `template`.
    pub header: Option<String>,
    /// Put after `template`.
    pub footer: Option<String>,
    /// One line per pull request (`* $TITLE (#$NUMBER) @$AUTHOR`).
    pub change_template: Option<String>,
    /// Each author in `$AUTHORS` (`$AUTHOR`, `$AUTHOR_MENTION`; default `$AUTHOR_MENTION`).
    pub change_author_template: Option<String>,
    /// Between authors in `$AUTHORS` (default `, `).
    pub change_authors_separator: Option<String>,
    /// Before the last author in `$AUTHORS` (default: the separator).
    pub change_authors_final_separator: Option<String>,
    /// One line per commit without a pull request, with `include-commits-without-pr`.
    pub commit_template: Option<String>,
    /// Characters of titles to escape (`@` and `#` are defused, others get a backslash).
    pub change_title_escapes: Option<String>,
    /// `$CHANGES` when nothing changed (`* No changes`).
    pub no_changes_template: Option<String>,
    /// Heading of each category (`## $TITLE`).
    pub category_template: Option<String>,
    /// Categories, in order.
    pub categories: Option<Vec<CategoryKeys>>,
    /// Legacy: pull requests with any of these labels are left out.
    pub exclude_labels: Option<Vec<String>>,
    /// Legacy: only pull requests with one of these labels are listed.
    pub include_labels: Option<Vec<String>>,
    /// Legacy: only pull requests touching these paths are listed.
    pub include_paths: Option<Vec<String>>,
    /// Legacy: pull requests touching these paths are left out.
    pub exclude_paths: Option<Vec<String>>,
    /// Logins left out of `$CONTRIBUTORS`.
    pub exclude_contributors: Option<Vec<String>>,
    /// Pull requests by these logins are left out (GitHub's `release.yml` `exclude.authors`).
    pub exclude_authors: Option<Vec<String>>,
    /// `$CONTRIBUTORS` when nobody is left (`No contributors`).
    pub no_contributors_template: Option<String>,
    /// Each line of `$NEW_CONTRIBUTORS` (`$AUTHOR`, `$AUTHOR_MENTION`, `$AUTHOR_URL`,
    /// `$NUMBER`, `$URL`; default `* $AUTHOR_MENTION made their first contribution in
    /// #$NUMBER`).
    pub new_contributor_template: Option<String>,
    /// `$NEW_CONTRIBUTORS` when nobody is new (`* No new contributors`).
    pub no_new_contributor_template: Option<String>,
    /// Search and replace over the rendered body.
    pub replacers: Option<Vec<ReplacerKeys>>,
    /// `merged_at` (also `date`) or `title`.
    pub sort_by: Option<SortBy>,
    /// `descending` (default) or `ascending`.
    pub sort_direction: Option<SortDirection>,
    /// Legacy label lists per increment and the default increment.
    pub version_resolver: Option<VersionResolverKeys>,
    /// How a version is written (`$MAJOR.$MINOR.$PATCH$PRERELEASE`).
    pub version_template: Option<String>,
    /// The release name.
    pub name_template: Option<String>,
    /// The tag.
    pub tag_template: Option<String>,
    /// Only tags with this prefix are releases of this line; stripped before parsing.
    pub tag_prefix: Option<String>,
    /// Draft a pre-release.
    pub prerelease: Option<bool>,
    /// The pre-release identifier (`rc`, `beta`); implies `prerelease`.
    pub prerelease_identifier: Option<String>,
    /// Count published pre-releases as the baseline too.
    pub include_pre_releases: Option<bool>,
    /// Mark the release as GitHub's latest (`true`, `false` or `legacy`).
    pub latest: Option<Latest>,
    /// Target branch or commit of the release (default: the line's branch).
    pub commitish: Option<String>,
    /// Only releases targeting `commitish` count as previous releases.
    pub filter_by_commitish: Option<bool>,
    /// Only releases whose version satisfies this SemVer range count.
    pub filter_by_range: Option<String>,
    /// Page size of the commit history (trainyard default 100).
    pub history_limit: Option<u32>,
    /// Pull requests fetched per commit (default 5).
    pub pull_request_limit: Option<u32>,
    /// List commits that have no pull request too.
    #[serde(alias = "include-commits")]
    pub include_commits_without_pr: Option<bool>,
    /// Who writes the notes: `trainyard` (its renderer) or `github` (GitHub's own generated
    /// notes, one `generate-notes` call); `github` is the default for a repository with
    /// only `.github/release.yml`.
    pub engine: Option<NotesEngine>,
    /// release-drafter's autolabeler rules: pull requests are labelled by them when opened,
    /// reopened, pushed to or edited ([`crate::domain::autolabel`]).
    pub autolabeler: Option<Vec<crate::domain::autolabel::AutolabelKeys>>,
    /// release-drafter's probot-era branch filter: accepted and ignored (lines choose branches).
    pub branches: Option<serde::de::IgnoredAny>,
    /// Keep a `CHANGELOG.md`: each release's notes are added to it when it is published.
    pub changelog: Option<ChangelogKeys>,
    /// How the body is laid out; not a key of any file: set when GitHub's `release.yml` is
    /// read, so trainyard writes such a repository's notes in GitHub's own format.
    #[serde(skip)]
    pub layout: Option<NotesLayout>,
}

/// `notes.changelog`: where the changelog file is and how it is written.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ChangelogKeys {
    /// The file, from the repository's root (default `CHANGELOG.md`).
    pub path: Option<String>,
    /// `commit` (default: one commit on the line's branch) or `pull-request`.
    pub mode: Option<ChangelogMode>,
}

/// How the changelog is written.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ChangelogMode {
    /// One commit by the App on the line's branch (a pull request when the branch is
    /// protected).
    #[default]
    Commit,
    /// A pull request labelled with the skip label, so it never boards a train.
    PullRequest,
}

impl ChangelogKeys {
    /// The file's path.
    pub fn path(&self) -> &str {
        self.path.as_deref().unwrap_or("CHANGELOG.md")
    }
}

/// How a body is laid out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NotesLayout {
    /// release-drafter's: the templates decide.
    #[default]
    Templates,
    /// GitHub's generated notes: "What's Changed" with `###` categories (pull requests no
    /// category takes are left out when there are categories), "New Contributors", and the
    /// "Full Changelog" link.
    GitHub,
}

/// Who writes a release's notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotesEngine {
    /// trainyard's renderer (release-drafter's keys).
    Trainyard,
    /// GitHub's generated notes (`POST /repos/{owner}/{repo}/releases/generate-notes`).
    Github,
}

/// One category as written.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CategoryKeys {
    /// Heading (`$TITLE` of `category-template`); required for changelog categories.
    pub title: Option<String>,
    /// `changelog` (default), `pre-include`, `pre-exclude` or `version-resolver`.
    #[serde(rename = "type")]
    pub kind: Option<CategoryKind>,
    /// A change in this category is not put in later ones of the same type.
    pub exclusive: Option<bool>,
    /// Fold the list into `<details>` above this many changes (`-1` never, `0` always).
    pub collapse_after: Option<i64>,
    /// The increment a change in this category calls for (default patch).
    pub semver_increment: Option<SemverIncrement>,
    /// Legacy: labels (any of them).
    pub labels: Option<Vec<String>>,
    /// Legacy: one label.
    pub label: Option<String>,
    /// Conditions: one, or a list any of which may match.
    pub when: Option<OneOrMany<ConditionKeys>>,
    /// Pull requests with any of these labels are not put here (GitHub's `exclude.labels`).
    pub exclude_labels: Option<Vec<String>>,
    /// Pull requests by these logins are not put here (GitHub's `exclude.authors`).
    pub exclude_authors: Option<Vec<String>>,
}

/// A category condition as written: all its predicates must hold.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ConditionKeys {
    /// One label.
    pub label: Option<String>,
    /// Labels.
    pub labels: Option<Vec<String>>,
    /// How `labels` compare with the change's labels.
    pub labels_mode: Option<MatchMode>,
    /// One path pattern.
    pub path: Option<String>,
    /// Path patterns (globs, files or directories).
    pub paths: Option<Vec<String>>,
    /// How `paths` compare with the change's files.
    pub paths_mode: Option<MatchMode>,
    /// Pull requests by one of these logins.
    pub authors: Option<Vec<String>>,
    /// A Conventional Commits title: `true`, or types/scopes/breaking.
    pub conventional: Option<ConventionalKeys>,
}

/// `conventional: true` or its detailed form.
#[derive(Debug, Clone, PartialEq)]
pub enum ConventionalKeys {
    /// Any Conventional Commits title.
    Any,
    /// A title with these properties.
    Matching(ConventionalMatch),
}

/// The detailed form of `conventional`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ConventionalMatch {
    /// One type.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Types (`feat`, `fix`).
    pub types: Option<Vec<String>>,
    /// One scope.
    pub scope: Option<String>,
    /// Scopes.
    pub scopes: Option<Vec<String>>,
    /// Breaking (`!`) or not.
    pub breaking: Option<bool>,
}

impl<'de> Deserialize<'de> for ConventionalKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ConventionalKeys;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`true` or a map of types, scopes and breaking")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                if v {
                    Ok(ConventionalKeys::Any)
                } else {
                    Err(E::custom(
                        "`conventional: false` matches nothing; leave it out",
                    ))
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                ConventionalMatch::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(ConventionalKeys::Matching)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// One value or a list of them (`when`).
#[derive(Debug, Clone, PartialEq)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a condition or a list of conditions")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|t| OneOrMany(vec![t]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Vec::<T>::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(OneOrMany)
            }
        }
        deserializer.deserialize_any(V(PhantomData))
    }
}

/// `latest`: a boolean, or the strings `true`/`false`/`legacy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Latest {
    /// Mark as latest.
    True,
    /// Do not.
    False,
    /// Let GitHub decide by date and version.
    Legacy,
}

impl Latest {
    /// As GitHub's `make_latest` takes it.
    pub fn as_api(self) -> &'static str {
        match self {
            Latest::True => "true",
            Latest::False => "false",
            Latest::Legacy => "legacy",
        }
    }
}

impl<'de> Deserialize<'de> for Latest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Latest;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true, false or \"legacy\"")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Latest, E> {
                Ok(if v { Latest::True } else { Latest::False })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Latest, E> {
                match v {
                    "true" => Ok(Latest::True),
                    "false" => Ok(Latest::False),
                    "legacy" => Ok(Latest::Legacy),
                    other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
                }
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A replacer as written.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReplacerKeys {
    /// `/regex/flags` or plain text; must not be empty.
    pub search: String,
    /// The replacement (`$1`, `$&`, `\n`, `\U…\E`, …).
    pub replace: String,
}

/// Legacy `version-resolver`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VersionResolverKeys {
    /// Labels for a major release.
    pub major: Option<LabelList>,
    /// Labels for a minor release.
    pub minor: Option<LabelList>,
    /// Labels for a patch release.
    pub patch: Option<LabelList>,
    /// The increment when no label says otherwise.
    pub default: Option<SemverIncrement>,
}

/// `{labels: [...]}`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LabelList {
    /// The labels.
    pub labels: Vec<String>,
}

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

/// Tries the replacers, in order, on a sample of notes: ones that grow it more than
/// [`bounds::REPLACER_GROWTH`] times over are refused, naming the replacer that passed it
/// (rendering would cut such notes anyway; refusing says so when the file is pushed).
fn check_replacer_growth(replacers: &[Replacer]) -> Result<(), NotesConfigError> {
    if replacers.is_empty() {
        return Ok(());
    }
    const LINES: [&str; 4] = [
        "## What's Changed\n\n### Bug Fixes\n\n",
        "* Fix the departure board's clock (#123) @octocat\n",
        "* feat(api)!: add the platform API (#124) @hubot\n",
        "**Full Changelog**: https://github.com/o/r/compare/v1.2.3...v1.3.0\n",
    ];
    let mut sample = String::with_capacity(bounds::GROWTH_SAMPLE + 100);
    while sample.len() < bounds::GROWTH_SAMPLE {
        for line in LINES {
            sample.push_str(line);
        }
    }
    let limit = sample.len() * bounds::REPLACER_GROWTH;
    let mut text = sample;
    for (i, replacer) in replacers.iter().enumerate() {
        text = replacer.apply_within(&text, limit).map_err(|_| {
            invalid(
                &format!("replacers[{i}]"),
                format!(
                    "the replacers up to this one grow release notes more than {} times over \
                     (tried on a sample of notes); a release takes at most 125,000 characters",
                    bounds::REPLACER_GROWTH,
                ),
            )
        })?;
    }
    Ok(())
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

fn invalid(key: &str, reason: impl Into<String>) -> NotesConfigError {
    NotesConfigError::Invalid {
        key: key.to_owned(),
        reason: reason.into(),
    }
}

impl NotesKeys {
    /// Keys set in `other` override ours (an action input over the file, a CLI flag over the
    /// repository's config).
    pub fn overlay(&mut self, other: NotesKeys) {
        macro_rules! take {
            ($($field:ident),* $(,)?) => { $( if other.$field.is_some() { self.$field = other.$field; } )* };
        }
        take!(
            template,
            header,
            footer,
            change_template,
            change_author_template,
            change_authors_separator,
            change_authors_final_separator,
            commit_template,
            change_title_escapes,
            no_changes_template,
            category_template,
            categories,
            exclude_labels,
            include_labels,
            include_paths,
            exclude_paths,
            exclude_contributors,
            no_contributors_template,
            new_contributor_template,
            no_new_contributor_template,
            replacers,
            sort_by,
            sort_direction,
            version_resolver,
            version_template,
            name_template,
            tag_template,
            tag_prefix,
            prerelease,
            prerelease_identifier,
            include_pre_releases,
            latest,
            commitish,
            filter_by_commitish,
            filter_by_range,
            history_limit,
            pull_request_limit,
            include_commits_without_pr,
            engine,
            autolabeler,
            branches,
            changelog,
            layout,
        );
    }

    /// Checks [`bounds`]: a configuration is untrusted input, and what it asks to render must
    /// fit in memory whatever the pull requests say.
    fn check_bounds(&self) -> Result<(), NotesConfigError> {
        for (key, value) in [
            ("history-limit", self.history_limit),
            ("pull-request-limit", self.pull_request_limit),
        ] {
            if value == Some(0) {
                return Err(invalid(key, "must be at least 1"));
            }
        }
        let count = |key: &str, n: usize, most: usize| {
            if n > most {
                Err(invalid(
                    key,
                    format!("at most {most} are allowed; this has {n}"),
                ))
            } else {
                Ok(())
            }
        };
        count(
            "replacers",
            self.replacers.iter().flatten().count(),
            bounds::REPLACERS,
        )?;
        count(
            "categories",
            self.categories.iter().flatten().count(),
            bounds::CATEGORIES,
        )?;
        count(
            "autolabeler",
            self.autolabeler.iter().flatten().count(),
            bounds::AUTOLABELER_RULES,
        )?;
        let long = |key: &str, text: &Option<String>, most: usize| match text {
            Some(text) if text.chars().count() > most => Err(invalid(
                key,
                format!(
                    "at most {most} characters are allowed; this has {}",
                    text.chars().count()
                ),
            )),
            _ => Ok(()),
        };
        for (key, text) in [
            ("template", &self.template),
            ("header", &self.header),
            ("footer", &self.footer),
        ] {
            long(key, text, bounds::BODY_TEMPLATE_CHARS)?;
        }
        for (key, text) in [
            ("change-template", &self.change_template),
            ("change-author-template", &self.change_author_template),
            ("change-authors-separator", &self.change_authors_separator),
            (
                "change-authors-final-separator",
                &self.change_authors_final_separator,
            ),
            ("commit-template", &self.commit_template),
            ("no-changes-template", &self.no_changes_template),
            ("category-template", &self.category_template),
            ("no-contributors-template", &self.no_contributors_template),
            ("new-contributor-template", &self.new_contributor_template),
            (
                "no-new-contributor-template",
                &self.no_new_contributor_template,
            ),
            ("version-template", &self.version_template),
            ("name-template", &self.name_template),
            ("tag-template", &self.tag_template),
            ("tag-prefix", &self.tag_prefix),
        ] {
            long(key, text, bounds::TEMPLATE_CHARS)?;
        }
        for (i, r) in self.replacers.iter().flatten().enumerate() {
            for (key, text) in [("search", &r.search), ("replace", &r.replace)] {
                long(
                    &format!("replacers[{i}].{key}"),
                    &Some(text.clone()),
                    bounds::TEMPLATE_CHARS,
                )?;
            }
        }
        Ok(())
    }

    /// The replacers, compiled; none may grow a body without bound.
    fn replacers(&self) -> Result<Vec<Replacer>, NotesConfigError> {
        let replacers = self
            .replacers
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, r)| {
                if r.search.is_empty() {
                    Err(invalid(
                        &format!("replacers[{i}].search"),
                        "must not be empty",
                    ))
                } else {
                    Ok(Replacer::new(&r.search, &r.replace)?)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        check_replacer_growth(&replacers)?;
        Ok(replacers)
    }

    /// Whether the release is a pre-release, its identifier, and `latest` (never for a
    /// pre-release). An identifier implies a pre-release unless `prerelease: false` says
    /// otherwise.
    fn prerelease(&self) -> (bool, Option<String>, Latest) {
        let identifier = self.prerelease_identifier.clone().filter(|s| !s.is_empty());
        let prerelease = self.prerelease.unwrap_or(identifier.is_some());
        let latest = if prerelease {
            Latest::False
        } else {
            self.latest.unwrap_or(Latest::True)
        };
        (prerelease, identifier.filter(|_| prerelease), latest)
    }

    /// Applies defaults and normalises categories.
    pub fn resolve(&self) -> Result<NotesConfig, NotesConfigError> {
        self.check_bounds()?;
        let categories = self.normalised_categories()?;
        let default_increment = categories
            .iter()
            .find(|c| c.kind == CategoryKind::VersionResolver && c.when.is_empty())
            .and_then(|c| c.increment)
            .unwrap_or(SemverIncrement::Patch);
        let replacers = self.replacers()?;
        let filter_by_range = self
            .filter_by_range
            .as_deref()
            .map(|range| {
                semver::VersionReq::parse(range)
                    .map_err(|e| invalid("filter-by-range", format!("`{range}`: {e}")))
            })
            .transpose()?;
        let (prerelease, prerelease_identifier, latest) = self.prerelease();
        Ok(NotesConfig {
            template: self
                .template
                .clone()
                .unwrap_or_else(|| DEFAULT_TEMPLATE.to_owned()),
            header: self.header.clone().unwrap_or_default(),
            footer: self.footer.clone().unwrap_or_default(),
            change_template: self
                .change_template
                .clone()
                .unwrap_or_else(|| DEFAULT_CHANGE_TEMPLATE.to_owned()),
            change_author_template: self
                .change_author_template
                .clone()
                .unwrap_or_else(|| DEFAULT_CHANGE_AUTHOR_TEMPLATE.to_owned()),
            change_authors_separator: self
                .change_authors_separator
                .clone()
                .unwrap_or_else(|| ", ".to_owned()),
            change_authors_final_separator: self.change_authors_final_separator.clone(),
            commit_template: self
                .commit_template
                .clone()
                .unwrap_or_else(|| DEFAULT_COMMIT_TEMPLATE.to_owned()),
            change_title_escapes: self.change_title_escapes.clone().unwrap_or_default(),
            no_changes_template: self
                .no_changes_template
                .clone()
                .unwrap_or_else(|| "* No changes".to_owned()),
            category_template: self
                .category_template
                .clone()
                .unwrap_or_else(|| "## $TITLE".to_owned()),
            categories,
            exclude_contributors: self.exclude_contributors.clone().unwrap_or_default(),
            no_contributors_template: self
                .no_contributors_template
                .clone()
                .unwrap_or_else(|| "No contributors".to_owned()),
            new_contributor_template: self
                .new_contributor_template
                .clone()
                .unwrap_or_else(|| DEFAULT_NEW_CONTRIBUTOR_TEMPLATE.to_owned()),
            no_new_contributor_template: self
                .no_new_contributor_template
                .clone()
                .unwrap_or_else(|| "* No new contributors".to_owned()),
            replacers,
            sort_by: self.sort_by.unwrap_or_default(),
            sort_direction: self.sort_direction.unwrap_or_default(),
            version_template: self
                .version_template
                .clone()
                .unwrap_or_else(|| crate::domain::version::DEFAULT_VERSION_TEMPLATE.to_owned()),
            name_template: self.name_template.clone().unwrap_or_default(),
            tag_template: self.tag_template.clone().unwrap_or_default(),
            tag_prefix: self.tag_prefix.clone().unwrap_or_default(),
            prerelease,
            prerelease_identifier,
            include_pre_releases: self.include_pre_releases.unwrap_or(false),
            latest,
            commitish: self.commitish.clone().filter(|c| !c.is_empty()),
            filter_by_commitish: self.filter_by_commitish.unwrap_or(false),
            filter_by_range,
            history_limit: self.history_limit.unwrap_or(DEFAULT_HISTORY_LIMIT),
            pull_request_limit: self
                .pull_request_limit
                .unwrap_or(DEFAULT_PULL_REQUEST_LIMIT),
            include_commits_without_pr: self.include_commits_without_pr.unwrap_or(false),
            default_increment,
            layout: self.layout.unwrap_or_default(),
        })
    }

    fn normalised_categories(&self) -> Result<Vec<Category>, NotesConfigError> {
        let mut categories = self
            .categories
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, keys)| category(i, keys))
            .collect::<Result<Vec<_>, _>>()?;
        let fallbacks = categories
            .iter()
            .filter(|c| c.kind == CategoryKind::Changelog && c.when.is_empty())
            .count();
        if fallbacks > 1 {
            return Err(invalid(
                "categories",
                "more than one category without labels or `when`; only one can collect the \
                 uncategorized changes",
            ));
        }
        self.legacy_filters(&mut categories)?;
        self.version_resolver_categories(&mut categories)?;
        Ok(categories)
    }

    /// The top-level `exclude-*` and `include-*` keys, as pre-exclude and pre-include
    /// categories.
    fn legacy_filters(&self, categories: &mut Vec<Category>) -> Result<(), NotesConfigError> {
        let legacy_filter = |labels: &Option<Vec<String>>, paths: &Option<Vec<String>>| {
            let labels = labels.clone().unwrap_or_default();
            let paths = paths.clone().unwrap_or_default();
            (!labels.is_empty() || !paths.is_empty()).then(|| Condition {
                labels,
                paths,
                ..Condition::default()
            })
        };
        for (kind, condition, keys) in [
            (
                CategoryKind::PreExclude,
                legacy_filter(&self.exclude_labels, &self.exclude_paths),
                "exclude-labels/exclude-paths",
            ),
            (
                CategoryKind::PreInclude,
                legacy_filter(&self.include_labels, &self.include_paths),
                "include-labels/include-paths",
            ),
        ] {
            if let Some(condition) = condition {
                if categories.iter().any(|c| c.kind == kind) {
                    return Err(invalid(
                        keys,
                        "cannot be combined with a category of the same type; move them into it",
                    ));
                }
                categories.push(filter_category(kind, condition));
            }
        }
        if let Some(authors) = self.exclude_authors.clone().filter(|a| !a.is_empty()) {
            categories.push(filter_category(
                CategoryKind::PreExclude,
                Condition {
                    authors,
                    ..Condition::default()
                },
            ));
        }
        Ok(())
    }

    /// `version-resolver`, as version-resolver categories.
    fn version_resolver_categories(
        &self,
        categories: &mut Vec<Category>,
    ) -> Result<(), NotesConfigError> {
        let Some(resolver) = &self.version_resolver else {
            return Ok(());
        };
        if let Some(default) = resolver.default
            && default != SemverIncrement::Patch
        {
            if categories
                .iter()
                .any(|c| c.kind == CategoryKind::VersionResolver && c.when.is_empty())
            {
                return Err(invalid(
                    "version-resolver.default",
                    "a version-resolver category without `when` already sets the default",
                ));
            }
            categories.push(version_category(default, Vec::new()));
        }
        for (increment, list) in [
            (SemverIncrement::Major, &resolver.major),
            (SemverIncrement::Minor, &resolver.minor),
            (SemverIncrement::Patch, &resolver.patch),
        ] {
            if let Some(list) = list.as_ref().filter(|l| !l.labels.is_empty()) {
                categories.push(version_category(
                    increment,
                    vec![Condition {
                        labels: list.labels.clone(),
                        ..Condition::default()
                    }],
                ));
            }
        }
        Ok(())
    }
}

/// One configured category, normalised: legacy `label`/`labels` become a `when` condition.
fn category(i: usize, keys: &CategoryKeys) -> Result<Category, NotesConfigError> {
    let kind = keys.kind.unwrap_or(CategoryKind::Changelog);
    let mut when: Vec<Condition> = keys
        .when
        .iter()
        .flat_map(|w| w.0.iter())
        .map(normalise_condition)
        .collect();
    let legacy: Vec<String> = keys
        .labels
        .iter()
        .flatten()
        .chain(keys.label.iter())
        .filter(|l| !l.is_empty())
        .cloned()
        .collect();
    if !legacy.is_empty() {
        when.push(Condition {
            labels: legacy,
            ..Condition::default()
        });
    }
    when.retain(|c| {
        !c.labels.is_empty()
            || !c.paths.is_empty()
            || !c.authors.is_empty()
            || c.conventional.is_some()
            || c.labels_mode != MatchMode::Any
            || c.paths_mode != MatchMode::Any
    });
    let title = keys.title.clone().unwrap_or_default();
    if kind == CategoryKind::Changelog && title.is_empty() {
        return Err(invalid(
            &format!("categories[{i}].title"),
            "a changelog category needs a title",
        ));
    }
    let collapse_after = match keys.collapse_after {
        None | Some(-1) => None,
        Some(n) if n >= 0 => Some(n as usize),
        Some(n) => {
            return Err(invalid(
                &format!("categories[{i}].collapse-after"),
                format!("{n} is below -1 (never collapse)"),
            ));
        }
    };
    Ok(Category {
        kind,
        title,
        when,
        exclusive: keys.exclusive.unwrap_or(false),
        collapse_after,
        increment: keys.semver_increment,
        exclude_labels: keys.exclude_labels.clone().unwrap_or_default(),
        exclude_authors: keys.exclude_authors.clone().unwrap_or_default(),
    })
}

fn version_category(increment: SemverIncrement, when: Vec<Condition>) -> Category {
    Category {
        increment: Some(increment),
        ..filter_category(CategoryKind::VersionResolver, Condition::default())
    }
    .with_when(when)
}

fn filter_category(kind: CategoryKind, condition: Condition) -> Category {
    Category {
        kind,
        title: String::new(),
        when: vec![condition],
        exclusive: false,
        collapse_after: None,
        increment: None,
        exclude_labels: Vec::new(),
        exclude_authors: Vec::new(),
    }
}

impl Category {
    fn with_when(mut self, when: Vec<Condition>) -> Category {
        self.when = when;
        self
    }
}

fn normalise_condition(keys: &ConditionKeys) -> Condition {
    let conventional = keys.conventional.as_ref().map(|c| match c {
        ConventionalKeys::Any => ConventionalMatch::default(),
        ConventionalKeys::Matching(m) => {
            let mut m = m.clone();
            let mut types = m.types.take().unwrap_or_default();
            types.extend(m.kind.take());
            let mut scopes = m.scopes.take().unwrap_or_default();
            scopes.extend(m.scope.take());
            ConventionalMatch {
                kind: None,
                types: Some(types),
                scope: None,
                scopes: Some(scopes),
                breaking: m.breaking,
            }
        }
    });
    Condition {
        labels: keys
            .labels
            .iter()
            .flatten()
            .chain(keys.label.iter())
            .cloned()
            .collect(),
        labels_mode: keys.labels_mode.unwrap_or_default(),
        paths: keys
            .paths
            .iter()
            .flatten()
            .chain(keys.path.iter())
            .cloned()
            .collect(),
        paths_mode: keys.paths_mode.unwrap_or_default(),
        authors: keys.authors.clone().unwrap_or_default(),
        conventional,
    }
}
