//! Release candidates inside a train: a frozen train can be tagged `v2.0.0-rc.1`,
//! `-rc.2`, … and published as GitHub pre-releases while it stays frozen; the final release
//! is the frozen commit of the last candidate. Pure: numbers, tags, and whether a train
//! that uses candidates may be approved.

/// A candidate as the rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastCandidate<'a> {
    /// Its number (`2` for `rc.2`).
    pub number: u64,
    /// The commit it tagged.
    pub target_sha: &'a str,
}

/// What a train's candidates say about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidates<'a> {
    /// The frozen commit now.
    pub target_sha: &'a str,
    /// The latest candidate, if any was cut.
    pub last: Option<LastCandidate<'a>>,
    /// Approval waits for a candidate at the frozen commit.
    pub final_requires_rc: bool,
}

/// The identifier of candidates (`-rc.N`).
pub const IDENTIFIER: &str = "rc";

/// The number of the next candidate: one past the last, or the line's first number (0 or 1).
pub fn next_number(last: Option<u64>, start: u64) -> u64 {
    last.map_or(start, |n| n + 1)
}

/// A candidate's version: `2.0.0` → `2.0.0-rc.3`. A version that already carries a
/// pre-release (`2.0.0-beta.1`) gets the candidate after it (`2.0.0-beta.1.rc.3`), so the
/// candidate still sorts below the version it leads to.
pub fn version(final_version: &str, number: u64) -> String {
    let (core, build) = match final_version.split_once('+') {
        Some((core, build)) => (core, Some(build)),
        None => (final_version, None),
    };
    let separator = if core.contains('-') { '.' } else { '-' };
    let mut out = format!("{core}{separator}{IDENTIFIER}.{number}");
    if let Some(build) = build {
        out.push('+');
        out.push_str(build);
    }
    out
}

/// A candidate's tag: the final tag with the candidate's suffix (`v2.0.0` → `v2.0.0-rc.3`,
/// `api-v2.0.0` → `api-v2.0.0-rc.3`).
pub fn tag(final_tag: &str, final_version: &str, number: u64) -> String {
    match final_tag.strip_suffix(final_version) {
        Some(prefix) => format!("{prefix}{}", version(final_version, number)),
        None => format!("{final_tag}-{IDENTIFIER}.{number}"),
    }
}

/// Why the train may not be approved yet, if it may not: a train that uses candidates is
/// released at the commit of its last candidate, so that commit must be the frozen one.
pub fn approval_refusal(candidates: &Candidates<'_>) -> Option<String> {
    if !candidates.final_requires_rc {
        return None;
    }
    match candidates.last {
        None => Some(
            "this line releases candidates first: `rc` tags and publishes one at the frozen \
             commit (or set `final-requires-rc: false` on the line)"
                .to_owned(),
        ),
        Some(last) if last.target_sha != candidates.target_sha => Some(format!(
            "the frozen commit moved to {} after {IDENTIFIER}.{} ({}); cut `rc` again so the \
             final release is a commit that was a candidate",
            short(candidates.target_sha),
            last.number,
            short(last.target_sha)
        )),
        Some(_) => None,
    }
}

/// Why no new candidate is called for, if none is: the last one is at the frozen commit.
pub fn candidate_refusal(candidates: &Candidates<'_>) -> Option<String> {
    let last = candidates.last?;
    (last.target_sha == candidates.target_sha).then(|| {
        format!(
            "{IDENTIFIER}.{} is already at the frozen commit {}; include a fix to move it \
             first",
            last.number,
            short(last.target_sha)
        )
    })
}

fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::version::Version;
    use std::cmp::Ordering;

    /// SemVer precedence, by the project's one comparison.
    fn precedence(a: &str, b: &str) -> Ordering {
        let parse = |v: &str| Version::parse(v).expect("version");
        parse(a).cmp_precedence(&parse(b))
    }

    #[test]
    fn candidates_are_numbered_from_the_lines_start() {
        assert_eq!(next_number(None, 1), 1);
        assert_eq!(next_number(None, 0), 0);
        assert_eq!(next_number(Some(1), 1), 2);
        assert_eq!(version("2.0.0", 1), "2.0.0-rc.1");
        assert_eq!(version("2.0.0-beta.1", 2), "2.0.0-beta.1.rc.2");
        assert_eq!(version("2.0.0+build.5", 3), "2.0.0-rc.3+build.5");
        assert_eq!(tag("v2.0.0", "2.0.0", 1), "v2.0.0-rc.1");
        assert_eq!(tag("api-v2.0.0", "2.0.0", 10), "api-v2.0.0-rc.10");
        assert_eq!(tag("release-2", "2.0.0", 1), "release-2-rc.1");
    }

    #[test]
    fn candidates_sort_below_their_final_by_semver_precedence() {
        let mut versions = vec!["2.0.0", "2.0.0-rc.10", "2.0.0-rc.2", "1.9.0", "2.0.0-rc.1"];
        versions.sort_by(|a, b| precedence(a, b));
        assert_eq!(
            versions,
            ["1.9.0", "2.0.0-rc.1", "2.0.0-rc.2", "2.0.0-rc.10", "2.0.0"]
        );
        assert_eq!(
            precedence(&version("2.0.0-beta.1", 1), "2.0.0-beta.2"),
            Ordering::Less
        );
    }

    #[test]
    fn approval_waits_for_a_candidate_at_the_frozen_commit() {
        let at =
            |target: &'static str, last: Option<(u64, &'static str)>, requires: bool| Candidates {
                target_sha: target,
                last: last.map(|(number, target_sha)| LastCandidate { number, target_sha }),
                final_requires_rc: requires,
            };
        assert!(
            approval_refusal(&at("bbb", None, true))
                .is_some_and(|r| r.contains("releases candidates first"))
        );
        assert!(
            approval_refusal(&at("bbbbbbbbb", Some((1, "aaaaaaaaa")), true))
                .is_some_and(|r| r.contains("moved to bbbbbbb after rc.1"))
        );
        assert_eq!(approval_refusal(&at("aaa", Some((2, "aaa")), true)), None);
        assert_eq!(approval_refusal(&at("bbb", Some((1, "aaa")), false)), None);
        assert!(candidate_refusal(&at("aaa", Some((2, "aaa")), true)).is_some());
        assert_eq!(candidate_refusal(&at("bbb", Some((2, "aaa")), true)), None);
        assert_eq!(candidate_refusal(&at("bbb", None, true)), None);
    }
}
