//! release-drafter's end-to-end cases as trains, on the path users take: the case's
//! `.github/release-drafter.yml` in the repository, its releases on GitHub, each pull request
//! of its range merged into the line's branch as a webhook (with its labels, author, body,
//! merge time and changed files), and the train's draft release on the stateful fake GitHub
//! compared with the release release-drafter writes. Cases a train cannot express are named
//! with the reason, and `docs/release-drafter-compat.md` lists the same reasons.

mod harness;

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;
use trainyard::domain::notes::render::no_baseline_notice;

use harness::TestDb;
use harness::bot::TestBot;
use harness::drafter_cases::{CASE_REPO, Case, cases};
use harness::fake_github::{RecordedPull, visible};

/// The Action inputs that are configuration keys as well (written into the file).
const INPUTS_AS_KEYS: [&str; 5] = [
    "prerelease",
    "prerelease-identifier",
    "include-pre-releases",
    "header",
    "commitish",
];

/// Why a case cannot be a train, or `None` when it can.
fn inexpressible(case: &Case) -> Option<&'static str> {
    if case.expect.fails {
        return Some("the configuration is refused: no train drafts with it");
    }
    if case.expect.method.is_none() {
        return Some("a dry run writes nothing");
    }
    if case
        .inputs
        .iter()
        .any(|(k, v)| !v.is_empty() && !INPUTS_AS_KEYS.contains(&k.as_str()))
    {
        return Some("an Action input for one run (tag, name, version, publish)");
    }
    if case.event != "push" {
        return Some("drafted at a tag or another branch than the line's");
    }
    if passengers(case).is_empty() {
        return Some("no pull request in the range: a train without passengers has no draft");
    }
    None
}

/// The case's configuration with its key-like inputs written into it.
fn config_with_inputs(case: &Case) -> String {
    let mut text = case.config_text();
    for (key, value) in &case.inputs {
        if value.is_empty() || !INPUTS_AS_KEYS.contains(&key.as_str()) {
            continue;
        }
        // The key's own value (and its block's indented lines) gives way to the input's.
        let mut kept = Vec::new();
        let mut in_key = false;
        for l in text.lines() {
            if l.starts_with(&format!("{key}:")) {
                in_key = true;
                continue;
            }
            if in_key && (l.starts_with(' ') || l.is_empty()) {
                continue;
            }
            in_key = false;
            kept.push(l);
        }
        text = format!(
            "{}\n{key}: {}\n",
            kept.join("\n"),
            serde_json::Value::String(value.clone())
        );
    }
    text
}

fn recorded(node: &Value, files: &BTreeMap<String, Vec<String>>) -> Option<RecordedPull> {
    let number = node["number"].as_u64()?;
    Some(RecordedPull {
        number,
        title: node["title"].as_str()?.to_owned(),
        body: node["body"].as_str().unwrap_or_default().to_owned(),
        author: node["author"]["login"]
            .as_str()
            .unwrap_or("ghost")
            .to_owned(),
        author_is_bot: node["author"]["__typename"] == "Bot",
        merged_at: node["mergedAt"].as_str()?.to_owned(),
        labels: node["labels"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l["name"].as_str().map(str::to_owned))
            .collect(),
        files: files.get(&number.to_string()).cloned().unwrap_or_default(),
    })
}

/// The pull requests merged into this repository in the case's range — those the
/// comparison links to a commit, and those merged as one of its unlinked commits — in the
/// order they were merged.
fn passengers(case: &Case) -> Vec<RecordedPull> {
    let files = case
        .pr_files
        .as_ref()
        .map(|f| f.files.clone())
        .unwrap_or_default();
    let ours =
        |pr: &Value| pr["baseRepository"]["nameWithOwner"] == CASE_REPO && pr["merged"] == true;
    let mut seen = HashSet::new();
    let mut found = Vec::new();
    let mut commit_oids = HashSet::new();
    for page in case.comparison_pages() {
        let nodes = &page["data"]["repository"]["ref"]["compare"]["commits"]["nodes"];
        for commit in nodes.as_array().into_iter().flatten() {
            if let Some(oid) = commit["oid"].as_str() {
                commit_oids.insert(oid.to_owned());
            }
            for pr in commit["associatedPullRequests"]["nodes"]
                .as_array()
                .into_iter()
                .flatten()
            {
                if ours(pr)
                    && let Some(pull) = recorded(pr, &files)
                    && seen.insert(pull.number)
                {
                    found.push(pull);
                }
            }
        }
    }
    for page in case.recent_merged_pages() {
        for pr in page["data"]["repository"]["pullRequests"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let merged_here = pr["mergeCommit"]["oid"]
                .as_str()
                .is_some_and(|oid| commit_oids.contains(oid));
            if merged_here
                && ours(pr)
                && let Some(pull) = recorded(pr, &files)
                && seen.insert(pull.number)
            {
                found.push(pull);
            }
        }
    }
    found.sort_by(|a, b| a.merged_at.cmp(&b.merged_at));
    found
}

