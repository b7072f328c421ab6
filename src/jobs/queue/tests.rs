use super::sql::{ENQUEUE_POSTGRES, QUEUE_KEYS_LOCK};

#[test]
fn enqueue_and_forget_take_the_same_advisory_lock() {
    assert!(ENQUEUE_POSTGRES.contains(&format!("pg_advisory_xact_lock_shared({QUEUE_KEYS_LOCK})")));
}
