//! A `CHANGELOG.md` kept in the Keep a Changelog style: each release's notes go in under
//! `## [version] - date`, above the earlier releases and below an `[Unreleased]` section.
//! Pure: what the file becomes, or that it already has the release.

/// The section a release adds: its heading and its notes (trainyard's HTML comments left
/// out).
pub fn entry(version: &str, date: &str, notes: &str) -> String {
    let notes: Vec<&str> = notes
        .lines()
        .filter(|line| {
            let t = line.trim();
            !(t.starts_with("<!--") && t.ends_with("-->"))
        })
        .collect();
    let notes = notes.join("\n");
    let notes = notes.trim();
    if notes.is_empty() {
        format!("## [{version}] - {date}\n")
    } else {
        format!("## [{version}] - {date}\n\n{notes}\n")
    }
}

/// The title a new file starts with.
const NEW_FILE: &str = "# Changelog\n\nAll notable changes to this project are documented in \
                        this file.\n\n";

/// The file with `entry` for `version` added, or `None` when it already has that version
/// (a retry, or someone wrote it by hand).
pub fn prepend(existing: Option<&str>, version: &str, entry: &str) -> Option<String> {
    let Some(text) = existing else {
        return Some(format!("{NEW_FILE}{entry}"));
    };
    let is_release_heading = |line: &str| {
        line.strip_prefix("## ").is_some_and(|rest| {
            !rest
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("[unreleased]")
        })
    };
    let heading = format!("## [{version}]");
    if text
        .lines()
        .any(|line| line.starts_with(&heading) || line.trim_end() == format!("## {version}"))
    {
        return None;
    }
    // Before the first release's heading; after everything when there is none.
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if is_release_heading(line) {
            let mut out = String::with_capacity(text.len() + entry.len() + 1);
            out.push_str(&text[..offset]);
            out.push_str(entry);
            out.push('\n');
            out.push_str(&text[offset..]);
            return Some(out);
        }
        offset += line.len();
    }
    let mut out = text.trim_end().to_owned();
    out.push_str("\n\n");
    out.push_str(entry);
    Some(out)
}

/// Whether GitHub refused a write because the branch is protected (a ruleset or branch
/// protection), as opposed to a conflict a retry resolves.
pub fn is_protection_refusal(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("protected branch")
        || message.contains("rule violation")
        || message.contains("must be made through a pull request")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_goes_below_unreleased_and_above_earlier_releases() {
        let file = "# Changelog\n\n## [Unreleased]\n- Nothing yet\n\n## [1.0.0] - 2026-10-01\n\
                    - First\n";
        let entry = entry(
            "1.0.1",
            "2026-11-27",
            "<!-- trainyard: generated notes below -->\n## What's Changed\n\n* Fix (#2)\n\n\
             <!-- trainyard:train:1 -->\n",
        );
        assert_eq!(
            entry,
            "## [1.0.1] - 2026-11-27\n\n## What's Changed\n\n* Fix (#2)\n"
        );
        assert_eq!(
            prepend(Some(file), "1.0.1", &entry).as_deref(),
            Some(
                "# Changelog\n\n## [Unreleased]\n- Nothing yet\n\n## [1.0.1] - 2026-11-27\n\n\
                 ## What's Changed\n\n* Fix (#2)\n\n## [1.0.0] - 2026-10-01\n- First\n"
            )
        );
    }

    #[test]
    fn a_new_file_a_file_without_releases_and_a_repeat() {
        let entry = entry("2.0.0", "2026-11-27", "* Big (#9)");
        assert_eq!(
            prepend(None, "2.0.0", &entry).as_deref(),
            Some(
                "# Changelog\n\nAll notable changes to this project are documented in this \
                 file.\n\n## [2.0.0] - 2026-11-27\n\n* Big (#9)\n"
            )
        );
        assert_eq!(
            prepend(Some("# Changes\n\nSee below.\n\n"), "2.0.0", &entry).as_deref(),
            Some("# Changes\n\nSee below.\n\n## [2.0.0] - 2026-11-27\n\n* Big (#9)\n")
        );
        let written = prepend(None, "2.0.0", &entry).expect("written");
        assert_eq!(prepend(Some(&written), "2.0.0", &entry), None);
        assert_eq!(prepend(Some("## 2.0.0\n"), "2.0.0", &entry), None);
        assert!(prepend(Some(&written), "2.0.1", &entry).is_some());
    }

    #[test]
    fn protection_refusals_are_told_from_conflicts() {
        assert!(is_protection_refusal(
            "Repository rule violations found\n\nChanges must be made through a pull request."
        ));
        assert!(is_protection_refusal(
            "Protected branch update failed for refs/heads/main."
        ));
        assert!(!is_protection_refusal("CHANGELOG.md does not match 1f2e3d"));
    }
}
