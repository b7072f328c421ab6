//! Checking a parsed trainyard.yml beyond its types: lines, schedules, versions, approvals,
//! environments, freeze windows and chat channels, each error naming its key.

use super::RepoConfig;
use super::parse::ConfigError;
use crate::domain::calver::CalendarScheme;

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

impl RepoConfig {
    /// Checks what the types cannot say; each error names its key.
    pub(super) fn check(&self, file: &str) -> Result<(), ConfigError> {
        self.check_autolabeler(file)?;
        self.check_notes(file)?;
        self.check_version(file)?;
        self.check_lines(file)?;
        self.check_chat(file)?;
        self.check_deploy(file)?;
        self.check_approvals(file)
    }

    /// The notes keys resolve, and a changelog is a path inside the repository.
    fn check_notes(&self, file: &str) -> Result<(), ConfigError> {
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
                    file,
                    "notes.changelog.path".into(),
                    format!("`{path}` is not a file path inside the repository"),
                ));
            }
        }
        Ok(())
    }

    /// A known calendar scheme; a pre-release count starting at 0 or 1.
    fn check_version(&self, file: &str) -> Result<(), ConfigError> {
        if let Some(version) = &self.version {
            if let Some(calendar) = &version.calendar
                && CalendarScheme::from_name(calendar).is_none()
            {
                return Err(at(
                    file,
                    "version.calendar".into(),
                    format!("`{calendar}` is not YYYY.MM.MICRO or YYYY.0M.0D"),
                ));
            }
            if version.prerelease_start.is_some_and(|n| n > 1) {
                return Err(at(
                    file,
                    "version.prerelease-start".into(),
                    "must be 0 or 1".into(),
                ));
            }
        }
        Ok(())
    }

    /// Lines: one-word names, each once; schedules, time zones and reminders that parse.
    fn check_lines(&self, file: &str) -> Result<(), ConfigError> {
        let mut names = std::collections::HashSet::new();
        for (i, line) in self.lines().iter().enumerate() {
            let key = |field: &str| format!("trains.lines[{i}].{field}");
            if line.name.trim().is_empty() || line.name.contains(char::is_whitespace) {
                return Err(at(file, key("name"), "a line needs a one-word name".into()));
            }
            if !names.insert(line.name.as_str()) {
                return Err(at(
                    file,
                    key("name"),
                    format!("line `{}` is defined twice", line.name),
                ));
            }
            if let Some(schedule) = &line.schedule {
                crate::domain::schedule::Cron::parse(schedule)
                    .map_err(|e| at(file, key("schedule"), e.to_string()))?;
            }
            if let Some(zone) = &line.timezone {
                jiff::tz::TimeZone::get(zone).map_err(|_| {
                    at(
                        file,
                        key("timezone"),
                        format!("`{zone}` is not an IANA time zone"),
                    )
                })?;
            }
            if let Some(lead) = &line.reminder {
                if line.schedule.is_none() {
                    return Err(at(
                        file,
                        key("reminder"),
                        "a reminder needs a `schedule` to remind of".into(),
                    ));
                }
                crate::domain::schedule::parse_lead(lead)
                    .map_err(|e| at(file, key("reminder"), e))?;
            }
        }
        Ok(())
    }

    /// Channel ids go into API paths: only the characters each service uses.
    fn check_chat(&self, file: &str) -> Result<(), ConfigError> {
        if let Some(chat) = &self.chat {
            if let Some(channel) = &chat.slack_channel
                && !is_slack_channel_id(channel)
            {
                return Err(at(
                    file,
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
                    file,
                    "chat.discord-channel".into(),
                    format!("`{channel}` is not a Discord channel id (digits)"),
                ));
            }
        }
        Ok(())
    }

    /// The deploy time zone, and environments: named, each once, following and requiring
    /// only earlier ones, freeze windows and `verify` keys that parse, `auto` or `after` but
    /// not both.
    fn check_deploy(&self, file: &str) -> Result<(), ConfigError> {
        if let Some(zone) = self.deploy.as_ref().and_then(|d| d.timezone.as_ref())
            && jiff::tz::TimeZone::get(zone).is_err()
        {
            return Err(at(
                file,
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
                    file,
                    key("name"),
                    "an environment needs a name of 1 to 255 characters, without `/`".into(),
                ));
            }
            let earlier = &self.environments()[..i];
            if earlier
                .iter()
                .any(|e| e.name.eq_ignore_ascii_case(&env.name))
            {
                return Err(at(
                    file,
                    key("name"),
                    format!("`{}` is listed twice", env.name),
                ));
            }
            for (field, value) in [("after", &env.after), ("requires", &env.requires)] {
                if let Some(other) = value
                    && !earlier.iter().any(|e| e.name.eq_ignore_ascii_case(other))
                {
                    return Err(at(
                        file,
                        key(field),
                        format!(
                            "`{other}` is not an environment listed before `{}`",
                            env.name
                        ),
                    ));
                }
            }
            for (j, window) in env.freeze.iter().flatten().enumerate() {
                crate::domain::freeze::FreezeWindow::parse(window)
                    .map_err(|message| at(file, key(&format!("freeze[{j}]")), message))?;
            }
            if let Some(verify) = &env.verify {
                verify.plan().map_err(|(field, message)| {
                    at(file, key(&format!("verify.{field}")), message)
                })?;
            }
            if env.auto == Some(true) && env.after.is_some() {
                return Err(at(file,
                    key("auto"),
                    "set `auto` (on publishing) or `after` (after an earlier environment), not both"
                        .into(),
                ));
            }
        }
        Ok(())
    }

    /// At least one approval.
    fn check_approvals(&self, file: &str) -> Result<(), ConfigError> {
        if let Some(approvals) = &self.approvals
            && approvals.required == Some(0)
        {
            return Err(at(
                file,
                "approvals.required".into(),
                "at least one approval is needed".into(),
            ));
        }
        Ok(())
    }
}

/// An error at `key` of `file`.
fn at(file: &str, key: String, message: String) -> ConfigError {
    ConfigError {
        file: file.to_owned(),
        key: Some(key),
        line: None,
        column: None,
        message,
    }
}
