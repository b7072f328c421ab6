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
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/settings"),
        &mut files,
    );
    assert!(files.len() > 1, "the settings' room was read");
    let mut imports = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file).expect("readable source");
        imports.extend(
            source
                .lines()
                .filter(|l| l.split("//").next().unwrap_or_default().contains("crate::"))
                .map(|l| format!("{}: {l}", file.display())),
        );
    }
    assert!(
        imports.is_empty(),
        "settings/ reaches into the crate: {imports:?}"
    );
}

#[test]
fn handlers_build_no_rest_routes() {
    // Train handlers speak to GitHub through typed calls (src/github/), never raw routes.
    let mut files = Vec::new();
    for room in [
        "src/handlers/trains",
        "src/handlers/commands",
        "src/handlers/deploys",
    ] {
        rust_files(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join(room),
            &mut files,
        );
    }
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

/// The floors of the house, lowest first: a file may import from its own floor and below
/// (docs/architecture.md). The longest matching prefix of a file's path under `src/` decides.
const FLOORS: &[(&str, &[&str])] = &[
    (
        "ground: pure rules and plain settings",
        &["domain/", "clock.rs", "error.rs", "settings/"],
    ),
    (
        "storage and the HTTP server's parts",
        &["store/", "telemetry.rs", "registration.rs", "server/"],
    ),
    ("the queue and its metrics", &["jobs/", "metrics.rs"]),
    ("clients of the outside", &["github/", "chat/", "probe.rs"]),
    ("the handlers' kit", &["handlers/kit/"]),
    ("features", &["handlers/", "inbound/intake.rs"]),
    ("the process's state", &["state.rs"]),
    ("adapters", &["inbound/", "web/"]),
    ("entry points", &["app.rs", "cli/", "main.rs", "lib.rs"]),
];

fn floor_of(file: &str) -> Option<usize> {
    FLOORS
        .iter()
        .enumerate()
        .flat_map(|(floor, (_, prefixes))| prefixes.iter().map(move |p| (floor, *p)))
        .filter(|(_, prefix)| file.starts_with(prefix))
        .max_by_key(|(_, prefix)| prefix.len())
        .map(|(floor, _)| floor)
}

/// A file's module path (`handlers/chat/service.rs` → `handlers::chat::service`).
fn module_of(file: &str) -> Vec<String> {
    let trimmed = file.trim_end_matches(".rs");
    let mut parts: Vec<String> = trimmed.split('/').map(str::to_owned).collect();
    if parts
        .last()
        .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
    {
        parts.pop();
    }
    parts
}

/// `prefix::{a, b::{c, d}}` → `prefix::a`, `prefix::b::c`, `prefix::b::d`.
fn expand_use(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand_use(&format!("{prefix}{p}")))
        .collect()
}

