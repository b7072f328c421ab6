use super::flags::{LogFormat, SettingsArgs, extends_list};
use super::groups::redact_url;
use super::secret::Secret;
use super::*;

const PEM: &str = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n";

fn github_args() -> SettingsArgs {
    SettingsArgs {
        github_app_id: Some(42),
        github_private_key: Some(Secret::new(PEM)),
        github_webhook_secret: Some("new-secret".parse().unwrap_or_else(|e| match e {})),
        github_webhook_secret_previous: Some("old,secret".parse().unwrap_or_else(|e| match e {})),
        ..SettingsArgs::default()
    }
}

#[test]
fn no_settings_at_all_resolve_to_the_documented_defaults() {
    let settings = Settings::resolve(SettingsArgs::default()).expect("defaults resolve");
    assert_eq!(settings.listen.to_string(), "127.0.0.1:3000");
    assert_eq!(settings.database_url.expose(), "sqlite://trainyard.db");
    assert_eq!(settings.github_api_url, "https://api.github.com");
    assert_eq!(settings.log_format, LogFormat::Pretty);
    assert!(settings.github.is_none() && settings.slack.is_none() && settings.discord.is_none());
    assert_eq!(settings.unconfigured_integrations().len(), 4);
}

#[test]
fn secrets_never_print_their_value() {
    let settings = Settings::resolve(SettingsArgs {
        slack_signing_secret: Some(Secret::new("sl-signing-XYZ")),
        slack_bot_token: Some(Secret::new("xoxb-123-XYZ")),
        ..github_args()
    })
    .expect("complete groups resolve");
    let printed = format!("{settings:?} {}", Secret::new("plain"));
    for secret in [
        "sl-signing-XYZ",
        "xoxb-123-XYZ",
        "new-secret",
        "old-secret",
        "AAAA",
        "plain",
    ] {
        assert!(!printed.contains(secret), "{secret} leaked in {printed}");
    }
    assert!(printed.contains("[redacted]"));
}

#[test]
fn extends_repositories_are_owner_name_or_owner_star() {
    assert_eq!(
        extends_list(Some("acme/shared, tools/*")).ok(),
        Some(vec!["acme/shared".to_owned(), "tools/*".to_owned()])
    );
    for bad in ["acme", "acme/", "/x", "acme/sh ared", "*/x"] {
        assert!(extends_list(Some(bad)).is_err(), "{bad}");
    }
}

#[test]
fn the_previous_webhook_secret_is_accepted_whole_beside_the_current_one() {
    let github = Settings::resolve(github_args())
        .expect("resolves")
        .github
        .expect("configured");
    let secrets: Vec<&str> = github.webhook_secrets.iter().map(Secret::expose).collect();
    // A comma is part of a secret: never a separator.
    assert_eq!(secrets, ["new-secret", "old,secret"]);
}

#[test]
fn a_partial_github_app_names_what_is_missing() {
    let err = Settings::resolve(SettingsArgs {
        github_app_id: Some(42),
        ..SettingsArgs::default()
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "GitHub App is partly configured: missing TRAINYARD_GITHUB_PRIVATE_KEY (or \
         TRAINYARD_GITHUB_PRIVATE_KEY_PATH), TRAINYARD_GITHUB_WEBHOOK_SECRET"
    );
    let err = Settings::resolve(SettingsArgs {
        github_app_id: None,
        ..github_args()
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "GitHub App is partly configured: missing TRAINYARD_GITHUB_APP_ID (or \
         TRAINYARD_GITHUB_CLIENT_ID)"
    );
}

#[test]
fn key_and_key_path_exclude_each_other() {
    let err = Settings::resolve(SettingsArgs {
        github_private_key_path: Some("/nonexistent.pem".into()),
        ..github_args()
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "set only one of TRAINYARD_GITHUB_PRIVATE_KEY and TRAINYARD_GITHUB_PRIVATE_KEY_PATH"
    );
}

#[test]
fn a_key_path_is_read_and_a_missing_file_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("app.pem");
    std::fs::write(&path, PEM).expect("write key");
    let settings = Settings::resolve(SettingsArgs {
        github_private_key: None,
        github_private_key_path: Some(path.clone()),
        ..github_args()
    })
    .expect("resolves");
    assert_eq!(
        settings.github.expect("configured").private_key.expose(),
        PEM
    );

    let missing = dir.path().join("missing.pem");
    let err = Settings::resolve(SettingsArgs {
        github_private_key: None,
        github_private_key_path: Some(missing.clone()),
        ..github_args()
    })
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("cannot read {}", missing.display()))
    );
}

