use super::contributors::new_contributors_section;
use super::fit::pull_requests_listed_in;
use super::lines::escape_title;
use super::*;
use crate::domain::notes::changes::Author;
use crate::domain::notes::changes::CommitAuthor;
use crate::domain::notes::config::{NotesKeys, ReplacerKeys};

fn pr(number: u64, login: &str, is_bot: bool, merged_at: &str) -> PullRequest {
    PullRequest {
        number,
        title: format!("Change {number}"),
        body: String::new(),
        url: format!("https://github.com/acme/api/pull/{number}"),
        author: Some(Author {
            login: login.to_owned(),
            is_bot,
            url: format!("https://github.com/apps/{login}"),
        }),
        merged_at: merged_at.to_owned(),
        labels: Vec::new(),
        base_ref_name: "main".into(),
        head_ref_name: "topic".into(),
        base_repository: "acme/api".into(),
        merge_commit: None,
        changed_files: Vec::new(),
    }
}

fn commit(number: u64, authors: Vec<CommitAuthor>) -> Commit {
    Commit {
        oid: None,
        headline: String::new(),
        committed_at: String::new(),
        authors,
        pull_requests: vec![("acme/api".into(), number)],
    }
}

fn draft(keys: NotesKeys, prs: &[PullRequest], commits: &[Commit]) -> Draft {
    let config = keys.resolve().expect("config");
    build_draft(
        &config,
        &DraftInputs {
            owner: "acme",
            repository: "api",
            last_release: Some(PreviousRelease {
                tag_name: "v1.0.0",
                name: None,
            }),
            pull_requests: prs,
            commits,
            server_url: "https://github.com",
            ..DraftInputs::default()
        },
    )
}

fn release_yml(text: &str) -> NotesConfig {
    crate::domain::repo_config::RepoConfig::from_github_release_yml(".github/release.yml", text)
        .expect("release.yml")
        .notes_keys()
        .expect("keys")
        .resolve()
        .expect("config")
}

fn labelled(mut pr: PullRequest, labels: &[&str]) -> PullRequest {
    pr.labels = labels.iter().map(|l| (*l).to_owned()).collect();
    pr
}

/// GitHub's documented format ("Automatically generated release notes"): `###` headings
/// right above their lines, oldest merge first, New Contributors, then the Full Changelog
/// link on the web host.
#[test]
fn a_release_yml_is_written_in_githubs_format() {
    let config = release_yml(
        "changelog:\n  exclude:\n    labels: [ignore]\n  categories:\n    \
         - title: Breaking Changes 🛠\n      labels: [breaking]\n    \
         - title: Exciting New Features 🎉\n      labels: [feature]\n",
    );
    let prs = [
        labelled(pr(12, "carol", false, "2026-11-03T00:00:00Z"), &["feature"]),
        labelled(pr(10, "alice", false, "2026-11-01T00:00:00Z"), &["feature"]),
        labelled(pr(11, "bob", false, "2026-11-02T00:00:00Z"), &["breaking"]),
        // No category takes it: GitHub leaves it out.
        pr(13, "dave", false, "2026-11-04T00:00:00Z"),
        labelled(
            pr(14, "erin", false, "2026-11-05T00:00:00Z"),
            &["feature", "ignore"],
        ),
    ];
    let draft = build_draft(
        &config,
        &DraftInputs {
            owner: "acme",
            repository: "api",
            first_contributors: &["carol".to_owned()],
            last_release: Some(PreviousRelease {
                tag_name: "v1.0.0",
                name: None,
            }),
            pull_requests: &prs,
            server_url: "https://github.com",
            ..DraftInputs::default()
        },
    );
    assert_eq!(
        draft.body,
        "## What's Changed\n\
         ### Breaking Changes 🛠\n\
         * Change 11 by @bob in https://github.com/acme/api/pull/11\n\
         ### Exciting New Features 🎉\n\
         * Change 10 by @alice in https://github.com/acme/api/pull/10\n\
         * Change 12 by @carol in https://github.com/acme/api/pull/12\n\
         \n\
         ## New Contributors\n\
         * @carol made their first contribution in https://github.com/acme/api/pull/12\n\
         \n\
         **Full Changelog**: https://github.com/acme/api/compare/v1.0.0...v1.0.1"
    );
    assert_eq!(draft.listed_numbers, [10, 11, 12]);
    assert_eq!(
        pull_requests_listed_in(&draft.body, "acme/api"),
        [10, 11, 12]
    );
}

