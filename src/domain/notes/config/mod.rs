//! The notes configuration: release-drafter's keys, unchanged, as typed structs (unknown keys
//! and wrong types are errors naming the key and line), then normalised the way release-drafter
//! v7 does: legacy `label`/`labels`, `exclude-labels`, `include-labels`, `include-paths`,
//! `exclude-paths` and `version-resolver` become categories of the four types (`changelog`,
//! `pre-include`, `pre-exclude`, `version-resolver`) with `when` conditions.

mod model;
mod normalise;

pub use model::bounds;
pub use model::{
    Category, CategoryKind, Condition, DEFAULT_CHANGE_AUTHOR_TEMPLATE, DEFAULT_CHANGE_TEMPLATE,
    DEFAULT_COMMIT_TEMPLATE, DEFAULT_HISTORY_LIMIT, DEFAULT_NEW_CONTRIBUTOR_TEMPLATE,
    DEFAULT_PULL_REQUEST_LIMIT, DEFAULT_TEMPLATE, MatchMode, NotesConfig, NotesConfigError,
    SemverIncrement, SortBy, SortDirection,
};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::marker::PhantomData;

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
