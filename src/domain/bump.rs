//! How big a release the changes call for: from labels (release-drafter's
//! `version-resolver`: the highest of major/minor/patch wins, else the default) and, when
//! enabled, from Conventional Commits titles (`feat` minor, `fix` patch, `!` or a
//! `BREAKING CHANGE` footer major).

use super::version::Increment;

/// One change (pull request) as far as versioning cares.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    /// Label names.
    pub labels: &'a [String],
    /// Title.
    pub title: &'a str,
    /// Body, searched for a `BREAKING CHANGE:` footer.
    pub body: Option<&'a str>,
}

/// The rules, as configured.
#[derive(Debug, Clone, Default)]
pub struct BumpRules {
    /// Labels that make a major release.
    pub major_labels: Vec<String>,
    /// Labels that make a minor release.
    pub minor_labels: Vec<String>,
    /// Labels that make a patch release.
    pub patch_labels: Vec<String>,
    /// The increment when no change says otherwise (release-drafter's default: patch).
    pub default: Option<Increment>,
    /// Read Conventional Commits titles too.
    pub conventional_titles: bool,
    /// When set, releases are pre-releases with this identifier (`rc` → `1.4.0-rc.0`).
    pub prerelease_identifier: Option<String>,
}

/// The increment the changes call for; the largest wins.
pub fn resolve_increment(changes: &[Change<'_>], rules: &BumpRules) -> Increment {
    let wanted = changes
        .iter()
        .filter_map(|change| {
            let by_label = change
                .labels
                .iter()
                .filter_map(|l| label_increment(l, rules))
                .max();
            let by_title = rules
                .conventional_titles
                .then(|| conventional_increment(change.title, change.body))
                .flatten();
            by_label.max(by_title)
        })
        .max();
    let increment = wanted.or(rules.default).unwrap_or(Increment::Patch);
    match rules.prerelease_identifier.as_deref() {
        Some(id) if !id.is_empty() => match increment {
            Increment::Major => Increment::PreMajor,
            Increment::Minor => Increment::PreMinor,
            Increment::Patch => Increment::PrePatch,
            already_pre => already_pre,
        },
        _ => increment,
    }
}

fn label_increment(label: &str, rules: &BumpRules) -> Option<Increment> {
    let has = |labels: &[String]| labels.iter().any(|l| l == label);
    if has(&rules.major_labels) {
        Some(Increment::Major)
    } else if has(&rules.minor_labels) {
        Some(Increment::Minor)
    } else if has(&rules.patch_labels) {
        Some(Increment::Patch)
    } else {
        None
    }
}

/// `feat` → minor, `fix` → patch, `type!:` or a `BREAKING CHANGE` footer → major; other
/// types and non-conventional titles say nothing.
pub fn conventional_increment(title: &str, body: Option<&str>) -> Option<Increment> {
    let message = match body.filter(|b| !b.trim().is_empty()) {
        Some(body) => format!("{}\n\n{}", title.trim(), body.trim()),
        None => title.trim().to_owned(),
    };
    let breaking_footer = body.is_some_and(|b| {
        b.lines().any(|line| {
            let line = line.trim_start();
            line.starts_with("BREAKING CHANGE:") || line.starts_with("BREAKING-CHANGE:")
        })
    });
    // A body that is not a valid commit body (free-form PR text) still leaves the title.
    let commit = git_conventional::Commit::parse(&message)
        .or_else(|_| git_conventional::Commit::parse(title.trim()))
        .ok()?;
    if commit.breaking() || breaking_footer {
        return Some(Increment::Major);
    }
    let kind = commit.type_();
    if kind == git_conventional::Type::FEAT {
        Some(Increment::Minor)
    } else if kind == git_conventional::Type::FIX {
        Some(Increment::Patch)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn rules() -> BumpRules {
        BumpRules {
            major_labels: labels(&["breaking"]),
            minor_labels: labels(&["feature", "enhancement"]),
            patch_labels: labels(&["fix", "chore"]),
            default: Some(Increment::Patch),
            conventional_titles: false,
            prerelease_identifier: None,
        }
    }

    #[test]
    fn the_highest_label_wins() {
        let a = labels(&["fix"]);
        let b = labels(&["feature", "docs"]);
        let c = labels(&["unrelated"]);
        let changes = [
            Change {
                labels: &a,
                title: "x",
                body: None,
            },
            Change {
                labels: &b,
                title: "y",
                body: None,
            },
            Change {
                labels: &c,
                title: "z",
                body: None,
            },
        ];
        assert_eq!(resolve_increment(&changes, &rules()), Increment::Minor);
        let d = labels(&["breaking"]);
        let more = [
            changes[0],
            Change {
                labels: &d,
                title: "w",
                body: None,
            },
        ];
        assert_eq!(resolve_increment(&more, &rules()), Increment::Major);
    }

    #[test]
    fn without_telling_labels_the_default_applies() {
        let none = labels(&["docs"]);
        let changes = [Change {
            labels: &none,
            title: "feat: not read",
            body: None,
        }];
        assert_eq!(resolve_increment(&changes, &rules()), Increment::Patch);
        let minor_default = BumpRules {
            default: Some(Increment::Minor),
            ..rules()
        };
        assert_eq!(
            resolve_increment(&changes, &minor_default),
            Increment::Minor
        );
        assert_eq!(resolve_increment(&[], &rules()), Increment::Patch);
    }

    #[test]
    fn conventional_titles_when_enabled() {
        let cases = [
            ("feat: add cut command", None, Some(Increment::Minor)),
            ("feat(api): scoped", None, Some(Increment::Minor)),
            ("fix: off by one", None, Some(Increment::Patch)),
            ("feat!: drop v1 API", None, Some(Increment::Major)),
            ("refactor(core)!: new store", None, Some(Increment::Major)),
            (
                "fix: parser",
                Some("Details.\n\nBREAKING CHANGE: config key renamed"),
                Some(Increment::Major),
            ),
            ("docs: readme", None, None),
            ("Update README", None, None),
            (
                "feat: free-form body",
                Some("## Why\n\n* because"),
                Some(Increment::Minor),
            ),
        ];
        for (title, body, expected) in cases {
            assert_eq!(
                conventional_increment(title, body),
                expected,
                "{title:?} {body:?}"
            );
        }
        let none = labels(&[]);
        let changes = [Change {
            labels: &none,
            title: "feat: x",
            body: None,
        }];
        let on = BumpRules {
            conventional_titles: true,
            ..rules()
        };
        assert_eq!(resolve_increment(&changes, &on), Increment::Minor);
    }

    #[test]
    fn prerelease_lines_bump_to_pre_increments() {
        let fix = labels(&["fix"]);
        let changes = [Change {
            labels: &fix,
            title: "x",
            body: None,
        }];
        let rc = BumpRules {
            prerelease_identifier: Some("rc".into()),
            ..rules()
        };
        assert_eq!(resolve_increment(&changes, &rc), Increment::PrePatch);
    }
}