#[test]
fn a_release_yml_without_categories_lists_everything_and_a_first_release_links_its_commits() {
    let config = release_yml("changelog:\n  exclude:\n    authors: [octocat]\n");
    let prs = [
        pr(2, "alice", false, "2026-11-01T00:00:00Z"),
        pr(3, "octocat", false, "2026-11-02T00:00:00Z"),
    ];
    let draft = build_draft(
        &config,
        &DraftInputs {
            owner: "acme",
            repository: "api",
            pull_requests: &prs,
            version: Some("0.1.0"),
            server_url: "https://github.example.com/",
            ..DraftInputs::default()
        },
    );
    assert!(
        draft.body.starts_with(
            "## What's Changed\n\
             * Change 2 by @alice in https://github.com/acme/api/pull/2\n\
             \n\
             **Full Changelog**: https://github.example.com/acme/api/commits/v0.1.0"
        ),
        "{}",
        draft.body
    );

    // Nothing listed: the Full Changelog line alone, as GitHub writes it.
    let draft = build_draft(
        &config,
        &DraftInputs {
            owner: "acme",
            repository: "api",
            last_release: Some(PreviousRelease {
                tag_name: "v0.1.0",
                name: None,
            }),
            pull_requests: &prs[1..],
            server_url: "https://github.com",
            ..DraftInputs::default()
        },
    );
    assert_eq!(
        draft.body,
        "**Full Changelog**: https://github.com/acme/api/compare/v0.1.0...v0.1.1"
    );
    assert!(draft.listed_numbers.is_empty());
}

/// release-drafter's `generate contributors sentence` cases (build-release-payload.test.ts
/// at c03148ea): octocat's pull request with commits co-authored by jetersen, cchanche and
/// a bot.
fn co_authored() -> (PullRequest, Vec<Commit>) {
    let mut pull = pr(3, "octocat", false, "2026-11-01T00:00:00Z");
    pull.title = "Adds missing <example>".into();
    let commits = vec![commit(
        3,
        vec![
            CommitAuthor::User("octocat".into()),
            CommitAuthor::User("jetersen".into()),
            CommitAuthor::User("cchanche".into()),
            CommitAuthor::User("github-actions[bot]".into()),
        ],
    )];
    (pull, commits)
}

fn changes(keys: NotesKeys, prs: &[PullRequest], commits: &[Commit]) -> String {
    draft(
        NotesKeys {
            template: Some("$CHANGES".into()),
            ..keys
        },
        prs,
        commits,
    )
    .body
}

#[test]
fn authors_follow_the_author_template_and_separators() {
    let (pull, commits) = co_authored();
    let human = &commits[..];
    let template = |t: &str| NotesKeys {
        change_template: Some(t.into()),
        ..NotesKeys::default()
    };
    assert_eq!(
        changes(template("$AUTHORS"), std::slice::from_ref(&pull), human),
        "@octocat, @cchanche, @jetersen, \
         [@github-actions[bot]](https://github.com/apps/github-actions)"
    );
    assert_eq!(
        changes(
            NotesKeys {
                change_authors_final_separator: Some(" and ".into()),
                ..template("$AUTHORS")
            },
            std::slice::from_ref(&pull),
            human
        ),
        "@octocat, @cchanche, @jetersen and \
         [@github-actions[bot]](https://github.com/apps/github-actions)"
    );
    assert_eq!(
        changes(
            NotesKeys {
                change_author_template: Some("$AUTHOR: $AUTHOR_MENTION".into()),
                ..template("$AUTHOR | $AUTHORS")
            },
            std::slice::from_ref(&pull),
            human
        ),
        "octocat | octocat: @octocat, cchanche: @cchanche, jetersen: @jetersen, \
         github-actions[bot]: [@github-actions[bot]](https://github.com/apps/github-actions)"
    );
    // A deleted account is the ghost, through the template too.
    let mut deleted = pull.clone();
    deleted.author = None;
    assert_eq!(
        changes(
            NotesKeys {
                change_author_template: Some("$AUTHOR: $AUTHOR_MENTION".into()),
                ..template("$AUTHORS")
            },
            &[deleted],
            &[]
        ),
        "ghost: @ghost"
    );
}

