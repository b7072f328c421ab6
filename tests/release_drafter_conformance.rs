//! release-drafter's end-to-end cases (`drafter.e2e.test.ts`, extracted as data into
//! `fixtures/release-drafter/expected/cases.json`) run through `trainyard notes`' drafting of
//! a range: the real GitHub client against a wiremock GitHub serving each case's releases,
//! GraphQL answers and changed files; the release request it prepares (a create, or an update
//! of the draft it found) is compared with the one release-drafter sends.
//! Deliberate differences are listed in `docs/release-drafter-compat.md` and checked here to be
//! exactly those.

mod harness;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use trainyard::domain::ids::RepoFullName;
use trainyard::domain::notes::config::NotesKeys;
use trainyard::domain::notes::render::no_baseline_notice;
use trainyard::domain::repo_config::RepoConfig;
use trainyard::handlers::trains::drafting::{DraftRequest, VersionRules, prepare_draft};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use harness::drafter_cases::{CASE_REPO as REPO, Case, Extra, json_fixture};

/// What the fake GitHub saw.
#[derive(Default)]
struct Seen {
    comparison: VecDeque<Value>,
    recent: VecDeque<Value>,
    extras: Vec<(Extra, bool)>,
    comparison_variables: Vec<serde_json::Map<String, Value>>,
    unserved: Vec<String>,
    comparison_asked: usize,
}

#[derive(Clone)]
struct GraphqlFake(Arc<Mutex<Seen>>);

impl Respond for GraphqlFake {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let query = body["query"].as_str().unwrap_or_default();
        let variables = body["variables"].as_object().cloned().unwrap_or_default();
        let mut seen = self.0.lock().expect("lock");
        let answer = if query.contains("compare(") {
            seen.comparison_asked += 1;
            seen.comparison_variables.push(variables);
            seen.comparison.pop_front()
        } else if query.contains("pullRequests(") {
            seen.recent.pop_front()
        } else {
            let wanted = if query.contains("object(expression") {
                "resolveCommitish"
            } else if query.contains("pullRequest(number") {
                "resolvePullRequestCommitish"
            } else {
                ""
            };
            let found = seen.extras.iter_mut().find(|(extra, used)| {
                !*used
                    && extra.query == wanted
                    && extra
                        .variables
                        .as_ref()
                        .is_none_or(|want| want.iter().all(|(k, v)| variables.get(k) == Some(v)))
            });
            found.map(|(extra, used)| {
                *used = true;
                extra.response.clone()
            })
        };
        match answer {
            Some(answer) => ResponseTemplate::new(200).set_body_json(answer),
            None => {
                seen.unserved.push(query.chars().take(60).collect());
                ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"}))
            }
        }
    }
}

struct Outcome {
    written: Option<(String, Value)>,
    failed: Option<String>,
    outputs: BTreeMap<String, String>,
    seen: Arc<Mutex<Seen>>,
}

fn parse_inputs_bool(inputs: &BTreeMap<String, String>, key: &str) -> Option<bool> {
    inputs
        .get(key)
        .filter(|v| !v.is_empty())
        .map(|v| v == "true")
}

