//! Which categories a change falls into, and what increment it calls for: `pre-include` and
//! `pre-exclude` decide whether a change is in the notes at all; changelog categories take it
//! when a condition matches (all matching ones, up to the first `exclusive`), else the
//! fallback category (the one without conditions), else it is listed uncategorized;
//! version-resolver categories only add increments.

use std::collections::HashMap;

use globset::{Glob, GlobMatcher};

use super::changes::PullRequest;
use super::config::{Category, CategoryKind, Condition, MatchMode, SemverIncrement};

/// Categories compiled for matching (globs built once).
#[derive(Debug)]
pub struct Categorizer<'a> {
    categories: &'a [Category],
    paths: Vec<Vec<Vec<PathPattern>>>,
    /// Every label the categories mention, numbered: a change's labels are looked up once,
    /// then conditions compare numbers.
    label_ids: HashMap<&'a str, u32>,
    /// Per category: its excluded labels, and per condition its labels, as numbers.
    exclude_ids: Vec<Vec<u32>>,
    condition_ids: Vec<Vec<Vec<u32>>>,
    /// Indices of the categories of each kind, in order.
    pre_includes: Vec<usize>,
    pre_excludes: Vec<usize>,
}

#[derive(Debug)]
enum PathPattern {
    /// A file, or a directory and everything under it.
    Prefix(String),
    /// A glob.
    Glob(GlobMatcher),
}

impl PathPattern {
    fn new(pattern: &str) -> PathPattern {
        let trimmed = pattern.trim_start_matches("./");
        if trimmed.contains(['*', '?', '[', '{'])
            && let Ok(glob) = Glob::new(trimmed)
        {
            return PathPattern::Glob(glob.compile_matcher());
        }
        PathPattern::Prefix(trimmed.trim_end_matches('/').to_owned())
    }

    fn matches(&self, file: &str) -> bool {
        match self {
            PathPattern::Prefix(p) => {
                file == p
                    || (file.len() > p.len()
                        && file.starts_with(p.as_str())
                        && file.as_bytes()[p.len()] == b'/')
            }
            PathPattern::Glob(g) => g.is_match(file),
        }
    }
}

/// The verdict on one change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// In the notes at all.
    pub included: bool,
    /// Indices (into the configured categories) of the changelog categories it is listed in;
    /// empty: uncategorized.
    pub changelog: Vec<usize>,
    /// The increment it calls for.
    pub increment: Option<SemverIncrement>,
}

impl<'a> Categorizer<'a> {
    /// Compiles `categories`.
    pub fn new(categories: &'a [Category]) -> Categorizer<'a> {
        let paths = categories
            .iter()
            .map(|c| {
                c.when
                    .iter()
                    .map(|w| w.paths.iter().map(|p| PathPattern::new(p)).collect())
                    .collect()
            })
            .collect();
        let of_kind = |kind| {
            categories
                .iter()
                .enumerate()
                .filter(|(_, c)| c.kind == kind)
                .map(|(i, _)| i)
                .collect::<Vec<_>>()
        };
        let mut label_ids: HashMap<&str, u32> = HashMap::new();
        let mut id_of = |label: &'a str| {
            let next = label_ids.len() as u32;
            *label_ids.entry(label).or_insert(next)
        };
        let exclude_ids = categories
            .iter()
            .map(|c| c.exclude_labels.iter().map(|l| id_of(l)).collect())
            .collect();
        let condition_ids = categories
            .iter()
            .map(|c| {
                c.when
                    .iter()
                    .map(|w| {
                        let mut ids: Vec<u32> = w.labels.iter().map(|l| id_of(l)).collect();
                        ids.sort_unstable();
                        ids.dedup();
                        ids
                    })
                    .collect()
            })
            .collect();
        Categorizer {
            categories,
            paths,
            label_ids,
            exclude_ids,
            condition_ids,
            pre_includes: of_kind(CategoryKind::PreInclude),
            pre_excludes: of_kind(CategoryKind::PreExclude),
        }
    }

