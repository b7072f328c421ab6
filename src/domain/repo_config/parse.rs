//! Reading a configuration file: trainyard.yml, release-drafter.yml (its unknown keys skipped
//! with a warning) or GitHub's release.yml, errors naming the file, the key and the line.

use super::{Include, LineKeys, RepoConfig, TrainsSection, VersionSection};
use crate::domain::config_words::{
    SkipUnknownKeys, in_user_words, indentation_hint, nearest, struct_keys, value_at,
};
use crate::domain::notes::config::{
    CategoryKeys, ConditionKeys, NotesConfigError, NotesKeys, OneOrMany,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// A configuration file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", location(*.line, *.column, .key.as_deref()))]
pub struct ConfigError {
    /// The file.
    pub file: String,
    /// The key at fault, as a path (`notes.categories[2].when.labels`).
    pub key: Option<String>,
    /// 1-based line.
    pub line: Option<u64>,
    /// 1-based column.
    pub column: Option<u64>,
    /// What is wrong.
    pub message: String,
}

pub(super) fn location(line: Option<u64>, column: Option<u64>, key: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(line) = line {
        out.push_str(&format!(", line {line}"));
        if let Some(column) = column {
            out.push_str(&format!(" column {column}"));
        }
    }
    if let Some(key) = key {
        out.push_str(&format!(", `{key}`"));
    }
    out
}

/// Parses YAML into `T`, errors naming the key path and position.
pub(super) fn parse_yaml<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, ConfigError> {
    parse_yaml_keys(file, text, Keys::Strict)
}

/// Whether a struct's unknown top-level keys are errors or skipped.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Keys {
    Strict,
    SkipUnknown,
}

pub(super) fn parse_yaml_keys<T: DeserializeOwned>(
    file: &str,
    text: &str,
    keys: Keys,
) -> Result<T, ConfigError> {
    let mut path: Option<String> = None;
    let parsed: Result<Option<T>, serde_saphyr::Error> =
        serde_saphyr::with_deserializer_from_str(text, |de| {
            let read = match keys {
                Keys::Strict => serde_path_to_error::deserialize(de),
                Keys::SkipUnknown => {
                    serde_path_to_error::deserialize(SkipUnknownKeys(de)).map(Some)
                }
            };
            read.map_err(|e| {
                // A position the reader could not name ends the path in `?`.
                let named = e.path().to_string();
                let named = named.trim_end_matches(".?").trim_end_matches('?');
                path = Some(named.to_owned()).filter(|p| !p.is_empty() && p != ".");
                e.into_inner()
            })
        });
    match parsed {
        // An empty file is an empty configuration.
        Ok(value) => match value {
            Some(value) => Ok(value),
            None => serde_saphyr::from_str::<T>("{}").map_err(|e| ConfigError {
                file: file.to_owned(),
                key: None,
                line: None,
                column: None,
                message: e.to_string(),
            }),
        },
        Err(error) => {
            let (line, column) = error
                .location()
                .map_or((None, None), |l| (Some(l.line()), Some(l.column())));
            let first = error.to_string();
            let first = first.lines().next().unwrap_or_default();
            // Drop the library's own "error: line X column Y: " prefix; we say it ourselves.
            let message = first
                .strip_prefix("error: ")
                .map(|rest| match rest.split_once(": ") {
                    Some((pos, msg)) if pos.starts_with("line ") => msg,
                    _ => rest,
                })
                .unwrap_or(first);
            let found = line
                .zip(column)
                .and_then(|(line, column)| value_at(text, line, column));
            let mut message = in_user_words(message, found);
            if let Some(hint) = line.and_then(|line| indentation_hint(text, line)) {
                message.push_str(&format!(" (hint: {hint})"));
            }
            Err(ConfigError {
                file: file.to_owned(),
                key: path,
                line,
                column,
                message,
            })
        }
    }
}

pub(super) fn semantic_error(file: &str, error: NotesConfigError, section: &str) -> ConfigError {
    let (key, message) = match error {
        NotesConfigError::Invalid { key, reason } => (Some(format!("{section}{key}")), reason),
        other => (None, other.to_string()),
    };
    ConfigError {
        file: file.to_owned(),
        key,
        line: None,
        column: None,
        message,
    }
}

/// A `release-drafter.yml`'s keys. release-drafter validates with `allowUnknown`: a
/// top-level key it does not know (an anchor holder such as `x-fix-labels: &fix […]`, a key of
/// another release-drafter version) is ignored there, so here too, with a warning naming it
/// (and the key it is nearest to, when it looks like a typo). Keys inside sections stay strict.
pub(super) fn release_drafter_keys(
    file: &str,
    text: &str,
) -> Result<(NotesKeys, Vec<String>), ConfigError> {
    let known = struct_keys::<NotesKeys>();
    let top: Option<std::collections::BTreeMap<String, serde::de::IgnoredAny>> =
        serde_saphyr::from_str(text).ok();
    let unknown: Vec<String> = top
        .iter()
        .flatten()
        .map(|(key, _)| key)
        .filter(|key| !known.contains(&key.as_str()))
        .cloned()
        .collect();
    if unknown.is_empty() {
        return Ok((parse_yaml(file, text)?, Vec::new()));
    }
    let warnings = unknown
        .iter()
        .map(|key| match nearest(key, known.iter().copied()) {
            Some(near) => format!(
                "`{key}` is not a release-drafter key (did you mean `{near}`?); it is ignored, as release-drafter ignores it"
            ),
            None => format!(
                "`{key}` is not a release-drafter key; it is ignored, as release-drafter ignores it"
            ),
        })
        .collect();
    // The known keys, read again skipping the others' values (their anchors still serve).
    let keys = parse_yaml_keys(file, text, Keys::SkipUnknown)?;
    Ok((keys, warnings))
}

