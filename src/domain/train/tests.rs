use super::*;

#[test]
fn approvers_are_the_same_person_whatever_the_case_of_their_login() {
    let approvals = [Approval {
        login: "Maya".into(),
    }];
    let view = TrainView {
        state: TrainState::Frozen,
        boarded: &[1],
        cut_by: Some("Carol"),
        approvals: &approvals,
        candidates: None,
    };
    let rules = ApprovalRules {
        required: 2,
        permission: Permission::Write,
        allow_self_approval: false,
    };
    let facts = CommandFacts {
        permission: Some(Permission::Admin),
        ..CommandFacts::default()
    };
    assert_eq!(
        decide(&view, &TrainCommand::Approve, "maya", &facts, &rules),
        Err(Refusal::AlreadyApproved("maya".into()))
    );
    assert_eq!(
        decide(&view, &TrainCommand::Approve, "CAROL", &facts, &rules),
        Err(Refusal::SelfApproval("CAROL".into()))
    );
    assert_eq!(
        decide(&view, &TrainCommand::Approve, "dave", &facts, &rules),
        Ok(Transition::Approved { complete: true })
    );
}

#[test]
fn commands_pick_the_open_or_the_oldest_frozen_train() {
    use TrainState::{Frozen, Open};
    let live = [Open, Frozen, Frozen];
    assert_eq!(select_train(&TrainCommand::Cut, &live), Some(0));
    assert_eq!(select_train(&TrainCommand::Approve, &live), Some(2));
    assert_eq!(select_train(&TrainCommand::Abandon, &live), Some(2));
    assert_eq!(
        select_train(&TrainCommand::Include { number: 1 }, &[Open]),
        Some(0)
    );
    assert_eq!(select_train(&TrainCommand::Cut, &[Frozen]), None);
    assert_eq!(select_train(&TrainCommand::Approve, &[]), None);
    let hotfix = TrainCommand::Hotfix {
        base: "1.0.0".into(),
    };
    assert_eq!(select_train(&hotfix, &live), None);
}

fn rules() -> BoardingRules {
    BoardingRules::of(
        &LineKeys {
            name: "main".into(),
            ..LineKeys::default()
        },
        "main",
    )
}

