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
        first.starts_with("applied 25 migrations to the SQLite store: 0001, 0002"),
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

#[test]
fn gate_tokens_are_shown_once_and_only_their_hashes_kept() {
    let dir = tempfile::tempdir().expect("dir");
    let url = [("DATABASE_URL", "sqlite://store.db")];
    let (ok, issued) = run(
        dir.path(),
        &["token", "issue", "--repo", "acme/api", "--label", "argo-cd"],
        &url,
    );
    assert!(ok, "{issued}");
    let token = issued
        .lines()
        .find(|l| l.starts_with("tyg_"))
        .expect("the token is printed")
        .to_owned();
    assert_eq!(token.len(), 4 + 64, "{token}");
    assert!(
        issued.contains("token 1 for acme/api (argo-cd)"),
        "{issued}"
    );

    let (ok, listed) = run(dir.path(), &["token", "list"], &url);
    assert!(ok, "{listed}");
    assert!(listed.contains("1\tacme/api\targo-cd\tissued "), "{listed}");
    assert!(listed.contains("live"), "{listed}");
    assert!(!listed.contains(&token), "{listed}");
    // Nowhere in the store's files.
    for file in std::fs::read_dir(dir.path()).expect("dir") {
        let bytes = std::fs::read(file.expect("file").path()).expect("read");
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&token));
    }

    let (ok, revoked) = run(dir.path(), &["token", "revoke", "1"], &url);
    assert!(ok, "{revoked}");
    assert_eq!(revoked.trim(), "token 1 revoked");
    let (ok, again) = run(dir.path(), &["token", "revoke", "1"], &url);
    assert!(!ok);
    assert!(again.contains("no live token 1"), "{again}");
    let (_, bad) = run(dir.path(), &["token", "issue", "--repo", "nope"], &url);
    assert!(bad.contains("--repo \"nope\""), "{bad}");
}
