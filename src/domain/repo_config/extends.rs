//! `_extends`: which file a configuration extends (release-drafter's target grammar), and
//! merging the chain, the extending file's keys winning.

use super::parse::ConfigError;

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

pub(super) fn is_config_file(path: &str) -> bool {
    [".yml", ".yaml", ".json"]
        .iter()
        .any(|extension| path.ends_with(extension))
}

pub(super) fn is_owner(owner: &str) -> bool {
    !owner.is_empty()
        && owner.len() <= 39
        && !owner.starts_with('-')
        && owner.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

pub(super) fn is_repo(repo: &str) -> bool {
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
