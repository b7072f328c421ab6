//! Secrets: values that never print (Debug and Display say [redacted]), one or a list (a
//! webhook secret and the one it replaces).

use serde::Deserialize;
use std::fmt;
use std::str::FromStr;

/// A secret value (token, key, webhook secret). `Debug` and `Display` print `[redacted]`;
/// only [`Secret::expose`] reveals it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself; use it only where it is sent or verified.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

/// Secrets accepted at once, so one can be rotated without downtime: one whole value in a
/// flag or variable (never split: a secret may hold any character), or a list in the TOML
/// file.
#[derive(Clone, PartialEq, Eq, Debug, Deserialize)]
#[serde(from = "OneOrMany")]
pub struct SecretList(pub(super) Vec<Secret>);

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl From<OneOrMany> for SecretList {
    fn from(value: OneOrMany) -> Self {
        match value {
            OneOrMany::One(s) => s.parse().unwrap_or(SecretList(Vec::new())),
            OneOrMany::Many(v) => SecretList(
                v.into_iter()
                    .filter(|s| !s.trim().is_empty())
                    .map(Secret)
                    .collect(),
            ),
        }
    }
}

impl FromStr for SecretList {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(SecretList(if s.trim().is_empty() {
            Vec::new()
        } else {
            vec![Secret::new(s)]
        }))
    }
}

impl SecretList {
    /// The secrets, newest first as written.
    pub fn secrets(&self) -> &[Secret] {
        &self.0
    }
}