/// release-drafter's notice without a baseline names itself; trainyard's names trainyard.
fn with_our_notice(expected_body: &str) -> String {
    match expected_body.find("\n---\n> [!WARNING]\n> Release Drafter") {
        Some(start) => {
            let (owner, name) = CASE_REPO.split_once('/').expect("owner/name");
            format!(
                "{}{}",
                &expected_body[..start],
                no_baseline_notice(owner, name)
            )
        }
        None => expected_body.to_owned(),
    }
}

/// Where a train deliberately differs from release-drafter (docs/release-drafter-compat.md):
/// the expected body as a train writes it, and why, or `None`.
fn as_a_train_writes_it(
    expected_body: &str,
    passengers: &[RecordedPull],
) -> Option<(String, &'static str)> {
    // Without a previous release release-drafter has no range and lists nothing; a train
    // lists what boarded it.
    if expected_body.contains("* No changes\n") && !passengers.is_empty() {
        let mut listed: Vec<&RecordedPull> = passengers.iter().collect();
        listed.reverse();
        let lines: Vec<String> = listed
            .iter()
            .map(|p| format!("* {} (#{}) @{}", p.title, p.number, p.author))
            .collect();
        return Some((
            expected_body.replace("* No changes\n", &format!("{}\n", lines.join("\n"))),
            "no previous release: a train lists its passengers",
        ));
    }
    // release-drafter also credits the authors of commits GitHub links to a pull request
    // (here a commit by someone else in jetersen's pull request); a train credits the pull
    // request's author, which the webhook carries, without reading each one's commits.
    let co_authors = regex::Regex::new(r"(@[\w-]+)(, @[\w-]+)+").expect("regex");
    if co_authors.is_match(expected_body) {
        return Some((
            co_authors.replace_all(expected_body, "$1").into_owned(),
            "credits the pull request's author, not its commits' authors",
        ));
    }
    None
}

/// Runs one case as a train: `Ok(None)` when the draft is release-drafter's, `Ok(Some(why))`
/// when it differs only as documented, `Err` with the differences otherwise.
async fn run(test: &TestDb, case: &Case) -> Result<Option<&'static str>, String> {
    let bot = TestBot::start_in(test, CASE_REPO, "").await;
    bot.github.set_file(".github/trainyard.yml", None);
    bot.github.set_file(
        ".github/release-drafter.yml",
        Some(&config_with_inputs(case)),
    );
    bot.github
        .set_releases(case.release_list().unwrap_or_default());
    bot.github.serve_history(case.comparison_pages());
    for pull in passengers(case) {
        let payload = bot.github.merge_recorded(&pull);
        bot.deliver("pull_request", &payload).await;
    }
    bot.run_jobs().await;

    // release-drafter's case names the fields it checks: those are compared.
    let expected = case.expect.request.clone().unwrap_or(Value::Null);
    // The train's draft: not one of the case's own releases as they were.
    let given = case.release_list().unwrap_or_default();
    let drafts: Vec<Value> = bot
        .github
        .drafts()
        .into_iter()
        .filter(|d| !given.contains(d))
        .collect();
    let [draft] = drafts.as_slice() else {
        return Err(format!("the train wrote {} drafts", drafts.len()));
    };
    // The train's hidden marker opens the body on a line of its own.
    let body = visible(draft["body"].as_str().unwrap_or_default())
        .trim_start_matches('\n')
        .to_owned()
        .replace(&bot.github.uri(), "https://github.com");
    let mut differences = Vec::new();
    let mut documented = None;
    if let Some(mut wanted) = expected["body"].as_str().map(with_our_notice) {
        if body.trim_end() != wanted.trim_end()
            && let Some((as_train, why)) = as_a_train_writes_it(&wanted, &passengers(case))
        {
            wanted = as_train;
            documented = Some(why);
        }
        if body.trim_end() != wanted.trim_end() {
            differences.push(format!(
                "body\n  --- release-drafter\n{wanted}\n  --- train\n{body}"
            ));
        }
    }
    // release-drafter leaves a release without templates untitled; a train's tag and name
    // are its version's, so they are compared where release-drafter sets them.
    for key in ["tag_name", "name"] {
        let want = expected[key].as_str().unwrap_or_default();
        if !want.is_empty() && draft[key].as_str() != Some(want) {
            differences.push(format!("{key}: wanted {want:?}, got {}", draft[key]));
        }
    }
    if !expected["prerelease"].is_null() && draft["prerelease"] != expected["prerelease"] {
        differences.push(format!(
            "prerelease: wanted {}, got {}",
            expected["prerelease"], draft["prerelease"]
        ));
    }
    for (key, not) in case.expect.request_not.iter().flatten() {
        if &draft[key] == not {
            differences.push(format!("{key} must not be {not}"));
        }
    }
    if differences.is_empty() {
        Ok(documented)
    } else {
        Err(differences.join("\n"))
    }
}