/// The paths a file names: its `use` trees and the `crate::…` paths in its code (tests
/// modules and comments left out).
fn named_paths(source: &str) -> Vec<String> {
    let code: String = source
        .split("#[cfg(test)]\nmod tests {")
        .next()
        .unwrap_or_default()
        .lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let mut paths = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("use ") {
        let before_ok = at == 0
            || !rest[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_');
        let after = &rest[at + 4..];
        let end = after.find(';').unwrap_or(after.len());
        if before_ok {
            paths.extend(expand_use(&after[..end]));
        }
        rest = &after[end.min(after.len())..];
    }
    let bytes: Vec<char> = code.chars().collect();
    let text: String = bytes.iter().collect();
    let mut from = 0;
    while let Some(found) = text[from..].find("crate::") {
        let start = from + found;
        let path: String = text[start..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        paths.push(path.trim_end_matches(':').to_owned());
        from = start + 7;
    }
    paths
}

/// The file under `src/` a path names, from `module` (the naming file's module path).
fn file_named(path: &str, module: &[String], src: &Path) -> Option<String> {
    let mut segments: Vec<String> = Vec::new();
    for (i, segment) in path.split("::").enumerate() {
        match (i, segment) {
            (0, "crate") => {}
            (0, "self") => segments = module.to_vec(),
            (_, "super") => {
                if segments.is_empty() && i == 0 {
                    segments = module.to_vec();
                }
                segments.pop();
            }
            (0, _) => return None,
            _ => segments.push(segment.to_owned()),
        }
    }
    while !segments.is_empty() {
        let joined = segments.join("/");
        for candidate in [format!("{joined}.rs"), format!("{joined}/mod.rs")] {
            if src.join(&candidate).is_file() {
                return Some(candidate);
            }
        }
        segments.pop();
    }
    None
}

/// Every import arrow between two files of `src/`, as (from, to).
fn arrows() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut found = std::collections::BTreeSet::new();
    for file in files {
        let name = file
            .strip_prefix(&src)
            .expect("under src")
            .to_string_lossy()
            .into_owned();
        if name.ends_with("/tests.rs") {
            continue; // a module's unit tests, in their own file
        }
        let module = module_of(&name);
        let source = std::fs::read_to_string(&file).expect("readable source");
        for path in named_paths(&source) {
            if let Some(to) = file_named(&path, &module, &src)
                && to != name
            {
                found.insert((name.clone(), to));
            }
        }
    }
    found.into_iter().collect()
}

/// Groups of files that import each other round (strongly connected, more than one file).
fn circles(arrows: &[(String, String)]) -> Vec<Vec<String>> {
    let mut nodes: Vec<&str> = arrows
        .iter()
        .flat_map(|(a, b)| [a.as_str(), b.as_str()])
        .collect();
    nodes.sort_unstable();
    nodes.dedup();
    let reach = |from: &str| {
        let mut seen = std::collections::BTreeSet::new();
        let mut stack = vec![from];
        while let Some(at) = stack.pop() {
            for (a, b) in arrows {
                if a == at && seen.insert(b.as_str()) {
                    stack.push(b);
                }
            }
        }
        seen
    };
    let reached: std::collections::BTreeMap<&str, _> =
        nodes.iter().map(|n| (*n, reach(n))).collect();
    let mut groups: Vec<Vec<String>> = Vec::new();
    for node in &nodes {
        let group: Vec<String> = nodes
            .iter()
            .filter(|other| {
                other != &node && reached[node].contains(*other) && reached[*other].contains(node)
            })
            .chain(std::iter::once(node))
            .map(|n| (*n).to_owned())
            .collect();
        if group.len() > 1 {
            let mut sorted = group;
            sorted.sort();
            if !groups.contains(&sorted) {
                groups.push(sorted);
            }
        }
    }
    groups
}

#[test]
fn the_house_has_no_circle_and_at_most_two_arrows_back_up() {
    let arrows = arrows();
    assert!(
        arrows.len() > 100,
        "the imports were read: {}",
        arrows.len()
    );
    let circles = circles(&arrows);
    // The issue allowed one; there are none, and none may come back.
    assert!(
        circles.is_empty(),
        "import circles (docs/architecture.md says which way each room may look): {circles:#?}"
    );
    let unplaced: Vec<&String> = arrows
        .iter()
        .flat_map(|(a, b)| [a, b])
        .filter(|f| floor_of(f).is_none())
        .collect();
    assert!(unplaced.is_empty(), "files on no floor: {unplaced:?}");
    let back_up: Vec<&(String, String)> = arrows
        .iter()
        .filter(|(a, b)| floor_of(a) < floor_of(b))
        .collect();
    assert!(
        back_up.len() <= 2,
        "imports from a lower floor to a higher one: {back_up:#?}"
    );
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "the house: {} import arrows, {} circle(s) {circles:?}, {} arrow(s) back up {back_up:?}",
        arrows.len(),
        circles.len(),
        back_up.len()
    );
}

#[test]
fn the_import_reader_expands_use_trees_and_resolves_super() {
    assert_eq!(
        expand_use("crate::handlers::{kit::{TrainContext, unit}, trains}"),
        [
            "crate::handlers::kit::TrainContext",
            "crate::handlers::kit::unit",
            "crate::handlers::trains"
        ]
    );
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let module = module_of("handlers/chat/service.rs");
    assert_eq!(
        file_named("super::chat_surface", &module, &src).as_deref(),
        Some("handlers/chat/mod.rs")
    );
    assert_eq!(
        file_named("crate::handlers::kit::TrainContext", &module, &src).as_deref(),
        Some("handlers/kit/mod.rs")
    );
    let found = circles(&[
        ("a".into(), "b".into()),
        ("b".into(), "a".into()),
        ("b".into(), "c".into()),
    ]);
    assert_eq!(found, [vec!["a".to_owned(), "b".to_owned()]]);
}

