//! Versions: SemVer 2.0.0 values ordered by the spec's precedence, read from tags the way
//! release-drafter reads them, and incremented the way its users expect (node-semver's `inc`
//! rules, which release-drafter uses), plus the `$NEXT_*_VERSION` / `$RESOLVED_VERSION`
//! template variables derived from them.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

/// A SemVer version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version(semver::Version);

/// Why a text is not a version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{given:?} is not a SemVer version (MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD])")]
pub struct InvalidVersion {
    /// What was given (cut to 100 characters).
    pub given: String,
}

/// How to move from one version to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Increment {
    /// x.y.Z
    Patch,
    /// x.Y.0
    Minor,
    /// X.0.0
    Major,
    /// x.y.Z-id.0
    PrePatch,
    /// x.Y.0-id.0
    PreMinor,
    /// X.0.0-id.0
    PreMajor,
    /// The next pre-release: x.y.z-id.N+1, or x.y.Z-id.0 from a release.
    PreRelease,
}

impl Increment {
    /// The name release-drafter's `version-resolver` uses.
    pub fn from_name(name: &str) -> Option<Increment> {
        Some(match name {
            "patch" => Increment::Patch,
            "minor" => Increment::Minor,
            "major" => Increment::Major,
            "prepatch" => Increment::PrePatch,
            "preminor" => Increment::PreMinor,
            "premajor" => Increment::PreMajor,
            "prerelease" => Increment::PreRelease,
            _ => return None,
        })
    }

    fn is_pre(self) -> bool {
        matches!(
            self,
            Increment::PrePatch | Increment::PreMinor | Increment::PreMajor | Increment::PreRelease
        )
    }
}

impl Version {
    /// A release version with no pre-release part.
    pub fn new(major: u64, minor: u64, patch: u64) -> Version {
        Version(semver::Version::new(major, minor, patch))
    }

    /// Parses a SemVer version; a leading `v` or `=` is allowed, as on most tags.
    pub fn parse(text: &str) -> Result<Version, InvalidVersion> {
        let trimmed = text.trim();
        let bare = trimmed
            .strip_prefix('v')
            .or_else(|| trimmed.strip_prefix('='))
            .unwrap_or(trimmed);
        semver::Version::parse(bare)
            .map(Version)
            .map_err(|_| InvalidVersion {
                given: text.chars().take(100).collect(),
            })
    }

    /// The first `X`, `X.Y` or `X.Y.Z` in `text`, missing parts zero, pre-release dropped
    /// (node-semver's `coerce`), e.g. "release 1.4" → 1.4.0.
    pub fn coerce(text: &str) -> Option<Version> {
        let bytes = text.as_bytes();
        let mut start = 0;
        while start < bytes.len() {
            if !bytes[start].is_ascii_digit() {
                start += 1;
                continue;
            }
            let mut parts = [0u64; 3];
            let mut index = 0;
            let mut pos = start;
            loop {
                let digits_start = pos;
                while pos < bytes.len() && bytes[pos].is_ascii_digit() {
                    pos += 1;
                }
                // node-semver reads at most 16 digits a part; longer runs are not versions.
                let Ok(part) = text[digits_start..pos].parse::<u64>() else {
                    break;
                };
                parts[index] = part;
                index += 1;
                let more = index < 3
                    && pos + 1 < bytes.len()
                    && bytes[pos] == b'.'
                    && bytes[pos + 1].is_ascii_digit();
                if !more {
                    return Some(Version::new(parts[0], parts[1], parts[2]));
                }
                pos += 1;
            }
            start = pos.max(start + 1);
        }
        None
    }

    /// Reads a version from a tag or release name: `prefix` stripped when present, then
    /// parsed, else coerced.
    pub fn from_tag(tag: &str, prefix: &str) -> Option<Version> {
        let bare = if !prefix.is_empty() {
            tag.strip_prefix(prefix).unwrap_or(tag)
        } else {
            tag
        };
        Version::parse(bare).ok().or_else(|| Version::coerce(bare))
    }

    /// SemVer precedence (spec §11): build metadata is ignored.
    pub fn cmp_precedence(&self, other: &Version) -> Ordering {
        (self.0.major, self.0.minor, self.0.patch)
            .cmp(&(other.0.major, other.0.minor, other.0.patch))
            .then_with(|| self.0.pre.cmp(&other.0.pre))
    }

    /// Major part.
    pub fn major(&self) -> u64 {
        self.0.major
    }

    /// Minor part.
    pub fn minor(&self) -> u64 {
        self.0.minor
    }

    /// Patch part.
    pub fn patch(&self) -> u64 {
        self.0.patch
    }

    /// Whether this is a pre-release.
    pub fn is_prerelease(&self) -> bool {
        !self.0.pre.is_empty()
    }