impl RepoConfig {
    /// Parses and checks a `trainyard.yml`.
    pub fn parse(file: &str, text: &str) -> Result<RepoConfig, ConfigError> {
        let config: RepoConfig = parse_yaml(file, text)?;
        config.check(file)?;
        Ok(config)
    }

    /// Parses a `release-drafter.yml`: the whole file is the `notes` section, with
    /// release-drafter's numbering of pre-releases (`-rc.0`).
    pub fn from_release_drafter(file: &str, text: &str) -> Result<RepoConfig, ConfigError> {
        let (keys, warnings) = release_drafter_keys(file, text)?;
        let config = RepoConfig {
            warnings,
            notes: Some(keys),
            // release-drafter drafts from every merge into the branch: so does the line of a
            // repository it configures (the skip label still keeps a pull request off).
            trains: Some(TrainsSection {
                lines: vec![LineKeys {
                    name: "main".to_owned(),
                    include: Some(Include::All),
                    ..LineKeys::default()
                }],
                ..TrainsSection::default()
            }),
            version: Some(VersionSection {
                prerelease_start: Some(0),
                ..VersionSection::default()
            }),
            ..RepoConfig::default()
        };
        config.notes_keys().map_err(|e| ConfigError {
            file: file.to_owned(),
            ..e
        })?;
        config.check_autolabeler(file)?;
        Ok(config)
    }

    pub(super) fn check_autolabeler(&self, file: &str) -> Result<(), ConfigError> {
        self.autolabel_rules().map(drop).map_err(|e| ConfigError {
            file: file.to_owned(),
            key: Some(format!("autolabeler[{}].{}", e.index, e.key)),
            line: None,
            column: None,
            message: e.reason,
        })
    }

    /// Converts GitHub's `release.yml` (`changelog.exclude`, `changelog.categories`).
    pub fn from_github_release_yml(file: &str, text: &str) -> Result<RepoConfig, ConfigError> {
        let release: GitHubReleaseYml = parse_yaml(file, text)?;
        let changelog = release.changelog.unwrap_or_default();
        let exclude = changelog.exclude.unwrap_or_default();
        let categories = changelog
            .categories
            .unwrap_or_default()
            .into_iter()
            .map(|c| {
                let catch_all = c.labels.iter().any(|l| l == "*");
                let labels: Vec<String> = c.labels.into_iter().filter(|l| l != "*").collect();
                let excluded = c.exclude.unwrap_or_default();
                CategoryKeys {
                    title: Some(c.title),
                    // GitHub puts a pull request in the first category that takes it.
                    exclusive: Some(true),
                    when: (!catch_all && !labels.is_empty()).then(|| {
                        OneOrMany(vec![ConditionKeys {
                            labels: Some(labels),
                            ..ConditionKeys::default()
                        }])
                    }),
                    exclude_labels: excluded.labels,
                    exclude_authors: excluded.authors,
                    ..CategoryKeys::default()
                }
            })
            .collect::<Vec<_>>();
        let notes = NotesKeys {
            template: Some("## What's Changed\n\n$CHANGES\n".to_owned()),
            category_template: Some("### $TITLE".to_owned()),
            change_template: Some("* $TITLE by @$AUTHOR in $URL".to_owned()),
            exclude_labels: exclude.labels,
            exclude_authors: exclude.authors,
            categories: (!categories.is_empty()).then_some(categories),
            // GitHub reads its own file best: its notes are asked of GitHub. Where trainyard
            // writes them (a train that is not the commit range), it writes GitHub's format,
            // oldest merge first as GitHub lists them.
            engine: Some(crate::domain::notes::config::NotesEngine::Github),
            layout: Some(crate::domain::notes::config::NotesLayout::GitHub),
            sort_direction: Some(crate::domain::notes::config::SortDirection::Ascending),
            ..NotesKeys::default()
        };
        let config = RepoConfig {
            notes: Some(notes),
            ..RepoConfig::default()
        };
        config.check(file)?;
        Ok(config)
    }
}

impl RepoConfig {
    /// Reads `text` as a file of the kind at `kind_path` (one of [`CONFIG_PATHS`]), naming it
    /// `name` in errors (an extended file lives elsewhere: `acme/.github:.github/…`).
    pub fn from_file_named(
        kind_path: &str,
        name: &str,
        text: &str,
    ) -> Result<RepoConfig, ConfigError> {
        RepoConfig::from_file(kind_path, text).map_err(|mut error| {
            error.file = name.to_owned();
            error
        })
    }

    /// Reads `text` as the file at `path` (one of [`CONFIG_PATHS`]).
    pub fn from_file(path: &str, text: &str) -> Result<RepoConfig, ConfigError> {
        match path {
            ".github/release-drafter.yml" | ".github/release-drafter.yaml" => {
                Self::from_release_drafter(path, text)
            }
            ".github/release.yml" | ".github/release.yaml" => {
                Self::from_github_release_yml(path, text)
            }
            _ => Self::parse(path, text),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GitHubReleaseYml {
    changelog: Option<GitHubChangelog>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GitHubChangelog {
    exclude: Option<GitHubExclude>,
    categories: Option<Vec<GitHubCategory>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GitHubExclude {
    labels: Option<Vec<String>>,
    authors: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GitHubCategory {
    title: String,
    labels: Vec<String>,
    exclude: Option<GitHubExclude>,
}