    /// Whether any condition looks at changed files (they must be fetched then).
    pub fn needs_changed_files(&self) -> bool {
        self.categories
            .iter()
            .any(|c| c.when.iter().any(|w| !w.paths.is_empty()))
    }

    /// A change's labels as numbers (labels no category mentions are all [`UNKNOWN`]),
    /// without duplicates.
    fn label_numbers(&self, pr: &PullRequest) -> Vec<u32> {
        let mut ids: Vec<u32> = pr
            .labels
            .iter()
            .filter(|l| !l.is_empty())
            .map(|l| self.label_ids.get(l.as_str()).copied().unwrap_or(UNKNOWN))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    fn matches(&self, index: usize, pr: &PullRequest, labels: &[u32]) -> bool {
        let category = &self.categories[index];
        if labels.iter().any(|l| self.exclude_ids[index].contains(l))
            || (!category.exclude_authors.is_empty()
                && pr
                    .author
                    .as_ref()
                    .is_some_and(|a| category.exclude_authors.contains(&a.login)))
        {
            return false;
        }
        category.when.is_empty()
            || category
                .when
                .iter()
                .zip(&self.paths[index])
                .zip(&self.condition_ids[index])
                .any(|((condition, paths), wanted)| {
                    values_match(labels, wanted, condition.labels_mode)
                        && condition_matches(condition, paths, pr)
                })
    }

    fn select(&self, kind: CategoryKind, pr: &PullRequest, labels: &[u32]) -> Vec<usize> {
        let mut matched = Vec::new();
        let mut fallback = None;
        for (i, category) in self.categories.iter().enumerate() {
            if category.kind != kind {
                continue;
            }
            if category.when.is_empty() {
                if fallback.is_none() && self.matches(i, pr, labels) {
                    fallback = Some(i);
                }
                continue;
            }
            if self.matches(i, pr, labels) {
                matched.push(i);
                if category.exclusive {
                    break;
                }
            }
        }
        if matched.is_empty() {
            matched.extend(fallback);
        }
        matched
    }

    /// Evaluates one change.
    pub fn evaluate(&self, pr: &PullRequest) -> Evaluation {
        let labels = self.label_numbers(pr);
        let labels = labels.as_slice();
        let included_first = self.pre_includes.is_empty()
            || self
                .pre_includes
                .iter()
                .any(|&i| self.matches(i, pr, labels));
        let included = included_first
            && !self
                .pre_excludes
                .iter()
                .any(|&i| self.matches(i, pr, labels));
        if !included {
            return Evaluation {
                included,
                changelog: Vec::new(),
                increment: None,
            };
        }
        let changelog = self.select(CategoryKind::Changelog, pr, labels);
        // The version-resolver fallback is the default for the whole release, applied by
        // the caller only when no change calls for anything.
        let versions = self
            .select(CategoryKind::VersionResolver, pr, labels)
            .into_iter()
            .filter(|&i| !self.categories[i].when.is_empty());
        let increment = changelog
            .iter()
            .copied()
            .chain(versions)
            .filter_map(|i| self.categories[i].increment)
            .max();
        Evaluation {
            included,
            changelog,
            increment,
        }
    }
}

/// The number of every label no category mentions.
const UNKNOWN: u32 = u32::MAX;

/// The predicates of a condition other than labels.
fn condition_matches(condition: &Condition, paths: &[PathPattern], pr: &PullRequest) -> bool {
    let login = pr.author.as_ref().map(|a| a.login.as_str());
    (condition.authors.is_empty()
        || login.is_some_and(|l| condition.authors.iter().any(|a| a == l)))
        && paths_match(paths, condition.paths_mode, &pr.changed_files)
        && condition.conventional.as_ref().is_none_or(|wanted| {
            let Some(title) = ConventionalTitle::parse(&pr.title) else {
                return false;
            };
            let types = wanted.types.as_deref().unwrap_or_default();
            let scopes = wanted.scopes.as_deref().unwrap_or_default();
            (types.is_empty() || types.iter().any(|t| t == title.kind))
                && (scopes.is_empty() || title.scope.is_some_and(|s| scopes.iter().any(|w| w == s)))
                && wanted.breaking.is_none_or(|b| b == title.breaking)
        })
}

/// Compares a change's labels with a condition's (both as numbers, without duplicates).
fn values_match(actual: &[u32], expected: &[u32], mode: MatchMode) -> bool {
    if expected.is_empty() {
        return true;
    }
    let has = |v: &u32| actual.contains(v);
    match mode {
        MatchMode::Any => expected.iter().any(has),
        MatchMode::All => expected.iter().all(has),
        MatchMode::Only => !actual.is_empty() && actual.iter().all(|a| expected.contains(a)),
        MatchMode::Exactly => {
            expected.iter().all(has) && actual.iter().all(|a| expected.contains(a))
        }
    }
}

fn paths_match(patterns: &[PathPattern], mode: MatchMode, files: &[String]) -> bool {
    if patterns.is_empty() {
        return true;
    }
    if files.is_empty() {
        return false;
    }
    let every_pattern_hit = || patterns.iter().all(|p| files.iter().any(|f| p.matches(f)));
    let every_file_hit = || files.iter().all(|f| patterns.iter().any(|p| p.matches(f)));
    match mode {
        MatchMode::Any => files.iter().any(|f| patterns.iter().any(|p| p.matches(f))),
        MatchMode::All => every_pattern_hit(),
        MatchMode::Only => every_file_hit(),
        MatchMode::Exactly => every_pattern_hit() && every_file_hit(),
    }
}

/// A Conventional Commits title: `type(scope)!: description`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConventionalTitle<'a> {
    /// `feat`, `fix`, ….
    pub kind: &'a str,
    /// The scope, if any.
    pub scope: Option<&'a str>,
    /// Marked breaking with `!`.
    pub breaking: bool,
}

