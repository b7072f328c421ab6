//! Rendering the notes of a big release: 10,000 merged pull requests in 12 categories, with
//! contributors and replacers (target: under 20 ms). The body is far over GitHub's limit, so
//! this includes shortening it; a second case renders 1,000 pull requests, which fit.

use criterion::{Criterion, criterion_group, criterion_main};
use trainyard::domain::notes::changes::{Author, Commit, CommitAuthor, PullRequest};
use trainyard::domain::notes::render::{DraftInputs, build_draft};
use trainyard::domain::repo_config::RepoConfig;
use trainyard::domain::version::PreviousRelease;

const CATEGORIES: [&str; 12] = [
    "breaking",
    "feature",
    "enhancement",
    "bug",
    "security",
    "performance",
    "docs",
    "tests",
    "ci",
    "dependencies",
    "refactor",
    "chore",
];

fn config() -> trainyard::domain::notes::config::NotesConfig {
    let mut yaml = String::from(
        "template: |\n  ## What's Changed\n\n  $CHANGES\n\n  Thanks to $CONTRIBUTORS\n\
         tag-template: v$RESOLVED_VERSION\n\
         change-title-escapes: '<*_&'\n\
         replacers:\n  - search: '/JIRA-(\\d+)/g'\n    replace: '[JIRA-$1](https://jira.example.com/browse/JIRA-$1)'\n\
         \x20 - search: '/\\bcolour\\b/g'\n    replace: 'color'\n\
         categories:\n",
    );
    for (i, label) in CATEGORIES.iter().enumerate() {
        let increment = match i {
            0 => "major",
            1 | 2 => "minor",
            _ => "patch",
        };
        yaml.push_str(&format!(
            "  - title: Category {label}\n    semver-increment: {increment}\n    when:\n      label: {label}\n"
        ));
    }
    RepoConfig::from_release_drafter(".github/release-drafter.yml", &yaml)
        .expect("config")
        .notes_keys()
        .expect("keys")
        .resolve()
        .expect("resolves")
}

fn history(n: usize) -> (Vec<PullRequest>, Vec<Commit>) {
    let prs: Vec<PullRequest> = (0..n)
        .map(|i| PullRequest {
            number: i as u64,
            title: format!("Fix the colour of widget {i} (JIRA-{})", i % 977),
            body: String::new(),
            url: format!("https://github.com/acme/api/pull/{i}"),
            author: Some(Author {
                login: format!("dev{}", i % 150),
                is_bot: i % 50 == 0,
                url: String::new(),
            }),
            merged_at: format!(
                "2026-11-{:02}T{:02}:{:02}:00Z",
                1 + i / 1440 % 28,
                i / 60 % 24,
                i % 60
            ),
            labels: vec![CATEGORIES[i % 12].to_owned()],
            base_ref_name: "main".into(),
            head_ref_name: format!("b{i}"),
            base_repository: "acme/api".into(),
            merge_commit: None,
            changed_files: Vec::new(),
        })
        .collect();
    let commits = (0..n)
        .map(|i| Commit {
            oid: Some(format!("{i:040x}")),
            headline: String::new(),
            committed_at: String::new(),
            authors: vec![CommitAuthor::User(format!("dev{}", (i + 3) % 150))],
            pull_requests: vec![("acme/api".into(), i as u64)],
        })
        .collect();
    (prs, commits)
}

fn render(c: &mut Criterion) {
    let config = config();
    for n in [10_000, 1_000] {
        let (prs, commits) = history(n);
        let inputs = DraftInputs {
            owner: "acme",
            repository: "api",
            last_release: Some(PreviousRelease {
                tag_name: "v1.4.0",
                name: None,
            }),
            pull_requests: &prs,
            commits: &commits,
            server_url: "https://github.com",
            compare_url: Some("https://github.com/acme/api/compare/v1.4.0...main"),
            ..DraftInputs::default()
        };
        let draft = build_draft(&config, &inputs);
        assert_eq!(draft.tag_name, "v2.0.0");
        c.bench_function(&format!("notes: {n} pull requests, 12 categories"), |b| {
            b.iter(|| build_draft(&config, &inputs))
        });
    }
}

criterion_group!(benches, render);
criterion_main!(benches);
