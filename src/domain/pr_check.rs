//! The `trainyard` check run on a pull request: where the pull request stands with its train,
//! from label to production, in a line a contributor reads on the pull request's checks.

/// Where a pull request stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Open, labelled so it boards `line` once merged; the version it would ride, when known.
    WillBoard {
        /// The line.
        line: String,
        /// The next release's tag.
        next: Option<String>,
    },
    /// Open or merged, but it rides no train (no release label, the skip label, another
    /// branch); why.
    Riding {
        /// Why nothing boards it.
        why: String,
    },
    /// On the line's open train.
    Boarded {
        /// The train's projected tag.
        tag: Option<String>,
    },
    /// On a cut train awaiting approval.
    Frozen {
        /// Its tag.
        tag: String,
    },
    /// In a published release candidate of its train.
    Candidate {
        /// The candidate's tag.
        tag: String,
    },
    /// Released.
    Released {
        /// The release's tag.
        tag: String,
    },
    /// Released and deployed: each environment (configured order) with whether its latest
    /// deployment of the release succeeded.
    Deployed {
        /// The release's tag.
        tag: String,
        /// (environment, succeeded).
        environments: Vec<(String, bool)>,
    },
}

/// The check run's face: GitHub shows the title on the pull request, the summary in the
/// check's page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckText {
    /// One line.
    pub title: String,
    /// Markdown.
    pub summary: String,
    /// `success` once it rides a train, `neutral` otherwise: the check reports, it does not
    /// hold merging.
    pub conclusion: &'static str,
}

/// The check's text for `standing`; `release_url` links the release or the draft.
pub fn render(standing: &Standing, release_url: Option<&str>) -> CheckText {
    let (title, conclusion) = match standing {
        Standing::WillBoard { line, next } => (
            match next {
                Some(next) => format!("will board `{line}` when merged (next {next})"),
                None => format!("will board `{line}` when merged"),
            },
            "neutral",
        ),
        Standing::Riding { why } => (why.clone(), "neutral"),
        Standing::Boarded { tag } => (
            match tag {
                Some(tag) => format!("boarded {tag} (open)"),
                None => "boarded the open train".to_owned(),
            },
            "success",
        ),
        Standing::Frozen { tag } => (format!("frozen in {tag}"), "success"),
        Standing::Candidate { tag } => (tag.clone(), "success"),
        Standing::Released { tag } => (format!("released in {tag}"), "success"),
        Standing::Deployed { environments, .. } => (
            format!(
                "deployed: {}",
                environments
                    .iter()
                    .map(|(name, ok)| format!("{name} {}", if *ok { "✓" } else { "✗" }))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            "success",
        ),
    };
    let mut summary = match standing {
        Standing::Deployed { tag, .. } => format!("Released in {tag}; {title}."),
        _ => format!("This pull request {}.", sentence(standing, &title)),
    };
    if let Some(url) = release_url {
        summary.push_str(&format!("\n\n[The release]({url})"));
    }
    CheckText {
        title,
        summary,
        conclusion,
    }
}

fn sentence(standing: &Standing, title: &str) -> String {
    match standing {
        Standing::Candidate { tag } => format!("is in the release candidate {tag}"),
        Standing::Riding { why } => format!("rides no train: {why}"),
        _ => title.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stage_reads_as_the_contributor_sees_it() {
        let titles: Vec<String> = [
            Standing::WillBoard {
                line: "main".into(),
                next: Some("v1.4.0".into()),
            },
            Standing::Boarded {
                tag: Some("v1.4.0".into()),
            },
            Standing::Frozen {
                tag: "v1.4.0".into(),
            },
            Standing::Candidate {
                tag: "v1.4.0-rc.2".into(),
            },
            Standing::Released {
                tag: "v1.4.0".into(),
            },
            Standing::Deployed {
                tag: "v1.4.0".into(),
                environments: vec![("staging".into(), true), ("production".into(), true)],
            },
        ]
        .iter()
        .map(|s| render(s, None).title)
        .collect();
        assert_eq!(
            titles,
            [
                "will board `main` when merged (next v1.4.0)",
                "boarded v1.4.0 (open)",
                "frozen in v1.4.0",
                "v1.4.0-rc.2",
                "released in v1.4.0",
                "deployed: staging ✓ production ✓",
            ]
        );
        let released = render(
            &Standing::Released {
                tag: "v1.4.0".into(),
            },
            Some("https://github.com/o/r/releases/tag/v1.4.0"),
        );
        assert_eq!(released.conclusion, "success");
        assert!(
            released
                .summary
                .ends_with("[The release](https://github.com/o/r/releases/tag/v1.4.0)")
        );
    }
}
