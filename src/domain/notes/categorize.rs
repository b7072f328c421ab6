//! Which categories a change falls into, and what increment it calls for: `pre-include` and
//! `pre-exclude` decide whether a change is in the notes at all; changelog categories take it
//! when a condition matches (all matching ones, up to the first `exclusive`), else the
//! fallback category (the one without conditions), else it is listed uncategorized;
//! version-resolver categories only add increments.

use globset::{Glob, GlobMatcher};

use super::changes::PullRequest;
use super::config::{Category, CategoryKind, Condition, MatchMode, SemverIncrement};

/// Categories compiled for matching (globs built once).
#[derive(Debug)]
pub struct Categorizer<'a> {
    categories: &'a [Category],
    paths: Vec<Vec<Vec<PathPattern>>>,
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
        Categorizer { categories, paths }
    }

    /// Whether any condition looks at changed files (they must be fetched then).
    pub fn needs_changed_files(&self) -> bool {
        self.categories
            .iter()
            .any(|c| c.when.iter().any(|w| !w.paths.is_empty()))
    }

    fn matches(&self, index: usize, pr: &PullRequest) -> bool {
        let category = &self.categories[index];
        let login = pr.author.as_ref().map(|a| a.login.as_str());
        if pr
            .labels
            .iter()
            .any(|l| category.exclude_labels.contains(l))
            || login.is_some_and(|l| category.exclude_authors.iter().any(|a| a == l))
        {
            return false;
        }
        category.when.is_empty()
            || category
                .when
                .iter()
                .zip(&self.paths[index])
                .any(|(condition, paths)| condition_matches(condition, paths, pr))
    }

    fn select(&self, kind: CategoryKind, pr: &PullRequest) -> Vec<usize> {
        let mut matched = Vec::new();
        let mut fallback = None;
        for (i, category) in self.categories.iter().enumerate() {
            if category.kind != kind {
                continue;
            }
            if category.when.is_empty() {
                if fallback.is_none() && self.matches(i, pr) {
                    fallback = Some(i);
                }
                continue;
            }
            if self.matches(i, pr) {
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
        let of_kind = |kind| {
            self.categories
                .iter()
                .enumerate()
                .filter(move |(_, c)| c.kind == kind)
                .map(|(i, _)| i)
        };
        let mut pre_includes = of_kind(CategoryKind::PreInclude).peekable();
        let included_first =
            pre_includes.peek().is_none() || pre_includes.any(|i| self.matches(i, pr));
        let included =
            included_first && !of_kind(CategoryKind::PreExclude).any(|i| self.matches(i, pr));
        if !included {
            return Evaluation {
                included,
                changelog: Vec::new(),
                increment: None,
            };
        }
        let changelog = self.select(CategoryKind::Changelog, pr);
        // The version-resolver fallback is the default for the whole release, applied by
        // the caller only when no change calls for anything.
        let versions = self
            .select(CategoryKind::VersionResolver, pr)
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

fn condition_matches(condition: &Condition, paths: &[PathPattern], pr: &PullRequest) -> bool {
    let login = pr.author.as_ref().map(|a| a.login.as_str());
    values_match(&pr.labels, &condition.labels, condition.labels_mode)
        && (condition.authors.is_empty()
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

fn values_match(actual: &[String], expected: &[String], mode: MatchMode) -> bool {
    if expected.is_empty() {
        return true;
    }
    let actual: Vec<&String> = actual.iter().filter(|l| !l.is_empty()).collect();
    let has = |v: &String| actual.contains(&v);
    match mode {
        MatchMode::Any => expected.iter().any(has),
        MatchMode::All => expected.iter().all(has),
        MatchMode::Only => !actual.is_empty() && actual.iter().all(|a| expected.contains(a)),
        MatchMode::Exactly => {
            actual.iter().all(|a| expected.contains(a)) && expected.iter().all(has)
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
        let l = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(values_match(&l(&["a", "b"]), &l(&["a"]), MatchMode::Any));
        assert!(!values_match(&l(&["a"]), &l(&["a", "b"]), MatchMode::All));
        assert!(!values_match(
            &l(&["a", "c"]),
            &l(&["a", "b"]),
            MatchMode::Only
        ));
        assert!(values_match(
            &l(&["b", "a"]),
            &l(&["a", "b"]),
            MatchMode::Exactly
        ));
    }
}
