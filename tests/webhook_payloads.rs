//! Every real GitHub payload in `fixtures/github-webhooks/` parses: the events we act on into
//! an `Event` (snapshotted), the rest as ignored.

use std::path::Path;

use trainyard::inbound::github::payload::{Parsed, parse};

#[test]
fn every_fixture_payload_parses() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/github-webhooks");
    let mut events: Vec<_> = std::fs::read_dir(&root)
        .expect("fixtures folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    events.sort();
    let mut ignored = Vec::new();
    let mut handled = 0;
    for dir in events {
        let event = dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("event name")
            .to_owned();
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("event folder")
            .map(|e| e.expect("entry").path())
            .collect();
        files.sort();
        for file in files {
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .expect("file name");
            let body = std::fs::read(&file).expect("payload");
            let (action, parsed) = parse(&event, &body)
                .unwrap_or_else(|e| panic!("{event}/{name} does not parse: {e}"));
            match parsed {
                Parsed::Handled(parsed_event) => {
                    handled += 1;
                    let snapshot = format!("{event}__{}", name.trim_end_matches(".json"));
                    insta::assert_debug_snapshot!(snapshot, parsed_event);
                }
                Parsed::Ignored => ignored.push(format!(
                    "{event}/{name} (action {})",
                    action.as_deref().unwrap_or("-")
                )),
            }
        }
    }
    assert!(handled >= 40, "only {handled} fixtures were handled");
    insta::assert_snapshot!("ignored_fixtures", ignored.join("\n"));
}
