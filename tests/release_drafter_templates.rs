//! release-drafter's template cases (`render-template.test.ts`, extracted as data into
//! `fixtures/release-drafter/expected/render-template.json`): variables, nested templates and
//! replacers with JavaScript's replacement syntax.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;
use trainyard::domain::notes::template::{
    EXPANSION_LIMIT, Replacer, TemplateValue, Variables, render_with_replacers,
};

#[derive(Deserialize)]
struct Case {
    name: String,
    template: String,
    object: serde_json::Map<String, Value>,
    replacers: Vec<ReplacerCase>,
    expected: Option<String>,
    #[serde(default)]
    expected_contains: Vec<String>,
}

#[derive(Deserialize)]
struct ReplacerCase {
    search: Search,
    replace: String,
}

#[derive(Deserialize)]
struct Search {
    regex: String,
    flags: String,
}

fn variables(object: &serde_json::Map<String, Value>) -> Variables {
    let mut vars: Variables = HashMap::new();
    for (name, value) in object {
        let value = match value {
            Value::String(s) => TemplateValue::Text(s.clone()),
            Value::Number(n) => TemplateValue::Text(n.to_string()),
            Value::Object(nested) => TemplateValue::Nested {
                template: nested["template"].as_str().unwrap_or_default().to_owned(),
                variables: variables(nested),
            },
            other => TemplateValue::Text(other.to_string()),
        };
        vars.insert(name.clone(), value);
    }
    vars
}

#[test]
fn every_release_drafter_template_case_renders_the_same() {
    let path = format!(
        "{}/fixtures/release-drafter/expected/render-template.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let cases: Vec<Case> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("cases");
    assert_eq!(cases.len(), 15);
    let mut failures = Vec::new();
    for case in &cases {
        let replacers: Vec<Replacer> = case
            .replacers
            .iter()
            .map(|r| {
                Replacer::new(
                    &format!("/{}/{}", r.search.regex, r.search.flags),
                    &r.replace,
                )
                .unwrap_or_else(|e| panic!("{}: {e}", case.name))
            })
            .collect();
        let got = render_with_replacers(
            &case.template,
            &variables(&case.object),
            &replacers,
            EXPANSION_LIMIT,
        )
        .unwrap_or_else(|(step, _)| panic!("{}: past the limit at {step:?}", case.name));
        let ok = match &case.expected {
            Some(expected) => &got == expected,
            None => case
                .expected_contains
                .iter()
                .all(|s| got.contains(s.as_str())),
        };
        if !ok {
            failures.push(format!(
                "{}:\n  got {got:?}\n  wanted {:?}",
                case.name, case.expected
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
