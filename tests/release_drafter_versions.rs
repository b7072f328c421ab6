//! release-drafter's own version-resolution cases (`get-version-info.test.ts`, extracted as
//! data into `fixtures/release-drafter/expected/version-info.json`) run through trainyard's
//! version module: same previous release, config and increment, same variables.

use std::collections::BTreeMap;

use serde::Deserialize;
use trainyard::domain::version::{
    DEFAULT_VERSION_TEMPLATE, Increment, PreviousRelease, VersionInputs, version_variables,
};

#[derive(Deserialize)]
struct Case {
    name: String,
    last_release: Option<Release>,
    config: BTreeMap<String, String>,
    input: BTreeMap<String, String>,
    version_key_increment: String,
    expected: BTreeMap<String, String>,
    expected_is_complete: bool,
}

#[derive(Deserialize)]
struct Release {
    tag_name: String,
    name: Option<String>,
}

#[test]
fn every_release_drafter_version_case_resolves_the_same() {
    let path = format!(
        "{}/fixtures/release-drafter/expected/version-info.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let cases: Vec<Case> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("cases");
    assert_eq!(cases.len(), 23);
    let mut failures = Vec::new();
    for case in &cases {
        let increment = Increment::from_name(&case.version_key_increment)
            .unwrap_or_else(|| panic!("{}: unknown increment", case.name));
        let given = ["version", "tag", "name"]
            .iter()
            .find_map(|k| case.input.get(*k).filter(|v| !v.is_empty()))
            .map(String::as_str);
        let inputs = VersionInputs {
            last_release: case.last_release.as_ref().map(|r| PreviousRelease {
                tag_name: &r.tag_name,
                name: r.name.as_deref(),
            }),
            given,
            template: case
                .config
                .get("version-template")
                .map_or(DEFAULT_VERSION_TEMPLATE, String::as_str),
            tag_prefix: case.config.get("tag-prefix").map_or("", String::as_str),
            prerelease_identifier: case.config.get("prerelease-identifier").map(String::as_str),
            increment,
            prerelease_start: 0,
        };
        let ours = version_variables(&inputs);
        let differs: Vec<String> = case
            .expected
            .iter()
            .filter(|(k, v)| ours.get(*k) != Some(v))
            .map(|(k, v)| format!("{k}: expected {v:?}, got {:?}", ours.get(k)))
            .collect();
        if !differs.is_empty() {
            failures.push(format!("{}\n  {}", case.name, differs.join("\n  ")));
        }
        if case.expected_is_complete && ours.len() != case.expected.len() {
            failures.push(format!(
                "{}: {} variables, expected {}",
                case.name,
                ours.len(),
                case.expected.len()
            ));
        }
    }
    println!(
        "release-drafter version cases: {} of {} pass",
        cases.len() - failures.len(),
        cases.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
