//! Keeping each repository's configuration: read through the contents API from the default
//! branch, stored with its blob sha (an unchanged sha is not parsed again), re-read when a push
//! to the default branch touches one of the configuration files. A broken version is refused:
//! the last good configuration stays in force and the error is kept for the bot to report.
//! So is a version whose chat channels the bot does not serve or cannot post in
//! ([`ConfigReach`]).

use crate::domain::ids::RepoFullName;
use crate::domain::repo_config::{
    CONFIG_PATHS, ConfigTarget, EffectiveConfig, Extends, Layer, RepoConfig, layer, merge_chain,
    normalize_filepath, parse_config_target,
};
use crate::github::notes::RepositoryFile;
use crate::github::{GitHubClient, GitHubError};
use crate::handlers::kit::routes::ConfigReach;
use crate::jobs::JobError;
use crate::store::{Db, repo_configs};

/// A repository's configuration as trainyard currently applies it.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentConfig {
    /// The configuration in force.
    pub effective: EffectiveConfig,
    /// Why the newest version on the default branch was refused, if it was.
    pub refused: Option<String>,
}

/// What a refresh found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// Same blob as before: nothing parsed.
    Unchanged,
    /// A new good version from this file.
    Loaded(String),
    /// No configuration file: defaults.
    Defaults,
    /// The new version was refused; the last good one stays.
    Refused(String),
}

/// A configuration read from GitHub: the file it came from, and its text with what it
/// extends merged in, or why that cannot be used (`(version key, reason)`).
pub type ReadConfig = (&'static str, Result<Resolved, (String, String)>);

/// Reads `repo`'s configuration as the server uses it — its own file, else its
/// organisation's (from the owner's `.github`), with `_extends` followed within what `reach`
/// allows and merged — without storing it or checking its channels: the one loader of the
/// server and of `trainyard notes`. `None` when there is none (defaults).
pub async fn read_config(
    github: &GitHubClient,
    reach: &ConfigReach,
    installation: u64,
    repo: &RepoFullName,
) -> Result<Option<ReadConfig>, GitHubError> {
    let found = match config_file(github, installation, repo).await? {
        Some(found) => Some(found),
        None => organisation_fallback(github, installation, repo).await?,
    };
    let Some((path, file)) = found else {
        return Ok(None);
    };
    let resolved = resolve_extends(github, reach, installation, repo, path, &file).await?;
    Ok(Some((path, resolved)))
}

/// Re-reads `repo`'s configuration from GitHub and stores it.
pub async fn refresh(
    db: &Db,
    github: &GitHubClient,
    routes: &ConfigReach,
    installation: u64,
    repo: &RepoFullName,
    now: i64,
) -> Result<Refresh, JobError> {
    let stored = repo_configs::get(db, repo).await?;
    if let Some((path, resolved)) = read_config(github, routes, installation, repo).await? {
        let key = match &resolved {
            Ok(resolved) => &resolved.key,
            Err((key, _)) => key,
        };
        if let Some(row) = &stored {
            let same_good = row.blob_sha.as_deref() == Some(key.as_str())
                && row.source_path.as_deref() == Some(path);
            let same_refused = row.error_sha.as_deref() == Some(key.as_str());
            if same_good || same_refused {
                return Ok(Refresh::Unchanged);
            }
        }
        // The channels it names are checked only once the text itself is good.
        let checked = match resolved {
            Ok(resolved) => match RepoConfig::from_file(path, &resolved.text) {
                Ok(config) => {
                    let wanted = chat_routes(&config);
                    let mut refusals = routes.refusals(&wanted).await?;
                    refusals.extend(routes.taken(db, repo, installation, &wanted).await?);
                    if refusals.is_empty() {
                        Ok((config, resolved))
                    } else {
                        Err((resolved.key, refusals.join("\n")))
                    }
                }
                Err(error) => Err((resolved.key, error.to_string())),
            },
            Err(refused) => Err(refused),
        };
        return match checked {
            Ok((config, resolved)) => {
                crate::store::chat::set_routes(db, repo, &chat_routes(&config)).await?;
                repo_configs::save_good(
                    db,
                    repo,
                    Some(path),
                    Some(&resolved.key),
                    Some(&resolved.text),
                    now,
                )
                .await?;
                repo_configs::set_sources(db, repo, &resolved.sources).await?;
                tracing::info!(%repo, path, sha = %resolved.key, "configuration loaded");
                Ok(Refresh::Loaded(path.to_owned()))
            }
            Err((key, message)) => {
                repo_configs::save_error(db, repo, &key, &message, now).await?;
                tracing::warn!(%repo, path, error = %message, "configuration refused; keeping the last good one");
                Ok(Refresh::Refused(message))
            }
        };
    }
    repo_configs::save_good(db, repo, None, None, None, now).await?;
    crate::store::chat::set_routes(db, repo, &[]).await?;
    Ok(Refresh::Defaults)
}

/// The channels a configuration's `chat:` section routes to the repository.
fn chat_routes(config: &RepoConfig) -> Vec<crate::store::chat::Route> {
    use crate::store::chat::{ChatSurface, Route};
    let Some(chat) = &config.chat else {
        return Vec::new();
    };
    let announce = chat.announce.unwrap_or(true);
    let mut routes = Vec::new();
    for (surface, channel) in [
        (ChatSurface::Slack, &chat.slack_channel),
        (ChatSurface::Discord, &chat.discord_channel),
    ] {
        if let Some(channel) = channel.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            routes.push(Route {
                surface,
                channel: channel.to_owned(),
                announce,
            });
        }
    }
    routes
}

