use super::grammar::{is_version, parse};
use super::*;

fn repo(name: &str) -> Option<RepoFullName> {
    Some(RepoFullName::parse(name).expect("repo"))
}

#[test]
fn every_command_in_help_parses_from_its_usage() {
    let text = help();
    for name in CommandName::ALL {
        assert!(text.contains(&name.usage()), "{text}");
        let example = match name {
            CommandName::Reject => "reject broken build".to_owned(),
            CommandName::Hotfix => "hotfix 1.2.0".to_owned(),
            CommandName::Include | CommandName::Exclude => format!("{} #4", name.as_str()),
            CommandName::Deploy => "deploy v1.2.0 to production".to_owned(),
            CommandName::Rollback | CommandName::Unlock => {
                format!("{} staging", name.as_str())
            }
            CommandName::Lock => "lock production database migration".to_owned(),
            CommandName::Verify => "verify staging skip the checks are down".to_owned(),
            _ => name.as_str().to_owned(),
        };
        assert_eq!(parse(&example).expect(&example).name(), name);
    }
}

#[test]
fn targets_lines_and_versions() {
    assert_eq!(
        parse("/release cut acme/api backend"),
        Ok(ChatCommand::Cut(Target {
            repo: repo("acme/api"),
            line: Some("backend".into())
        }))
    );
    assert_eq!(
        parse("approve acme/api v1.4.0"),
        Ok(ChatCommand::Approve {
            target: Target {
                repo: repo("acme/api"),
                line: None
            },
            version: Some("v1.4.0".into())
        })
    );
    assert_eq!(
        parse("APPROVE web 2026.11.0"),
        Ok(ChatCommand::Approve {
            target: Target {
                repo: None,
                line: Some("web".into())
            },
            version: Some("2026.11.0".into())
        })
    );
    assert_eq!(
        parse("reject 1.4.0 the migration is   not ready"),
        Ok(ChatCommand::Reject {
            target: Target::default(),
            version: Some("1.4.0".into()),
            reason: "the migration is not ready".into()
        })
    );
    assert_eq!(
        parse("include #12"),
        Ok(ChatCommand::Include {
            target: Target::default(),
            number: 12
        })
    );
    assert_eq!(
        parse("exclude acme/api api 12"),
        Ok(ChatCommand::Exclude {
            target: Target {
                repo: repo("acme/api"),
                line: Some("api".into())
            },
            number: 12
        })
    );
    assert_eq!(
        parse("link @octo-cat"),
        Ok(ChatCommand::Link {
            login: Some("octo-cat".into())
        })
    );
}

#[test]
fn deployment_commands_parse_with_or_without_to() {
    assert_eq!(
        parse("/release deploy acme/api latest to production"),
        Ok(ChatCommand::Deploy {
            target: Target {
                repo: repo("acme/api"),
                line: None
            },
            version: None,
            environment: "production".into(),
            force: None
        })
    );
    assert_eq!(
        parse("deploy v1.4.0 staging"),
        Ok(ChatCommand::Deploy {
            target: Target::default(),
            version: Some("v1.4.0".into()),
            environment: "staging".into(),
            force: None
        })
    );
    assert_eq!(
        parse("deploy 1.4.0 to production force outage fix"),
        Ok(ChatCommand::Deploy {
            target: Target::default(),
            version: Some("1.4.0".into()),
            environment: "production".into(),
            force: Some("outage fix".into())
        })
    );
    assert_eq!(
        parse("lock production db migration running"),
        Ok(ChatCommand::Lock {
            target: Target::default(),
            environment: "production".into(),
            reason: "db migration running".into()
        })
    );
    assert!(parse("deploy soon to production").is_err());
    assert!(parse("rollback a/b/c").is_err());
}

#[test]
fn errors_name_the_problem_and_suggest() {
    assert_eq!(
        parse("aprove").expect_err("typo").to_string(),
        "`aprove` is not a command (did you mean `approve`?); try `/release help`"
    );
    assert_eq!(
        parse("deploy acme/api")
            .expect_err("incomplete")
            .to_string(),
        "`deploy` needs a version and an environment: \
         `/release deploy [owner/repo] <version|latest> to <environment> [force <reason…>]`"
    );
    assert_eq!(
        parse("deploy 1.4.0 to")
            .expect_err("no environment")
            .to_string(),
        "`deploy` needs an environment: \
         `/release deploy [owner/repo] <version|latest> to <environment> [force <reason…>] \
         (after `to`)`"
    );
    assert_eq!(
        parse("lock production").expect_err("no reason").to_string(),
        "`lock` needs a reason: `/release lock [owner/repo] <environment> <reason…>`"
    );
    assert_eq!(
        parse("").expect_err("empty").to_string(),
        "no command given; try `/release help`"
    );
    assert_eq!(
        parse("include 12a").expect_err("bad").to_string(),
        "`12a` is not a pull request number (#123) (did you mean `#12`?): \
         `/release include [owner/repo] [line] #<pr>`"
    );
    assert_eq!(
        parse("reject").expect_err("reason").to_string(),
        "`reject` needs a reason: `/release reject [owner/repo] [line] [version] <reason…>`"
    );
    assert_eq!(
        parse("hotfix latest").expect_err("version").to_string(),
        "`latest` is not a version: `/release hotfix [owner/repo] <base-version>`"
    );
    assert!(matches!(
        parse("cut acme/api/x"),
        Err(ParseError::BadArgument {
            expected: "a repository (owner/name)",
            ..
        })
    ));
    assert!(matches!(
        parse("cut <!channel>"),
        Err(ParseError::BadArgument {
            expected: "a train line name",
            ..
        })
    ));
    assert!(matches!(
        parse("status a b"),
        Err(ParseError::BadArgument { .. })
    ));
    let long = "x".repeat(5000);
    let message = parse(&long).expect_err("long").to_string();
    assert!(message.len() < 120, "{message}");
}

#[test]
fn comment_commands_skip_code_and_quotes() {
    let body = "Thanks!\n/release include #12\n\n> /release cut\n\n```\n/release abandon\n```\n\n\
                Use `/release cut` to cut.\n\n    /release approve\n\n- /release status\n";
    assert_eq!(
        command_lines(body),
        ["/release include #12", "/release status"]
    );
    assert_eq!(
        new_command_lines(
            "/release include #12\n/release exclude #3",
            Some("/release include #12")
        ),
        ["/release exclude #3"]
    );
    assert!(command_lines("/released today").is_empty());
}

#[test]
fn versions() {
    for v in [
        "1.2.3",
        "v1.2.3",
        "api-v1.2.3-rc.1",
        "2026.11.0",
        "2026.11",
        "v1.0.0+b.1",
    ] {
        assert!(is_version(v), "{v}");
    }
    for v in ["latest", "1", "v1..2", "1.2.3.4", "<@U123>"] {
        assert!(!is_version(v), "{v}");
    }
}
