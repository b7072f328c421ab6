//! `/readyz`'s last verdict, kept so a probe polled every second need not queue for a store
//! connection.

use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The last verdict, shared by every request.
#[derive(Debug, Clone, Default)]
pub struct ReadinessCache(Arc<Mutex<Option<(Instant, Verdict)>>>);

/// What `/readyz` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The store answers and every migration is applied.
    Ready,
    /// These migrations are not applied yet.
    MigrationsPending(Vec<i64>),
    /// The store does not answer.
    Unreachable,
}

impl ReadinessCache {
    /// The last verdict and when it was reached.
    pub fn get(&self) -> Option<(Instant, Verdict)> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Keeps `verdict`, reached now.
    pub fn set(&self, verdict: Verdict) {
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some((Instant::now(), verdict));
    }
}