/// The most files one configuration may chain through `_extends`.
const MAX_EXTENDS: usize = 5;

/// A configuration with what it extends, merged.
pub struct Resolved {
    /// The blob shas of every file read, joined: a change in any of them is a new version.
    pub key: String,
    /// The merged text (the file itself when it extends nothing).
    pub text: String,
    /// The files extended, `owner/repo:path` each.
    pub sources: Vec<String>,
}

/// Follows `_extends` from `repo`'s file at `path` as release-drafter does
/// ([`parse_config_target`], [`normalize_filepath`]): a repository alone means its file at
/// this configuration's path; a file is found next to the extending one in the same
/// repository, else under `.github/`; only repositories `reach` allows; at most
/// [`MAX_EXTENDS`] files, never one twice. The
/// chain is merged by [`merge_chain`]. Each file is checked on its own first, so an error
/// names the file that holds it. `Err((key, reason))` refuses the version.
async fn resolve_extends(
    github: &GitHubClient,
    reach: &ConfigReach,
    installation: u64,
    repo: &RepoFullName,
    path: &'static str,
    file: &RepositoryFile,
) -> Result<Result<Resolved, (String, String)>, GitHubError> {
    let mut keys = vec![file.sha.clone()];
    let refuse = |keys: &[String], reason: String| Ok(Err((keys.join("+"), reason)));
    if let Err(error) = RepoConfig::from_file(path, &file.text) {
        return refuse(&keys, error.to_string());
    }
    let own = match layer(path, &file.text) {
        Ok(layer) => layer,
        Err(error) => return refuse(&keys, error.to_string()),
    };
    let mut here = ConfigTarget {
        owner: repo.owner().to_owned(),
        repo: repo.name().to_owned(),
        filepath: path.to_owned(),
        reference: None,
    };
    let mut here_path = path.to_owned();
    let mut extends = own.extends.clone();
    let mut layers = vec![own];
    let mut sources: Vec<String> = Vec::new();
    let mut from = path.to_owned();
    let mut read = vec![format!("{repo}:{path}")];
    while let Some(Extends { from: value, .. }) = extends.take() {
        if sources.len() == MAX_EXTENDS {
            return refuse(
                &keys,
                format!("{from}: `_extends` goes through more than {MAX_EXTENDS} files"),
            );
        }
        let step = Step {
            value: &value,
            from: &from,
            here: &here,
            here_path: &here_path,
            path,
        };
        let (target, target_path, target_repo, name) = match step.target(repo, reach, &read) {
            Ok(next) => next,
            Err(reason) => return refuse(&keys, reason),
        };
        read.push(name.clone());
        let found =
            read_extended(github, installation, &target_repo, &target_path, &target).await?;
        let Some(base) = found else {
            // A `file:` target may name a file the Action generated on its runner.
            let hint = if value.trim_start().starts_with("file:") {
                "; `file:` is read from this repository at the same reference, so a file \
                 generated on the Action's runner must be committed (or named with `github:`)"
            } else {
                ""
            };
            return refuse(
                &keys,
                format!(
                    "{from}: `_extends: {value}`: {name} cannot be read (no such file, or the \
                     App is not installed on {target_repo}){hint}"
                ),
            );
        };
        keys.push(base.sha.clone());
        if let Err(error) = RepoConfig::from_file_named(path, &name, &base.text) {
            return refuse(&keys, error.to_string());
        }
        let next = match layer(&name, &base.text) {
            Ok(layer) => layer,
            Err(error) => return refuse(&keys, error.to_string()),
        };
        extends = next.extends.clone();
        layers.push(next);
        sources.push(format!("{target_repo}:{target_path}"));
        here = target;
        here_path = target_path;
        from = name;
    }
    Ok(merged(path, file, layers, sources, keys))
}

