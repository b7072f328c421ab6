//! From release-drafter's keys to the configuration the engine uses: defaults applied, legacy
//! keys turned into categories, replacers compiled and bounded.

use super::model::{
    Category, CategoryKind, Condition, DEFAULT_CHANGE_AUTHOR_TEMPLATE, DEFAULT_CHANGE_TEMPLATE,
    DEFAULT_COMMIT_TEMPLATE, DEFAULT_HISTORY_LIMIT, DEFAULT_NEW_CONTRIBUTOR_TEMPLATE,
    DEFAULT_PULL_REQUEST_LIMIT, DEFAULT_TEMPLATE, MatchMode, NotesConfig, NotesConfigError,
    SemverIncrement, bounds, invalid,
};
use super::{CategoryKeys, ConditionKeys, ConventionalKeys, ConventionalMatch, Latest, NotesKeys};
use crate::domain::notes::template::Replacer;

/// Tries the replacers, in order, on a sample of notes: ones that grow it more than
/// [`bounds::REPLACER_GROWTH`] times over are refused, naming the replacer that passed it
/// (rendering would cut such notes anyway; refusing says so when the file is pushed).
pub(super) fn check_replacer_growth(replacers: &[Replacer]) -> Result<(), NotesConfigError> {
    if replacers.is_empty() {
        return Ok(());
    }
    const LINES: [&str; 4] = [
        "## What's Changed\n\n### Bug Fixes\n\n",
        "* Fix the departure board's clock (#123) @octocat\n",
        "* feat(api)!: add the platform API (#124) @hubot\n",
        "**Full Changelog**: https://github.com/o/r/compare/v1.2.3...v1.3.0\n",
    ];
    let mut sample = String::with_capacity(bounds::GROWTH_SAMPLE + 100);
    while sample.len() < bounds::GROWTH_SAMPLE {
        for line in LINES {
            sample.push_str(line);
        }
    }
    let limit = sample.len() * bounds::REPLACER_GROWTH;
    let mut text = sample;
    for (i, replacer) in replacers.iter().enumerate() {
        text = replacer.apply_within(&text, limit).map_err(|_| {
            invalid(
                &format!("replacers[{i}]"),
                format!(
                    "the replacers up to this one grow release notes more than {} times over \
                     (tried on a sample of notes); a release takes at most 125,000 characters",
                    bounds::REPLACER_GROWTH,
                ),
            )
        })?;
    }
    Ok(())
}

impl NotesKeys {
    /// Keys set in `other` override ours (an action input over the file, a CLI flag over the
    /// repository's config).
    pub fn overlay(&mut self, other: NotesKeys) {
        macro_rules! take {
            ($($field:ident),* $(,)?) => { $( if other.$field.is_some() { self.$field = other.$field; } )* };
        }
        take!(
            template,
            header,
            footer,
            change_template,
            change_author_template,
            change_authors_separator,
            change_authors_final_separator,
            commit_template,
            change_title_escapes,
            no_changes_template,
            category_template,
            categories,
            exclude_labels,
            include_labels,
            include_paths,
            exclude_paths,
            exclude_contributors,
            no_contributors_template,
            new_contributor_template,
            no_new_contributor_template,
            replacers,
            sort_by,
            sort_direction,
            version_resolver,
            version_template,
            name_template,
            tag_template,
            tag_prefix,
            prerelease,
            prerelease_identifier,
            include_pre_releases,
            latest,
            commitish,
            filter_by_commitish,
            filter_by_range,
            history_limit,
            pull_request_limit,
            include_commits_without_pr,
            engine,
            autolabeler,
            branches,
            changelog,
            layout,
        );
    }