/// release-drafter's README example: `$CATEGORY` in the line, no category headings, and
/// a newline-separated author list make a YAML changelog.
#[test]
fn the_multiline_author_example_of_release_drafters_readme() {
    let (mut pull, commits) = co_authored();
    pull.labels = vec!["bug".into()];
    let mut todo = pr(2, "ghost", false, "2026-10-01T00:00:00Z");
    todo.title = "B2".into();
    todo.author = None;
    let keys: NotesKeys = serde_saphyr::from_str(
        "template: \"$CHANGES\"\n\
         categories:\n  - title: bug\n    when:\n      label: bug\n  - title: todo\n\
         category-template: \"\"\n\
         change-template: |-\n  - type: $CATEGORY\n    message: |-\n      $TITLE\n    \
         pull: $NUMBER\n    authors:\n      $AUTHORS\n\
         change-author-template: \"- $AUTHOR\"\n\
         change-authors-separator: \"\\n    \"\n",
    )
    .expect("yaml");
    assert_eq!(
        draft(keys, &[pull, todo], &commits[..]).body,
        "- type: bug\n  message: |-\n    Adds missing <example>\n  pull: 3\n  authors:\n    \
         - octocat\n    - cchanche\n    - jetersen\n    - github-actions[bot]\n\n\
         - type: todo\n  message: |-\n    B2\n  pull: 2\n  authors:\n    - ghost"
    );
}

#[test]
fn new_contributors_follow_release_drafters_templates() {
    let keys = |extra: NotesKeys| NotesKeys {
        template: Some("$NEW_CONTRIBUTORS".into()),
        ..extra
    };
    let build = |keys: NotesKeys, prs: &[PullRequest], first: &[String]| {
        build_draft(
            &keys.resolve().expect("config"),
            &DraftInputs {
                owner: "acme",
                repository: "api",
                first_contributors: first,
                last_release: Some(PreviousRelease {
                    tag_name: "v1.0.0",
                    name: None,
                }),
                pull_requests: prs,
                server_url: "https://github.com",
                ..DraftInputs::default()
            },
        )
        .body
    };
    let mut newcomer = pr(42, "first-timer", false, "2026-11-02T00:00:00Z");
    newcomer.author.as_mut().expect("author").url = "https://github.com/first-timer".into();
    let regular = pr(7, "jetersen", false, "2026-11-01T00:00:00Z");
    let both = [regular.clone(), newcomer.clone()];
    let first = ["first-timer".to_owned()];
    assert_eq!(
        build(keys(NotesKeys::default()), &both, &first),
        "* @first-timer made their first contribution in #42"
    );
    assert_eq!(
        build(keys(NotesKeys::default()), &both, &[]),
        "* No new contributors"
    );
    assert_eq!(
        build(
            keys(NotesKeys {
                no_new_contributor_template: Some("Nobody made their first contribution".into()),
                ..NotesKeys::default()
            }),
            &both,
            &[]
        ),
        "Nobody made their first contribution"
    );
    assert_eq!(
        build(
            keys(NotesKeys {
                new_contributor_template: Some(
                    "* [$AUTHOR]($AUTHOR_URL) made their first contribution in [#$NUMBER]($URL)"
                        .into()
                ),
                ..NotesKeys::default()
            }),
            &both,
            &first
        ),
        "* [first-timer](https://github.com/first-timer) made their first contribution in \
         [#42](https://github.com/acme/api/pull/42)"
    );
    // Their first pull request here is left out by a pre-exclude category: not listed,
    // even though a later one is.
    let mut skipped = newcomer.clone();
    skipped.number = 41;
    skipped.merged_at = "2026-11-01T00:00:00Z".into();
    skipped.labels = vec!["skip-changelog".into()];
    let skip: NotesKeys = serde_saphyr::from_str(
        "template: $NEW_CONTRIBUTORS\n\
         categories:\n  - type: pre-exclude\n    when:\n      label: skip-changelog\n",
    )
    .expect("yaml");
    assert_eq!(
        build(skip, &[newcomer, skipped], &first),
        "* No new contributors"
    );
}

