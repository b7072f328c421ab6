//! `trainyard notes`: preview the notes and the resolved version for a range, with the
//! repository's own configuration (or a local file), without writing anything to GitHub.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::clock::SystemClock;
use crate::domain::ids::RepoFullName;
use crate::domain::repo_config::{Include, LineKeys, RepoConfig};
use crate::domain::train::{self, BoardingRules};
use crate::github::error::GitHubError;
use crate::github::{ContentLimits, GitHubClient};
use crate::handlers::trains::drafting::{
    DraftError, DraftRequest, PreparedDraft, VersionRules, prepare_draft,
};
use crate::settings::{Secret, Settings};

/// `trainyard notes` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct NotesArgs {
    /// The repository, `owner/name`.
    #[arg(long)]
    pub repo: String,
    /// Compare from this tag [default: the line's latest published release].
    #[arg(long)]
    pub from: Option<String>,
    /// Up to this branch, tag or commit [default: the line's branch].
    #[arg(long)]
    pub to: Option<String>,
    /// The train line whose branch and tag prefix to use [default: the first line].
    #[arg(long)]
    pub line: Option<String>,
    /// A local configuration file instead of the repository's (`trainyard.yml`,
    /// `release-drafter.yml` or `release.yml`, told apart by name).
    #[arg(long, value_name = "FILE")]
    pub repo_config: Option<PathBuf>,
    /// Every pull request merged in the range, not only those the line's next train would
    /// carry (release-drafter's view).
    #[arg(long)]
    pub whole_range: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// GitHub API base (GitHub Enterprise: `https://ghe.example.com/api/v3`).
    #[arg(long)]
    pub api_url: Option<String>,
}

/// What `--json` prints.
#[derive(Debug, serde::Serialize)]
struct NotesJson<'a> {
    repository: String,
    baseline: Option<&'a str>,
    target: &'a str,
    version: &'a str,
    increment: String,
    tag_name: &'a str,
    name: &'a str,
    prerelease: bool,
    line: &'a str,
    next_train: bool,
    merged: usize,
    pull_requests: usize,
    listed: usize,
    shortened: bool,
    github_calls: u32,
    config_source: Option<&'a str>,
    warnings: &'a [String],
    body: &'a str,
}

pub use crate::settings::server_url;

/// Runs `trainyard notes`, writing to `out` and progress to stderr.
pub async fn run(
    args: &NotesArgs,
    settings: &Settings,
    token: Option<String>,
    out: &mut impl std::io::Write,
) -> anyhow::Result<()> {
    let repo = RepoFullName::parse(&args.repo)
        .with_context(|| format!("--repo `{}` is not owner/name", args.repo))?;
    let api_url = args.api_url.as_deref().unwrap_or(&settings.github_api_url);
    let (github, installation) = connect(settings, token, api_url, &repo).await?;
    let (config, source) = load_config(args, settings, &github, installation, &repo).await?;
    let line = pick_line(&config, args.line.as_deref())?;
    let mut keys = config.notes_keys().map_err(|e| anyhow::anyhow!("{e}"))?;
    if keys.tag_prefix.is_none() {
        keys.tag_prefix = line.tag_prefix.clone();
    }
    let branch = match &line.branch {
        Some(branch) => branch.clone(),
        None => default_branch(&github, installation, &repo).await?,
    };
    let head = args.to.clone().unwrap_or_else(|| branch.clone());
    // The preview is the line's next train: only what its boarding rules take.
    let boarding = (!args.whole_range).then(|| BoardingRules::of(&line, &branch));
    let request = DraftRequest {
        repo: repo.clone(),
        installation,
        keys,
        head,
        from: args.from.clone(),
        tag: None,
        name: None,
        version: None,
        publish: false,
        dry_run: true,
        rules: VersionRules::of(&config),
        boarding: boarding.clone(),
        server_url: server_url(api_url),
        calendar: config.calendar().map(|scheme| {
            // "Today" is the line's date, in its time zone (UTC unless configured).
            let zone = line
                .timezone
                .as_deref()
                .and_then(|z| jiff::tz::TimeZone::get(z).ok())
                .unwrap_or(jiff::tz::TimeZone::UTC);
            (scheme, zone.to_datetime(jiff::Timestamp::now()).date())
        }),
    };
    let mut stderr = std::io::stderr();
    let engine = config.notes_engine();
    let mut prepared = prepare_draft(&github, &request, |commits| {
        // Long ranges take several pages: say how far we are.
        if commits >= 200 {
            let _ = writeln!(stderr, "trainyard: read {commits} commits of {repo}…");
        }
    })
    .await
    .map_err(|e| match e {
        DraftError::GitHub(e) => explain(e, &repo, args.from.as_deref()),
        other => anyhow::anyhow!("{other}"),
    })?;
    if engine == crate::domain::notes::config::NotesEngine::Github {
        // What the train's draft would carry: GitHub's own notes for the same range.
        let tag = Some(prepared.draft.tag_name.clone())
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| format!("v{}", prepared.draft.resolved_version));
        let body = github
            .generate_notes(
                installation,
                &repo,
                &tag,
                &prepared.write.target_commitish,
                prepared.baseline.as_deref(),
            )
            .await
            .map_err(|e| explain(e, &repo, args.from.as_deref()))?;
        prepared.draft.body = body.clone();
        prepared.write.body = body;
        prepared.calls += 1;
    }
    if boarding.is_some() {
        // The tag and name the train will take when it is cut.
        let tag = train::release_tag(&prepared.draft.tag_name, &prepared.draft.resolved_version);
        prepared.draft.name = train::release_name(&prepared.draft.name, &tag);
        prepared.draft.tag_name = tag;
    }
    let report = Report {
        source: source.as_deref(),
        warnings: &config.warnings,
        line: &line.name,
        boarding: boarding.as_ref(),
    };
    print(out, args, &repo, &prepared, &report)?;
    Ok(())
}