    /// `-` and the pre-release identifiers, or nothing.
    pub fn prerelease_suffix(&self) -> String {
        if self.0.pre.is_empty() {
            String::new()
        } else {
            format!("-{}", self.0.pre)
        }
    }

    /// The version after `increment`; pre-release increments use `identifier` (e.g. `rc`)
    /// when given. Build metadata is dropped.
    pub fn increment(&self, increment: Increment, identifier: Option<&str>) -> Version {
        let v = &self.0;
        let pre = !v.pre.is_empty();
        let (major, minor, patch) = (v.major, v.minor, v.patch);
        let released = |major, minor, patch| semver::Version::new(major, minor, patch);
        let next = match increment {
            // A pre-release of x.0.0 is completed by dropping its pre-release part.
            Increment::Major if pre && minor == 0 && patch == 0 => released(major, 0, 0),
            Increment::Major => released(major + 1, 0, 0),
            Increment::Minor if pre && patch == 0 => released(major, minor, 0),
            Increment::Minor => released(major, minor + 1, 0),
            Increment::Patch if pre => released(major, minor, patch),
            Increment::Patch => released(major, minor, patch + 1),
            Increment::PreMajor => with_pre(released(major + 1, 0, 0), first_pre(identifier)),
            Increment::PreMinor => with_pre(released(major, minor + 1, 0), first_pre(identifier)),
            Increment::PrePatch => {
                with_pre(released(major, minor, patch + 1), first_pre(identifier))
            }
            Increment::PreRelease if !pre => {
                with_pre(released(major, minor, patch + 1), first_pre(identifier))
            }
            Increment::PreRelease => with_pre(
                released(major, minor, patch),
                next_pre(v.pre.as_str(), identifier),
            ),
        };
        Version(next)
    }

    /// The underlying SemVer value.
    pub fn as_semver(&self) -> &semver::Version {
        &self.0
    }

    /// A pre-release that opens a series (its last number 0) numbered from `start` instead.
    pub fn starting_series_at(self, start: u64) -> Version {
        if start == 0 || self.0.pre.is_empty() {
            return self;
        }
        let mut parts: Vec<&str> = self.0.pre.as_str().split('.').collect();
        match parts.last() {
            Some(&"0") => {
                let start = start.to_string();
                if let Some(last) = parts.last_mut() {
                    *last = &start;
                }
                let mut next = self.0.clone();
                next.pre = semver::Prerelease::new(&parts.join(".")).unwrap_or(next.pre);
                Version(next)
            }
            _ => self,
        }
    }

    /// Fills `$MAJOR`, `$MINOR`, `$PATCH` and `$PRERELEASE` in a `version-template`.
    pub fn render(&self, template: &str) -> String {
        template
            .replace("$MAJOR", &self.major().to_string())
            .replace("$MINOR", &self.minor().to_string())
            .replace("$PATCH", &self.patch().to_string())
            .replace("$PRERELEASE", &self.prerelease_suffix())
    }
}

fn with_pre(mut version: semver::Version, pre: String) -> semver::Version {
    // Identifiers are built from validated parts; an invalid identifier leaves a release.
    version.pre = semver::Prerelease::new(&pre).unwrap_or(semver::Prerelease::EMPTY);
    version
}

/// `id.0`, or `0` without an identifier.
fn first_pre(identifier: Option<&str>) -> String {
    match identifier.filter(|id| !id.is_empty()) {
        Some(id) => format!("{id}.0"),
        None => "0".to_owned(),
    }
}

/// The pre-release after `current`: its last number incremented (`alpha.2` → `alpha.3`), or
/// `.0` appended when it has none; a different `identifier` starts over at `identifier.0`.
fn next_pre(current: &str, identifier: Option<&str>) -> String {
    let mut parts: Vec<String> = current.split('.').map(str::to_owned).collect();
    let is_number = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if let Some(id) = identifier.filter(|id| !id.is_empty()) {
        // Another series, or the same name without a number after it: start at id.0.
        let same_series = parts.first().map(String::as_str) == Some(id)
            && parts.get(1).is_some_and(|p| is_number(p));
        if !same_series {
            return format!("{id}.0");
        }
    }
    match parts.iter().rposition(|p| is_number(p)) {
        Some(i) => {
            let n: u64 = parts[i].parse().unwrap_or(0);
            parts[i] = (n + 1).to_string();
            parts.join(".")
        }
        None => format!("{current}.0"),
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A previous release as release-drafter reads it.
#[derive(Debug, Clone, Copy)]
pub struct PreviousRelease<'a> {
    /// Its tag.
    pub tag_name: &'a str,
    /// Its name, tried when the tag is not a version.
    pub name: Option<&'a str>,
}

/// What the version variables are computed from.
#[derive(Debug, Clone, Copy)]
pub struct VersionInputs<'a> {
    /// The release the next one follows, if any.
    pub last_release: Option<PreviousRelease<'a>>,
    /// A version given explicitly (release-drafter's `version`/`tag`/`name` input).
    pub given: Option<&'a str>,
    /// `version-template` (release-drafter default `$MAJOR.$MINOR.$PATCH$PRERELEASE`).
    pub template: &'a str,
    /// `tag-prefix`.
    pub tag_prefix: &'a str,
    /// `prerelease-identifier`.
    pub prerelease_identifier: Option<&'a str>,
    /// The increment the changes call for.
    pub increment: Increment,
    /// The number a new pre-release series starts at: 0 as release-drafter (`-rc.0`), 1 for
    /// `-rc.1`.
    pub prerelease_start: u64,
}