#[test]
fn new_contributors_are_listed_as_github_lists_them() {
    let mut prs = vec![
        pr(9, "newbie", false, "2026-11-02T00:00:00Z"),
        pr(4, "newbie", false, "2026-11-01T00:00:00Z"),
        pr(5, "old-hand", false, "2026-11-01T00:00:00Z"),
    ];
    prs[0].url = "https://github.com/acme/api/pull/9".into();
    prs[1].url = "https://github.com/acme/api/pull/4".into();
    assert_eq!(
        new_contributors_section(&prs, &["newbie".into()]),
        "## New Contributors\n* @newbie made their first contribution in https://github.com/acme/api/pull/4"
    );
    assert_eq!(new_contributors_section(&prs, &[]), "");
}

#[test]
fn contributors_put_authors_first_bots_last_and_merge_a_bot_seen_twice() {
    let prs = [
        pr(1, "zed", false, "2026-11-01T00:00:00Z"),
        pr(2, "dependabot", true, "2026-11-02T00:00:00Z"),
    ];
    let commits = [
        commit(
            1,
            vec![
                CommitAuthor::User("zed".into()),
                CommitAuthor::Name("Ada Lovelace".into()),
            ],
        ),
        commit(1, vec![CommitAuthor::User("amy".into())]),
        commit(2, vec![CommitAuthor::User("dependabot[bot]".into())]),
    ];
    let keys = NotesKeys {
        template: Some("$CONTRIBUTORS\n$CHANGES".into()),
        ..NotesKeys::default()
    };
    let body = draft(keys, &prs, &commits).body;
    assert_eq!(
        body,
        "@zed, [@dependabot[bot]](https://github.com/apps/dependabot), Ada Lovelace and @amy\n\
         * Change 2 (#2) [@dependabot[bot]](https://github.com/apps/dependabot)\n\
         * Change 1 (#1) @zed, Ada Lovelace, @amy"
    );
    let keys = NotesKeys {
        template: Some("$CONTRIBUTORS".into()),
        exclude_contributors: Some(vec!["dependabot".into(), "zed".into()]),
        ..NotesKeys::default()
    };
    assert_eq!(draft(keys, &prs, &commits).body, "Ada Lovelace and @amy");
}

#[test]
fn titles_are_escaped_outside_code_spans() {
    assert_eq!(
        escape_title("Fix @team's `a_b` in #12 *now*", "@#_*"),
        "Fix @<!---->team's `a_b` in #<!---->12 \\*now\\*"
    );
    assert_eq!(escape_title("a `b` c", "`"), "a \\`b\\` c");
    assert_eq!(escape_title("plain", ""), "plain");
}

#[test]
fn collapsed_sections_and_no_changes() {
    let mut prs = vec![
        pr(1, "a", false, "2026-11-01T00:00:00Z"),
        pr(2, "b", false, "2026-11-02T00:00:00Z"),
    ];
    for p in &mut prs {
        p.labels = vec!["deps".into()];
    }
    let yaml = "template: $CHANGES\ncategories:\n  - title: Deps\n    label: deps\n    collapse-after: 1\n";
    let keys = crate::domain::repo_config::RepoConfig::from_release_drafter("f", yaml)
        .expect("config")
        .notes_keys()
        .expect("keys");
    assert_eq!(
        draft(keys.clone(), &prs, &[]).body,
        "## Deps\n\n<details>\n<summary>2 changes</summary>\n\n* Change 2 (#2) @b\n* Change 1 (#1) @a\n</details>"
    );
    assert_eq!(draft(keys, &[], &[]).body, "* No changes");
}

#[test]
fn commits_without_pull_requests_are_listed_when_asked() {
    let prs = [pr(1, "a", false, "2026-11-01T00:00:00Z")];
    let commits = [
        commit(1, vec![CommitAuthor::User("a".into())]),
        Commit {
            oid: Some("0123456789abcdef".into()),
            headline: "Fix typo".into(),
            committed_at: String::new(),
            authors: vec![CommitAuthor::User("b".into())],
            pull_requests: Vec::new(),
        },
    ];
    let keys = NotesKeys {
        template: Some("$CHANGES".into()),
        include_commits_without_pr: Some(true),
        ..NotesKeys::default()
    };
    assert_eq!(
        draft(keys, &prs, &commits).body,
        "* Change 1 (#1) @a\n* Fix typo (0123456) @b"
    );
}

