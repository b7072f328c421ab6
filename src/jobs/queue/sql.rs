//! The queue's SQL where the two backends differ: finding claim candidates (PostgreSQL: the
//! whole claim), adding a queue key, inserting a job.

/// A CTE `quick` on PostgreSQL that lets its statement's commit return before the disk has it
/// (the statement must join it, so it runs). For the queue's own bookkeeping only — claims
/// and completions — never for what a delivery or a step records: what it loses with
/// PostgreSQL's crash is a claim or a completion, and the job runs again, as it does when a
/// worker dies; any later durable commit flushes it anyway.
macro_rules! quick_commit {
    () => {
        "quick AS (SELECT set_config('synchronous_commit', 'off', true))"
    };
}

/// The keys with unfinished work, by a skip scan of `jobs_unfinished_by_key`: one index probe
/// per such key, however many idle keys the queue still remembers (they are kept a day).
macro_rules! active_keys {
    () => {
        "active(queue_key) AS ( \
            SELECT MIN(f.queue_key) FROM jobs f WHERE f.state <> 'dead' \
            UNION ALL \
            SELECT (SELECT MIN(n.queue_key) FROM jobs n \
                    WHERE n.state <> 'dead' AND n.queue_key > p.queue_key) \
            FROM active p WHERE p.queue_key IS NOT NULL)"
    };
}

/// SQLite: the heads that may start now, fairest first, at most `$2`. Each queue key with
/// work offers two: its head (the oldest job that is neither dead nor parked) and its oldest
/// parked job (one that failed and no longer holds up the key's later work); the older of
/// them that is due, with nothing of its key running, is the key's candidate (a running one
/// whose lease expired, its worker dead, is taken over). Candidates are ordered so that
/// groups (installations) take turns: each group's first candidate, least recently served
/// group first, then each group's second, and so on; within a group, urgent work first, then
/// the least recently served key. A few index probes per key with work, whatever the backlog.
pub(super) const CANDIDATES_SQLITE: &str = concat!(
    "WITH RECURSIVE ",
    active_keys!(),
    ", due AS ( \
        SELECT j.id, j.queue_key, j.state, j.attempts, j.max_attempts, j.priority, \
               k.group_key, k.served_at, \
               ROW_NUMBER() OVER (PARTITION BY k.queue_key ORDER BY j.id) AS nth_of_key \
        FROM active a JOIN queue_keys k ON k.queue_key = a.queue_key \
        JOIN jobs j ON j.id IN ( \
            (SELECT MIN(e.id) FROM jobs e \
             WHERE e.queue_key = k.queue_key AND e.state <> 'dead' AND e.parked = 0), \
            (SELECT MIN(p.id) FROM jobs p \
             WHERE p.queue_key = k.queue_key AND p.state <> 'dead' AND p.parked = 1)) \
        WHERE (j.state IN ('queued', 'retrying') AND j.run_at <= $1 \
               AND NOT EXISTS (SELECT 1 FROM jobs r \
                               WHERE r.queue_key = k.queue_key AND r.state = 'running')) \
           OR (j.state = 'running' AND j.locked_until <= $1)), \
     heads AS ( \
        SELECT d.*, ROW_NUMBER() OVER (PARTITION BY d.group_key \
                                       ORDER BY d.priority, d.served_at, d.id) AS turn \
        FROM due d WHERE d.nth_of_key = 1) \
     SELECT h.id, h.queue_key, h.state, h.attempts, h.max_attempts FROM heads h \
     ORDER BY h.turn, \
              (SELECT MAX(g.served_at) FROM queue_keys g WHERE g.group_key = h.group_key), \
              h.priority, h.served_at, h.id \
     LIMIT $2"
);

