//! Rendering the body and fitting it under GitHub's limit: the template with its replacers,
//! the full changelog link, sections shortened when the body is too long.

use super::contributors::{
    new_contributors_list, new_contributors_section, wants_new_contributors,
};
use super::{DraftInputs, RELEASE_BODY_LIMIT, Section, no_baseline_notice};
use crate::domain::notes::changes::PullRequest;
use crate::domain::notes::config::{NotesConfig, NotesLayout};
use crate::domain::notes::template::{self, TemplateValue, Variables};
use std::collections::HashMap;

/// What the body is rendered from besides the sections.
pub(super) struct Rendering<'r> {
    pub(super) included: &'r [&'r PullRequest],
    pub(super) contributors: &'r str,
    pub(super) version_vars: &'r Variables,
    pub(super) tag_name: &'r str,
    pub(super) resolved_version: &'r str,
}

/// The body, rendered and fitted to GitHub's limit (sections shortened first, the text cut
/// only when that is not enough), and whether anything was left out.
pub(super) fn render_fitted(
    config: &NotesConfig,
    inputs: &DraftInputs<'_>,
    mut sections: Vec<Section>,
    r: &Rendering<'_>,
) -> (String, bool) {
    let github_layout = config.layout == NotesLayout::GitHub;
    let body_template = format!("{}{}{}", config.header, config.template, config.footer);
    let previous_tag = inputs.last_release.map_or("", |r| r.tag_name);
    let full_changelog = github_layout.then(|| {
        let tag = if r.tag_name.is_empty() {
            format!("v{}", r.resolved_version)
        } else {
            r.tag_name.to_owned()
        };
        full_changelog_url(inputs, previous_tag, &tag)
    });
    let new_contributors = if wants_new_contributors(config) && !github_layout {
        new_contributors_list(
            config,
            inputs.pull_requests,
            r.included,
            inputs.first_contributors,
        )
    } else {
        String::new()
    };
    let render_body = |sections: &[Section]| {
        if let Some(full_changelog) = &full_changelog {
            let mut body = github_body(
                sections,
                &new_contributors_section(inputs.pull_requests, inputs.first_contributors),
                full_changelog,
            );
            if inputs.last_release.is_none() {
                body.push_str(&no_baseline_notice(inputs.owner, inputs.repository));
            }
            return body;
        }
        let mut vars: Variables = HashMap::new();
        vars.insert("$PREVIOUS_TAG".into(), previous_tag.into());
        vars.insert(
            "$CHANGES".into(),
            TemplateValue::Text(changes_text(config, sections, inputs.compare_url)),
        );
        vars.insert("$CONTRIBUTORS".into(), r.contributors.into());
        vars.insert("$NEW_CONTRIBUTORS".into(), new_contributors.as_str().into());
        vars.insert("$OWNER".into(), inputs.owner.into());
        vars.insert("$REPOSITORY".into(), inputs.repository.into());
        // Bounded: past the limit the text is cut, and the loop below shortens it.
        let limit = template::EXPANSION_LIMIT;
        let mut body =
            template::render_with_replacers(&body_template, &vars, &config.replacers, limit)
                .unwrap_or_else(|(_, cut)| cut);
        body = template::render_within(&body, r.version_vars, limit).unwrap_or_else(|cut| cut);
        if inputs.last_release.is_none() {
            body.push_str(&no_baseline_notice(inputs.owner, inputs.repository));
        }
        body
    };
    // A list already longer than GitHub's limit on its own is cut before the first render,
    // so the replacers never run over text that cannot be sent.
    let listed_chars: usize = sections.iter().map(|s| s.chars).sum();
    let mut shortened = false;
    if listed_chars > RELEASE_BODY_LIMIT {
        shortened = shorten_by(&mut sections, listed_chars - RELEASE_BODY_LIMIT);
    }
    let mut body = render_body(&sections);
    loop {
        let length = body.chars().count();
        if length <= RELEASE_BODY_LIMIT {
            break;
        }
        shortened = true;
        // Cut the longest sections (by their lines' length) until the excess is covered,
        // then render once more to check: replacers may change lengths.
        if !shorten_by(&mut sections, length - RELEASE_BODY_LIMIT) {
            body = truncate_body(&body, inputs.compare_url);
            break;
        }
        body = render_body(&sections);
    }

    (body, shortened)
}

/// GitHub's "Full Changelog" link: the web comparison from the previous tag, or the tag's
/// commits for a first release (as GitHub writes it; never the API's URL).
pub(super) fn full_changelog_url(
    inputs: &DraftInputs<'_>,
    previous_tag: &str,
    tag: &str,
) -> String {
    let base = format!(
        "{}/{}/{}",
        inputs.server_url.trim_end_matches('/'),
        inputs.owner,
        inputs.repository
    );
    if previous_tag.is_empty() {
        format!("{base}/commits/{tag}")
    } else {
        format!("{base}/compare/{previous_tag}...{tag}")
    }
}

