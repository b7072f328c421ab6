//! Which existing releases matter: the draft to update (the first one GitHub lists, of the
//! same pre-release kind) and the baseline, the highest published release by version
//! (release-drafter's order: tag prefix stripped, non-versions by creation time), with
//! pre-releases only when asked, and optional commitish and version-range filters.

use std::cmp::Ordering;

use super::config::NotesConfig;
use crate::domain::version::Version;

/// A release as GitHub lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReleaseSummary {
    /// Id.
    pub id: u64,
    /// Tag.
    pub tag_name: String,
    /// Name.
    pub name: Option<String>,
    /// Draft.
    pub draft: bool,
    /// Pre-release.
    pub prerelease: bool,
    /// Created at, RFC 3339.
    pub created_at: String,
    /// Target branch or commit.
    pub target_commitish: String,
    /// Body (drafts keep the maintainers' highlights there).
    pub body: Option<String>,
}

/// The releases that matter for the next draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Previous<'a> {
    /// The draft to update.
    pub draft: Option<&'a ReleaseSummary>,
    /// The baseline.
    pub last: Option<&'a ReleaseSummary>,
}

fn branch(commitish: &str) -> &str {
    commitish.strip_prefix("refs/heads/").unwrap_or(commitish)
}

/// Picks the draft and the baseline among `releases` for a draft targeting `commitish`.
pub fn find_previous<'a>(
    releases: &'a [ReleaseSummary],
    config: &NotesConfig,
    commitish: &str,
) -> Previous<'a> {
    let target = branch(commitish);
    let candidates = releases.iter().filter(|r| {
        (!config.filter_by_commitish || branch(&r.target_commitish) == target)
            && r.tag_name.starts_with(config.tag_prefix.as_str())
    });
    let draft = candidates
        .clone()
        .find(|r| r.draft && r.prerelease == config.prerelease);
    let mut last: Option<&ReleaseSummary> = None;
    for release in candidates.filter(|r| !r.draft) {
        if release.prerelease && !(config.prerelease || config.include_pre_releases) {
            continue;
        }
        if let Some(range) = &config.filter_by_range {
            let satisfies = Version::from_tag(&release.tag_name, &config.tag_prefix)
                .is_some_and(|v| range.matches(v.as_semver()));
            if !satisfies {
                continue;
            }
        }
        // Later equals win, as the last of a stable sort does.
        last = match last {
            Some(best) if release_order(release, best, &config.tag_prefix) == Ordering::Less => {
                Some(best)
            }
            _ => Some(release),
        };
    }
    Previous { draft, last }
}

fn release_order(a: &ReleaseSummary, b: &ReleaseSummary, prefix: &str) -> Ordering {
    match (
        Version::from_tag(&a.tag_name, prefix),
        Version::from_tag(&b.tag_name, prefix),
    ) {
        (Some(va), Some(vb)) => va.cmp_precedence(&vb),
        _ => a.created_at.cmp(&b.created_at),
    }
}