    /// Checks [`bounds`]: a configuration is untrusted input, and what it asks to render must
    /// fit in memory whatever the pull requests say.
    pub(super) fn check_bounds(&self) -> Result<(), NotesConfigError> {
        for (key, value) in [
            ("history-limit", self.history_limit),
            ("pull-request-limit", self.pull_request_limit),
        ] {
            if value == Some(0) {
                return Err(invalid(key, "must be at least 1"));
            }
        }
        let count = |key: &str, n: usize, most: usize| {
            if n > most {
                Err(invalid(
                    key,
                    format!("at most {most} are allowed; this has {n}"),
                ))
            } else {
                Ok(())
            }
        };
        count(
            "replacers",
            self.replacers.iter().flatten().count(),
            bounds::REPLACERS,
        )?;
        count(
            "categories",
            self.categories.iter().flatten().count(),
            bounds::CATEGORIES,
        )?;
        count(
            "autolabeler",
            self.autolabeler.iter().flatten().count(),
            bounds::AUTOLABELER_RULES,
        )?;
        let long = |key: &str, text: &Option<String>, most: usize| match text {
            Some(text) if text.chars().count() > most => Err(invalid(
                key,
                format!(
                    "at most {most} characters are allowed; this has {}",
                    text.chars().count()
                ),
            )),
            _ => Ok(()),
        };
        for (key, text) in [
            ("template", &self.template),
            ("header", &self.header),
            ("footer", &self.footer),
        ] {
            long(key, text, bounds::BODY_TEMPLATE_CHARS)?;
        }
        for (key, text) in [
            ("change-template", &self.change_template),
            ("change-author-template", &self.change_author_template),
            ("change-authors-separator", &self.change_authors_separator),
            (
                "change-authors-final-separator",
                &self.change_authors_final_separator,
            ),
            ("commit-template", &self.commit_template),
            ("no-changes-template", &self.no_changes_template),
            ("category-template", &self.category_template),
            ("no-contributors-template", &self.no_contributors_template),
            ("new-contributor-template", &self.new_contributor_template),
            (
                "no-new-contributor-template",
                &self.no_new_contributor_template,
            ),
            ("version-template", &self.version_template),
            ("name-template", &self.name_template),
            ("tag-template", &self.tag_template),
            ("tag-prefix", &self.tag_prefix),
        ] {
            long(key, text, bounds::TEMPLATE_CHARS)?;
        }
        for (i, r) in self.replacers.iter().flatten().enumerate() {
            for (key, text) in [("search", &r.search), ("replace", &r.replace)] {
                long(
                    &format!("replacers[{i}].{key}"),
                    &Some(text.clone()),
                    bounds::TEMPLATE_CHARS,
                )?;
            }
        }
        Ok(())
    }