/// PostgreSQL: the whole claim in one statement, so one round trip and one commit lease a
/// worker round. The same candidates in the same order as on SQLite, `LATERAL` choosing each
/// key's candidate by index probes (joining heads back to `jobs` lets the planner hash-join
/// the whole backlog); the first `$3` of them whose keys no other claimer holds are locked
/// (`SKIP LOCKED`: replicas pass each other's keys rather than wait), started, and their keys
/// marked served (`$6`). A running candidate whose lease expired is taken over while it has
/// attempts left. Returns the started jobs (`what` 0), the expired ones out of attempts, for
/// the caller to bury (`what` 1), and one row (`what` 2) counting the candidates seen.
///
/// `$1` now, `$2` candidates to read, `$3` jobs wanted, `$4` lease token, `$5` lease end.
pub(super) const CLAIM_POSTGRES: &str = concat!(
    "WITH RECURSIVE ",
    quick_commit!(),
    ", ",
    active_keys!(),
    ", due AS ( \
        SELECT j.id, j.queue_key, j.state, j.attempts, j.max_attempts, j.priority, \
               k.group_key, k.served_at \
        FROM active a JOIN queue_keys k ON k.queue_key = a.queue_key \
        CROSS JOIN LATERAL ( \
            SELECT * FROM ( \
                (SELECT e.id, e.queue_key, e.state, e.attempts, e.max_attempts, e.priority, \
                        e.run_at, e.locked_until FROM jobs e \
                 WHERE e.queue_key = k.queue_key AND e.state <> 'dead' AND e.parked = 0 \
                 ORDER BY e.id LIMIT 1) \
                UNION ALL \
                (SELECT p.id, p.queue_key, p.state, p.attempts, p.max_attempts, p.priority, \
                        p.run_at, p.locked_until FROM jobs p \
                 WHERE p.queue_key = k.queue_key AND p.state <> 'dead' AND p.parked = 1 \
                 ORDER BY p.id LIMIT 1)) u \
            WHERE (u.state IN ('queued', 'retrying') AND u.run_at <= $1 \
                   AND NOT EXISTS (SELECT 1 FROM jobs r \
                                   WHERE r.queue_key = k.queue_key AND r.state = 'running')) \
               OR (u.state = 'running' AND u.locked_until <= $1) \
            ORDER BY u.id LIMIT 1) j), \
     heads AS ( \
        SELECT d.*, \
               ROW_NUMBER() OVER (PARTITION BY d.group_key \
                                  ORDER BY d.priority, d.served_at, d.id) AS turn, \
               (SELECT MAX(g.served_at) FROM queue_keys g \
                WHERE g.group_key = d.group_key) AS group_served \
        FROM due d), \
     candidates AS ( \
        SELECT h.id, h.queue_key, h.state, h.attempts, h.max_attempts, \
               ROW_NUMBER() OVER (ORDER BY h.turn, h.group_served, h.priority, \
                                           h.served_at, h.id) AS ord \
        FROM heads h ORDER BY ord LIMIT $2), \
     held AS ( \
        SELECT c.id, c.queue_key, c.state, c.attempts, c.max_attempts, c.ord \
        FROM candidates c JOIN queue_keys k ON k.queue_key = c.queue_key \
        ORDER BY c.ord LIMIT $3 \
        FOR UPDATE OF k SKIP LOCKED), \
     started AS ( \
        UPDATE jobs j SET state = 'running', attempts = j.attempts + 1, lease_token = $4, \
                          locked_until = $5, updated_at = $1 \
        FROM held h \
        WHERE j.id = h.id \
          AND ((j.state IN ('queued', 'retrying') AND j.run_at <= $1 \
                AND NOT EXISTS (SELECT 1 FROM jobs r \
                                WHERE r.queue_key = j.queue_key AND r.state = 'running')) \
               OR (j.state = 'running' AND j.locked_until <= $1 \
                   AND j.attempts < j.max_attempts)) \
        RETURNING j.id, j.kind, j.queue_key, j.payload, j.attempts, j.max_attempts, \
                  j.transient_retries, h.ord), \
     served AS ( \
        UPDATE queue_keys SET served_at = $6 FROM quick \
        WHERE queue_key IN (SELECT s.queue_key FROM started s)) \
     SELECT 0::BIGINT AS what, s.id, s.kind, s.queue_key, s.payload, s.attempts, \
            s.max_attempts, s.transient_retries, s.ord FROM started s \
     UNION ALL \
     SELECT 1::BIGINT, h.id, '', h.queue_key, '', h.attempts, h.max_attempts, 0::BIGINT, h.ord \
     FROM held h WHERE h.state = 'running' AND h.attempts >= h.max_attempts \
     UNION ALL \
     SELECT 2::BIGINT, COUNT(*), '', '', '', 0::BIGINT, 0::BIGINT, 0::BIGINT, 0::BIGINT \
     FROM candidates \
     ORDER BY what, ord"
);

