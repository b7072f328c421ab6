//! release-drafter's autolabeler: each rule gives its label to a pull request whose changed
//! files match one of its `files` patterns (gitignore syntax), whose head branch, title or
//! body matches one of its patterns (`/regex/flags`, or plain text), checked in that order.
//! Pure: the pull request's facts in, the labels out.

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use regex::Regex;
use serde::Deserialize;

use crate::domain::notes::template::regex_from_setting;

/// Patterns one rule may have in each of `files`, `branch`, `title` and `body` (a
/// configuration is untrusted input).
pub const MAX_PATTERNS: usize = 100;

/// One rule as written.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct AutolabelKeys {
    /// The label given.
    pub label: String,
    /// Changed-file patterns (gitignore syntax).
    #[serde(default)]
    pub files: Vec<String>,
    /// Head-branch patterns.
    #[serde(default)]
    pub branch: Vec<String>,
    /// Title patterns.
    #[serde(default)]
    pub title: Vec<String>,
    /// Body patterns.
    #[serde(default)]
    pub body: Vec<String>,
}

/// A rule ready to match.
#[derive(Debug, Clone)]
pub struct AutolabelRule {
    label: String,
    files: Option<Gitignore>,
    branch: Vec<Regex>,
    title: Vec<Regex>,
    body: Vec<Regex>,
}

/// Why a rule cannot be used: which key, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("autolabeler[{index}].{key}: {reason}")]
pub struct BadRule {
    /// The rule's position.
    pub index: usize,
    /// The key at fault.
    pub key: &'static str,
    /// Why.
    pub reason: String,
}