    /// The replacers, compiled; none may grow a body without bound.
    pub(super) fn replacers(&self) -> Result<Vec<Replacer>, NotesConfigError> {
        let replacers = self
            .replacers
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, r)| {
                if r.search.is_empty() {
                    Err(invalid(
                        &format!("replacers[{i}].search"),
                        "must not be empty",
                    ))
                } else {
                    Ok(Replacer::new(&r.search, &r.replace)?)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        check_replacer_growth(&replacers)?;
        Ok(replacers)
    }

    /// Whether the release is a pre-release, its identifier, and `latest` (never for a
    /// pre-release). An identifier implies a pre-release unless `prerelease: false` says
    /// otherwise.
    pub(super) fn prerelease(&self) -> (bool, Option<String>, Latest) {
        let identifier = self.prerelease_identifier.clone().filter(|s| !s.is_empty());
        let prerelease = self.prerelease.unwrap_or(identifier.is_some());
        let latest = if prerelease {
            Latest::False
        } else {
            self.latest.unwrap_or(Latest::True)
        };
        (prerelease, identifier.filter(|_| prerelease), latest)
    }

    /// Applies defaults and normalises categories.
    pub fn resolve(&self) -> Result<NotesConfig, NotesConfigError> {
        self.check_bounds()?;
        let categories = self.normalised_categories()?;
        let default_increment = categories
            .iter()
            .find(|c| c.kind == CategoryKind::VersionResolver && c.when.is_empty())
            .and_then(|c| c.increment)
            .unwrap_or(SemverIncrement::Patch);
        let replacers = self.replacers()?;
        let filter_by_range = self
            .filter_by_range
            .as_deref()
            .map(|range| {
                semver::VersionReq::parse(range)
                    .map_err(|e| invalid("filter-by-range", format!("`{range}`: {e}")))
            })
            .transpose()?;
        let (prerelease, prerelease_identifier, latest) = self.prerelease();
        Ok(NotesConfig {
            template: self
                .template
                .clone()
                .unwrap_or_else(|| DEFAULT_TEMPLATE.to_owned()),
            header: self.header.clone().unwrap_or_default(),
            footer: self.footer.clone().unwrap_or_default(),
            change_template: self
                .change_template
                .clone()
                .unwrap_or_else(|| DEFAULT_CHANGE_TEMPLATE.to_owned()),
            change_author_template: self
                .change_author_template
                .clone()
                .unwrap_or_else(|| DEFAULT_CHANGE_AUTHOR_TEMPLATE.to_owned()),
            change_authors_separator: self
                .change_authors_separator
                .clone()
                .unwrap_or_else(|| ", ".to_owned()),
            change_authors_final_separator: self.change_authors_final_separator.clone(),
            commit_template: self
                .commit_template
                .clone()
                .unwrap_or_else(|| DEFAULT_COMMIT_TEMPLATE.to_owned()),
            change_title_escapes: self.change_title_escapes.clone().unwrap_or_default(),
            no_changes_template: self
                .no_changes_template
                .clone()
                .unwrap_or_else(|| "* No changes".to_owned()),
            category_template: self
                .category_template
                .clone()
                .unwrap_or_else(|| "## $TITLE".to_owned()),
            categories,
            exclude_contributors: self.exclude_contributors.clone().unwrap_or_default(),
            no_contributors_template: self
                .no_contributors_template
                .clone()
                .unwrap_or_else(|| "No contributors".to_owned()),
            new_contributor_template: self
                .new_contributor_template
                .clone()
                .unwrap_or_else(|| DEFAULT_NEW_CONTRIBUTOR_TEMPLATE.to_owned()),
            no_new_contributor_template: self
                .no_new_contributor_template
                .clone()
                .unwrap_or_else(|| "* No new contributors".to_owned()),
            replacers,
            sort_by: self.sort_by.unwrap_or_default(),
            sort_direction: self.sort_direction.unwrap_or_default(),
            version_template: self
                .version_template
                .clone()
                .unwrap_or_else(|| crate::domain::version::DEFAULT_VERSION_TEMPLATE.to_owned()),
            name_template: self.name_template.clone().unwrap_or_default(),
            tag_template: self.tag_template.clone().unwrap_or_default(),
            tag_prefix: self.tag_prefix.clone().unwrap_or_default(),
            prerelease,
            prerelease_identifier,
            include_pre_releases: self.include_pre_releases.unwrap_or(false),
            latest,
            commitish: self.commitish.clone().filter(|c| !c.is_empty()),
            filter_by_commitish: self.filter_by_commitish.unwrap_or(false),
            filter_by_range,
            history_limit: self.history_limit.unwrap_or(DEFAULT_HISTORY_LIMIT),
            pull_request_limit: self
                .pull_request_limit
                .unwrap_or(DEFAULT_PULL_REQUEST_LIMIT),
            include_commits_without_pr: self.include_commits_without_pr.unwrap_or(false),
            default_increment,
            layout: self.layout.unwrap_or_default(),
        })
    }

    pub(super) fn normalised_categories(&self) -> Result<Vec<Category>, NotesConfigError> {
        let mut categories = self
            .categories
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, keys)| category(i, keys))
            .collect::<Result<Vec<_>, _>>()?;
        let fallbacks = categories
            .iter()
            .filter(|c| c.kind == CategoryKind::Changelog && c.when.is_empty())
            .count();
        if fallbacks > 1 {
            return Err(invalid(
                "categories",
                "more than one category without labels or `when`; only one can collect the \
                 uncategorized changes",
            ));
        }
        self.legacy_filters(&mut categories)?;
        self.version_resolver_categories(&mut categories)?;
        Ok(categories)
    }

    /// The top-level `exclude-*` and `include-*` keys, as pre-exclude and pre-include
    /// categories.
    pub(super) fn legacy_filters(
        &self,
        categories: &mut Vec<Category>,
    ) -> Result<(), NotesConfigError> {
        let legacy_filter = |labels: &Option<Vec<String>>, paths: &Option<Vec<String>>| {
            let labels = labels.clone().unwrap_or_default();
            let paths = paths.clone().unwrap_or_default();
            (!labels.is_empty() || !paths.is_empty()).then(|| Condition {
                labels,
                paths,
                ..Condition::default()
            })
        };
        for (kind, condition, keys) in [
            (
                CategoryKind::PreExclude,
                legacy_filter(&self.exclude_labels, &self.exclude_paths),
                "exclude-labels/exclude-paths",
            ),
            (
                CategoryKind::PreInclude,
                legacy_filter(&self.include_labels, &self.include_paths),
                "include-labels/include-paths",
            ),
        ] {
            if let Some(condition) = condition {
                if categories.iter().any(|c| c.kind == kind) {
                    return Err(invalid(
                        keys,
                        "cannot be combined with a category of the same type; move them into it",
                    ));
                }
                categories.push(filter_category(kind, condition));
            }
        }
        if let Some(authors) = self.exclude_authors.clone().filter(|a| !a.is_empty()) {
            categories.push(filter_category(
                CategoryKind::PreExclude,
                Condition {
                    authors,
                    ..Condition::default()
                },
            ));
        }
        Ok(())
    }

    /// `version-resolver`, as version-resolver categories.
    pub(super) fn version_resolver_categories(
        &self,
        categories: &mut Vec<Category>,
    ) -> Result<(), NotesConfigError> {
        let Some(resolver) = &self.version_resolver else {
            return Ok(());
        };
        if let Some(default) = resolver.default
            && default != SemverIncrement::Patch
        {
            if categories
                .iter()
                .any(|c| c.kind == CategoryKind::VersionResolver && c.when.is_empty())
            {
                return Err(invalid(
                    "version-resolver.default",
                    "a version-resolver category without `when` already sets the default",
                ));
            }
            categories.push(version_category(default, Vec::new()));
        }
        for (increment, list) in [
            (SemverIncrement::Major, &resolver.major),
            (SemverIncrement::Minor, &resolver.minor),
            (SemverIncrement::Patch, &resolver.patch),
        ] {
            if let Some(list) = list.as_ref().filter(|l| !l.labels.is_empty()) {
                categories.push(version_category(
                    increment,
                    vec![Condition {
                        labels: list.labels.clone(),
                        ..Condition::default()
                    }],
                ));
            }
        }
        Ok(())
    }
}

