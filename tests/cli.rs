//! The command line as an operator meets it, run as the binary with none of the caller's
//! settings: each sub-command's help shows its own flags (the server settings under `serve`),
//! `migrate` says what it applied, and errors name their real cause.

mod harness;

use harness::process::trainyard;

fn run(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut command = trainyard(dir);
    command.args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("run trainyard");
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

#[test]
fn each_sub_commands_help_shows_its_own_flags() {
    let dir = tempfile::tempdir().expect("dir");
    let (ok, notes) = run(dir.path(), &["notes", "--help"], &[]);
    assert!(ok, "{notes}");
    assert!(notes.contains("--repo-config <FILE>"), "{notes}");
    assert!(notes.contains("--whole-range"), "{notes}");
    assert!(!notes.contains("--database-url"), "{notes}");
    assert!(
        notes.lines().count() < 60,
        "{} lines",
        notes.lines().count()
    );

    let (ok, top) = run(dir.path(), &["--help"], &[]);
    assert!(ok);
    assert!(top.contains("serve") && top.contains("config"), "{top}");
    assert!(!top.contains("--database-url"), "{top}");

    let (ok, serve) = run(dir.path(), &["serve", "--help"], &[]);
    assert!(ok);
    for setting in [
        "--database-url",
        "DATABASE_URL",
        "--listen",
        "TRAINYARD_LISTEN",
    ] {
        assert!(serve.contains(setting), "{setting} in {serve}");
    }
    // A setting is still taken after any sub-command.
    let (ok, said) = run(
        dir.path(),
        &["migrate", "--database-url", "sqlite://flag.db"],
        &[],
    );
    assert!(ok, "{said}");
    assert!(dir.path().join("flag.db").exists(), "{said}");
}

#[test]
fn migrate_says_what_it_applied() {
    let dir = tempfile::tempdir().expect("dir");
    let url = [("DATABASE_URL", "sqlite://store.db")];
    let (ok, first) = run(dir.path(), &["migrate"], &url);
    assert!(ok, "{first}");
    assert!(
        first.starts_with("applied 19 migrations to the SQLite store: 0001, 0002"),
        "{first}"
    );
    let (ok, second) = run(dir.path(), &["migrate"], &url);
    assert!(ok);
    assert_eq!(
        second.trim(),
        "the SQLite store is up to date: nothing to apply"
    );
}

#[test]
fn backfill_without_the_app_says_so() {
    let dir = tempfile::tempdir().expect("dir");
    let (ok, said) = run(
        dir.path(),
        &["metrics", "backfill", "--repo", "acme/api"],
        &[("DATABASE_URL", "sqlite://store.db")],
    );
    assert!(!ok);
    assert!(
        said.contains("the GitHub App, which is not configured here"),
        "{said}"
    );
    assert!(!said.contains("not installed"), "{said}");
}
