//! A red check before a bad configuration merges: a pull request that changes
//! `.github/trainyard.yml`, `.github/release-drafter.yml` or `.github/release.yml` (or a file
//! other repositories' configurations `_extends`) gets a `trainyard/config` check run on its
//! head commit with the errors and warnings `trainyard config check` would give for the file
//! as the pull request leaves it.

use crate::domain::ids::RepoFullName;
use crate::domain::pr_check::CheckText;
use crate::domain::repo_config::{CONFIG_PATHS, RepoConfig};
use crate::github::checks::CONFIG_CHECK_NAME;
use crate::handlers::kit::TrainContext;
use crate::jobs::JobError;
use crate::store::steps::{self, StepState};

/// Configuration files a pull request is looked at for, besides what others extend.
const READ_AS_CONFIG: [&str; 5] = [
    CONFIG_PATHS[0],
    ".github/trainyard.yaml",
    CONFIG_PATHS[1],
    ".github/release-drafter.yaml",
    CONFIG_PATHS[2],
];

/// Checks the configuration files a pull request's head changes.
#[derive(Debug, Clone)]
pub struct CheckConfigChange {
    /// The installation.
    pub installation: u64,
    /// The repository.
    pub repository: RepoFullName,
    /// The pull request.
    pub number: u64,
    /// Its head commit.
    pub head_sha: String,
}

impl CheckConfigChange {
    /// The job for a pull request event that may change its files (opened, pushed to,
    /// reopened), when the head commit is known.
    pub fn for_event(
        installation: u64,
        event: &crate::domain::event::PullRequestEvent,
    ) -> Option<CheckConfigChange> {
        use crate::domain::event::PullRequestAction as A;
        let pr = &event.pull_request;
        let changes_files = matches!(event.action, A::Opened | A::Synchronize | A::Reopened);
        Some(CheckConfigChange {
            installation,
            repository: event.repository.clone(),
            number: pr.number,
            head_sha: pr
                .head_sha
                .clone()
                .filter(|_| changes_files && !pr.merged)?,
        })
    }
}

impl CheckConfigChange {
    /// Checks the configuration files among `files` (the pull request's changed files, read
    /// once by its autolabel job for both) at the pull request's latest head commit.
    pub async fn check_files(
        mut self,
        ctx: &TrainContext,
        files: &[String],
    ) -> Result<(), JobError> {
        let github = ctx.github()?;
        let (installation, repo) = (self.installation, self.repository.clone());
        // A burst of pushes runs one job: the check goes on the newest head the webhooks told.
        if let Some(seen) =
            crate::store::pr_checks::get(&ctx.db, repo.as_ref(), self.number).await?
        {
            self.head_sha = seen.head_sha;
        }
        let mut touched = Vec::new();
        for path in files {
            let source = format!("{repo}:{path}");
            let extended = !crate::store::repo_configs::extending(&ctx.db, &source)
                .await?
                .is_empty();
            if READ_AS_CONFIG.contains(&path.as_str()) || extended {
                touched.push(path.clone());
            }
        }
        if touched.is_empty() {
            return Ok(());
        }
        let mut report = Report::default();
        for path in &touched {
            let file = github
                .file_contents(installation, &repo, path, Some(&self.head_sha))
                .await?;
            report.check(path, file.map(|f| f.text).as_deref());
        }
        self.write(ctx, &report.text()).await
    }
}

impl CheckConfigChange {
    /// Creates the check run, once: a lost answer is found again by its external id.
    async fn write(&self, ctx: &TrainContext, text: &CheckText) -> Result<(), JobError> {
        let github = ctx.github()?;
        let (installation, repo) = (self.installation, &self.repository);
        let external_id = format!("trainyard-config:{}", self.number);
        let key = format!("config-check:{repo}:{}", self.head_sha);
        let found = match steps::start(&ctx.db, &key, ctx.now()).await? {
            StepState::Done(_) => return Ok(()),
            StepState::Uncertain => {
                github
                    .find_check_run(
                        installation,
                        repo,
                        CONFIG_CHECK_NAME,
                        &self.head_sha,
                        &external_id,
                    )
                    .await?
            }
            StepState::New => None,
        };
        let id = match found {
            Some(id) => id,
            None => {
                github
                    .create_check_run(
                        installation,
                        repo,
                        CONFIG_CHECK_NAME,
                        &self.head_sha,
                        &external_id,
                        text,
                        None,
                    )
                    .await?
            }
        };
        steps::finish(&ctx.db, &key, &id.to_string(), ctx.now()).await?;
        Ok(())
    }
}

/// What the changed files say, file by file.
#[derive(Debug, Default)]
struct Report {
    errors: Vec<String>,
    warnings: Vec<String>,
    usable: Vec<String>,
}

impl Report {
    /// Reads `path` as the server would (`None`: the pull request deletes it).
    fn check(&mut self, path: &str, text: Option<&str>) {
        let Some(text) = text else {
            self.warnings.push(format!(
                "`{path}` is deleted: the repository falls back to the next configuration file, \
                 or the defaults"
            ));
            return;
        };
        let kind = if READ_AS_CONFIG.contains(&path) {
            path
        } else {
            // A shared file others extend is read as what extends it reads it as.
            ".github/release-drafter.yml"
        };
        let kind = match kind {
            ".github/trainyard.yaml" => ".github/trainyard.yml",
            ".github/release-drafter.yaml" => ".github/release-drafter.yml",
            other => other,
        };
        match RepoConfig::from_file_named(kind, path, text) {
            Ok(config) => {
                self.usable.push(path.to_owned());
                for warning in &config.warnings {
                    self.warnings.push(format!("`{path}`: {warning}"));
                }
            }
            Err(error) => self.errors.push(error.to_string()),
        }
    }

    /// The check's face: failure with errors, success otherwise (warnings listed).
    fn text(&self) -> CheckText {
        let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let title = match (self.errors.len(), self.warnings.len()) {
            (0, 0) => "the configuration is usable".to_owned(),
            (0, w) => format!("usable, with {}", count(w, "warning")),
            (e, 0) => format!(
                "{}: the last good configuration would stay in force",
                count(e, "error")
            ),
            (e, w) => format!("{} and {}", count(e, "error"), count(w, "warning")),
        };
        let mut summary = String::new();
        for error in &self.errors {
            summary.push_str(&format!("- **error**: {error}\n"));
        }
        for warning in &self.warnings {
            summary.push_str(&format!("- warning: {warning}\n"));
        }
        for path in &self.usable {
            summary.push_str(&format!("- `{path}`: usable\n"));
        }
        CheckText {
            title,
            summary,
            conclusion: if self.errors.is_empty() {
                "success"
            } else {
                "failure"
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_fail_the_check_and_warnings_are_listed() {
        let mut report = Report::default();
        report.check(".github/trainyard.yml", Some("trains:\n  linez: []\n"));
        let text = report.text();
        assert_eq!(text.conclusion, "failure");
        assert!(text.title.starts_with("1 error"), "{}", text.title);
        assert!(text.summary.contains("linez"), "{}", text.summary);

        let mut fine = Report::default();
        fine.check(
            ".github/release-drafter.yml",
            Some("template: |\n  $CHANGES\n"),
        );
        assert_eq!(fine.text().conclusion, "success");
    }
}
