//! The queue's SQL where the two backends differ: finding claim candidates, adding a queue
//! key, inserting a job.

/// The heads that may start now, fairest first, at most `$2`. Each queue key offers two: its
/// head (the oldest job that is neither dead nor parked) and its oldest parked job (one that
/// failed and no longer holds up the key's later work); the older of them that is due, with
/// nothing of its key running, is the key's candidate (a running one whose lease expired, its
/// worker dead, is taken over). Candidates are ordered so that groups (installations) take
/// turns: each group's first candidate, least recently served group first, then each group's
/// second, and so on; within a group, urgent work first, then the least recently served key.
/// Two index probes per key, whatever the backlog.
macro_rules! candidates {
    ($heads:literal) => {
        concat!(
            "WITH due AS ( \
                SELECT j.id, j.queue_key, j.state, j.attempts, j.max_attempts, j.priority, \
                       k.group_key, k.served_at, \
                       ROW_NUMBER() OVER (PARTITION BY k.queue_key ORDER BY j.id) AS nth_of_key \
                FROM queue_keys k ",
            $heads,
            " WHERE (j.state IN ('queued', 'retrying') AND j.run_at <= $1 \
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
        )
    };
}

/// SQLite: a key's two heads by correlated `MIN` probes.
pub(super) const CANDIDATES_SQLITE: &str = candidates!(
    "JOIN jobs j ON j.id IN ( \
        (SELECT MIN(e.id) FROM jobs e \
         WHERE e.queue_key = k.queue_key AND e.state <> 'dead' AND e.parked = 0), \
        (SELECT MIN(p.id) FROM jobs p \
         WHERE p.queue_key = k.queue_key AND p.state <> 'dead' AND p.parked = 1))"
);

/// PostgreSQL: the same candidates and order, with `LATERAL` choosing each key's candidate
/// by index probes (joining heads back to `jobs` lets the planner hash-join the whole
/// backlog: 2 ms a claim at 500 jobs; this form takes 0.6 ms). No row locks here: the claim
/// then locks the candidates' keys with `SKIP LOCKED`, so replicas pass keys another one is
/// claiming.
pub(super) const CANDIDATES_POSTGRES: &str = "\
    WITH due AS ( \
        SELECT j.id, j.queue_key, j.state, j.attempts, j.max_attempts, j.priority, \
               k.group_key, k.served_at \
        FROM queue_keys k \
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
        SELECT d.*, ROW_NUMBER() OVER (PARTITION BY d.group_key \
                                       ORDER BY d.priority, d.served_at, d.id) AS turn \
        FROM due d) \
    SELECT h.id, h.queue_key, h.state, h.attempts, h.max_attempts FROM heads h \
    ORDER BY h.turn, \
             (SELECT MAX(g.served_at) FROM queue_keys g WHERE g.group_key = h.group_key), \
             h.priority, h.served_at, h.id \
    LIMIT $2";

/// Advisory lock between enqueues (shared) and forgetting idle keys (exclusive) on PostgreSQL:
/// "trainyar" as a number, written out in `ADD_QUEUE_KEY_POSTGRES` too.
pub(super) const QUEUE_KEYS_LOCK: i64 = 0x7472_6169_6e79_6172;

pub(super) const ADD_QUEUE_KEY_SQLITE: &str = "INSERT INTO queue_keys (queue_key, created_at, \
     group_key) VALUES ($1, $2, $3) ON CONFLICT (queue_key) DO NOTHING";

pub(super) const ADD_QUEUE_KEY_POSTGRES: &str = "INSERT INTO queue_keys (queue_key, created_at, \
     group_key) SELECT $1, $2, $3 \
     FROM (SELECT pg_advisory_xact_lock_shared(8390876161197564274)) AS guard \
     ON CONFLICT (queue_key) DO NOTHING";

pub(super) const INSERT_JOB_SQLITE: &str = "INSERT INTO jobs (kind, queue_key, dedupe_key, payload, \
         state, attempts, max_attempts, run_at, created_at, updated_at, priority) \
     VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, $6, $6, $7) \
     ON CONFLICT (dedupe_key) WHERE state = 'queued' DO NOTHING \
     RETURNING id, 0";

/// The CTE reads the key's jobs as they were before this insert.
pub(super) const INSERT_JOB_POSTGRES: &str = "WITH ahead AS (SELECT EXISTS (SELECT 1 FROM jobs \
         WHERE queue_key = $2 AND state <> 'dead') AS waiting) \
     INSERT INTO jobs (kind, queue_key, dedupe_key, payload, \
         state, attempts, max_attempts, run_at, created_at, updated_at, priority) \
     VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, $6, $6, $7) \
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