/// A body in GitHub's generated-notes format: `## What's Changed` with each category's
/// `###` heading right above its lines, `## New Contributors`, and the Full Changelog line
/// (alone when nothing is listed, as GitHub writes it).
pub(super) fn github_body(
    sections: &[Section],
    new_contributors: &str,
    full_changelog: &str,
) -> String {
    let listed: Vec<String> = sections
        .iter()
        .filter(|s| !s.lines.is_empty())
        .map(|s| {
            let mut text = s
                .heading
                .as_ref()
                .map_or(String::new(), |h| format!("{h}\n"));
            text.push_str(&s.lines.join("\n"));
            if s.dropped > 0 {
                text.push_str(&format!("\n* … and {} more", s.dropped));
            }
            text
        })
        .collect();
    let mut parts = Vec::new();
    if !listed.is_empty() {
        parts.push(format!("## What's Changed\n{}", listed.join("\n")));
    }
    if !new_contributors.is_empty() {
        parts.push(new_contributors.to_owned());
    }
    parts.push(format!("**Full Changelog**: {full_changelog}"));
    parts.join("\n\n")
}

/// The pull requests a generated body lists under "What's Changed": the numbers of lines
/// ending in a link to one of `repo`'s pull requests (`…/{owner}/{name}/pull/{number}`, on
/// whatever web host), New Contributors' lines left out.
pub fn pull_requests_listed_in(body: &str, repo: &str) -> Vec<u64> {
    let marker = format!("/{repo}/pull/");
    let mut numbers: Vec<u64> = body
        .lines()
        .filter(|line| line.starts_with("* ") || line.starts_with("- "))
        .filter(|line| !line.contains(" made their first contribution in "))
        .filter_map(|line| line.rsplit(' ').next())
        .filter(|link| link.starts_with("https://") || link.starts_with("http://"))
        .filter_map(|link| link.rsplit_once(marker.as_str()))
        .filter_map(|(_, number)| number.parse().ok())
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    numbers
}

pub(super) fn single(name: &str, value: &str) -> Variables {
    let mut vars = HashMap::with_capacity(1);
    vars.insert(name.to_owned(), TemplateValue::Text(value.to_owned()));
    vars
}

pub(super) fn changes_text(
    config: &NotesConfig,
    sections: &[Section],
    compare_url: Option<&str>,
) -> String {
    if sections.iter().all(|s| s.lines.is_empty()) {
        return config.no_changes_template.clone();
    }
    let mut parts: Vec<String> = Vec::new();
    for section in sections {
        if section.lines.is_empty() {
            continue;
        }
        let mut list = section.lines.join("\n");
        if section.dropped > 0 {
            list.push_str(&format!(
                "\n* … and {} more{}",
                section.dropped,
                compare_url.map_or(String::new(), |u| format!(" in the [full comparison]({u})"))
            ));
        }
        let total = section.lines.len() + section.dropped;
        let list = match section.collapse_after {
            Some(after) if total > after => format!(
                "<details>\n<summary>{total} change{}</summary>\n\n{list}\n</details>",
                if total > 1 { "s" } else { "" }
            ),
            _ => list,
        };
        let text = match &section.heading {
            Some(heading) => format!("{heading}\n\n{list}"),
            None => list,
        };
        parts.push(text);
    }
    parts.join("\n\n").trim().to_owned()
}

/// Drops lines from the end of the longest sections until about `excess` characters (and a
/// margin for the "… and N more" lines) are gone; false when nothing is left to cut.
pub(super) fn shorten_by(sections: &mut [Section], excess: usize) -> bool {
    let mut to_cut = excess + 200 * sections.len();
    let mut cut_any = false;
    while to_cut > 0 {
        let longest = sections
            .iter_mut()
            .filter(|s| s.lines.len() > 1)
            .max_by_key(|s| s.chars);
        let Some(section) = longest else {
            return cut_any;
        };
        // Halve the section, or less when that covers the rest of the excess.
        let keep_at_least = section.lines.len() / 2;
        while section.lines.len() > keep_at_least.max(1) && to_cut > 0 {
            let Some(line) = section.lines.pop() else {
                break;
            };
            let gone = line.chars().count() + 1;
            section.chars -= gone.min(section.chars);
            section.dropped += 1;
            to_cut = to_cut.saturating_sub(gone);
            cut_any = true;
        }
    }
    cut_any
}

/// A body written elsewhere (GitHub's generated notes) within GitHub's limit, leaving room
/// for trainyard's marker and a maintainer's highlights; says whether it was shortened.
pub fn fit_body(body: &str) -> (String, bool) {
    // Room kept for the marker and highlights around the notes.
    const ROOM: usize = 5_000;
    if body.chars().count() + ROOM <= RELEASE_BODY_LIMIT {
        return (body.to_owned(), false);
    }
    let keep = RELEASE_BODY_LIMIT - ROOM - 200;
    let mut out: String = body.chars().take(keep).collect();
    out.push_str(&format!(
        "\n\n… (shortened to fit GitHub's {RELEASE_BODY_LIMIT}-character limit)"
    ));
    (out, true)
}

/// Last resort for a body whose template alone is too long.
pub(super) fn truncate_body(body: &str, compare_url: Option<&str>) -> String {
    let suffix = format!(
        "\n\n… (shortened to fit GitHub's {RELEASE_BODY_LIMIT}-character limit{})",
        compare_url.map_or(String::new(), |u| format!("; [full comparison]({u})"))
    );
    let keep = RELEASE_BODY_LIMIT.saturating_sub(suffix.chars().count());
    let mut out: String = body.chars().take(keep).collect();
    out.push_str(&suffix);
    out
}
