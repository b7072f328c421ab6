//! A repository's configuration: `.github/trainyard.yml` (sections `trains`, `version`,
//! `notes`, `approvals`, `deploy`, `chat`), or, for teams moving over, release-drafter's
//! `.github/release-drafter.yml` or GitHub's own `.github/release.yml`. Unknown keys and
//! wrong types are errors naming the key and the line.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::calver::CalendarScheme;
use super::config_words::{
    SkipUnknownKeys, in_user_words, indentation_hint, nearest, struct_keys, value_at,
};
use super::notes::config::{
    CategoryKeys, ConditionKeys, Latest, NotesConfigError, NotesKeys, OneOrMany, SemverIncrement,
    VersionResolverKeys,
};
use super::permission::Permission;

/// Where trainyard looks, in order.
pub const CONFIG_PATHS: [&str; 3] = [
    ".github/trainyard.yml",
    ".github/release-drafter.yml",
    ".github/release.yml",
];

/// The whole `trainyard.yml`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RepoConfig {
    /// `_extends: [owner/]repo[:path]`: the file this one builds on, read and merged under
    /// it when the configuration is loaded (release-drafter's convention).
    #[serde(rename = "_extends", default)]
    pub extends: Option<serde::de::IgnoredAny>,
    /// Train lines.
    pub trains: Option<TrainsSection>,
    /// Version resolution.
    pub version: Option<VersionSection>,
    /// Release notes (release-drafter's keys).
    pub notes: Option<NotesKeys>,
    /// Who approves a release.
    pub approvals: Option<ApprovalsSection>,
    /// Deployments after a release.
    pub deploy: Option<DeploySection>,
    /// Chat channels.
    pub chat: Option<ChatSection>,
    /// What was ignored in the file, said to its authors (a `release-drafter.yml`'s unknown
    /// top-level keys).
    #[serde(skip)]
    pub warnings: Vec<String>,
}

/// `trains`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TrainsSection {
    /// One line per release branch (default: one line `main` on the default branch).
    #[serde(default)]
    pub lines: Vec<LineKeys>,
    /// Comment "Released in vX" on each boarded pull request (default true).
    pub release_comments: Option<bool>,
}

/// One train line.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct LineKeys {
    /// The line's name, used in commands (`/release cut api`).
    pub name: String,
    /// The branch merged pull requests must target (default: the repository's default branch).
    pub branch: Option<String>,
    /// The label that boards a pull request (default `release`).
    pub boarding_label: Option<String>,
    /// `label` (only labelled pull requests board, the default) or `all`.
    pub include: Option<Include>,
    /// The label that keeps a pull request off (default `no-release`).
    pub skip_label: Option<String>,
    /// When to cut automatically: five-field cron (`0 9 * * MON`).
    pub schedule: Option<String>,
    /// IANA time zone of `schedule` (default UTC).
    pub timezone: Option<String>,
    /// How long before a scheduled cut the line's channels are reminded (`30m`, `2h`).
    pub reminder: Option<String>,
    /// Monorepos: only pull requests touching these paths board this line.
    pub paths: Option<Vec<String>>,
    /// Tag prefix of this line's releases (monorepos: `api-v`).
    pub tag_prefix: Option<String>,
    /// Every cut also tags and publishes the first release candidate (`v2.0.0-rc.1`).
    pub candidates: Option<bool>,
    /// Approving a train that has release candidates waits for one at its frozen commit
    /// (default true).
    pub final_requires_rc: Option<bool>,
}

/// Which merged pull requests board a line.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Include {
    /// Those with the boarding label.
    #[default]
    Label,
    /// All, unless they carry the skip label.
    All,
}

/// `version`: trainyard's options plus release-drafter's version keys.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct VersionSection {
    /// `semver` (default) or `calver`.
    pub scheme: Option<Scheme>,
    /// Calendar format when `scheme: calver`: `YYYY.MM.MICRO` (default) or `YYYY.0M.0D`.
    pub calendar: Option<String>,
    /// Read Conventional Commits titles (`feat` minor, `fix` patch, `!` major) too.
    pub conventional_commits: Option<bool>,
    /// First number of a pre-release series: 1 (`-rc.1`, default) or 0 (`-rc.0`).
    pub prerelease_start: Option<u64>,
    /// `lightweight` (default) or `annotated` (a tag object carrying the notes).
    pub tag: Option<TagKind>,
    /// release-drafter's legacy label lists.
    pub version_resolver: Option<VersionResolverKeys>,
    /// How versions are written.
    pub version_template: Option<String>,
    /// Tag prefix.
    pub tag_prefix: Option<String>,
    /// Tag template.
    pub tag_template: Option<String>,
    /// Name template.
    pub name_template: Option<String>,
    /// Pre-releases.
    pub prerelease: Option<bool>,
    /// Pre-release identifier (`rc`).
    pub prerelease_identifier: Option<String>,
    /// Published pre-releases count as baselines.
    pub include_pre_releases: Option<bool>,
    /// Only releases in this SemVer range are baselines.
    pub filter_by_range: Option<String>,
    /// Only releases targeting the line's branch are baselines.
    pub filter_by_commitish: Option<bool>,
    /// `make_latest`.
    pub latest: Option<Latest>,
}