async fn run_case(case: &Case, server: &MockServer) -> Outcome {
    server.reset().await;
    let seen = Arc::new(Mutex::new(Seen {
        comparison: case.comparison_pages().into(),
        recent: case.recent_merged_pages().into(),
        extras: case
            .graphql_extra
            .iter()
            .cloned()
            .map(|e| (e, false))
            .collect(),
        ..Seen::default()
    }));
    if let Some(list) = case.release_list() {
        Mock::given(method("GET"))
            .and(path(format!("/repos/{REPO}/releases")))
            .respond_with(ResponseTemplate::new(200).set_body_json(Value::Array(list)))
            .mount(server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/graphql"))
        .respond_with(GraphqlFake(seen.clone()))
        .mount(server)
        .await;
    if let Some(files) = &case.pr_files {
        for (number, list) in &files.files {
            let body: Vec<Value> = list.iter().map(|f| json!({ "filename": f })).collect();
            Mock::given(method("GET"))
                .and(path(format!("/repos/{REPO}/pulls/{number}/files")))
                .respond_with(ResponseTemplate::new(200).set_body_json(body))
                .mount(server)
                .await;
        }
    }
    let mut outcome = Outcome {
        written: None,
        failed: None,
        outputs: BTreeMap::new(),
        seen: seen.clone(),
    };
    let file = ".github/release-drafter.yml";
    let config = match RepoConfig::from_file(file, &case.config_text()) {
        Ok(config) => config,
        Err(e) => {
            outcome.failed = Some(e.to_string());
            return outcome;
        }
    };
    let mut keys = config.notes_keys().expect("checked on parse");
    let inputs = &case.inputs;
    let text = |k: &str| inputs.get(k).filter(|v| !v.is_empty()).cloned();
    keys.overlay(NotesKeys {
        prerelease: parse_inputs_bool(inputs, "prerelease"),
        prerelease_identifier: text("prerelease-identifier"),
        include_pre_releases: parse_inputs_bool(inputs, "include-pre-releases"),
        header: text("header"),
        commitish: text("commitish"),
        ..NotesKeys::default()
    });
    let event = json_fixture(&format!("events/{}.json", case.event));
    let head = event["ref"].as_str().expect("ref").to_owned();
    let request = DraftRequest {
        repo: RepoFullName::parse(REPO).expect("repo"),
        installation: 1,
        keys,
        head,
        from: None,
        tag: text("tag"),
        name: text("name"),
        version: text("version"),
        publish: parse_inputs_bool(inputs, "publish").unwrap_or(false),
        dry_run: parse_inputs_bool(inputs, "dry-run").unwrap_or(false),
        rules: VersionRules::of(&config),
        server_url: "https://github.com".into(),
        calendar: None,
        boarding: None,
    };
    let client = harness::github::token_client(&server.uri(), "test-token");
    let prepared = match prepare_draft(&client, &request, |_| {}).await {
        Ok(p) => p,
        Err(e) => {
            outcome.failed = Some(e.to_string());
            return outcome;
        }
    };
    outcome
        .outputs
        .insert("tag_name".into(), prepared.write.tag_name.clone());
    outcome
        .outputs
        .insert("name".into(), prepared.write.name.clone());
    // `trainyard notes` writes nothing: what it prepared is the release request GitHub would
    // receive, a create, or an update of the draft it found.
    if !prepared.dry_run {
        let method = if prepared.existing_draft.is_some() {
            "PATCH"
        } else {
            "POST"
        };
        outcome.written = Some((
            method.to_owned(),
            serde_json::to_value(&prepared.write).expect("json"),
        ));
    }
    outcome
}

/// release-drafter's notice under a draft without a baseline names itself and links its own
/// issue tracker; trainyard says the same about itself.
fn with_our_notice(expected_body: &str) -> Option<String> {
    let start = expected_body.find("\n---\n> [!WARNING]\n> Release Drafter")?;
    let (owner, name) = REPO.split_once('/')?;
    Some(format!(
        "{}{}",
        &expected_body[..start],
        no_baseline_notice(owner, name)
    ))
}

/// Cases where trainyard deliberately differs (see docs/release-drafter-compat.md).
const HISTORY_DEFAULT_CASE: &str =
    "drafter e2e > with history-limit config > uses the correct default when not specified";

fn check(case: &Case, outcome: &Outcome) -> Result<&'static str, String> {
    let seen = outcome.seen.lock().expect("lock");
    if case.expect.fails {
        return match &outcome.failed {
            Some(_) if seen.comparison_asked == 0 => Ok("same"),
            Some(_) => Err("failed, but only after calling GitHub".into()),
            None => Err("expected the configuration to be refused".into()),
        };
    }
    if let Some(reason) = &outcome.failed {
        return Err(format!("failed: {reason} (unserved: {:?})", seen.unserved));
    }
    let mut verdict = "same";
    if let Some(wanted) = case
        .graphql_variables
        .as_ref()
        .and_then(|v| v.get("comparison"))
    {
        let asked = seen
            .comparison_variables
            .first()
            .cloned()
            .unwrap_or_default();
        for (key, value) in wanted {
            if case.name == HISTORY_DEFAULT_CASE && key == "historyLimit" {
                if asked.get(key) != Some(&json!(100)) {
                    return Err(format!("default page size: asked {:?}", asked.get(key)));
                }
                verdict = "documented: 100 commits a page by default";
                continue;
            }
            if asked.get(key) != Some(value) {
                return Err(format!("{key}: wanted {value}, asked {:?}", asked.get(key)));
            }
        }
    }
    match case.expect.graphql_all_consumed {
        Some(true) => {
            let left = seen.comparison.len()
                + seen.recent.len()
                + seen.extras.iter().filter(|(_, used)| !used).count();
            if left > 0 {
                return Err(format!("{left} GraphQL answers never asked for"));
            }
        }
        Some(false) if seen.comparison_asked > 0 => {
            return Err("compared although there is no baseline".into());
        }
        _ => {}
    }
    for (key, value) in &case.expect.outputs {
        if outcome.outputs.get(key) != Some(value) {
            return Err(format!(
                "output {key}: wanted {value:?}, got {:?}",
                outcome.outputs.get(key)
            ));
        }
    }
    match (&case.expect.method, &outcome.written) {
        (None, None) => {}
        (None, Some((m, _))) => return Err(format!("wrote a release ({m}) in dry-run")),
        (Some(m), None) => return Err(format!("expected a {m}, nothing was written")),
        (Some(m), Some((got, body))) => {
            if m != got {
                return Err(format!("expected {m}, sent {got}"));
            }
            if let Some(not) = &case.expect.request_not {
                for (k, v) in not {
                    if body.get(k) == Some(v) {
                        return Err(format!("{k} must not be {v}"));
                    }
                }
            }
            if let Some(expected) = &case.expect.request {
                let mut expected = expected.clone();
                if let Some(rd_body) = expected["body"].as_str()
                    && let Some(ours) = with_our_notice(rd_body)
                {
                    expected["body"] = Value::String(ours);
                    verdict = "documented: trainyard's own no-baseline notice";
                }
                if &expected != body {
                    return Err(format!(
                        "request differs\n  wanted: {}\n  sent:   {}",
                        expected, body
                    ));
                }
            }
        }
    }
    Ok(verdict)
}

#[tokio::test]
async fn release_drafter_end_to_end_cases() {
    let cases = harness::drafter_cases::cases();
    let server = MockServer::start().await;
    let mut same = 0;
    let mut documented = Vec::new();
    let mut failures = Vec::new();
    for case in &cases {
        let outcome = run_case(case, &server).await;
        match check(case, &outcome) {
            Ok("same") => same += 1,
            Ok(why) => documented.push(format!("{} ({why})", case.name)),
            Err(why) => failures.push(format!("{}: {why}", case.name)),
        }
    }
    // Printed past the test harness's capture so CI logs show the count.
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "release-drafter conformance: {same} identical, {} documented differences, {} failing, of {}",
        documented.len(),
        failures.len(),
        cases.len()
    );
    for d in &documented {
        let _ = writeln!(std::io::stderr(), "  documented: {d}");
    }
    assert!(
        failures.is_empty(),
        "{} cases differ:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert_eq!(
        documented.len(),
        5,
        "documented differences changed: {documented:#?}"
    );
}