/// The `WITH` clause of [`quick_commit!`] alone, for a statement that needs no other CTE.
pub(super) const QUICK_COMMIT_POSTGRES: &str = concat!("WITH ", quick_commit!(), " ");

/// Advisory lock between enqueues (shared) and forgetting idle keys (exclusive) on PostgreSQL:
/// "trainyar" as a number, written out in `ENQUEUE_POSTGRES` too.
pub(super) const QUEUE_KEYS_LOCK: i64 = 0x7472_6169_6e79_6172;

pub(super) const ADD_QUEUE_KEY_SQLITE: &str = "INSERT INTO queue_keys (queue_key, created_at, \
     group_key) VALUES ($1, $2, $3) ON CONFLICT (queue_key) DO NOTHING";

pub(super) const INSERT_JOB_SQLITE: &str = "INSERT INTO jobs (kind, queue_key, dedupe_key, payload, \
         state, attempts, max_attempts, run_at, created_at, updated_at, priority) \
     VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, $6, $6, $7) \
     ON CONFLICT (dedupe_key) WHERE state = 'queued' DO NOTHING \
     RETURNING id, 0";

/// The key (under the shared advisory lock, see [`QUEUE_KEYS_LOCK`]) and the job in one
/// statement: one round trip, and alone one commit. `ahead` reads the key's jobs as they were
/// before this insert. `$8` is the key's group.
pub(super) const ENQUEUE_POSTGRES: &str = "\
    WITH guard AS (SELECT pg_advisory_xact_lock_shared(8390876161197564274)), \
    added_key AS (INSERT INTO queue_keys (queue_key, created_at, group_key) \
        SELECT $2, $6, $8 FROM guard ON CONFLICT (queue_key) DO NOTHING), \
    ahead AS (SELECT EXISTS (SELECT 1 FROM jobs \
        WHERE queue_key = $2 AND state <> 'dead') AS waiting) \
    INSERT INTO jobs (kind, queue_key, dedupe_key, payload, \
        state, attempts, max_attempts, run_at, created_at, updated_at, priority) \
    SELECT $1, $2, $3, $4, 'queued', 0, $5, $6, $6, $6, $7 FROM guard \
    ON CONFLICT (dedupe_key) WHERE state = 'queued' DO NOTHING \
    RETURNING id, (SELECT CASE WHEN waiting THEN 1 ELSE 0 END FROM ahead)::BIGINT";

/// Starts the candidates (by id, listed after the first three parameters) that are still
/// due with nothing of their key running: the claim holds their keys, so no other claimer
/// starts work of them meanwhile.
pub(super) fn start_jobs(count: usize) -> String {
    format!(
        "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_token = $1, \
                locked_until = $2, updated_at = $3 \
         WHERE id IN ({}) AND state IN ('queued', 'retrying') AND run_at <= $3 \
           AND NOT EXISTS (SELECT 1 FROM jobs r \
                           WHERE r.queue_key = jobs.queue_key AND r.state = 'running') \
         RETURNING id, kind, queue_key, payload, attempts, max_attempts, transient_retries",
        placeholders(4, count)
    )
}

/// `$from, $from+1, …` for `count` parameters.
pub(super) fn placeholders(from: usize, count: usize) -> String {
    (from..from + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}