impl AutolabelRule {
    /// Checks and compiles the rule at `index`.
    pub fn new(index: usize, keys: &AutolabelKeys) -> Result<AutolabelRule, BadRule> {
        let bad = |key: &'static str, reason: String| BadRule { index, key, reason };
        if keys.label.trim().is_empty() {
            return Err(bad("label", "must name a label".into()));
        }
        let most = MAX_PATTERNS;
        for (key, patterns) in [
            ("files", &keys.files),
            ("branch", &keys.branch),
            ("title", &keys.title),
            ("body", &keys.body),
        ] {
            if patterns.len() > most {
                return Err(bad(
                    key,
                    format!(
                        "at most {most} patterns are allowed; this has {}",
                        patterns.len()
                    ),
                ));
            }
        }
        let files = if keys.files.is_empty() {
            None
        } else {
            let mut builder = GitignoreBuilder::new("");
            for pattern in &keys.files {
                builder
                    .add_line(None, pattern)
                    .map_err(|e| bad("files", format!("{pattern:?}: {e}")))?;
            }
            Some(builder.build().map_err(|e| bad("files", e.to_string()))?)
        };
        let regexes = |key: &'static str, patterns: &[String]| {
            patterns
                .iter()
                .map(|p| {
                    regex_from_setting(p)
                        .map(|(regex, _)| regex)
                        .map_err(|reason| bad(key, format!("{p:?}: {reason}")))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(AutolabelRule {
            label: keys.label.clone(),
            files,
            branch: regexes("branch", &keys.branch)?,
            title: regexes("title", &keys.title)?,
            body: regexes("body", &keys.body)?,
        })
    }

    /// Whether any of `files` matches, as the npm `ignore` package decides for
    /// release-drafter (a file under a matched directory matches too).
    fn matches_files(&self, files: &[String]) -> bool {
        self.files.as_ref().is_some_and(|patterns| {
            files.iter().any(|file| {
                patterns
                    .matched_path_or_any_parents(file.trim_start_matches('/'), false)
                    .is_ignore()
            })
        })
    }
}

/// The facts a pull request is labelled by.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// Changed files (only read when a rule has `files`).
    pub files: &'a [String],
    /// The head branch.
    pub head_ref: &'a str,
    /// The title.
    pub title: &'a str,
    /// The body, if any.
    pub body: Option<&'a str>,
}

/// The labels the rules give, in rule order, each once.
pub fn labels_for(rules: &[AutolabelRule], facts: Facts<'_>) -> Vec<String> {
    let mut labels: Vec<String> = Vec::new();
    for rule in rules {
        let found = rule.matches_files(facts.files)
            || rule.branch.iter().any(|r| r.is_match(facts.head_ref))
            || rule.title.iter().any(|r| r.is_match(facts.title))
            || facts
                .body
                .is_some_and(|body| rule.body.iter().any(|r| r.is_match(body)));
        if found && !labels.contains(&rule.label) {
            labels.push(rule.label.clone());
        }
    }
    labels
}

/// Whether any rule needs the changed files (one GitHub call to list them).
pub fn needs_files(rules: &[AutolabelRule]) -> bool {
    rules.iter().any(|r| r.files.is_some())
}

/// The labels of `wanted` a pull request labelled `present` does not have yet (GitHub's
/// label names are case-insensitive).
pub fn missing(wanted: Vec<String>, present: &[String]) -> Vec<String> {
    wanted
        .into_iter()
        .filter(|w| !present.iter().any(|p| p.eq_ignore_ascii_case(w)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(keys: &[AutolabelKeys]) -> Vec<AutolabelRule> {
        keys.iter()
            .enumerate()
            .map(|(i, k)| AutolabelRule::new(i, k).expect("rule"))
            .collect()
    }

    fn rule(
        label: &str,
        files: &[&str],
        branch: &[&str],
        title: &[&str],
        body: &[&str],
    ) -> AutolabelKeys {
        let own = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        AutolabelKeys {
            label: label.into(),
            files: own(files),
            branch: own(branch),
            title: own(title),
            body: own(body),
        }
    }

    fn facts<'a>(
        files: &'a [String],
        head_ref: &'a str,
        title: &'a str,
        body: Option<&'a str>,
    ) -> Facts<'a> {
        Facts {
            files,
            head_ref,
            title,
            body,
        }
    }

    #[test]
    fn each_source_gives_its_label_once_in_rule_order() {
        let rules = rules(&[
            rule("chore", &["*.md"], &["/docs{0,1}\\/.+/"], &[], &[]),
            rule("bug", &[], &["/fix\\/.+/"], &["/fix/i"], &[]),
            rule(
                "enhancement",
                &[],
                &["/feature\\/.+/"],
                &[],
                &["/JIRA-[0-9]{1,4}/"],
            ),
        ]);
        let none: Vec<String> = Vec::new();
        let nested = vec!["src/lib.rs".to_owned(), ".github/notes/guide.md".to_owned()];
        assert_eq!(
            labels_for(&rules, facts(&nested, "main", "Tidy", None)),
            ["chore"]
        );
        assert_eq!(
            labels_for(&rules, facts(&none, "doc/intro", "x", None)),
            ["chore"]
        );
        assert_eq!(
            labels_for(&rules, facts(&none, "fix/crash", "x", None)),
            ["bug"]
        );
        assert_eq!(
            labels_for(&rules, facts(&none, "main", "FIX the clock", None)),
            ["bug"]
        );
        assert_eq!(
            labels_for(&rules, facts(&none, "main", "x", Some("Closes JIRA-12"))),
            ["enhancement"]
        );
        assert!(labels_for(&rules, facts(&none, "main", "x", Some("JIRA-12345"))).len() == 1);
        assert!(labels_for(&rules, facts(&none, "main", "Add a board", None)).is_empty());
        assert_eq!(
            labels_for(&rules, facts(&nested, "fix/x", "fix", Some("JIRA-1"))),
            ["chore", "bug", "enhancement"]
        );
    }

    #[test]
    fn file_patterns_follow_gitignore() {
        let rules = rules(&[
            rule("docs", &["docs/", "!docs/generated/**"], &[], &[], &[]),
            rule("ci", &["/.github/workflows/*.yml"], &[], &[], &[]),
        ]);
        let files = |f: &[&str]| f.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let labels = |f: &[&str]| labels_for(&rules, facts(&files(f), "main", "x", None));
        assert_eq!(labels(&["docs/intro.md"]), ["docs"]);
        assert_eq!(
            labels(&["guide/docs/intro.md"]),
            ["docs"],
            "no slash before: any depth"
        );
        assert!(labels(&["docs/generated/api.md"]).is_empty(), "negated");
        assert_eq!(labels(&[".github/workflows/ci.yml"]), ["ci"]);
        assert!(
            labels(&["sub/.github/workflows/ci.yml"]).is_empty(),
            "anchored"
        );
    }

    #[test]
    fn plain_text_is_literal_and_bad_patterns_are_named() {
        let rules = rules(&[rule("deps", &[], &["deps(npm)"], &[], &[])]);
        let none: Vec<String> = Vec::new();
        assert_eq!(
            labels_for(&rules, facts(&none, "x-deps(npm)-y", "t", None)),
            ["deps"]
        );
        assert!(labels_for(&rules, facts(&none, "depsnpm", "t", None)).is_empty());
        let error = AutolabelRule::new(2, &rule("x", &[], &[], &["/(/"], &[])).expect_err("bad");
        assert_eq!((error.index, error.key), (2, "title"));
        assert!(AutolabelRule::new(0, &rule(" ", &[], &[], &[], &[])).is_err());
    }

    #[test]
    fn labels_already_there_are_not_asked_for_again() {
        assert_eq!(
            missing(vec!["Bug".into(), "chore".into()], &["bug".into()]),
            ["chore"]
        );
    }
}
