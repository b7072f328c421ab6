-- Fair claims: each queue key belongs to a group (the account the App is installed on, the
-- owner in `owner/name`) and remembers when a worker last took a job of it (`served_at`, in
-- microseconds, strictly increasing within a process). Claims take
-- groups in turn, then keys in turn; within a group, commands, releases and deployments
-- (priority 0) go before routine work (1).
ALTER TABLE queue_keys ADD COLUMN group_key TEXT NOT NULL DEFAULT '';
ALTER TABLE queue_keys ADD COLUMN served_at BIGINT NOT NULL DEFAULT 0;
UPDATE queue_keys SET group_key = queue_key;
CREATE INDEX queue_keys_by_group ON queue_keys (group_key, served_at);
ALTER TABLE jobs ADD COLUMN priority BIGINT NOT NULL DEFAULT 1;

-- GitHub's budgets per installation, shared by every replica: the row is also what takers
-- of the content budget serialise on. A secondary-limit answer pauses the installation's
-- writes until `writes_paused_until` (epoch ms).
CREATE TABLE installation_budgets (
    installation_id     BIGINT PRIMARY KEY,
    writes_paused_until BIGINT NOT NULL DEFAULT 0,
    paused_reason       TEXT,
    updated_at          BIGINT NOT NULL
);

-- Content-creating writes (comments, releases, tags, deployments, check runs) of the last
-- hour: a sliding log, so "at most N in any minute, M in any hour" holds exactly.
CREATE TABLE content_writes (
    installation_id BIGINT NOT NULL,
    written_at      BIGINT NOT NULL
);
CREATE INDEX content_writes_by_installation ON content_writes (installation_id, written_at);

-- A queue table churns three row versions a job: vacuum it early, so claims do not walk
-- dead index entries (where autovacuum is on, as on any production PostgreSQL).
ALTER TABLE jobs SET (autovacuum_vacuum_scale_factor = 0.0, autovacuum_vacuum_threshold = 5000,
                      autovacuum_vacuum_cost_delay = 0);
ALTER TABLE queue_keys SET (autovacuum_vacuum_scale_factor = 0.0,
                            autovacuum_vacuum_threshold = 5000);