fn labels(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

fn facts<'a>(labels: &'a [String], files: &'a [String]) -> BoardingFacts<'a> {
    BoardingFacts {
        merged: true,
        base_ref: "main",
        labels,
        changed_files: files,
    }
}

#[test]
fn boarding_needs_a_merge_into_the_line_with_the_label_and_without_the_skip_label() {
    let release = labels(&["release"]);
    assert_eq!(boarding(&rules(), &facts(&release, &[])), Boarding::Boards);
    let none = labels(&[]);
    assert_eq!(
        boarding(&rules(), &facts(&none, &[])),
        Boarding::Stays("does not carry the boarding label")
    );
    let both = labels(&["release", "no-release"]);
    assert_eq!(
        boarding(&rules(), &facts(&both, &[])),
        Boarding::Stays("carries the skip label")
    );
    let mut unmerged = facts(&release, &[]);
    unmerged.merged = false;
    assert_eq!(boarding(&rules(), &unmerged), Boarding::Stays("not merged"));
    let mut elsewhere = facts(&release, &[]);
    elsewhere.base_ref = "develop";
    assert_eq!(
        boarding(&rules(), &elsewhere),
        Boarding::Stays("merged into another branch")
    );
}

#[test]
fn include_all_and_path_scoped_lines() {
    let mut all = rules();
    all.include = Include::All;
    assert_eq!(boarding(&all, &facts(&[], &[])), Boarding::Boards);
    all.paths = vec!["services/api/**".into()];
    let api = labels(&["services/api/src/main.rs"]);
    let web = labels(&["services/web/index.ts"]);
    assert_eq!(boarding(&all, &facts(&[], &api)), Boarding::Boards);
    assert_eq!(
        boarding(&all, &facts(&[], &web)),
        Boarding::Stays("touches none of the line's paths")
    );
}

fn view<'a>(state: TrainState, boarded: &'a [u64], approvals: &'a [Approval]) -> TrainView<'a> {
    TrainView {
        state,
        boarded,
        cut_by: Some("carol"),
        approvals,
        candidates: None,
    }
}

fn maintainer() -> CommandFacts {
    CommandFacts {
        permission: Some(Permission::Maintain),
        ..CommandFacts::default()
    }
}

#[test]
fn cut_needs_passengers_and_an_open_train() {
    let r = ApprovalRules::default();
    assert_eq!(
        decide(
            &view(TrainState::Open, &[], &[]),
            &TrainCommand::Cut,
            "carol",
            &maintainer(),
            &r
        ),
        Err(Refusal::Empty)
    );
    assert_eq!(
        decide(
            &view(TrainState::Open, &[1], &[]),
            &TrainCommand::Cut,
            "carol",
            &maintainer(),
            &r
        ),
        Ok(Transition::Freeze)
    );
    let refused = decide(
        &view(TrainState::Frozen, &[1], &[]),
        &TrainCommand::Cut,
        "carol",
        &maintainer(),
        &r,
    )
    .expect_err("already cut");
    assert_eq!(
        refused.to_string(),
        "`cut` is not possible: the train is frozen; it is already cut"
    );
}

#[test]
fn abandoning_takes_the_approval_level_and_cutting_write() {
    let r = ApprovalRules::default();
    let writer = CommandFacts {
        permission: Some(Permission::Write),
        ..CommandFacts::default()
    };
    let refused = decide(
        &view(TrainState::Frozen, &[1], &[]),
        &TrainCommand::Abandon,
        "carol",
        &writer,
        &r,
    )
    .expect_err("write is not enough");
    assert_eq!(
        refused.to_string(),
        "`abandon` needs maintain permission on the repository; carol has write"
    );
    assert_eq!(
        decide(
            &view(TrainState::Frozen, &[1], &[]),
            &TrainCommand::Abandon,
            "maya",
            &maintainer(),
            &r
        ),
        Ok(Transition::Abandon)
    );
    assert_eq!(
        decide(
            &view(TrainState::Open, &[1], &[]),
            &TrainCommand::Cut,
            "carol",
            &writer,
            &r
        ),
        Ok(Transition::Freeze)
    );
}

#[test]
fn approval_checks_role_state_duplicates_self_and_count() {
    let r = ApprovalRules {
        required: 2,
        ..ApprovalRules::default()
    };
    let reader = CommandFacts {
        permission: Some(Permission::Read),
        ..CommandFacts::default()
    };
    let refused = decide(
        &view(TrainState::Frozen, &[1], &[]),
        &TrainCommand::Approve,
        "dave",
        &reader,
        &r,
    )
    .expect_err("read-only");
    assert_eq!(
        refused.to_string(),
        "`approve` needs maintain permission on the repository; dave has read"
    );
    assert_eq!(
        decide(
            &view(TrainState::Open, &[1], &[]),
            &TrainCommand::Approve,
            "alice",
            &maintainer(),
            &r
        )
        .expect_err("open")
        .to_string(),
        "`approve` is not possible: the train is open; cut it first"
    );
    assert_eq!(
        decide(
            &view(TrainState::Frozen, &[1], &[]),
            &TrainCommand::Approve,
            "carol",
            &maintainer(),
            &r
        ),
        Err(Refusal::SelfApproval("carol".into()))
    );
    let one = [Approval {
        login: "alice".into(),
    }];
    assert_eq!(
        decide(
            &view(TrainState::Frozen, &[1], &one),
            &TrainCommand::Approve,
            "alice",
            &maintainer(),
            &r
        ),
        Err(Refusal::AlreadyApproved("alice".into()))
    );
    assert_eq!(
        decide(
            &view(TrainState::Frozen, &[1], &[]),
            &TrainCommand::Approve,
            "alice",
            &maintainer(),
            &r
        ),
        Ok(Transition::Approved { complete: false })
    );
    assert_eq!(
        decide(
            &view(TrainState::Frozen, &[1], &one),
            &TrainCommand::Approve,
            "bob",
            &maintainer(),
            &r
        ),
        Ok(Transition::Approved { complete: true })
    );
}

#[test]
fn include_on_a_frozen_train_only_inside_the_frozen_range() {
    let r = ApprovalRules::default();
    let mut f = maintainer();
    f.merged_into_line = true;
    let frozen = view(TrainState::Frozen, &[1], &[]);
    assert_eq!(
        decide(
            &frozen,
            &TrainCommand::Include { number: 7 },
            "alice",
            &f,
            &r
        ),
        Err(Refusal::OutsideFrozenRange(7))
    );
    f.in_frozen_range = true;
    assert_eq!(
        decide(
            &frozen,
            &TrainCommand::Include { number: 7 },
            "alice",
            &f,
            &r
        ),
        Ok(Transition::Board(7))
    );
    assert_eq!(
        decide(
            &frozen,
            &TrainCommand::Exclude { number: 9 },
            "alice",
            &f,
            &r
        ),
        Err(Refusal::Membership {
            number: 9,
            aboard: false
        })
    );
}

#[test]
fn the_whole_draft_body_fits_githubs_limit() {
    let trailer = "\n\n<!-- trainyard:train:7 -->\n";
    let notes = "* a change that is described at length\n".repeat(4_000);
    let highlights = format!(
        "{}\n\n{GENERATED_MARKER}\nold",
        "Big release! ".repeat(1_000)
    );
    let body = merge_draft_body(Some(&highlights), &notes, trailer);
    assert_eq!(body.chars().count(), RELEASE_BODY_LIMIT);
    assert!(body.starts_with("Big release! "), "the highlights stay");
    assert!(body.ends_with(trailer), "the train's marker stays");
    assert!(body.contains("shortened to fit GitHub's 125000-character limit"));
    // Highlights alone over the limit: cut, with room for notes and both markers.
    let huge = format!("{}{GENERATED_MARKER}\n", "x".repeat(200_000));
    let body = merge_draft_body(Some(&huge), &notes, trailer);
    assert_eq!(body.chars().count(), RELEASE_BODY_LIMIT);
    assert!(body.contains(GENERATED_MARKER) && body.ends_with(trailer));
    assert!(body.contains("* a change"));
    // Small bodies are untouched.
    assert_eq!(
        merge_draft_body(None, "* one", trailer),
        format!("{GENERATED_MARKER}\n* one{trailer}")
    );
}

#[test]
fn maintainers_highlights_above_the_marker_survive() {
    let first = merge_draft_body(None, "* one", "");
    assert_eq!(first, format!("{GENERATED_MARKER}\n* one"));
    let edited = format!("Big release!\n\n{first}");
    assert_eq!(
        merge_draft_body(Some(&edited), "* one\n* two", ""),
        format!("Big release!\n\n{GENERATED_MARKER}\n* one\n* two")
    );
}