impl<'a> ConventionalTitle<'a> {
    /// Parses `title`; `None` when it is not in that form.
    pub fn parse(title: &'a str) -> Option<ConventionalTitle<'a>> {
        let (head, description) = title.split_once(": ")?;
        if description.is_empty() {
            return None;
        }
        let (head, breaking) = match head.strip_suffix('!') {
            Some(h) => (h, true),
            None => (head, false),
        };
        let (kind, scope) = match head.split_once('(') {
            Some((kind, rest)) => (kind, Some(rest.strip_suffix(')')?)),
            None => (head, None),
        };
        let word = |s: &str| s.chars().all(|c| c.is_alphanumeric() || c == '_');
        if kind.is_empty() || !word(kind) {
            return None;
        }
        Some(ConventionalTitle {
            kind,
            scope,
            breaking,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conventional_titles_parse() {
        let t = ConventionalTitle::parse("feat(api)!: add endpoint").expect("parses");
        assert_eq!((t.kind, t.scope, t.breaking), ("feat", Some("api"), true));
        assert!(ConventionalTitle::parse("Add endpoint").is_none());
        assert!(ConventionalTitle::parse("feat add: x").is_none());
    }

    #[test]
    fn plain_paths_match_files_and_directories() {
        let p = PathPattern::new("src/5.md");
        assert!(p.matches("src/5.md"));
        assert!(!p.matches("src/5.mdx"));
        let d = PathPattern::new("docs/");
        assert!(d.matches("docs/a/b.md"));
        assert!(!d.matches("docsx/a"));
        let g = PathPattern::new("**/*.md");
        assert!(g.matches("a/b/c.md"));
    }

    #[test]
    fn label_modes() {
        let (a, b, c) = (0, 1, UNKNOWN);
        assert!(values_match(&[a, b], &[a], MatchMode::Any));
        assert!(!values_match(&[a], &[a, b], MatchMode::All));
        assert!(!values_match(&[a, c], &[a, b], MatchMode::Only));
        assert!(values_match(&[a], &[a, b], MatchMode::Only));
        assert!(values_match(&[b, a], &[a, b], MatchMode::Exactly));
        assert!(!values_match(&[], &[a], MatchMode::Only));
    }
}
