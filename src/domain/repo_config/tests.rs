use super::*;

#[test]
fn channel_ids_are_checked_before_they_reach_an_api_path() {
    for (yaml, key) in [
        (
            "chat:\n  slack-channel: '../../chat.delete'\n",
            "chat.slack-channel",
        ),
        ("chat:\n  slack-channel: c0123\n", "chat.slack-channel"),
        (
            "chat:\n  discord-channel: '555/../../guilds/1'\n",
            "chat.discord-channel",
        ),
        (
            "chat:\n  discord-channel: '123456789012345678901'\n",
            "chat.discord-channel",
        ),
    ] {
        let error = RepoConfig::from_file(".github/trainyard.yml", yaml).unwrap_err();
        assert_eq!(error.key.as_deref(), Some(key), "{yaml}");
    }
    let ok = "chat:\n  slack-channel: C0123ABC\n  discord-channel: '123456789012345678'\n";
    assert!(RepoConfig::from_file(".github/trainyard.yml", ok).is_ok());
}

#[test]
fn wrong_types_and_unknown_keys_name_the_key_and_line() {
    let err = RepoConfig::parse(
        ".github/trainyard.yml",
        "trains:\n  lines:\n    - name: main\n      boarding-lable: ship\n",
    )
    .expect_err("typo");
    assert_eq!(err.key.as_deref(), Some("trains.lines[0].boarding-lable"));
    assert_eq!(err.line, Some(4));
    assert!(
        err.message == "unknown key `boarding-lable`: did you mean `boarding-label`?",
        "{err}"
    );

    let err = RepoConfig::parse("f", "notes:\n  prerelease: maybe\n").expect_err("type");
    assert_eq!(err.key.as_deref(), Some("notes.prerelease"));
    assert_eq!(err.line, Some(2));
    assert_eq!(
        err.to_string(),
        "f, line 2 column 15, `notes.prerelease`: expected true or false, found `maybe`"
    );
}

#[test]
fn a_key_in_both_notes_and_version_is_refused() {
    let err = RepoConfig::parse("f", "notes:\n  tag-prefix: v\nversion:\n  tag-prefix: v\n")
        .expect_err("clash");
    assert_eq!(err.key.as_deref(), Some("version.tag-prefix"));
}

#[test]
fn schedules_and_time_zones_are_checked() {
    let bad = "trains:\n  lines:\n    - name: main\n      schedule: '0 25 * * MON'\n";
    let err = RepoConfig::parse("f", bad).expect_err("hour 25");
    assert_eq!(err.key.as_deref(), Some("trains.lines[0].schedule"));
    let lonely = "trains:\n  lines:\n    - name: main\n      reminder: 30m\n";
    let err = RepoConfig::from_file(".github/trainyard.yml", lonely).expect_err("no schedule");
    assert_eq!(err.key.as_deref(), Some("trains.lines[0].reminder"));
    let long =
        "trains:\n  lines:\n    - name: main\n      schedule: '0 9 * * MON'\n      reminder: 3d\n";
    let err = RepoConfig::from_file(".github/trainyard.yml", long).expect_err("too long");
    assert_eq!(err.key.as_deref(), Some("trains.lines[0].reminder"));
    let good = "trains:\n  lines:\n    - name: main\n      schedule: '30 9 * * MON-FRI'\n      timezone: Europe/Berlin\n      reminder: 30m\n";
    RepoConfig::parse("f", good).expect("valid");
}

#[test]
fn deploy_environments_are_checked() {
    let cases = [
        (
            "deploy:\n  environments:\n    - name: prod\n      requires: staging\n",
            "deploy.environments[0].requires",
            "`staging` is not an environment listed before `prod`",
        ),
        (
            "deploy:\n  environments:\n    - name: a\n    - name: A\n",
            "deploy.environments[1].name",
            "`A` is listed twice",
        ),
        (
            "deploy:\n  environments:\n    - name: a\n      freeze: ['Funday']\n",
            "deploy.environments[0].freeze[0]",
            "is not a freeze window",
        ),
        (
            "deploy:\n  timezone: Mars/Olympus\n  environments: []\n",
            "deploy.timezone",
            "not an IANA time zone",
        ),
        (
            "deploy:\n  environments:\n    - name: a\n    - name: b\n      auto: true\n      after: a\n",
            "deploy.environments[1].auto",
            "not both",
        ),
    ];
    for (text, key, message) in cases {
        let err = RepoConfig::parse("f", text).expect_err(text);
        assert_eq!(err.key.as_deref(), Some(key), "{text}");
        assert!(err.message.contains(message), "{}", err.message);
    }
    let unknown = "deploy:\n  environments:\n    - name: a\n      autom: true\n";
    assert!(RepoConfig::parse("f", unknown).is_err());
    let good = "deploy:\n  environments:\n    - name: staging\n      auto: true\n    - name: production\n      after: staging\n      requires: staging\n      required-contexts: [ci]\n      freeze: ['Fri 16:00-Mon 08:00']\n";
    let config = RepoConfig::parse("f", good).expect("valid");
    assert!(
        config
            .environment("PRODUCTION")
            .is_some_and(|e| e.is_production())
    );
    assert_eq!(
        config
            .environment("production")
            .map(|e| e.deploy_permission()),
        Some(Permission::Maintain)
    );
}

#[test]
fn github_release_yml_becomes_exclusive_categories() {
    let text = "changelog:\n  exclude:\n    labels: [ignore]\n    authors: [octocat]\n  categories:\n    - title: Breaking\n      labels: [breaking]\n    - title: Other\n      labels: ['*']\n";
    let config = RepoConfig::from_github_release_yml(".github/release.yml", text).expect("ok");
    let keys = config.notes_keys().expect("keys");
    let categories = keys.categories.expect("categories");
    assert_eq!(categories[0].exclusive, Some(true));
    assert!(categories[1].when.is_none());
    assert_eq!(keys.exclude_authors, Some(vec!["octocat".to_owned()]));
}
