//! A repository's configuration: `.github/trainyard.yml` (sections `trains`, `version`,
//! `notes`, `approvals`, `deploy`, `chat`), or, for teams moving over, release-drafter's
//! `.github/release-drafter.yml` or GitHub's own `.github/release.yml`. Unknown keys and
//! wrong types are errors naming the key and the line.

mod check;
mod extends;
mod parse;
#[cfg(test)]
mod tests;

use super::calver::CalendarScheme;
use super::notes::config::{Latest, NotesKeys, SemverIncrement, VersionResolverKeys};
use super::permission::Permission;
pub use check::{is_slack_channel_id, is_snowflake};
pub use extends::{
    BadTarget, ConfigTarget, Extends, Layer, Strategy, layer, merge_chain, normalize_filepath,
    parse_config_target,
};
pub use parse::ConfigError;
use parse::semantic_error;
use serde::Deserialize;

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
    /// Checks after a successful deployment (bake time, Prometheus, HTTP) before the
    /// environments that follow may go (see [`crate::domain::verify`]).
    pub verify: Option<crate::domain::verify::VerifyKeys>,
}

impl LineKeys {
    /// The zone the line's schedule is read in (UTC when unset or unknown).
    pub fn time_zone(&self) -> jiff::tz::TimeZone {
        self.timezone
            .as_deref()
            .and_then(|zone| jiff::tz::TimeZone::get(zone).ok())
            .unwrap_or(jiff::tz::TimeZone::UTC)
    }
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

/// The configuration of a repository, whichever file it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectiveConfig {
    /// The file it was read from (`None`: defaults).
    pub source: Option<String>,
    /// The configuration, in trainyard's shape.
    pub config: RepoConfig,
}

impl RepoConfig {
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
}

impl RepoConfig {
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
