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
    let low = serde_json::json!({"contents": "read", "issues": "write", "metadata": "read"});
    assert_eq!(
        missing_permissions(&low),
        [
            "contents: write needed, read granted",
            "pull_requests: read needed, none granted",
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
