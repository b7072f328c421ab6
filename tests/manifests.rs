//! The shipped manifests and deployment files say what the code does: every event handled is
//! subscribed, no permission is asked that the code does not use, and the routes they name
//! exist.

use std::collections::BTreeSet;

use serde_json::Value;
use trainyard::github::manifest::{PERMISSIONS, manifest_for, missing_permissions};
use trainyard::inbound::github::payload::{HANDLED_EVENTS, Parsed, parse};

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR")))
        .expect("manifest");
    serde_saphyr::from_str(&text).expect("yaml")
}

#[test]
fn the_app_manifest_subscribes_to_every_handled_event_and_asks_only_for_used_permissions() {
    let manifest = yaml("app-manifest.yml");
    let subscribed: BTreeSet<&str> = manifest["default_events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    // Installation events reach every App unasked.
    let needed: BTreeSet<&str> = HANDLED_EVENTS
        .into_iter()
        .filter(|e| !e.starts_with("installation"))
        .collect();
    assert_eq!(subscribed, needed);

    let asked: BTreeSet<(String, String)> = manifest["default_permissions"]
        .as_object()
        .expect("permissions")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    let used: BTreeSet<(String, String)> = PERMISSIONS
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    assert_eq!(asked, used);
    assert!(missing_permissions(&manifest["default_permissions"]).is_empty());
}

#[test]
fn every_handled_event_has_a_real_payload_that_is_acted_on() {
    for event in HANDLED_EVENTS {
        let dir = format!(
            "{}/fixtures/github-webhooks/{event}",
            env!("CARGO_MANIFEST_DIR")
        );
        let handled = std::fs::read_dir(&dir)
            .unwrap_or_else(|_| panic!("no fixtures for {event}"))
            .filter_map(Result::ok)
            .filter(|f| f.path().extension().is_some_and(|e| e == "json"))
            .any(|f| {
                let body = std::fs::read(f.path()).expect("fixture");
                matches!(parse(event, &body), Ok((_, Parsed::Handled(_))))
            });
        assert!(handled, "{event}");
    }
}

#[test]
fn the_manifest_is_pointed_at_the_public_url() {
    let manifest = manifest_for("https://bot.acme.dev/", Some("acme-trainyard")).expect("manifest");
    assert_eq!(manifest["name"], "acme-trainyard");
    assert_eq!(
        manifest["hook_attributes"]["url"],
        "https://bot.acme.dev/webhooks/github"
    );
    assert_eq!(
        manifest["redirect_url"],
        "https://bot.acme.dev/setup/callback"
    );
    assert_eq!(
        manifest["callback_urls"][0],
        "https://bot.acme.dev/oauth/github/callback"
    );
    assert_eq!(
        manifest["callback_urls"][1],
        "https://bot.acme.dev/oauth/github/signin"
    );
    let low = serde_json::json!({"contents": "read", "issues": "write", "metadata": "read"});
    assert_eq!(
        missing_permissions(&low),
        [
            "actions: read needed, none granted",
            "checks: write needed, none granted",
            "contents: write needed, read granted",
            "pull_requests: write needed, none granted",
            "deployments: write needed, none granted"
        ]
    );
}

#[test]
fn the_slack_manifest_names_the_routes_and_the_scopes_used() {
    let manifest = yaml("slack-app-manifest.yml");
    let command = &manifest["features"]["slash_commands"][0];
    assert_eq!(command["command"], "/release");
    assert_eq!(command["url"], "https://trainyard.example/slack/commands");
    assert_eq!(
        manifest["settings"]["interactivity"]["request_url"],
        "https://trainyard.example/slack/interactions"
    );
    assert_eq!(
        manifest["oauth_config"]["redirect_urls"][0],
        "https://trainyard.example/oauth/slack/callback"
    );
    let scopes: Vec<&str> = manifest["oauth_config"]["scopes"]["bot"]
        .as_array()
        .expect("scopes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        scopes,
        ["chat:write", "commands", "channels:read", "groups:read"]
    );
}

fn text(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).expect(path)
}

