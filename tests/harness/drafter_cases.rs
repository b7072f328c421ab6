//! release-drafter's end-to-end cases (`drafter.e2e.test.ts`, extracted as data into
//! `fixtures/release-drafter/expected/cases.json`), read for the tests that run them: through
//! `trainyard notes`' range drafting and as trains.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

/// The repository every case runs in.
pub const CASE_REPO: &str = "toolmantim/release-drafter-test-project";

/// A fixture file's text.
pub fn fixture(rel: &str) -> String {
    let path = format!(
        "{}/fixtures/release-drafter/{rel}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A JSON fixture.
pub fn json_fixture(rel: &str) -> Value {
    serde_json::from_str(&fixture(rel)).expect("fixture JSON")
}

/// All 97 cases.
pub fn cases() -> Vec<Case> {
    let cases: Vec<Case> = serde_json::from_str(&fixture("expected/cases.json")).expect("cases");
    assert_eq!(cases.len(), 97);
    cases
}

/// One case.
#[derive(Deserialize, Clone)]
pub struct Case {
    /// release-drafter's test name.
    pub name: String,
    /// The event fixture (`push`, `push-tag`, …).
    pub event: String,
    /// The configuration fixture's name.
    pub config: String,
    /// The Action's inputs.
    #[serde(default)]
    pub inputs: BTreeMap<String, String>,
    /// Release fixtures, newest first.
    pub releases: Option<Vec<String>>,
    /// Fields replaced in each release fixture.
    pub release_overrides: Option<Vec<Option<Map<String, Value>>>>,
    /// GraphQL answers, by query.
    pub graphql: GraphqlFixtures,
    /// Variables GraphQL must have been asked with.
    #[serde(default)]
    pub graphql_variables: Option<BTreeMap<String, Map<String, Value>>>,
    /// Other GraphQL answers.
    #[serde(default)]
    pub graphql_extra: Vec<Extra>,
    /// Changed files by pull request.
    pub pr_files: Option<PrFiles>,
    /// What release-drafter does.
    pub expect: Expect,
}

impl Case {
    /// The case's configuration file's text.
    pub fn config_text(&self) -> String {
        fixture(&format!("config/{}.yml", self.config))
    }

    /// Its releases, as GitHub lists them (newest first), overrides applied.
    pub fn release_list(&self) -> Option<Vec<Value>> {
        let names = self.releases.as_ref()?;
        let mut list: Vec<Value> = names
            .iter()
            .map(|n| json_fixture(&format!("releases/{n}.json")))
            .collect();
        for (release, overrides) in list.iter_mut().zip(self.release_overrides.iter().flatten()) {
            if let (Some(release), Some(overrides)) = (release.as_object_mut(), overrides) {
                release.extend(overrides.clone());
            }
        }
        Some(list)
    }

    /// The pages of the comparison GraphQL answers with.
    pub fn comparison_pages(&self) -> Vec<Value> {
        self.graphql
            .comparison
            .iter()
            .map(|n| json_fixture(&format!("graphql/{n}.json")))
            .collect()
    }

    /// The recently merged pull requests GraphQL answers with.
    pub fn recent_merged_pages(&self) -> Vec<Value> {
        self.graphql
            .recent_merged
            .iter()
            .map(|n| json_fixture(&format!("graphql/{n}.json")))
            .collect()
    }
}

/// GraphQL fixtures.
#[derive(Deserialize, Clone)]
pub struct GraphqlFixtures {
    /// The comparison's pages.
    pub comparison: Vec<String>,
    /// Recently merged pull requests.
    pub recent_merged: Vec<String>,
}

/// Another GraphQL answer.
#[derive(Deserialize, Clone)]
pub struct Extra {
    /// Which query.
    pub query: String,
    /// Its variables.
    pub variables: Option<Map<String, Value>>,
    /// The answer.
    pub response: Value,
}

/// Changed files.
#[derive(Deserialize, Clone)]
pub struct PrFiles {
    /// By pull request number.
    pub files: BTreeMap<String, Vec<String>>,
}

/// release-drafter's result.
#[derive(Deserialize, Clone)]
pub struct Expect {
    /// `POST` or `PATCH`, or none when nothing is written.
    pub method: Option<String>,
    /// The release request.
    pub request: Option<Value>,
    /// Fields the request must not have with these values.
    #[serde(default)]
    pub request_not: Option<Map<String, Value>>,
    /// The Action's outputs.
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
    /// The configuration is refused.
    pub fails: bool,
    /// Whether every GraphQL answer was asked for.
    #[serde(default)]
    pub graphql_all_consumed: Option<bool>,
}
