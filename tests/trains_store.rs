//! The trains store on both backends: one open train per line even under concurrent
//! deliveries, passengers, single cut, one approval per person, reopen, idempotent release
//! steps, and a scheduled slot that fires once across two "replicas".

mod harness;

use trainyard::domain::ids::RepoFullName;
use trainyard::domain::train::TrainState;
use trainyard::store::trains::{self, Boarding, Cut, Step};

use harness::TestDb;

fn repo() -> RepoFullName {
    RepoFullName::parse("acme/api").expect("repo")
}

fn pr(number: u64) -> Boarding<'static> {
    Boarding {
        number,
        title: "Add thing",
        author: Some("alice"),
        merge_sha: Some("abc"),
        merged_at: Some("2026-11-27T09:00:00Z"),
        labels: &[],
        body: "",
        changed_files: None,
    }
}

async fn fifty_deliveries_at_once_start_one_open_train(test: TestDb) {
    let mut tasks = Vec::new();
    for i in 0..50 {
        let db = test.db.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = db.conn().await?;
            let train = trains::open_train(&mut conn, &repo(), "main", "main", i).await?;
            trains::board(&mut conn, train.id, &pr(i as u64 + 1), i).await?;
            Ok::<i64, trainyard::store::StoreError>(train.id)
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.expect("task").expect("open and board"));
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one train for the line: {ids:?}");
    let open = trains::in_states(&test.db, &repo(), &[TrainState::Open])
        .await
        .expect("list");
    assert_eq!(open.len(), 1);
    assert_eq!(
        trains::passengers(&test.db, ids[0])
            .await
            .expect("passengers")
            .len(),
        50
    );
}

async fn a_train_is_cut_once_approved_once_per_person_and_reopened_on_reject(test: TestDb) {
    let db = &test.db;
    let train = trains::open_train(
        &mut db.conn().await.expect("connection"),
        &repo(),
        "main",
        "main",
        1,
    )
    .await
    .expect("open");
    assert!(
        trains::board(
            &mut db.conn().await.expect("connection"),
            train.id,
            &pr(7),
            1
        )
        .await
        .expect("board")
    );
    assert!(
        !trains::board(
            &mut db.conn().await.expect("connection"),
            train.id,
            &pr(7),
            2
        )
        .await
        .expect("again"),
        "already aboard"
    );
    let on = trains::live_train_of(db, &repo(), 7)
        .await
        .expect("lookup")
        .expect("aboard");
    assert_eq!(on.id, train.id);

    let cut = Cut {
        version: "1.4.0",
        tag_name: "v1.4.0",
        target_sha: "f00d",
        baseline_tag: Some("v1.3.0"),
        cut_by: "carol",
    };
    assert!(
        trains::freeze(&mut db.conn().await.expect("connection"), train.id, &cut, 3)
            .await
            .expect("cut")
    );
    assert!(
        !trains::freeze(&mut db.conn().await.expect("connection"), train.id, &cut, 4)
            .await
            .expect("cut again"),
        "cut once"
    );
    let frozen = trains::get(db, train.id).await.expect("get").expect("row");
    assert_eq!(frozen.state(), TrainState::Frozen);
    assert_eq!(frozen.target_sha.as_deref(), Some("f00d"));

    assert!(
        trains::approve(
            &mut db.conn().await.expect("connection"),
            train.id,
            "alice",
            5
        )
        .await
        .expect("approve")
    );
    assert!(
        !trains::approve(
            &mut db.conn().await.expect("connection"),
            train.id,
            "alice",
            6
        )
        .await
        .expect("twice")
    );
    assert_eq!(
        trains::approvals(db, train.id)
            .await
            .expect("approvals")
            .len(),
        1
    );

    assert!(
        trains::reopen(
            &mut db.conn().await.expect("connection"),
            train.id,
            "missing changelog",
            7
        )
        .await
        .expect("reject")
    );
    let reopened = trains::get(db, train.id).await.expect("get").expect("row");
    assert_eq!(reopened.state(), TrainState::Open);
    assert_eq!(reopened.version, None);
    assert_eq!(
        reopened.rejected_reason.as_deref(),
        Some("missing changelog")
    );
    assert!(
        trains::approvals(db, train.id)
            .await
            .expect("approvals")
            .is_empty()
    );

    // With another open train on the line, a reject cannot reopen this one.
    assert!(
        trains::freeze(&mut db.conn().await.expect("connection"), train.id, &cut, 8)
            .await
            .expect("cut")
    );
    let next = trains::open_train(
        &mut db.conn().await.expect("connection"),
        &repo(),
        "main",
        "main",
        9,
    )
    .await
    .expect("next");
    assert_ne!(next.id, train.id);
    assert!(
        !trains::reopen(
            &mut db.conn().await.expect("connection"),
            train.id,
            "again",
            10
        )
        .await
        .expect("reject")
    );
    assert!(
        trains::leave(&mut db.conn().await.expect("connection"), train.id, 7, 11)
            .await
            .expect("leave")
    );
    assert!(
        trains::live_train_of(db, &repo(), 7)
            .await
            .expect("lookup")
            .is_none()
    );
}

async fn release_steps_and_comments_are_recorded_once(test: TestDb) {
    let db = &test.db;
    let train = trains::open_train(
        &mut db.conn().await.expect("connection"),
        &repo(),
        "main",
        "main",
        1,
    )
    .await
    .expect("open");
    trains::mark_step(
        &mut db.conn().await.expect("connection"),
        train.id,
        Step::TagCreated,
        10,
    )
    .await
    .expect("tag");
    trains::mark_step(
        &mut db.conn().await.expect("connection"),
        train.id,
        Step::TagCreated,
        20,
    )
    .await
    .expect("tag again");
    let row = trains::get(db, train.id).await.expect("get").expect("row");
    assert_eq!(row.tag_created_at, Some(10), "the first time stays");
    assert!(
        trains::record_release_comment(&mut db.conn().await.expect("connection"), train.id, 7, 99)
            .await
            .expect("comment")
    );
    assert!(
        !trains::record_release_comment(
            &mut db.conn().await.expect("connection"),
            train.id,
            7,
            100
        )
        .await
        .expect("again")
    );
    assert_eq!(
        trains::commented(db, train.id).await.expect("commented"),
        vec![7]
    );
}

async fn a_scheduled_slot_fires_once_across_two_replicas(test: TestDb) {
    let other = test.reopen().await;
    let repo = repo();
    let mut wins = 0;
    let (a, b) = tokio::join!(
        trains::claim_slot(&test.db, &repo, "main", 1_800_000, 1),
        trains::claim_slot(&other, &repo, "main", 1_800_000, 2),
    );
    wins += usize::from(a.expect("a")) + usize::from(b.expect("b"));
    assert_eq!(wins, 1);
    assert!(
        trains::claim_slot(&other, &repo, "main", 3_600_000, 3)
            .await
            .expect("next slot")
    );
    other.close().await;
}

on_both_backends!(
    fifty_deliveries_at_once_start_one_open_train,
    a_train_is_cut_once_approved_once_per_person_and_reopened_on_reject,
    release_steps_and_comments_are_recorded_once,
    a_scheduled_slot_fires_once_across_two_replicas,
);