/// One configured category, normalised: legacy `label`/`labels` become a `when` condition.
pub(super) fn category(i: usize, keys: &CategoryKeys) -> Result<Category, NotesConfigError> {
    let kind = keys.kind.unwrap_or(CategoryKind::Changelog);
    let mut when: Vec<Condition> = keys
        .when
        .iter()
        .flat_map(|w| w.0.iter())
        .map(normalise_condition)
        .collect();
    let legacy: Vec<String> = keys
        .labels
        .iter()
        .flatten()
        .chain(keys.label.iter())
        .filter(|l| !l.is_empty())
        .cloned()
        .collect();
    if !legacy.is_empty() {
        when.push(Condition {
            labels: legacy,
            ..Condition::default()
        });
    }
    when.retain(|c| {
        !c.labels.is_empty()
            || !c.paths.is_empty()
            || !c.authors.is_empty()
            || c.conventional.is_some()
            || c.labels_mode != MatchMode::Any
            || c.paths_mode != MatchMode::Any
    });
    let title = keys.title.clone().unwrap_or_default();
    if kind == CategoryKind::Changelog && title.is_empty() {
        return Err(invalid(
            &format!("categories[{i}].title"),
            "a changelog category needs a title",
        ));
    }
    let collapse_after = match keys.collapse_after {
        None | Some(-1) => None,
        Some(n) if n >= 0 => Some(n as usize),
        Some(n) => {
            return Err(invalid(
                &format!("categories[{i}].collapse-after"),
                format!("{n} is below -1 (never collapse)"),
            ));
        }
    };
    Ok(Category {
        kind,
        title,
        when,
        exclusive: keys.exclusive.unwrap_or(false),
        collapse_after,
        increment: keys.semver_increment,
        exclude_labels: keys.exclude_labels.clone().unwrap_or_default(),
        exclude_authors: keys.exclude_authors.clone().unwrap_or_default(),
    })
}

pub(super) fn version_category(increment: SemverIncrement, when: Vec<Condition>) -> Category {
    Category {
        increment: Some(increment),
        ..filter_category(CategoryKind::VersionResolver, Condition::default())
    }
    .with_when(when)
}

pub(super) fn filter_category(kind: CategoryKind, condition: Condition) -> Category {
    Category {
        kind,
        title: String::new(),
        when: vec![condition],
        exclusive: false,
        collapse_after: None,
        increment: None,
        exclude_labels: Vec::new(),
        exclude_authors: Vec::new(),
    }
}

pub(super) fn normalise_condition(keys: &ConditionKeys) -> Condition {
    let conventional = keys.conventional.as_ref().map(|c| match c {
        ConventionalKeys::Any => ConventionalMatch::default(),
        ConventionalKeys::Matching(m) => {
            let mut m = m.clone();
            let mut types = m.types.take().unwrap_or_default();
            types.extend(m.kind.take());
            let mut scopes = m.scopes.take().unwrap_or_default();
            scopes.extend(m.scope.take());
            ConventionalMatch {
                kind: None,
                types: Some(types),
                scope: None,
                scopes: Some(scopes),
                breaking: m.breaking,
            }
        }
    });
    Condition {
        labels: keys
            .labels
            .iter()
            .flatten()
            .chain(keys.label.iter())
            .cloned()
            .collect(),
        labels_mode: keys.labels_mode.unwrap_or_default(),
        paths: keys
            .paths
            .iter()
            .flatten()
            .chain(keys.path.iter())
            .cloned()
            .collect(),
        paths_mode: keys.paths_mode.unwrap_or_default(),
        authors: keys.authors.clone().unwrap_or_default(),
        conventional,
    }
}
