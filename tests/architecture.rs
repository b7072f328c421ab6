//! The layout's rules, checked: the domain stays pure.

use std::path::{Path, PathBuf};

/// Crates that do I/O; the domain decides and must not reach for them.
const FORBIDDEN_IN_DOMAIN: &[&str] = &["tokio", "sqlx", "axum", "reqwest", "octocrab", "hyper"];
/// Clocks; the domain takes `now` as an argument.
const CLOCKS: &[&str] = &[
    "Timestamp::now",
    "SystemTime::now",
    "Instant::now",
    "Zoned::now",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn violations(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (n, line) in source.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        for krate in FORBIDDEN_IN_DOMAIN {
            let uses = code.contains(&format!("{krate}::"))
                || code.trim_start().starts_with(&format!("use {krate}"))
                || code.contains(&format!("extern crate {krate}"));
            if uses {
                found.push(format!("line {}: uses {krate}: {}", n + 1, line.trim()));
            }
        }
        for clock in CLOCKS {
            if code.contains(clock) {
                found.push(format!("line {}: reads a clock: {}", n + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn the_domain_does_no_io() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain"),
        &mut files,
    );
    assert!(!files.is_empty(), "src/domain exists");
    let mut problems = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file).expect("readable source");
        for v in violations(&source) {
            problems.push(format!("{}: {v}", file.display()));
        }
    }
    assert!(
        problems.is_empty(),
        "the domain must stay pure:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_check_catches_io_imports_and_clocks() {
    assert_eq!(violations("use sqlx::query;").len(), 1);
    assert_eq!(violations("    let x = tokio::spawn(f);").len(), 1);
    assert_eq!(violations("let now = jiff::Timestamp::now();").len(), 1);
    assert!(violations("// tokio:: is mentioned in a comment").is_empty());
    assert!(violations("pub fn decide(now: Timestamp) {}").is_empty());
}

#[test]
fn settings_import_nothing_of_the_crate() {
    // Settings are read first and by everything; importing a module above them closes an
    // import circle through the whole crate.
    let source =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/settings.rs"))
            .expect("readable source");
    let imports: Vec<&str> = source
        .lines()
        .filter(|l| l.split("//").next().unwrap_or_default().contains("crate::"))
        .collect();
    assert!(
        imports.is_empty(),
        "settings.rs reaches into the crate: {imports:?}"
    );
}

#[test]
fn handlers_build_no_rest_routes() {
    // Train handlers speak to GitHub through typed calls (src/github/), never raw routes.
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/handlers/train_commands"),
        &mut files,
    );
    let mut found = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file).expect("readable source");
        for (n, line) in source.lines().enumerate() {
            if line.contains("\"/repos/") || line.contains("serde_json::Value") {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "raw GitHub routes in handlers: {found:#?}"
    );
}

#[test]
fn fault_injection_hooks_are_not_in_a_release_builds_api() {
    // The story tests arm store faults; a release build must not be able to.
    let source =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/mod.rs"))
            .expect("readable source");
    for hook in ["pub fn fail_decision_commit", "pub fn commit_fault_pending"] {
        let at = source
            .find(hook)
            .unwrap_or_else(|| panic!("{hook} is gone"));
        let before: Vec<&str> = source[..at].lines().rev().take(2).collect();
        assert!(
            before
                .iter()
                .any(|l| l.contains("#[cfg(any(test, feature = \"test-hooks\"))]")),
            "{hook} must be behind the test-hooks feature"
        );
    }
}
