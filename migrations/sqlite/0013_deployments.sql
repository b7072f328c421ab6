-- Deployments of a repository's releases, ours and others' (CI's deployments arrive as
-- `deployment` webhooks). Ours are requested by a command or automatically and carry their
-- request id in GitHub's payload, so a retry finds the deployment it already created.
CREATE TABLE deployments (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    repository   TEXT   NOT NULL,
    environment  TEXT   NOT NULL,
    request_id   TEXT   UNIQUE,
    github_id    BIGINT UNIQUE,
    train_id     BIGINT,
    version      TEXT,
    ref_name     TEXT   NOT NULL,
    sha          TEXT,
    requested_by TEXT   NOT NULL,
    rollback     BIGINT NOT NULL DEFAULT 0,
    forced_reason TEXT,
    -- requested (not yet on GitHub), refused (GitHub said no: reason), or GitHub's last
    -- status: created, queued, pending, in_progress, waiting, success, failure, error, inactive.
    state        TEXT   NOT NULL,
    reason       TEXT,
    url          TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX deployments_environment ON deployments (repository, environment, created_at);

-- One lock per environment: who holds it and why. It outlives deployments (failed or not) and
-- branches until someone unlocks it.
CREATE TABLE environment_locks (
    repository  TEXT   NOT NULL,
    environment TEXT   NOT NULL,
    owner       TEXT   NOT NULL,
    reason      TEXT   NOT NULL,
    locked_at   BIGINT NOT NULL,
    PRIMARY KEY (repository, environment)
);