#[test]
fn a_discord_base_must_serve_api_v10() {
    let err = Settings::resolve(SettingsArgs {
        discord_api_url: Some("http://127.0.0.1:3000".into()),
        ..SettingsArgs::default()
    })
    .unwrap_err();
    assert!(
        err.to_string().contains("TRAINYARD_DISCORD_API_URL")
            && err.to_string().contains("ending in /api/v10"),
        "{err}"
    );
    let fine = Settings::resolve(SettingsArgs {
        discord_api_url: Some("http://127.0.0.1:3000/api/v10/".into()),
        ..SettingsArgs::default()
    });
    assert!(fine.is_ok());
}

#[test]
fn partial_slack_and_discord_groups_are_refused() {
    let err = Settings::resolve(SettingsArgs {
        slack_bot_token: Some(Secret::new("xoxb")),
        ..SettingsArgs::default()
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Slack is partly configured: missing TRAINYARD_SLACK_SIGNING_SECRET"
    );
    let err = Settings::resolve(SettingsArgs {
        discord_public_key: Some("ab".repeat(32)),
        ..SettingsArgs::default()
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Discord is partly configured: missing TRAINYARD_DISCORD_APPLICATION_ID, \
         TRAINYARD_DISCORD_BOT_TOKEN"
    );
    let err = Settings::resolve(SettingsArgs {
        discord_public_key: Some("not-hex".into()),
        discord_application_id: Some(1),
        discord_bot_token: Some(Secret::new("t")),
        ..SettingsArgs::default()
    })
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("TRAINYARD_DISCORD_PUBLIC_KEY: must be 64 hex")
    );
}

#[test]
fn toml_file_fills_what_flags_and_environment_leave_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("trainyard.toml");
    std::fs::write(
        &path,
        "listen = \"0.0.0.0:8080\"\nworkers = 2\ngithub_webhook_secret = [\"a\", \"b\"]\n",
    )
    .expect("write");
    let file = SettingsArgs::from_toml_file(&path).expect("parses");
    let given = SettingsArgs {
        workers: Some(7),
        ..SettingsArgs::default()
    };
    let merged = given.or(file);
    assert_eq!(
        merged.listen.map(|a| a.to_string()).as_deref(),
        Some("0.0.0.0:8080")
    );
    assert_eq!(merged.workers, Some(7));
    assert_eq!(
        merged.github_webhook_secret.map(|l| l.secrets().len()),
        Some(2)
    );
}

#[test]
fn unknown_keys_in_the_toml_file_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("trainyard.toml");
    std::fs::write(&path, "listen = \"127.0.0.1:1\"\nlisten_port = 3\n").expect("write");
    let err = SettingsArgs::from_toml_file(&path).unwrap_err().to_string();
    assert!(err.contains("listen_port"), "{err}");
    assert!(err.contains("line 2"), "{err}");
}

#[test]
fn zero_workers_or_attempts_are_refused() {
    let err = Settings::resolve(SettingsArgs {
        workers: Some(0),
        ..SettingsArgs::default()
    })
    .unwrap_err();
    assert_eq!(err.to_string(), "TRAINYARD_WORKERS: must be at least 1");
}

#[test]
fn passwords_are_redacted_from_urls_in_logs() {
    assert_eq!(
        redact_url("postgres://app:hunter2@db:5432/trainyard"),
        "postgres://app:[redacted]@db:5432/trainyard"
    );
    assert_eq!(redact_url("postgres://app@db/x"), "postgres://app@db/x");
    assert_eq!(redact_url("sqlite://trainyard.db"), "sqlite://trainyard.db");
}