/// release-drafter's default `version-template`.
pub const DEFAULT_VERSION_TEMPLATE: &str = "$MAJOR.$MINOR.$PATCH$PRERELEASE";

/// The template variables `$NEXT_MAJOR_VERSION`, `$NEXT_MINOR_VERSION`,
/// `$NEXT_PATCH_VERSION` (each with `_MAJOR`, `_MINOR`, `_PATCH` parts),
/// `$NEXT_PRERELEASE_VERSION` (with `_PRERELEASE`) and `$RESOLVED_VERSION` (with all four).
pub fn version_variables(inputs: &VersionInputs<'_>) -> BTreeMap<String, String> {
    let identifier = inputs.prerelease_identifier;
    let from_release = inputs.last_release.and_then(|r| {
        Version::from_tag(r.tag_name, inputs.tag_prefix)
            .or_else(|| r.name.and_then(|n| Version::from_tag(n, inputs.tag_prefix)))
    });
    let given = inputs
        .given
        .filter(|g| !g.is_empty())
        .and_then(|g| Version::from_tag(g, inputs.tag_prefix));
    let mut increment = inputs.increment;
    // A pre-release increment on top of a pre-release continues that pre-release series.
    if increment.is_pre() && from_release.as_ref().is_some_and(Version::is_prerelease) {
        increment = Increment::PreRelease;
    }
    let reference = given
        .clone()
        .or(from_release)
        .unwrap_or_else(|| Version::new(0, 0, 0));
    // An explicitly given version is the release's version as it stands.
    let resolved = match given {
        Some(version) => version,
        None => reference
            .increment(increment, identifier)
            .starting_series_at(inputs.prerelease_start),
    };

    let template = inputs.template;
    let mut vars = BTreeMap::new();
    let mut put = |name: &str, version: &Version, parts: &[&str]| {
        vars.insert(name.to_owned(), version.render(template));
        for part in parts {
            let value = match *part {
                "MAJOR" => version.major().to_string(),
                "MINOR" => version.minor().to_string(),
                "PATCH" => version.patch().to_string(),
                _ => version.prerelease_suffix(),
            };
            vars.insert(format!("{name}_{part}"), value);
        }
    };
    const NUMBERS: &[&str] = &["MAJOR", "MINOR", "PATCH"];
    put(
        "$NEXT_MAJOR_VERSION",
        &reference.increment(Increment::Major, identifier),
        NUMBERS,
    );
    put(
        "$NEXT_MINOR_VERSION",
        &reference.increment(Increment::Minor, identifier),
        NUMBERS,
    );
    put(
        "$NEXT_PATCH_VERSION",
        &reference.increment(Increment::Patch, identifier),
        NUMBERS,
    );
    put(
        "$NEXT_PRERELEASE_VERSION",
        &reference
            .increment(Increment::PreRelease, identifier)
            .starting_series_at(inputs.prerelease_start),
        &["PRERELEASE"],
    );
    put(
        "$RESOLVED_VERSION",
        &resolved,
        &["MAJOR", "MINOR", "PATCH", "PRERELEASE"],
    );
    vars
}