/// How release tags are made.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum TagKind {
    /// A plain ref to the commit.
    #[default]
    Lightweight,
    /// A tag object with the release notes as its message.
    Annotated,
}

/// `semver` or `calver`.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    /// Semantic versions.
    #[default]
    Semver,
    /// Calendar versions.
    Calver,
}

/// `approvals`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ApprovalsSection {
    /// Approvals needed (default 1).
    pub required: Option<u32>,
    /// Lowest GitHub role that may approve (default `maintain`).
    pub permission: Option<Permission>,
    /// Publishing the draft on GitHub counts as approval and release (default true).
    pub publishing_approves: Option<bool>,
    /// The person who cut the train may approve it too (default false).
    pub allow_self_approval: Option<bool>,
}

/// What the approval rules ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApprovalRules {
    /// Distinct approvals needed.
    pub required: u32,
    /// Lowest role that may approve.
    pub permission: Permission,
    /// Whoever cut the train may approve it.
    pub allow_self_approval: bool,
}

impl Default for ApprovalRules {
    fn default() -> Self {
        ApprovalRules {
            required: 1,
            permission: Permission::Maintain,
            allow_self_approval: false,
        }
    }
}

/// `deploy`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DeploySection {
    /// Environments, in promotion order.
    pub environments: Vec<EnvironmentKeys>,
    /// The IANA time zone freeze windows are read in (default: the first line's, else UTC).
    pub timezone: Option<String>,
}

/// One deployment environment.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct EnvironmentKeys {
    /// GitHub environment name.
    pub name: String,
    /// Request a deployment as soon as the release is published.
    pub auto: Option<bool>,
    /// Lowest role that may deploy here (default `write`).
    pub permission: Option<Permission>,
    /// GitHub's `production_environment`.
    pub production: Option<bool>,
    /// GitHub's `transient_environment`.
    pub transient: Option<bool>,
    /// Requested automatically once this earlier environment reports `success` for the same
    /// release (instead of on publishing, with `auto`).
    pub after: Option<String>,
    /// Refused unless this earlier environment has a successful deployment of the same
    /// commit.
    pub requires: Option<String>,
    /// Status contexts GitHub must see succeed (default: GitHub's own, all of them; `[]`
    /// skips the check).
    pub required_contexts: Option<Vec<String>>,
    /// Windows in which deployments here are refused unless an admin forces them with a
    /// reason (see [`crate::domain::freeze`]).
    pub freeze: Option<Vec<String>>,
}

impl EnvironmentKeys {
    /// Whether it is a production environment (`production`, else named `production`).
    pub fn is_production(&self) -> bool {
        self.production
            .unwrap_or_else(|| self.name.eq_ignore_ascii_case("production"))
    }

    /// The lowest role that may deploy here: `write`, `maintain` for production.
    pub fn deploy_permission(&self) -> Permission {
        self.permission.unwrap_or(if self.is_production() {
            Permission::Maintain
        } else {
            Permission::Write
        })
    }
}

impl RepoConfig {
    /// The deployment environments, in promotion order.
    pub fn environments(&self) -> &[EnvironmentKeys] {
        self.deploy
            .as_ref()
            .map_or(&[], |deploy| deploy.environments.as_slice())
    }

    /// The `auto` environments' configurations.
    pub fn automatic_environments(&self) -> Vec<&EnvironmentKeys> {
        self.environments()
            .iter()
            .filter(|env| env.auto == Some(true))
            .collect()
    }

    /// The time zone deploy freeze windows are read in.
    pub fn deploy_time_zone(&self) -> jiff::tz::TimeZone {
        let name = self
            .deploy
            .as_ref()
            .and_then(|deploy| deploy.timezone.clone())
            .or_else(|| self.lines().first().and_then(|line| line.timezone.clone()));
        name.and_then(|zone| jiff::tz::TimeZone::get(&zone).ok())
            .unwrap_or(jiff::tz::TimeZone::UTC)
    }

    /// The environment called `name` (GitHub compares environment names case-insensitively).
    pub fn environment(&self, name: &str) -> Option<&EnvironmentKeys> {
        self.environments()
            .iter()
            .find(|env| env.name.eq_ignore_ascii_case(name))
    }
}

/// `chat`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ChatSection {
    /// Slack channel id (`C0123…`) that speaks for this repository.
    pub slack_channel: Option<String>,
    /// Discord channel id.
    pub discord_channel: Option<String>,
    /// Announce cuts, approvals, releases and deployments there (default true).
    pub announce: Option<bool>,
}

