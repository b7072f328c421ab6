-- The queue keys (repositories) that have, or recently had, work. Claiming walks these and
-- looks only at the oldest unfinished job of each, so a backlog of thousands of jobs for one
-- repository costs one index probe per key rather than a scan of the backlog.
CREATE TABLE queue_keys (
    queue_key  TEXT   PRIMARY KEY,
    created_at BIGINT NOT NULL
);
INSERT INTO queue_keys (queue_key, created_at)
    SELECT queue_key, MIN(created_at) FROM jobs GROUP BY queue_key;

-- The head of each key: the oldest job that is not dead.
CREATE INDEX jobs_unfinished_by_key ON jobs (queue_key, id) WHERE state <> 'dead';

-- Claims no longer scan jobs by key order or due time; fewer indexes make every write cheaper.
DROP INDEX jobs_queue_order;
DROP INDEX jobs_due;