/// A GitHub client for the preview: the token when one is given, else the App (and its
/// installation on `repo`); installation `0` with a token.
async fn connect(
    settings: &Settings,
    token: Option<String>,
    api_url: &str,
    repo: &RepoFullName,
) -> anyhow::Result<(GitHubClient, u64)> {
    let clock = std::sync::Arc::new(SystemClock);
    let connected = match (token.filter(|t| !t.is_empty()), &settings.github) {
        (Some(token), _) => (
            GitHubClient::with_token(Secret::new(token), api_url, clock, ContentLimits::default())?,
            0,
        ),
        (None, Some(app)) => {
            let client = GitHubClient::new(app, api_url, clock, ContentLimits::default())?;
            let installation = client
                .repository_installation(repo)
                .await
                .map_err(|e| explain(e, repo, None))
                .with_context(|| format!("finding the App's installation on {repo}"))?;
            (client, installation)
        }
        (None, None) => bail!(
            "no GitHub credentials: set GITHUB_TOKEN to a token that can read {repo}, or \
             configure the GitHub App (TRAINYARD_GITHUB_APP_ID and \
             TRAINYARD_GITHUB_PRIVATE_KEY_PATH)"
        ),
    };
    Ok(connected)
}

/// The configuration to preview with: `--repo-config`'s file, else the repository's as the
/// server reads it; and where it came from.
async fn load_config(
    args: &NotesArgs,
    settings: &Settings,
    github: &GitHubClient,
    installation: u64,
    repo: &RepoFullName,
) -> anyhow::Result<(RepoConfig, Option<String>)> {
    let (config, source) = match &args.repo_config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let as_path = match name {
                "release-drafter.yml" | "release-drafter.yaml" => ".github/release-drafter.yml",
                "release.yml" | "release.yaml" => ".github/release.yml",
                _ => ".github/trainyard.yml",
            };
            let config = RepoConfig::from_file(as_path, &text)
                .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e))?;
            (config, Some(path.display().to_string()))
        }
        // The server's own loader: the organisation's file when the repository has none,
        // `_extends` followed (within TRAINYARD_EXTENDS_REPOSITORIES) and merged.
        None => {
            let reach = crate::handlers::kit::routes::ConfigReach::default()
                .extending(settings.extends_repositories.clone());
            match crate::handlers::kit::config::read_config(github, &reach, installation, repo)
                .await
                .map_err(|e| explain(e, repo, None))?
            {
                Some((path, Ok(resolved))) => {
                    let config = RepoConfig::from_file(path, &resolved.text)
                        .map_err(|e| anyhow::anyhow!("{repo}: {e}"))?;
                    let source = if resolved.sources.is_empty() {
                        path.to_owned()
                    } else {
                        format!("{path}, extending {}", resolved.sources.join(", "))
                    };
                    (config, Some(source))
                }
                Some((path, Err((_, reason)))) => {
                    bail!("{repo}: {path} cannot be used: {reason}")
                }
                None => Default::default(),
            }
        }
    };
    Ok((config, source))
}