/// Slack conversation ids: `C…` (channels), `G…` (private), `D…` (direct), then upper-case
/// letters and digits.
pub fn is_slack_channel_id(id: &str) -> bool {
    id.len() <= 24
        && id.starts_with(['C', 'G', 'D'])
        && id.len() > 1
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Discord ids are snowflakes: up to 20 digits.
pub fn is_snowflake(id: &str) -> bool {
    (1..=20).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit())
}

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

fn location(line: Option<u64>, column: Option<u64>, key: Option<&str>) -> String {
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
fn parse_yaml<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, ConfigError> {
    parse_yaml_keys(file, text, Keys::Strict)
}

/// Whether a struct's unknown top-level keys are errors or skipped.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keys {
    Strict,
    SkipUnknown,
}

fn parse_yaml_keys<T: DeserializeOwned>(
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

fn semantic_error(file: &str, error: NotesConfigError, section: &str) -> ConfigError {
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
fn release_drafter_keys(file: &str, text: &str) -> Result<(NotesKeys, Vec<String>), ConfigError> {
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

/// The configuration of a repository, whichever file it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectiveConfig {
    /// The file it was read from (`None`: defaults).
    pub source: Option<String>,
    /// The configuration, in trainyard's shape.
    pub config: RepoConfig,
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

    fn check_autolabeler(&self, file: &str) -> Result<(), ConfigError> {
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

    /// Whether `environment` is a production one: as configured, else when it is named
    /// `production` (deployments made by others name environments trainyard may not know).
    pub fn is_production_environment(&self, environment: &str) -> bool {
        self.environment(environment).map_or_else(
            || environment.eq_ignore_ascii_case("production"),
            EnvironmentKeys::is_production,
        )
    }

    /// The changelog file to keep, when the configuration asks for one.
    pub fn changelog(&self) -> Option<&crate::domain::notes::config::ChangelogKeys> {
        self.notes.as_ref().and_then(|n| n.changelog.as_ref())
    }

    /// Who writes the notes (trainyard unless the configuration says GitHub, as a
    /// release.yml-only repository's does).
    pub fn notes_engine(&self) -> crate::domain::notes::config::NotesEngine {
        self.notes
            .as_ref()
            .and_then(|n| n.engine)
            .unwrap_or(crate::domain::notes::config::NotesEngine::Trainyard)
    }

    /// The autolabeler's rules (release-drafter's `autolabeler`, in `notes` for trainyard.yml).
    pub fn autolabel_rules(
        &self,
    ) -> Result<Vec<crate::domain::autolabel::AutolabelRule>, crate::domain::autolabel::BadRule>
    {
        self.notes
            .as_ref()
            .and_then(|n| n.autolabeler.as_ref())
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, keys)| crate::domain::autolabel::AutolabelRule::new(i, keys))
            .collect()
    }

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

    fn check(&self, file: &str) -> Result<(), ConfigError> {
        self.check_autolabeler(file)?;
        let at = |key: String, message: String| ConfigError {
            file: file.to_owned(),
            key: Some(key),
            line: None,
            column: None,
            message,
        };
        self.notes_keys().map_err(|e| ConfigError {
            file: file.to_owned(),
            ..e
        })?;
        if let Some(changelog) = self.changelog() {
            let path = changelog.path();
            let fine = !path.is_empty()
                && !path.starts_with('/')
                && path
                    .split('/')
                    .all(|part| !part.is_empty() && part != "." && part != "..")
                && path
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
            if !fine {
                return Err(at(
                    "notes.changelog.path".into(),
                    format!("`{path}` is not a file path inside the repository"),
                ));
            }
        }
        if let Some(version) = &self.version {
            if let Some(calendar) = &version.calendar
                && CalendarScheme::from_name(calendar).is_none()
            {
                return Err(at(
                    "version.calendar".into(),
                    format!("`{calendar}` is not YYYY.MM.MICRO or YYYY.0M.0D"),
                ));
            }
            if version.prerelease_start.is_some_and(|n| n > 1) {
                return Err(at(
                    "version.prerelease-start".into(),
                    "must be 0 or 1".into(),
                ));
            }
        }
        let mut names = std::collections::HashSet::new();
        for (i, line) in self.lines().iter().enumerate() {
            let key = |field: &str| format!("trains.lines[{i}].{field}");
            if line.name.trim().is_empty() || line.name.contains(char::is_whitespace) {
                return Err(at(key("name"), "a line needs a one-word name".into()));
            }
            if !names.insert(line.name.as_str()) {
                return Err(at(
                    key("name"),
                    format!("line `{}` is defined twice", line.name),
                ));
            }
            if let Some(schedule) = &line.schedule {
                super::schedule::Cron::parse(schedule)
                    .map_err(|e| at(key("schedule"), e.to_string()))?;
            }
            if let Some(zone) = &line.timezone {
                jiff::tz::TimeZone::get(zone).map_err(|_| {
                    at(
                        key("timezone"),
                        format!("`{zone}` is not an IANA time zone"),
                    )
                })?;
            }
            if let Some(lead) = &line.reminder {
                if line.schedule.is_none() {
                    return Err(at(
                        key("reminder"),
                        "a reminder needs a `schedule` to remind of".into(),
                    ));
                }
                super::schedule::parse_lead(lead).map_err(|e| at(key("reminder"), e))?;
            }
        }
        // Channel ids go into API paths: only the characters each service uses.
        if let Some(chat) = &self.chat {
            if let Some(channel) = &chat.slack_channel
                && !is_slack_channel_id(channel)
            {
                return Err(at(
                    "chat.slack-channel".into(),
                    format!(
                        "`{channel}` is not a Slack channel id (C…, G… or D…, letters and digits)"
                    ),
                ));
            }
            if let Some(channel) = &chat.discord_channel
                && !is_snowflake(channel)
            {
                return Err(at(
                    "chat.discord-channel".into(),
                    format!("`{channel}` is not a Discord channel id (digits)"),
                ));
            }
        }
        if let Some(zone) = self.deploy.as_ref().and_then(|d| d.timezone.as_ref())
            && jiff::tz::TimeZone::get(zone).is_err()
        {
            return Err(at(
                "deploy.timezone".into(),
                format!("`{zone}` is not an IANA time zone"),
            ));
        }
        for (i, env) in self.environments().iter().enumerate() {
            let key = |k: &str| format!("deploy.environments[{i}].{k}");
            let name_ok = (1..=255).contains(&env.name.len())
                && !env.name.chars().any(|c| c.is_control() || c == '/');
            if !name_ok {
                return Err(at(
                    key("name"),
                    "an environment needs a name of 1 to 255 characters, without `/`".into(),
                ));
            }
            let earlier = &self.environments()[..i];
            if earlier
                .iter()
                .any(|e| e.name.eq_ignore_ascii_case(&env.name))
            {
                return Err(at(key("name"), format!("`{}` is listed twice", env.name)));
            }
            for (field, value) in [("after", &env.after), ("requires", &env.requires)] {
                if let Some(other) = value
                    && !earlier.iter().any(|e| e.name.eq_ignore_ascii_case(other))
                {
                    return Err(at(
                        key(field),
                        format!(
                            "`{other}` is not an environment listed before `{}`",
                            env.name
                        ),
                    ));
                }
            }
            for (j, window) in env.freeze.iter().flatten().enumerate() {
                super::freeze::FreezeWindow::parse(window)
                    .map_err(|message| at(key(&format!("freeze[{j}]")), message))?;
            }
            if env.auto == Some(true) && env.after.is_some() {
                return Err(at(
                    key("auto"),
                    "set `auto` (on publishing) or `after` (after an earlier environment), not both"
                        .into(),
                ));
            }
        }
        if let Some(approvals) = &self.approvals
            && approvals.required == Some(0)
        {
            return Err(at(
                "approvals.required".into(),
                "at least one approval is needed".into(),
            ));
        }
        Ok(())
    }

    /// The configured lines; one line `main` on the default branch when none.
    pub fn lines(&self) -> Vec<LineKeys> {
        match &self.trains {
            Some(trains) if !trains.lines.is_empty() => trains.lines.clone(),
            _ => vec![LineKeys {
                name: "main".to_owned(),
                ..LineKeys::default()
            }],
        }
    }

    /// The notes keys with the `version` section's release-drafter keys folded in; a key set
    /// in both sections is an error.
    pub fn notes_keys(&self) -> Result<NotesKeys, ConfigError> {
        let mut keys = self.notes.clone().unwrap_or_default();
        if let Some(v) = &self.version {
            let mut clash: Option<&str> = None;
            macro_rules! fold {
                ($($field:ident => $name:literal),* $(,)?) => { $(
                    if let Some(value) = &v.$field {
                        if keys.$field.is_some() { clash.get_or_insert($name); }
                        keys.$field = Some(value.clone());
                    }
                )* };
            }
            fold!(
                version_resolver => "version-resolver",
                version_template => "version-template",
                tag_prefix => "tag-prefix",
                tag_template => "tag-template",
                name_template => "name-template",
                prerelease => "prerelease",
                prerelease_identifier => "prerelease-identifier",
                include_pre_releases => "include-pre-releases",
                filter_by_range => "filter-by-range",
                filter_by_commitish => "filter-by-commitish",
                latest => "latest",
            );
            if let Some(name) = clash {
                return Err(ConfigError {
                    file: String::new(),
                    key: Some(format!("version.{name}")),
                    line: None,
                    column: None,
                    message: format!("`{name}` is set in both `notes` and `version`; keep one"),
                });
            }
        }
        keys.resolve()
            .map_err(|e| semantic_error("", e, "notes."))?;
        Ok(keys)
    }

    /// The notes configuration, resolved (defaults applied, categories normalised).
    pub fn notes(&self) -> Result<crate::domain::notes::config::NotesConfig, ConfigError> {
        self.notes_keys()?
            .resolve()
            .map_err(|e| semantic_error("", e, "notes."))
    }

    /// The notes of one train line: a line's `tag-prefix` (monorepos) scopes its baseline
    /// release and, unless a `tag-template` is set, names its tags (`api-v1.2.0`).
    pub fn line_notes(
        &self,
        line: &str,
    ) -> Result<crate::domain::notes::config::NotesConfig, ConfigError> {
        let mut notes = self.notes()?;
        let prefix = self
            .lines()
            .into_iter()
            .find(|l| l.name == line)
            .and_then(|l| l.tag_prefix);
        if let Some(prefix) = prefix {
            // A line's tags carry its prefix, or its baseline is never found again and its
            // tags collide with the other lines' (the repository's `v$RESOLVED_VERSION` is
            // the main line's).
            if !notes.tag_template.starts_with(prefix.as_str()) {
                notes.tag_template = format!("{prefix}$RESOLVED_VERSION");
            }
            notes.tag_prefix = prefix;
        }
        Ok(notes)
    }

    /// Conventional Commits titles count towards the version.
    pub fn conventional_commits(&self) -> bool {
        self.version
            .as_ref()
            .and_then(|v| v.conventional_commits)
            .unwrap_or(false)
    }

    /// First number of a pre-release series (trainyard's default 1: `-rc.1`).
    pub fn prerelease_start(&self) -> u64 {
        self.version
            .as_ref()
            .and_then(|v| v.prerelease_start)
            .unwrap_or(1)
    }

    /// The approval rules: `approvals.required` people (default one) with
    /// `approvals.permission` (default maintain), not the person who cut unless
    /// `approvals.allow-self-approval`.
    pub fn approval_rules(&self) -> ApprovalRules {
        let approvals = self.approvals.clone().unwrap_or_default();
        ApprovalRules {
            required: approvals.required.unwrap_or(1),
            permission: approvals
                .permission
                .unwrap_or(crate::domain::permission::Permission::Maintain),
            allow_self_approval: approvals.allow_self_approval.unwrap_or(false),
        }
    }

    /// Whether publishing a train's draft on GitHub counts as the publisher's approval
    /// (`approvals.publishing-approves`, default yes).
    pub fn publishing_approves(&self) -> bool {
        self.approvals
            .as_ref()
            .and_then(|a| a.publishing_approves)
            .unwrap_or(true)
    }

    /// Whether released pull requests get a "Released in" comment (default yes).
    pub fn release_comments(&self) -> bool {
        self.trains
            .as_ref()
            .and_then(|t| t.release_comments)
            .unwrap_or(true)
    }

    /// Lightweight or annotated tags.
    pub fn tag_kind(&self) -> TagKind {
        self.version
            .as_ref()
            .and_then(|v| v.tag)
            .unwrap_or_default()
    }

    /// The calendar scheme, when `version.scheme` is `calver`.
    pub fn calendar(&self) -> Option<CalendarScheme> {
        let version = self.version.as_ref()?;
        if version.scheme != Some(Scheme::Calver) {
            return None;
        }
        Some(
            version
                .calendar
                .as_deref()
                .and_then(CalendarScheme::from_name)
                .unwrap_or(CalendarScheme::YearMonthMicro),
        )
    }

    /// The default increment, for display.
    pub fn default_increment(&self) -> SemverIncrement {
        self.notes_keys()
            .ok()
            .and_then(|k| k.version_resolver.and_then(|v| v.default))
            .unwrap_or(SemverIncrement::Patch)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GitHubReleaseYml {
    changelog: Option<GitHubChangelog>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GitHubChangelog {
    exclude: Option<GitHubExclude>,
    categories: Option<Vec<GitHubCategory>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GitHubExclude {
    labels: Option<Vec<String>>,
    authors: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GitHubCategory {
    title: String,
    labels: Vec<String>,
    exclude: Option<GitHubExclude>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_ids_are_checked_before_they_reach_an_api_path() {
        for (yaml, key) in [
            (
                "chat:\n  slack-channel: '../../chat.delete'\n",
                "chat.slack-channel",
            ),
            ("chat:\n  slack-channel: c0123\n", "chat.slack-channel"),
            (
                "chat:\n  discord-channel: '555/../../guilds/1'\n",
                "chat.discord-channel",
            ),
            (
                "chat:\n  discord-channel: '123456789012345678901'\n",
                "chat.discord-channel",
            ),
        ] {
            let error = RepoConfig::from_file(".github/trainyard.yml", yaml).unwrap_err();
            assert_eq!(error.key.as_deref(), Some(key), "{yaml}");
        }
        let ok = "chat:\n  slack-channel: C0123ABC\n  discord-channel: '123456789012345678'\n";
        assert!(RepoConfig::from_file(".github/trainyard.yml", ok).is_ok());
    }

    #[test]
    fn wrong_types_and_unknown_keys_name_the_key_and_line() {
        let err = RepoConfig::parse(
            ".github/trainyard.yml",
            "trains:\n  lines:\n    - name: main\n      boarding-lable: ship\n",
        )
        .expect_err("typo");
        assert_eq!(err.key.as_deref(), Some("trains.lines[0].boarding-lable"));
        assert_eq!(err.line, Some(4));
        assert!(
            err.message == "unknown key `boarding-lable`: did you mean `boarding-label`?",
            "{err}"
        );

        let err = RepoConfig::parse("f", "notes:\n  prerelease: maybe\n").expect_err("type");
        assert_eq!(err.key.as_deref(), Some("notes.prerelease"));
        assert_eq!(err.line, Some(2));
        assert_eq!(
            err.to_string(),
            "f, line 2 column 15, `notes.prerelease`: expected true or false, found `maybe`"
        );
    }

    #[test]
    fn a_key_in_both_notes_and_version_is_refused() {
        let err = RepoConfig::parse("f", "notes:\n  tag-prefix: v\nversion:\n  tag-prefix: v\n")
            .expect_err("clash");
        assert_eq!(err.key.as_deref(), Some("version.tag-prefix"));
    }

    #[test]
    fn schedules_and_time_zones_are_checked() {
        let bad = "trains:\n  lines:\n    - name: main\n      schedule: '0 25 * * MON'\n";
        let err = RepoConfig::parse("f", bad).expect_err("hour 25");
        assert_eq!(err.key.as_deref(), Some("trains.lines[0].schedule"));
        let lonely = "trains:\n  lines:\n    - name: main\n      reminder: 30m\n";
        let err = RepoConfig::from_file(".github/trainyard.yml", lonely).expect_err("no schedule");
        assert_eq!(err.key.as_deref(), Some("trains.lines[0].reminder"));
        let long = "trains:\n  lines:\n    - name: main\n      schedule: '0 9 * * MON'\n      reminder: 3d\n";
        let err = RepoConfig::from_file(".github/trainyard.yml", long).expect_err("too long");
        assert_eq!(err.key.as_deref(), Some("trains.lines[0].reminder"));
        let good = "trains:\n  lines:\n    - name: main\n      schedule: '30 9 * * MON-FRI'\n      timezone: Europe/Berlin\n      reminder: 30m\n";
        RepoConfig::parse("f", good).expect("valid");
    }

    #[test]
    fn deploy_environments_are_checked() {
        let cases = [
            (
                "deploy:\n  environments:\n    - name: prod\n      requires: staging\n",
                "deploy.environments[0].requires",
                "`staging` is not an environment listed before `prod`",
            ),
            (
                "deploy:\n  environments:\n    - name: a\n    - name: A\n",
                "deploy.environments[1].name",
                "`A` is listed twice",
            ),
            (
                "deploy:\n  environments:\n    - name: a\n      freeze: ['Funday']\n",
                "deploy.environments[0].freeze[0]",
                "is not a freeze window",
            ),
            (
                "deploy:\n  timezone: Mars/Olympus\n  environments: []\n",
                "deploy.timezone",
                "not an IANA time zone",
            ),
            (
                "deploy:\n  environments:\n    - name: a\n    - name: b\n      auto: true\n      after: a\n",
                "deploy.environments[1].auto",
                "not both",
            ),
        ];
        for (text, key, message) in cases {
            let err = RepoConfig::parse("f", text).expect_err(text);
            assert_eq!(err.key.as_deref(), Some(key), "{text}");
            assert!(err.message.contains(message), "{}", err.message);
        }
        let unknown = "deploy:\n  environments:\n    - name: a\n      autom: true\n";
        assert!(RepoConfig::parse("f", unknown).is_err());
        let good = "deploy:\n  environments:\n    - name: staging\n      auto: true\n    - name: production\n      after: staging\n      requires: staging\n      required-contexts: [ci]\n      freeze: ['Fri 16:00-Mon 08:00']\n";
        let config = RepoConfig::parse("f", good).expect("valid");
        assert!(
            config
                .environment("PRODUCTION")
                .is_some_and(|e| e.is_production())
        );
        assert_eq!(
            config
                .environment("production")
                .map(|e| e.deploy_permission()),
            Some(Permission::Maintain)
        );
    }

    #[test]
    fn github_release_yml_becomes_exclusive_categories() {
        let text = "changelog:\n  exclude:\n    labels: [ignore]\n    authors: [octocat]\n  categories:\n    - title: Breaking\n      labels: [breaking]\n    - title: Other\n      labels: ['*']\n";
        let config = RepoConfig::from_github_release_yml(".github/release.yml", text).expect("ok");
        let keys = config.notes_keys().expect("keys");
        let categories = keys.categories.expect("categories");
        assert_eq!(categories[0].exclusive, Some(true));
        assert!(categories[1].when.is_none());
        assert_eq!(keys.exclude_authors, Some(vec!["octocat".to_owned()]));
    }
}

/// Where an `_extends` points, as release-drafter reads it:
/// `[github:][owner/repo:]filepath[@ref]`, or a repository alone (`.github`, `owner/repo`,
/// `repo@ref`) for its configuration at the default path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigTarget {
    /// The repository's owner.
    pub owner: String,
    /// The repository.
    pub repo: String,
    /// The file as written (`""` for a repository alone).
    pub filepath: String,
    /// The branch or tag to read it at (`None`: the default branch).
    pub reference: Option<String>,
}

/// Why an `_extends` value is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid format: \"{value}\". Expected format [github:][owner/repo:]filepath[@ref]{extra}")]
pub struct BadTarget {
    value: String,
    extra: &'static str,
}

fn is_config_file(path: &str) -> bool {
    [".yml", ".yaml", ".json"]
        .iter()
        .any(|extension| path.ends_with(extension))
}

fn is_owner(owner: &str) -> bool {
    !owner.is_empty()
        && owner.len() <= 39
        && !owner.starts_with('-')
        && owner.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn is_repo(repo: &str) -> bool {
    !repo.is_empty()
        && repo.len() <= 100
        && repo
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// Reads an `_extends` value written in `owner/repo` at `reference`.
pub fn parse_config_target(
    value: &str,
    owner: &str,
    repo: &str,
    reference: Option<&str>,
) -> Result<ConfigTarget, BadTarget> {
    let bad = |extra: &'static str| BadTarget {
        value: value.to_owned(),
        extra,
    };
    let value = value.trim();
    if let Some(filepath) = value.strip_prefix("file:") {
        // The Action's checkout of this repository: trainyard reads the same file from GitHub
        // at the same reference (release-drafter documents `file:` and `github:` as giving the
        // same result once checked out). No `@ref`: the checkout has one.
        if !is_config_file(filepath)
            || !filepath
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
        {
            return Err(bad(""));
        }
        return Ok(ConfigTarget {
            owner: owner.to_owned(),
            repo: repo.to_owned(),
            filepath: filepath.to_owned(),
            reference: reference.map(str::to_owned),
        });
    }
    let value = value.strip_prefix("github:").unwrap_or(value);
    let (body, at) = match value.rsplit_once('@') {
        Some((body, at)) if !at.is_empty() && !at.contains(':') => (body, Some(at)),
        _ => (value, None),
    };
    let (repo_spec, filepath) = match body.split_once(':') {
        Some((spec, path)) => (Some(spec), path),
        None if is_config_file(body) => (None, body),
        None => (Some(body), ""),
    };
    if !filepath.is_empty()
        && (!is_config_file(filepath)
            || !filepath
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)))
    {
        return Err(bad(""));
    }
    let Some(spec) = repo_spec else {
        // A file of this repository, at the same reference unless one is named.
        return Ok(ConfigTarget {
            owner: owner.to_owned(),
            repo: repo.to_owned(),
            filepath: filepath.to_owned(),
            reference: at.map(str::to_owned).or(reference.map(str::to_owned)),
        });
    };
    let (target_owner, target_repo) = match spec.split_once('/') {
        Some((o, r)) => (o, r),
        None => (owner, spec),
    };
    if !is_owner(target_owner) || !is_repo(target_repo) {
        return Err(bad(""));
    }
    Ok(ConfigTarget {
        owner: target_owner.to_owned(),
        repo: target_repo.to_owned(),
        filepath: filepath.to_owned(),
        reference: at.map(str::to_owned),
    })
}

/// Where a target's file is in its repository, as release-drafter resolves it: from the
/// root when it starts with `/`; next to the extending file when both are in the same
/// repository at the same reference; else under `.github/` (unless already there). `..`
/// and `.` are resolved; a path leaving the root keeps its leading `..` (and is not found).
pub fn normalize_filepath(target: &ConfigTarget, parent: Option<(&ConfigTarget, &str)>) -> String {
    let path = target.filepath.as_str();
    let base: Vec<&str> = if path.starts_with('/') {
        Vec::new()
    } else {
        match parent {
            Some((parent, parent_path))
                if parent.owner.eq_ignore_ascii_case(&target.owner)
                    && parent.repo.eq_ignore_ascii_case(&target.repo)
                    && parent.reference == target.reference =>
            {
                let mut dir: Vec<&str> = parent_path.split('/').collect();
                dir.pop();
                dir
            }
            _ if path.starts_with(".github/") => Vec::new(),
            _ => vec![".github"],
        }
    };
    let mut parts: Vec<&str> = base.into_iter().filter(|p| !p.is_empty()).collect();
    let mut above_root = 0;
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    above_root += 1;
                }
            }
            other => parts.push(other),
        }
    }
    let mut resolved: Vec<&str> = std::iter::repeat_n("..", above_root).collect();
    resolved.extend(parts);
    resolved.join("/")
}