#[test]
fn spans_follow_their_futures() {
    // A span entered with `.enter()` and held across an `.await` is wrongly the current span
    // of whatever else the thread polls meanwhile: futures carry theirs with `.instrument`.
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut found = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file).expect("readable source");
        for (n, line) in source.lines().enumerate() {
            if line
                .split("//")
                .next()
                .unwrap_or_default()
                .contains(".enter()")
            {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "spans entered by hand: {found:#?}");
}

/// Every machine endpoint (`inbound::routes`) takes its surface's `Verified…` extractor, so
/// no route can run on a request whose signature did not check out.
#[test]
fn every_signed_route_takes_a_verified_extractor() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/inbound");
    let routes = std::fs::read_to_string(src.join("mod.rs")).expect("inbound/mod.rs");
    let body = routes
        .split("pub fn routes(")
        .nth(1)
        .expect("inbound::routes");
    let handlers: Vec<(&str, &str)> = body
        .split("post(")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .filter_map(|path| path.split_once("::"))
        .collect();
    assert!(handlers.len() >= 4, "the routes were read: {handlers:?}");
    for (module, function) in handlers {
        let file = [format!("{module}.rs"), format!("{module}/mod.rs")]
            .into_iter()
            .map(|f| src.join(f))
            .find(|f| f.is_file())
            .unwrap_or_else(|| panic!("no file for inbound::{module}"));
        let source = std::fs::read_to_string(&file).expect("readable source");
        let signature = source
            .split(&format!("pub async fn {function}("))
            .nth(1)
            .and_then(|rest| rest.split(") ->").next())
            .unwrap_or_else(|| panic!("no handler {module}::{function}"));
        assert!(
            signature.contains("Verified"),
            "{module}::{function} takes no Verified… extractor: ({signature})"
        );
        assert!(
            !signature.contains("Bytes"),
            "{module}::{function} reads the raw body itself: ({signature})"
        );
    }
}

/// Functions that are tables (one arm per case, nothing else): long by nature, read by row.
const TABLES: &[&str] = &["chat/cards.rs:event_text"];

/// The lines of `source` from each `fn` to its closing brace, as (name, first line, length).
fn function_lengths(source: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = source.lines().collect();
    let mut found = Vec::new();
    for (start, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let Some(at) = trimmed.find("fn ") else {
            continue;
        };
        let before = &trimmed[..at];
        let is_fn = before
            .split_whitespace()
            .all(|w| matches!(w, "pub" | "pub(crate)" | "pub(super)" | "async" | "const"));
        if !is_fn || trimmed.starts_with("//") {
            continue;
        }
        let name: String = trimmed[at + 3..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let (mut depth, mut opened) = (0i32, false);
        for (end, text) in lines.iter().enumerate().skip(start) {
            let code = text.split("//").next().unwrap_or_default();
            let mut in_string = false;
            for c in code.chars() {
                match c {
                    '"' => in_string = !in_string,
                    '{' if !in_string => {
                        depth += 1;
                        opened = true;
                    }
                    '}' if !in_string => depth -= 1,
                    _ => {}
                }
            }
            if !opened && code.trim_end().ends_with(';') {
                break;
            }
            if opened && depth <= 0 {
                found.push((name.clone(), start + 1, end - start + 1));
                break;
            }
        }
    }
    found
}

#[test]
fn no_room_over_800_lines_and_no_function_over_100() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut big_rooms = Vec::new();
    let mut long_functions = Vec::new();
    for file in files {
        let name = file
            .strip_prefix(&src)
            .expect("under src")
            .to_string_lossy()
            .into_owned();
        let source = std::fs::read_to_string(&file).expect("readable source");
        let lines = source.lines().count();
        if lines > 800 {
            big_rooms.push(format!("{name}: {lines} lines"));
        }
        for (function, at, length) in function_lengths(&source) {
            if length > 100 && !TABLES.contains(&format!("{name}:{function}").as_str()) {
                long_functions.push(format!("{name}:{at} {function}: {length} lines"));
            }
        }
    }
    assert!(big_rooms.is_empty(), "rooms over 800 lines: {big_rooms:#?}");
    assert!(
        long_functions.is_empty(),
        "functions over 100 lines (split them, or list a table in TABLES): {long_functions:#?}"
    );
}

#[test]
fn the_length_reader_finds_functions_and_their_ends() {
    let source = "pub async fn a() {\n    let s = \"{\";\n}\n\nfn b();\nfn c() { 1 }\n";
    assert_eq!(
        function_lengths(source),
        [("a".to_owned(), 1, 3), ("c".to_owned(), 6, 1)]
    );
}