#[test]
fn calendar_versions_come_from_the_date_and_earlier_releases() {
    let config = NotesKeys {
        template: Some("$RESOLVED_VERSION".into()),
        tag_template: Some("v$RESOLVED_VERSION".into()),
        ..NotesKeys::default()
    }
    .resolve()
    .expect("config");
    let draft = build_draft(
        &config,
        &DraftInputs {
            owner: "acme",
            repository: "api",
            calendar: Some(CalendarVersioning {
                scheme: CalendarScheme::YearMonthMicro,
                today: jiff::civil::date(2026, 11, 27),
                released: vec!["2026.11.0", "2026.10.3"],
            }),
            ..DraftInputs::default()
        },
    );
    assert_eq!(draft.tag_name, "v2026.11.1");
    assert!(draft.body.starts_with("2026.11.1"));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// Whatever the replacers, templates and pull requests, a configuration is refused
    /// when read or renders a body within GitHub's limit, and no step of the render
    /// passes the expansion limit.
    #[test]
    fn any_configuration_renders_within_the_bounds(
        searches in proptest::collection::vec(
            proptest::sample::select(vec![
                "/[\\s\\S]+/", "/(?:)/g", "/./g", "/\\w+/g", "/BOOM[\\s\\S]*/",
                "/#(\\d+)/g", "Change", "/$/m",
            ]),
            0..14,
        ),
        repeats in proptest::collection::vec(0usize..12, 14),
        changes in 1usize..40,
        template_repeats in 1usize..3_000,
        titles in proptest::collection::vec("[a-zA-Z #@!$&*()\\[\\]]{0,80}", 1..30),
        body_bytes in 0usize..70_000,
    ) {
        let replacers = searches
            .iter()
            .zip(&repeats)
            .map(|(search, n)| ReplacerKeys {
                search: (*search).to_owned(),
                replace: format!("<{}>", "$&".repeat(*n)),
            })
            .collect();
        let keys = NotesKeys {
            replacers: Some(replacers),
            template: Some("$CHANGES $RESOLVED_VERSION".repeat(template_repeats)),
            change_template: Some("* $TITLE (#$NUMBER) $BODY".into()),
            ..NotesKeys::default()
        };
        let Ok(config) = keys.resolve() else {
            return Ok(());
        };
        let prs: Vec<PullRequest> = (0..changes)
            .map(|i| {
                let mut pr = pr(i as u64 + 1, "octocat", false, "2026-11-27T09:00:00Z");
                pr.title = format!("BOOM {}", titles[i % titles.len()]);
                pr.body = "b".repeat(body_bytes);
                pr
            })
            .collect();
        let made = build_draft(
            &config,
            &DraftInputs {
                owner: "acme",
                repository: "api",
                pull_requests: &prs,
                server_url: "https://github.com",
                ..DraftInputs::default()
            },
        );
        proptest::prop_assert!(made.body.chars().count() <= RELEASE_BODY_LIMIT);
        let vars: template::Variables = [("$CHANGES".to_owned(), "x".repeat(body_bytes).into())]
            .into_iter()
            .collect();
        let rendered = template::render_with_replacers(
            &config.template,
            &vars,
            &config.replacers,
            template::EXPANSION_LIMIT,
        );
        let text = match rendered {
            Ok(text) | Err((_, text)) => text,
        };
        proptest::prop_assert!(text.len() <= template::EXPANSION_LIMIT);
    }
}

#[test]
fn a_draft_past_the_expansion_limit_counts_each_unlisted_change_once() {
    // ~1 KB a line: past template::EXPANSION_LIMIT lines are not rendered at all, then the
    // body is shortened to GitHub's limit; the "… and N more" counts every change not
    // listed, and none twice.
    let total = 1_100u64;
    let prs: Vec<PullRequest> = (1..=total)
        .map(|n| {
            let mut pr = pr(n, "octocat", false, "2026-01-01T00:00:00Z");
            pr.title = format!("{n} {}", "x".repeat(1_000));
            pr
        })
        .collect();
    let body = draft(NotesKeys::default(), &prs, &[]).body;
    let listed = body.lines().filter(|l| l.contains("(#")).count();
    let more: usize = body
        .lines()
        .find_map(|l| l.split("… and ").nth(1))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the body says how many more");
    assert!(body.len() <= RELEASE_BODY_LIMIT, "{}", body.len());
    assert_eq!(
        listed + more,
        total as usize,
        "listed {listed}, more {more}"
    );
}