/// The chain merged (the extending file's keys winning), checked as a whole; the file
/// itself when it extends nothing.
fn merged(
    path: &str,
    file: &RepositoryFile,
    layers: Vec<Layer>,
    sources: Vec<String>,
    keys: Vec<String>,
) -> Result<Resolved, (String, String)> {
    if sources.is_empty() {
        return Ok(Resolved {
            key: file.sha.clone(),
            text: file.text.clone(),
            sources,
        });
    }
    let merged = match merge_chain(layers) {
        Ok(merged) => merged,
        Err(error) => return Err((keys.join("+"), error.to_string())),
    };
    let text = serde_json::to_string_pretty(&merged).unwrap_or_default();
    if let Err(error) = RepoConfig::from_file(path, &text) {
        return Err((
            keys.join("+"),
            format!("{path} merged with {}: {error}", sources.join(", ")),
        ));
    }
    Ok(Resolved {
        key: keys.join("+"),
        text,
        sources,
    })
}

/// One `_extends` being followed: its value, the file that says it, and where that file is.
struct Step<'a> {
    value: &'a str,
    from: &'a str,
    here: &'a ConfigTarget,
    here_path: &'a str,
    /// The configuration's own path (a repository alone means its file at this path).
    path: &'static str,
}

impl Step<'_> {
    /// The file this `_extends` names: its target, path, repository and display name; or why
    /// it may not be read (a bad value, a repository out of reach, a loop).
    fn target(
        &self,
        repo: &RepoFullName,
        reach: &ConfigReach,
        read: &[String],
    ) -> Result<(ConfigTarget, String, RepoFullName, String), String> {
        let (value, from, here) = (self.value, self.from, self.here);
        let mut target =
            parse_config_target(value, &here.owner, &here.repo, here.reference.as_deref())
                .map_err(|error| format!("{from}: `_extends`: {error}"))?;
        if target.filepath.is_empty() {
            target.filepath = self.path.to_owned();
        }
        let target_path = normalize_filepath(&target, Some((here, self.here_path)));
        let target_repo = RepoFullName::parse(&format!("{}/{}", target.owner, target.repo))
            .map_err(|_| format!("{from}: `_extends: {value}` names no repository"))?;
        // Only the repository itself, its owner's `.github` and what the operator allows:
        // anything else is not read at all, so the refusal says nothing about it.
        if !reach.may_extend(repo, &target_repo) {
            return Err(format!(
                "{from}: `_extends: {value}` cannot be used: a configuration extends only \
                 files of its own repository, of {}/.github, and of the repositories this \
                 trainyard's operator allows (TRAINYARD_EXTENDS_REPOSITORIES)",
                repo.owner()
            ));
        }
        let at = target
            .reference
            .as_deref()
            .map(|r| format!("@{r}"))
            .unwrap_or_default();
        let name = format!("{target_repo}:{target_path}{at}");
        if read.contains(&name) {
            return Err(format!(
                "{from}: `_extends: {value}` loops back to {name}, which is already read"
            ));
        }
        Ok((target, target_path, target_repo, name))
    }
}