async fn release_drafter_cases_as_trains(backend: impl AsyncFn(usize) -> Option<TestDb>) {
    let mut same = 0;
    let mut documented: BTreeMap<&str, usize> = BTreeMap::new();
    let mut not_trains: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut failures = Vec::new();
    let all = cases();
    for (i, case) in all.iter().enumerate() {
        if let Some(why) = inexpressible(case) {
            not_trains.entry(why).or_default().push(case.name.clone());
            continue;
        }
        let Some(test) = backend(i).await else {
            return;
        };
        // Shown when the test fails: which case a failed assertion inside a job was in.
        println!("case {i}: {}", case.name);
        let outcome = run(&test, case).await;
        // Each case's connections go before the next case opens its own.
        test.db.close().await;
        match outcome {
            Ok(None) => same += 1,
            Ok(Some(why)) => *documented.entry(why).or_default() += 1,
            Err(why) => failures.push(format!("{}:\n{why}", case.name)),
        }
    }
    use std::io::Write as _;
    let mut err = std::io::stderr();
    let _ = writeln!(
        err,
        "release-drafter cases as trains: {same} identical, {} documented differences, {} failing, {} not expressible as a train, of {}",
        documented.values().sum::<usize>(),
        failures.len(),
        not_trains.values().map(Vec::len).sum::<usize>(),
        all.len()
    );
    for (why, count) in &documented {
        let _ = writeln!(err, "  documented ({count}): {why}");
    }
    for (why, names) in &not_trains {
        let _ = writeln!(err, "  not a train ({}): {why}", names.len());
    }
    assert!(
        failures.is_empty(),
        "{} cases differ on a train:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    // The reasons are the ones docs/release-drafter-compat.md gives, with these counts.
    let counts: BTreeMap<&str, usize> = not_trains.iter().map(|(k, v)| (*k, v.len())).collect();
    assert_eq!(
        counts,
        BTreeMap::from([
            ("a dry run writes nothing", 4),
            (
                "an Action input for one run (tag, name, version, publish)",
                10
            ),
            ("drafted at a tag or another branch than the line's", 3),
            (
                "no pull request in the range: a train without passengers has no draft",
                12
            ),
            ("the configuration is refused: no train drafts with it", 2),
        ]),
        "{not_trains:#?}"
    );
    assert_eq!(
        documented,
        BTreeMap::from([
            (
                "credits the pull request's author, not its commits' authors",
                1
            ),
            ("no previous release: a train lists its passengers", 1),
        ])
    );
    assert_eq!(same, 64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_release_drafter_cases_as_trains() {
    release_drafter_cases_as_trains(async |_| Some(TestDb::sqlite().await)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_release_drafter_cases_as_trains() {
    release_drafter_cases_as_trains(async |i| {
        TestDb::postgres(&format!("release_drafter_case_{i}")).await
    })
    .await;
}