/// The line named by `--line`, else the first configured.
fn pick_line(config: &RepoConfig, name: Option<&str>) -> anyhow::Result<LineKeys> {
    let lines = config.lines();
    let line = match name {
        Some(name) => lines
            .iter()
            .find(|l| l.name == name)
            .with_context(|| {
                let names: Vec<&str> = lines.iter().map(|l| l.name.as_str()).collect();
                format!("no train line `{name}`; lines: {}", names.join(", "))
            })?
            .clone(),
        None => lines.first().cloned().unwrap_or_default(),
    };
    Ok(line)
}

async fn default_branch(
    github: &GitHubClient,
    installation: u64,
    repo: &RepoFullName,
) -> anyhow::Result<String> {
    github
        .default_branch(installation, repo)
        .await
        .map_err(|e| explain(e, repo, None))
}

/// Turns GitHub's refusals into what to do about them.
fn explain(error: GitHubError, repo: &RepoFullName, from: Option<&str>) -> anyhow::Error {
    match error {
        GitHubError::NotFound(what) if what.starts_with("`refs/tags/") => {
            let tag = from.unwrap_or("the baseline tag");
            anyhow::anyhow!(
                "tag `{tag}` not found in {repo}: check --from (git tag --list) or the latest release's tag"
            )
        }
        GitHubError::NotFound(what) => anyhow::anyhow!(
            "{what}: repository {repo} not found, or the credentials cannot see it (a token needs \
             read access to its contents and pull requests)"
        ),
        GitHubError::Unauthorized(why) => anyhow::anyhow!(
            "GitHub refused the credentials ({why}): check GITHUB_TOKEN or the App's key"
        ),
        other => anyhow::anyhow!("{other}"),
    }
}

/// What is said around the notes.
struct Report<'a> {
    source: Option<&'a str>,
    warnings: &'a [String],
    line: &'a str,
    /// The line's boarding rules, when the preview is its next train.
    boarding: Option<&'a BoardingRules>,
}

/// Who boards, in a few words: "label `release`", "every merged pull request".
fn boarding_words(rules: &BoardingRules) -> String {
    let mut words = match rules.include {
        Include::Label => format!("label `{}`", rules.boarding_label),
        Include::All => format!("every merged pull request but `{}`", rules.skip_label),
    };
    if !rules.paths.is_empty() {
        let paths: Vec<String> = rules.paths.iter().map(|p| format!("`{p}`")).collect();
        words.push_str(&format!(", touching {}", paths.join(", ")));
    }
    words
}

fn print(
    out: &mut impl std::io::Write,
    args: &NotesArgs,
    repo: &RepoFullName,
    prepared: &PreparedDraft,
    report: &Report<'_>,
) -> anyhow::Result<()> {
    let draft = &prepared.draft;
    if args.json {
        let json = NotesJson {
            repository: repo.to_string(),
            baseline: prepared.baseline.as_deref(),
            target: &prepared.write.target_commitish,
            version: &draft.resolved_version,
            increment: format!("{:?}", draft.increment).to_lowercase(),
            tag_name: &draft.tag_name,
            name: &draft.name,
            prerelease: draft.prerelease,
            line: report.line,
            next_train: report.boarding.is_some(),
            merged: prepared.merged,
            pull_requests: prepared.pull_requests,
            listed: draft.listed,
            shortened: draft.shortened,
            github_calls: prepared.calls,
            config_source: report.source,
            warnings: report.warnings,
            body: &draft.body,
        };
        serde_json::to_writer_pretty(&mut *out, &json)?;
        writeln!(out)?;
        return Ok(());
    }
    let or_dash = |text: &str| {
        if text.is_empty() {
            "-".to_owned()
        } else {
            text.to_owned()
        }
    };
    writeln!(
        out,
        "{repo}: {} → {}",
        prepared
            .baseline
            .as_deref()
            .unwrap_or("(no previous release)"),
        prepared.write.target_commitish
    )?;
    match report.boarding {
        Some(rules) => writeln!(
            out,
            "next train on line `{}`: {} merged, {} would board ({})",
            report.line,
            prepared.merged,
            prepared.pull_requests,
            boarding_words(rules)
        )?,
        None => writeln!(out, "whole range: {} pull requests merged", prepared.merged)?,
    }
    writeln!(
        out,
        "version {} ({:?}), tag {}, name {}",
        draft.resolved_version,
        draft.increment,
        or_dash(&draft.tag_name),
        or_dash(&draft.name),
    )?;
    writeln!(
        out,
        "{} listed; configuration: {}",
        draft.listed,
        report.source.unwrap_or("defaults")
    )?;
    for warning in report.warnings {
        writeln!(out, "warning: {warning}")?;
    }
    writeln!(out)?;
    write!(out, "{}", draft.body)?;
    if !draft.body.ends_with('\n') {
        writeln!(out)?;
    }
    Ok(())
}
