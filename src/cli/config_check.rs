//! `trainyard config check FILE`: reads a configuration file as the server would, offline (no
//! credentials, no repository), and prints the configuration in effect, its warnings, or the
//! error in the author's words. Exits 1 on an error.

use std::io::Write;
use std::path::Path;

use crate::domain::notes::config::{CategoryKind, SemverIncrement};
use crate::domain::repo_config::{Include, RepoConfig};
use crate::domain::train::{DEFAULT_BOARDING_LABEL, DEFAULT_SKIP_LABEL};

/// What the file is read as, from its name: the server tells them apart the same way.
fn kind_path(name: &str) -> &'static str {
    match name {
        "release-drafter.yml" | "release-drafter.yaml" => ".github/release-drafter.yml",
        "release.yml" | "release.yaml" => ".github/release.yml",
        _ => ".github/trainyard.yml",
    }
}

/// Checks `path`, writing the report to `out`; `Ok(false)` when the file cannot be used.
pub fn run(path: &Path, out: &mut impl Write) -> anyhow::Result<bool> {
    let shown = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            writeln!(out, "error: {shown}: cannot be read: {e}")?;
            return Ok(false);
        }
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let kind = kind_path(name);
    let config = match RepoConfig::from_file_named(kind, &shown, &text) {
        Ok(config) => config,
        Err(error) => {
            writeln!(out, "error: {error}")?;
            return Ok(false);
        }
    };
    let read_as = kind.trim_start_matches(".github/");
    writeln!(out, "{shown}: usable (read as {read_as})")?;
    let mut warnings = config.warnings.clone();
    if ![
        "trainyard.yml",
        "trainyard.yaml",
        "release-drafter.yml",
        "release-drafter.yaml",
    ]
    .contains(&name)
        && kind == ".github/trainyard.yml"
    {
        warnings.insert(
            0,
            format!(
                "`{name}` is not a name trainyard reads: the server reads \
                 `.github/trainyard.yml`, `.github/release-drafter.yml` or `.github/release.yml`"
            ),
        );
    }
    if config.extends.is_some() {
        warnings.push(
            "`_extends` is not followed offline: this file's own keys are checked; \
             `trainyard notes --repo owner/name` reads the whole chain"
                .to_owned(),
        );
    }
    for warning in &warnings {
        writeln!(out, "warning: {warning}")?;
    }
    writeln!(out)?;
    summary(&config, out)?;
    Ok(true)
}

fn shown_template(template: &str) -> String {
    if template.is_empty() {
        "(none)".to_owned()
    } else {
        format!("`{template}`")
    }
}

fn labels(list: &[String]) -> String {
    list.iter()
        .map(|l| format!("`{l}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The configuration in effect, defaults filled in.
fn summary(config: &RepoConfig, out: &mut impl Write) -> anyhow::Result<()> {
    lines_summary(config, out)?;
    let notes = config.notes().map_err(|e| anyhow::anyhow!("{e}"))?;
    writeln!(
        out,
        "version: {}, tag template {}, name template {}; {} when no label says more",
        if config.calendar().is_some() {
            "calendar"
        } else {
            "semver"
        },
        shown_template(&notes.tag_template),
        shown_template(&notes.name_template),
        match config.default_increment() {
            SemverIncrement::Major => "major",
            SemverIncrement::Minor => "minor",
            SemverIncrement::Patch => "patch",
        }
    )?;
    if config.conventional_commits() {
        writeln!(
            out,
            "  Conventional Commits titles and `BREAKING CHANGE:` footers bump too"
        )?;
    }
    writeln!(
        out,
        "notes: {} {}",
        notes.categories.len(),
        if notes.categories.len() == 1 {
            "category"
        } else {
            "categories"
        }
    )?;
    for category in &notes.categories {
        let wanted: Vec<String> = category
            .when
            .iter()
            .flat_map(|c| c.labels.iter().chain(c.paths.iter()))
            .cloned()
            .collect();
        let title = match category.kind {
            CategoryKind::Changelog if category.title.is_empty() => "(untitled section)",
            CategoryKind::Changelog => &category.title,
            CategoryKind::PreInclude => "(only these are listed)",
            CategoryKind::PreExclude => "(these are left out)",
            CategoryKind::VersionResolver => "(version only)",
        };
        writeln!(out, "  {title}: {}", labels(&wanted))?;
    }
    writeln!(out, "  change template `{}`", notes.change_template)?;
    approvals_and_deploy_summary(config, out)
}

/// Each line: its branch, what boards, paths and schedule.
fn lines_summary(config: &RepoConfig, out: &mut impl Write) -> anyhow::Result<()> {
    writeln!(out, "lines:")?;
    for line in config.lines() {
        let branch = line.branch.as_deref().unwrap_or("the default branch");
        let skip = line.skip_label.as_deref().unwrap_or(DEFAULT_SKIP_LABEL);
        let boards = match line.include.unwrap_or_default() {
            Include::All => format!("every merged pull request (not those labelled `{skip}`)"),
            Include::Label => format!(
                "pull requests labelled `{}` (not `{skip}`)",
                line.boarding_label
                    .as_deref()
                    .unwrap_or(DEFAULT_BOARDING_LABEL)
            ),
        };
        writeln!(
            out,
            "  {}: merged into {branch}, boards {boards}",
            line.name
        )?;
        if let Some(paths) = &line.paths {
            writeln!(out, "    only pull requests touching {}", labels(paths))?;
        }
        if let Some(schedule) = &line.schedule {
            let zone = line.timezone.as_deref().unwrap_or("UTC");
            writeln!(out, "    cut on schedule `{schedule}` ({zone})")?;
        }
    }
    Ok(())
}

/// The approval rules and the environments.
fn approvals_and_deploy_summary(config: &RepoConfig, out: &mut impl Write) -> anyhow::Result<()> {
    let rules = config.approval_rules();
    writeln!(
        out,
        "approvals: {} with {} permission{}",
        rules.required,
        rules.permission,
        if rules.allow_self_approval {
            ", the person who cut may approve"
        } else {
            ", not by the person who cut"
        }
    )?;
    let environments: Vec<String> = config
        .environments()
        .iter()
        .map(|e| {
            let mut said = e.name.clone();
            if e.auto == Some(true) {
                said.push_str(" (automatic)");
            }
            if let Some(after) = &e.after {
                said.push_str(&format!(" (after {after})"));
            }
            if let Some(verify) = &e.verify {
                said.push_str(&format!(" (verified: {} bake)", verify.bake));
            }
            said
        })
        .collect();
    if environments.is_empty() {
        writeln!(out, "deploy: no environments")?;
    } else {
        writeln!(out, "deploy: {}", environments.join(", "))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_tell_the_kind_as_the_server_does() {
        assert_eq!(
            kind_path("release-drafter.yml"),
            ".github/release-drafter.yml"
        );
        assert_eq!(kind_path("release.yaml"), ".github/release.yml");
        assert_eq!(kind_path("trainyard.yml"), ".github/trainyard.yml");
    }
}