/// The highest version among `tags` by SemVer precedence: `prefix`-aware, pre-releases only
/// when `include_prereleases`. Tags that are not versions are skipped.
pub fn highest<'a>(
    tags: impl IntoIterator<Item = &'a str>,
    prefix: &str,
    include_prereleases: bool,
) -> Option<(Version, &'a str)> {
    tags.into_iter()
        .filter_map(|tag| {
            let bare = if prefix.is_empty() {
                Some(tag)
            } else {
                tag.strip_prefix(prefix)
            }?;
            Version::parse(bare).ok().map(|v| (v, tag))
        })
        .filter(|(v, _)| include_prereleases || !v.is_prerelease())
        .max_by(|(a, _), (b, _)| a.cmp_precedence(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn precedence_follows_the_spec_list() {
        // SemVer 2.0.0 §11, in order.
        let ordered = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "2.0.0",
            "2.1.0",
            "2.1.1",
        ];
        for pair in ordered.windows(2) {
            assert_eq!(
                v(pair[0]).cmp_precedence(&v(pair[1])),
                Ordering::Less,
                "{pair:?}"
            );
            assert_eq!(
                v(pair[1]).cmp_precedence(&v(pair[0])),
                Ordering::Greater,
                "{pair:?}"
            );
        }
        // Numeric identifiers compare as numbers, and build metadata is ignored.
        assert_eq!(v("1.0.0-2").cmp_precedence(&v("1.0.0-10")), Ordering::Less);
        assert_eq!(
            v("1.0.0+build.1").cmp_precedence(&v("1.0.0+build.2")),
            Ordering::Equal
        );
        assert_eq!(
            v("1.0.0-rc.1+a").cmp_precedence(&v("1.0.0-rc.1")),
            Ordering::Equal
        );
    }

    #[test]
    fn parsing_is_strict_but_allows_a_leading_v() {
        assert_eq!(v("v1.2.3").to_string(), "1.2.3");
        assert_eq!(v("=1.2.3-rc.1").to_string(), "1.2.3-rc.1");
        for bad in ["1.2", "01.2.3", "1.2.3-", "latest", "1.2.3.4", ""] {
            assert!(Version::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn coerce_finds_the_first_version_like_text() {
        let coerced = |s: &str| Version::coerce(s).map(|v| v.to_string());
        assert_eq!(coerced("release 1.4"), Some("1.4.0".into()));
        assert_eq!(coerced("v10.0.3-alpha"), Some("10.0.3".into()));
        assert_eq!(coerced("42"), Some("42.0.0".into()));
        assert_eq!(coerced("1.2.3.4"), Some("1.2.3".into()));
        assert_eq!(coerced("no version here"), None);
    }

    #[test]
    fn increments_follow_node_semver() {
        let cases = [
            ("1.2.3", Increment::Patch, None, "1.2.4"),
            ("1.2.3", Increment::Minor, None, "1.3.0"),
            ("1.2.3", Increment::Major, None, "2.0.0"),
            ("1.2.3-rc.1", Increment::Patch, None, "1.2.3"),
            ("1.3.0-rc.1", Increment::Minor, None, "1.3.0"),
            ("2.0.0-rc.1", Increment::Major, None, "2.0.0"),
            ("1.2.3-rc.1", Increment::Major, None, "2.0.0"),
            ("1.2.3", Increment::PreRelease, None, "1.2.4-0"),
            ("1.2.3", Increment::PreRelease, Some("rc"), "1.2.4-rc.0"),
            (
                "1.4.0-rc.1",
                Increment::PreRelease,
                Some("rc"),
                "1.4.0-rc.2",
            ),
            (
                "1.4.0-rc.1",
                Increment::PreRelease,
                Some("beta"),
                "1.4.0-beta.0",
            ),
            ("1.4.0-alpha", Increment::PreRelease, None, "1.4.0-alpha.0"),
            (
                "1.4.0-alpha.beta",
                Increment::PreRelease,
                Some("alpha"),
                "1.4.0-alpha.0",
            ),
            ("1.2.3", Increment::PreMinor, Some("rc"), "1.3.0-rc.0"),
            ("1.2.3", Increment::PreMajor, None, "2.0.0-0"),
            ("1.2.3+build", Increment::Patch, None, "1.2.4"),
        ];
        for (from, increment, id, expected) in cases {
            assert_eq!(
                v(from).increment(increment, id).to_string(),
                expected,
                "{from} {increment:?} {id:?}"
            );
        }
    }

    #[test]
    fn the_highest_published_version_wins_by_precedence_not_by_text() {
        let tags = [
            "v1.9.0",
            "v1.10.0",
            "v1.10.0-rc.1",
            "nightly",
            "v2.0.0-beta.1",
            "1.11.0",
        ];
        assert_eq!(highest(tags, "v", false).map(|(_, t)| t), Some("v1.10.0"));
        assert_eq!(
            highest(tags, "v", true).map(|(_, t)| t),
            Some("v2.0.0-beta.1")
        );
        assert_eq!(highest(tags, "", false).map(|(_, t)| t), Some("1.11.0"));
        assert_eq!(
            highest(["api-v1.2.0", "web-v3.0.0"], "api-v", false).map(|(_, t)| t),
            Some("api-v1.2.0")
        );
    }

    #[test]
    fn templates_take_the_parts_they_name() {
        let version = v("10.1.0-rc.2");
        assert_eq!(version.render(DEFAULT_VERSION_TEMPLATE), "10.1.0-rc.2");
        assert_eq!(version.render("$MAJOR.$MINOR"), "10.1");
        assert_eq!(version.render("v$MAJOR.x"), "v10.x");
    }
}
