-- Verification after a deployment (an environment's `verify`): one bake per successful
-- deployment of a release, checked at `every` until it ends. The row is the truth a restart
-- resumes from; each round is claimed by moving `next_check_at` on, and the bake ends by a
-- conditional update of `state`, so two replicas make one round and one rollback.
CREATE TABLE bakes (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repository      TEXT   NOT NULL,
    installation_id BIGINT NOT NULL,
    environment     TEXT   NOT NULL,
    -- Our deployments row that succeeded.
    deployment_id   BIGINT NOT NULL UNIQUE,
    train_id        BIGINT,
    version         TEXT   NOT NULL,
    tag             TEXT   NOT NULL,
    sha             TEXT   NOT NULL,
    -- baking, verified, breached, skipped, expired (no passing reading a day after its end),
    -- superseded (another deployment succeeded there meanwhile).
    state           TEXT   NOT NULL,
    started_at      BIGINT NOT NULL,
    ends_at         BIGINT NOT NULL,
    every_ms        BIGINT NOT NULL,
    next_check_at   BIGINT NOT NULL,
    rounds          BIGINT NOT NULL DEFAULT 0,
    -- The last round's readings, as told.
    last_reading    TEXT,
    -- Why it breached, or why an admin skipped it.
    reason          TEXT,
    -- Who ended it (`trainyard`, or the admin who skipped it).
    decided_by      TEXT,
    finished_at     BIGINT,
    -- A breach's rollback: its request id, and when it reported success (the restore).
    rollback_request TEXT UNIQUE,
    restored_at     BIGINT
);
CREATE INDEX bakes_due ON bakes (state, next_check_at);
-- The latest bake of an environment (names compared as GitHub does, case-insensitively).
CREATE INDEX bakes_latest ON bakes (repository, lower(environment), started_at);

-- Each round's Prometheus value (none when the query returned no series or could not be
-- read), for the dashboard's chart of a bake against its ceiling.
CREATE TABLE bake_readings (
    bake_id  BIGINT NOT NULL,
    round    BIGINT NOT NULL,
    at       BIGINT NOT NULL,
    value    DOUBLE PRECISION,
    healthy  BIGINT NOT NULL,
    PRIMARY KEY (bake_id, round)
);
