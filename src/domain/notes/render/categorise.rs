//! Collecting and categorising: pull requests sorted, excluded, put in their categories with
//! one line each, and the version increment their labels ask for.

use super::contributors::CommitAuthors;
use super::fit::single;
use super::lines::{ChangePiece, change_line, commit_line, compile_change_template};
use super::{DraftInputs, Section};
use crate::domain::notes::changes::PullRequest;
use crate::domain::notes::config::{
    CategoryKind, NotesConfig, NotesLayout, SemverIncrement, SortBy, SortDirection,
};
use crate::domain::notes::template::{self};
use crate::domain::version::Increment;

/// The change lines in their sections (uncategorized first, then the changelog categories in
/// configured order), the pull requests listed, and the increments the changes call for.
pub(super) struct Categorised {
    pub(super) sections: Vec<Section>,
    pub(super) listed_numbers: Vec<u64>,
    pub(super) increment: Option<SemverIncrement>,
    pub(super) conventional: Option<Increment>,
}

pub(super) fn categorise(
    config: &NotesConfig,
    inputs: &DraftInputs<'_>,
    pull_requests: &[&PullRequest],
    evaluations: &[crate::domain::notes::categorize::Evaluation],
    authors: &CommitAuthors<'_>,
) -> Categorised {
    let change_pieces = compile_change_template(&config.change_template);
    // A line names its category: one rendering per category it is listed under.
    let uses_category = change_pieces
        .iter()
        .any(|p| matches!(p, ChangePiece::Category));

    // Sections: uncategorized first, then changelog categories in configured order.
    let mut uncategorized = Section {
        heading: None,
        lines: Vec::new(),
        collapse_after: None,
        dropped: 0,
        chars: 0,
    };
    let mut by_category: Vec<Vec<String>> = vec![Vec::new(); config.categories.len()];
    // GitHub lists only what a category takes once there are categories.
    let github_layout = config.layout == NotesLayout::GitHub;
    let shows_uncategorized = !(github_layout
        && config
            .categories
            .iter()
            .any(|c| c.kind == CategoryKind::Changelog));
    let mut listed_numbers = Vec::new();
    let mut increment: Option<SemverIncrement> = None;
    let mut conventional: Option<Increment> = None;
    // Lines are rendered until they pass the expansion limit; the rest are counted as more.
    let mut rendered_bytes = 0usize;
    let mut unrendered = 0usize;
    for (pr, evaluation) in pull_requests.iter().zip(evaluations) {
        if !evaluation.included {
            continue;
        }
        increment = increment.max(evaluation.increment);
        if inputs.conventional_titles {
            conventional = conventional.max(crate::domain::bump::conventional_increment(
                &pr.title,
                Some(&pr.body),
            ));
        }
        if rendered_bytes > template::EXPANSION_LIMIT {
            unrendered += 1;
            continue;
        }
        let mut line = |category: &str| {
            let line = change_line(
                config,
                &change_pieces,
                category,
                pr,
                authors,
                inputs.server_url,
            );
            rendered_bytes += line.len();
            line
        };
        if evaluation.changelog.is_empty() {
            if shows_uncategorized {
                uncategorized.lines.push(line(""));
                listed_numbers.push(pr.number);
            }
        } else if uses_category {
            listed_numbers.push(pr.number);
            for index in &evaluation.changelog {
                by_category[*index].push(line(&config.categories[*index].title));
            }
        } else {
            listed_numbers.push(pr.number);
            let line = line("");
            let (last, rest) = evaluation.changelog.split_last().unwrap_or((&0, &[]));
            rendered_bytes += line.len() * rest.len();
            for index in rest {
                by_category[*index].push(line.clone());
            }
            by_category[*last].push(line);
        }
    }
    let sections = sections(config, inputs, uncategorized, by_category, unrendered);
    Categorised {
        sections,
        listed_numbers,
        increment,
        conventional,
    }
}

/// The draft's sections: uncategorized first (with commits without a pull request, when
/// asked), then each changelog category with lines, in configured order.
fn sections(
    config: &NotesConfig,
    inputs: &DraftInputs<'_>,
    uncategorized: Section,
    mut by_category: Vec<Vec<String>>,
    unrendered: usize,
) -> Vec<Section> {
    let mut sections = vec![uncategorized];
    for (index, category) in config.categories.iter().enumerate() {
        if category.kind != CategoryKind::Changelog {
            continue;
        }
        let lines = std::mem::take(&mut by_category[index]);
        if !lines.is_empty() {
            sections.push(Section {
                // An empty category template writes no heading (release-drafter's rule).
                heading: Some(template::render(
                    &config.category_template,
                    &single("$TITLE", &category.title),
                ))
                .filter(|heading| !heading.is_empty()),
                chars: 0,
                lines,
                collapse_after: category.collapse_after,
                dropped: 0,
            });
        }
    }
    if config.include_commits_without_pr {
        let lines: Vec<String> = inputs
            .commits
            .iter()
            .filter(|c| c.pull_requests.is_empty())
            .map(|c| commit_line(config, c, inputs.server_url))
            .collect();
        sections[0].lines.extend(lines);
    }

    sections[0].dropped += unrendered;
    for section in &mut sections {
        section.chars = section.lines.iter().map(|l| l.chars().count() + 1).sum();
    }
    sections
}

/// Sorts as release-drafter: by merge time or title (UTF-16 order, as JavaScript compares
/// strings), stable.
pub(super) fn sort_pull_requests(prs: &mut [&PullRequest], by: SortBy, direction: SortDirection) {
    match by {
        SortBy::MergedAt => {
            // GitHub's timestamps (`2026-11-27T09:30:00Z`) as a number: one integer compare
            // instead of a string compare per step; ties and odd formats fall back to text.
            let key = |pr: &PullRequest| {
                let mut n: u64 = 0;
                for b in pr.merged_at.bytes().filter(u8::is_ascii_digit).take(14) {
                    n = n * 10 + u64::from(b - b'0');
                }
                n
            };
            let cmp = |a: &&PullRequest, b: &&PullRequest| {
                key(a)
                    .cmp(&key(b))
                    .then_with(|| a.merged_at.cmp(&b.merged_at))
            };
            match direction {
                SortDirection::Ascending => prs.sort_by(cmp),
                SortDirection::Descending => prs.sort_by(|a, b| cmp(b, a)),
            }
        }
        SortBy::Title => {
            let cmp = |a: &&PullRequest, b: &&PullRequest| {
                a.title.encode_utf16().cmp(b.title.encode_utf16())
            };
            match direction {
                SortDirection::Ascending => prs.sort_by(cmp),
                SortDirection::Descending => prs.sort_by(|a, b| cmp(b, a)),
            }
        }
    }
}