/// An extended file, `None` when it is not there (or its path climbs out of the repository).
async fn read_extended(
    github: &GitHubClient,
    installation: u64,
    target_repo: &RepoFullName,
    target_path: &str,
    target: &ConfigTarget,
) -> Result<Option<RepositoryFile>, GitHubError> {
    if target_path.starts_with("..") {
        return Ok(None);
    }
    match github
        .file_contents(
            installation,
            target_repo,
            target_path,
            target.reference.as_deref(),
        )
        .await
    {
        Ok(found) => Ok(found),
        Err(GitHubError::NotFound(_)) => Ok(None),
        Err(other) => Err(other),
    }
}

/// A repository without a configuration file of its own uses its organisation's, from the
/// owner's `.github` repository, as release-drafter does: read as if the repository's file
/// said `_extends: .github` (so the shared file's own `_extends` is followed, its errors name
/// it, and a push to it reloads this repository). GitHub's `release.yml` is not inherited
/// this way (GitHub does not either). `None` when the organisation has none, or the App
/// cannot read its `.github` repository.
async fn organisation_fallback(
    github: &GitHubClient,
    installation: u64,
    repo: &RepoFullName,
) -> Result<Option<(&'static str, RepositoryFile)>, GitHubError> {
    if repo.name() == ".github" {
        return Ok(None);
    }
    let Ok(shared) = RepoFullName::parse(&format!("{}/.github", repo.owner())) else {
        return Ok(None);
    };
    for path in [".github/trainyard.yml", ".github/release-drafter.yml"] {
        let found = match github
            .file_contents(installation, &shared, path, None)
            .await
        {
            Ok(found) => found,
            Err(GitHubError::NotFound(_)) => None,
            Err(other) => return Err(other),
        };
        if found.is_some() {
            // This repository's "file" names the shared one; its sha is constant, so the key
            // changes exactly when the shared file does.
            let file = RepositoryFile {
                sha: "organisation".to_owned(),
                text: "_extends: .github\n".to_owned(),
            };
            return Ok(Some((path, file)));
        }
    }
    Ok(None)
}

/// The first configuration file the repository's default branch has (see [`CONFIG_PATHS`]).
pub async fn config_file(
    github: &GitHubClient,
    installation: u64,
    repo: &RepoFullName,
) -> Result<Option<(&'static str, RepositoryFile)>, GitHubError> {
    for path in CONFIG_PATHS {
        if let Some(file) = github.file_contents(installation, repo, path, None).await? {
            return Ok(Some((path, file)));
        }
    }
    Ok(None)
}

/// The configuration in force for `repo`, read from GitHub the first time.
pub async fn current(
    db: &Db,
    github: &GitHubClient,
    routes: &ConfigReach,
    installation: u64,
    repo: &RepoFullName,
    now: i64,
) -> Result<CurrentConfig, JobError> {
    if repo_configs::get(db, repo).await?.is_none() {
        refresh(db, github, routes, installation, repo, now).await?;
    }
    let row = repo_configs::get(db, repo).await?;
    let refused = row.as_ref().and_then(|r| r.error.clone());
    let effective = match row {
        Some(repo_configs::RepoConfigRow {
            source_path: Some(path),
            config_text: Some(text),
            ..
        }) => EffectiveConfig {
            config: RepoConfig::from_file(&path, &text).map_err(|e| {
                // Stored text was valid when stored; a newer trainyard may read it differently.
                JobError::Permanent(format!("stored configuration no longer parses: {e}"))
            })?,
            source: Some(path),
        },
        _ => EffectiveConfig {
            source: None,
            config: RepoConfig::default(),
        },
    };
    Ok(CurrentConfig { effective, refused })
}
