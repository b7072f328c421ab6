use super::sql::{ADD_QUEUE_KEY_POSTGRES, QUEUE_KEYS_LOCK};

#[test]
fn enqueue_and_forget_take_the_same_advisory_lock() {
    assert!(
        ADD_QUEUE_KEY_POSTGRES
            .contains(&format!("pg_advisory_xact_lock_shared({QUEUE_KEYS_LOCK})"))
    );
}
