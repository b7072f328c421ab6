//! The queue's SQL where the two backends differ: claiming a candidate, adding a queue key,
//! inserting a job.

/// The oldest due job that may start now. Each queue key offers two: its head (the oldest job
/// that is neither dead nor parked) and its oldest parked job (one that failed and no longer
/// holds up the key's later work). Either may start when it is due and nothing of its key is
/// running; a running one whose lease expired (its worker died) is taken over. Two index
/// probes per key, whatever the backlog.
pub(super) const CLAIM_CANDIDATE_SQLITE: &str = "\
    SELECT j.id, j.kind, j.queue_key, j.payload, j.state, j.attempts, j.max_attempts, \
           j.transient_retries \
    FROM queue_keys k \
    JOIN jobs j ON j.id IN ( \
        (SELECT MIN(e.id) FROM jobs e \
         WHERE e.queue_key = k.queue_key AND e.state <> 'dead' AND e.parked = 0), \
        (SELECT MIN(p.id) FROM jobs p \
         WHERE p.queue_key = k.queue_key AND p.state <> 'dead' AND p.parked = 1)) \
    WHERE (j.state IN ('queued', 'retrying') AND j.run_at <= $1 \
           AND NOT EXISTS (SELECT 1 FROM jobs r \
                           WHERE r.queue_key = k.queue_key AND r.state = 'running')) \
       OR (j.state = 'running' AND j.locked_until <= $1) \
    ORDER BY j.id \
    LIMIT 1";

/// The same on PostgreSQL: `LATERAL` pins the plan to probes per key (with the correlated
/// form the planner may hash-join the whole backlog), and `SKIP LOCKED` lets replicas pass
/// a head another replica is claiming.
pub(super) const CLAIM_CANDIDATE_POSTGRES: &str = "\
    SELECT j.id, j.kind, j.queue_key, j.payload, j.state, j.attempts, j.max_attempts, \
           j.transient_retries \
    FROM queue_keys k \
    CROSS JOIN LATERAL ((SELECT e.id FROM jobs e \
                         WHERE e.queue_key = k.queue_key AND e.state <> 'dead' AND e.parked = 0 \
                         ORDER BY e.id LIMIT 1) \
                        UNION ALL \
                        (SELECT p.id FROM jobs p \
                         WHERE p.queue_key = k.queue_key AND p.state <> 'dead' AND p.parked = 1 \
                         ORDER BY p.id LIMIT 1)) head \
    JOIN jobs j ON j.id = head.id \
    WHERE (j.state IN ('queued', 'retrying') AND j.run_at <= $1 \
           AND NOT EXISTS (SELECT 1 FROM jobs r \
                           WHERE r.queue_key = k.queue_key AND r.state = 'running')) \
       OR (j.state = 'running' AND j.locked_until <= $1) \
    ORDER BY j.id \
    LIMIT 1 \
    FOR UPDATE OF j SKIP LOCKED";

/// Advisory lock between enqueues (shared) and forgetting idle keys (exclusive) on PostgreSQL:
/// "trainyar" as a number, written out in `ADD_QUEUE_KEY_POSTGRES` too.
pub(super) const QUEUE_KEYS_LOCK: i64 = 0x7472_6169_6e79_6172;

pub(super) const ADD_QUEUE_KEY_SQLITE: &str = "INSERT INTO queue_keys (queue_key, created_at) \
     VALUES ($1, $2) ON CONFLICT (queue_key) DO NOTHING";

pub(super) const ADD_QUEUE_KEY_POSTGRES: &str = "INSERT INTO queue_keys (queue_key, created_at) \
     SELECT $1, $2 FROM (SELECT pg_advisory_xact_lock_shared(8390876161197564274)) AS guard \
     ON CONFLICT (queue_key) DO NOTHING";

pub(super) const INSERT_JOB_SQLITE: &str = "INSERT INTO jobs (kind, queue_key, dedupe_key, payload, \
         state, attempts, max_attempts, run_at, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, $6, $6) \
     ON CONFLICT (dedupe_key) WHERE state = 'queued' DO NOTHING \
     RETURNING id, 0";

/// The CTE reads the key's jobs as they were before this insert.
pub(super) const INSERT_JOB_POSTGRES: &str = "WITH ahead AS (SELECT EXISTS (SELECT 1 FROM jobs \
         WHERE queue_key = $2 AND state <> 'dead') AS waiting) \
     INSERT INTO jobs (kind, queue_key, dedupe_key, payload, \
         state, attempts, max_attempts, run_at, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, $6, $6) \
     ON CONFLICT (dedupe_key) WHERE state = 'queued' DO NOTHING \
     RETURNING id, (SELECT CASE WHEN waiting THEN 1 ELSE 0 END FROM ahead)::BIGINT";
