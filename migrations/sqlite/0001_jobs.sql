-- Durable job queue. Times are Unix epoch milliseconds (the same on both backends).
-- Finished jobs are deleted; dead jobs stay with their last error for operators.
CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT    NOT NULL,
    queue_key    TEXT    NOT NULL,
    dedupe_key   TEXT,
    payload      TEXT    NOT NULL,
    state        TEXT    NOT NULL DEFAULT 'queued'
                 CHECK (state IN ('queued', 'running', 'retrying', 'dead')),
    attempts     BIGINT  NOT NULL DEFAULT 0,
    max_attempts BIGINT  NOT NULL,
    run_at       BIGINT  NOT NULL,
    lease_token  TEXT,
    locked_until BIGINT,
    last_error   TEXT,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL
);

-- At most one not-yet-started copy of a deduplicated job.
CREATE UNIQUE INDEX jobs_dedupe_key ON jobs (dedupe_key) WHERE state = 'queued';
-- At most one running job per queue key, enforced by the database itself.
CREATE UNIQUE INDEX jobs_one_running_per_key ON jobs (queue_key) WHERE state = 'running';
CREATE INDEX jobs_queue_order ON jobs (queue_key, id);
CREATE INDEX jobs_due ON jobs (state, run_at);