/// The settings' room, every file of it: where the setting names are declared.
fn settings_source() -> String {
    let dir = format!("{}/src/settings", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("src/settings")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .collect();
    names.sort();
    names
        .iter()
        .map(|path| std::fs::read_to_string(path).expect("readable source"))
        .collect()
}

#[test]
fn fly_toml_runs_one_machine_on_sqlite_with_health_checks_on_real_routes() {
    let fly: toml::Value = toml::from_str(&text("fly.toml")).expect("fly.toml parses");
    let env = &fly["env"];
    let listen = env["TRAINYARD_LISTEN"].as_str().expect("listen");
    let port: i64 = listen
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let service = &fly["http_service"];
    assert_eq!(service["internal_port"].as_integer(), Some(port));
    assert_eq!(service["min_machines_running"].as_integer(), Some(1));
    assert_eq!(service["auto_stop_machines"].as_str(), Some("off"));
    let checks: Vec<&str> = service["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter_map(|c| c["path"].as_str())
        .collect();
    assert_eq!(checks, ["/healthz", "/readyz"]);
    // Fly's Prometheus scrapes the service's metrics on the same port.
    assert_eq!(fly["metrics"]["port"].as_integer(), Some(port));
    assert_eq!(fly["metrics"]["path"].as_str(), Some("/metrics"));
    for route in ["/healthz", "/readyz", "/metrics"] {
        assert!(
            text("src/web/mod.rs").contains(&format!(".route(\"{route}\"")),
            "{route} is served"
        );
    }
    // The store is on the volume.
    let mount = fly["mounts"]["destination"].as_str().expect("mount");
    let url = env["DATABASE_URL"].as_str().expect("database");
    assert!(url.starts_with(&format!("sqlite://{mount}/")), "{url}");
    // Fly waits for the shutdown grace before killing the machine.
    let grace: u64 = env["TRAINYARD_SHUTDOWN_GRACE_SECS"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("grace");
    let kill: u64 = fly["kill_timeout"]
        .as_str()
        .and_then(|s| s.trim_end_matches('s').parse().ok())
        .expect("kill timeout");
    assert!(kill > grace);
    assert_eq!(fly["kill_signal"].as_str(), Some("SIGTERM"));
    // Every setting named is one trainyard reads.
    for name in env.as_table().expect("env").keys() {
        assert!(
            settings_source().contains(&format!("\"{name}\"")),
            "{name} is not a setting"
        );
    }
}

#[test]
fn the_dockerfile_builds_what_the_manifest_declares_and_runs_unprivileged() {
    let docker = text("Dockerfile");
    let cargo: toml::Value = toml::from_str(&text("Cargo.toml")).expect("Cargo.toml");
    // Every bench target declared needs its stand-in, or `cargo build` refuses the manifest.
    for bench in cargo["bench"].as_array().expect("benches") {
        let name = bench["name"].as_str().expect("name");
        assert!(
            docker.contains(&format!(" {name}"))
                || docker.contains(&format!("in {name}"))
                || docker.contains(&format!("benches/{name}/main.rs")),
            "the Dockerfile has no stand-in for bench {name}"
        );
    }
    for copied in ["src", "migrations", "app-manifest.yml", "Cargo.lock"] {
        assert!(
            docker.contains(&format!("COPY {copied}")) || docker.contains(&format!(" {copied} ")),
            "{copied} is not copied"
        );
        assert!(std::path::Path::new(&format!("{}/{copied}", env!("CARGO_MANIFEST_DIR"))).exists());
    }
    assert!(docker.contains("USER trainyard"));
    assert!(docker.contains("--locked"));
    assert!(
        docker.contains("ca-certificates"),
        "HTTPS needs the system's roots"
    );
    for line in docker
        .lines()
        .filter(|l| l.trim_start().starts_with("TRAINYARD_") || l.contains("ENV "))
    {
        for name in line
            .split_whitespace()
            .filter_map(|w| w.split('=').next())
            .filter(|w| w.starts_with("TRAINYARD_") || *w == "DATABASE_URL")
        {
            assert!(settings_source().contains(&format!("\"{name}\"")), "{name}");
        }
    }
}