/// How a file's key is merged with what it extends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Its value replaces the inherited one (the default).
    Override,
    /// Its list goes after the inherited list.
    Append,
    /// Its list goes before the inherited list.
    Prepend,
}

/// What a file's `_extends` says: where, and how each key is merged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extends {
    /// The target as written.
    pub from: String,
    /// Per-key strategies (`_extends: {from: …, strategy: {categories: append}}`).
    pub strategy: std::collections::BTreeMap<String, Strategy>,
}

/// One file of a chain: its keys (without `_extends`) and how it merges them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layer {
    /// Where it came from, for errors.
    pub name: String,
    /// Its keys.
    pub keys: serde_json::Map<String, serde_json::Value>,
    /// Its `_extends`, if any.
    pub extends: Option<Extends>,
}

/// One file's keys as a mapping, with its `_extends` read (string or mapping form).
pub fn layer(name: &str, text: &str) -> Result<Layer, ConfigError> {
    let error = |message: String| ConfigError {
        file: name.to_owned(),
        key: None,
        line: None,
        column: None,
        message,
    };
    let at_extends = |message: String| ConfigError {
        key: Some("_extends".into()),
        ..error(message)
    };
    let value: Option<serde_json::Value> =
        serde_saphyr::from_str(text).map_err(|e| error(e.to_string()))?;
    let mut keys = match value {
        None | Some(serde_json::Value::Null) => serde_json::Map::new(),
        Some(serde_json::Value::Object(map)) => map,
        Some(_) => return Err(error("the file must be a mapping of keys".into())),
    };
    let extends = match keys.remove("_extends") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(from)) if from.trim().is_empty() => None,
        Some(serde_json::Value::String(from)) => Some(Extends {
            from: from.trim().to_owned(),
            strategy: Default::default(),
        }),
        Some(serde_json::Value::Object(mut form)) => {
            let from = match form.remove("from") {
                Some(serde_json::Value::String(from)) if !from.trim().is_empty() => {
                    from.trim().to_owned()
                }
                _ => {
                    return Err(at_extends(
                        "`_extends.from` must name the file extended".into(),
                    ));
                }
            };
            let mut strategy = std::collections::BTreeMap::new();
            match form.remove("strategy") {
                None | Some(serde_json::Value::Null) => {}
                Some(serde_json::Value::Object(map)) => {
                    for (key, how) in map {
                        let how = match how.as_str() {
                            Some("override") => Strategy::Override,
                            Some("append") => Strategy::Append,
                            Some("prepend") => Strategy::Prepend,
                            _ => {
                                return Err(at_extends(format!(
                                    "`_extends.strategy.{key}` must be override, append or prepend"
                                )));
                            }
                        };
                        strategy.insert(key, how);
                    }
                }
                Some(_) => {
                    return Err(at_extends(
                        "`_extends.strategy` must map keys to override, append or prepend".into(),
                    ));
                }
            }
            if let Some(extra) = form.keys().next() {
                return Err(at_extends(format!(
                    "`_extends.{extra}` is not a key of `_extends`"
                )));
            }
            Some(Extends { from, strategy })
        }
        Some(other) => {
            return Err(at_extends(format!(
                "`_extends` must name a file (`.github`, `repo:path.yml`), not {other}"
            )));
        }
    };
    Ok(Layer {
        name: name.to_owned(),
        keys,
        extends,
    })
}

/// A chain merged as release-drafter merges it: from the deepest base up, each file's keys
/// replace the inherited ones, except where its own `_extends` strategy appends or
/// prepends a list (applied at its own step only). `layers` run leaf first.
pub fn merge_chain(layers: Vec<Layer>) -> Result<serde_json::Value, ConfigError> {
    use serde_json::Value;
    let mut merged = serde_json::Map::new();
    for layer in layers.into_iter().rev() {
        let strategy = layer
            .extends
            .as_ref()
            .map(|e| e.strategy.clone())
            .unwrap_or_default();
        for (key, own) in layer.keys {
            let how = strategy.get(&key).copied().unwrap_or(Strategy::Override);
            if how == Strategy::Override {
                merged.insert(key, own);
                continue;
            }
            let verb = if how == Strategy::Append {
                "append"
            } else {
                "prepend"
            };
            let fail = |message: String| ConfigError {
                file: layer.name.clone(),
                key: Some(key.clone()),
                line: None,
                column: None,
                message,
            };
            let own = match own {
                Value::Null => Vec::new(),
                Value::Array(items) => items,
                _ => {
                    return Err(fail(format!(
                        "Cannot {verb} '{key}': its value in {} is not a list",
                        layer.name
                    )));
                }
            };
            let inherited = match merged.remove(&key) {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) => items,
                Some(_) => {
                    return Err(fail(format!(
                        "Cannot {verb} '{key}': the inherited value is not a list"
                    )));
                }
            };
            let list = if how == Strategy::Append {
                inherited.into_iter().chain(own).collect()
            } else {
                own.into_iter().chain(inherited).collect()
            };
            merged.insert(key, Value::Array(list));
        }
    }
    Ok(Value::Object(merged))
}
