-- The release gate. Each request of trainyard's deployment protection rule (one workflow run's
-- job for one environment), decided once it arrives and again while it waits: redelivered
-- webhooks find the row, and the answer sent to GitHub is an effect step keyed by it.
CREATE TABLE gate_reviews (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repository      TEXT   NOT NULL,
    installation_id BIGINT NOT NULL,
    run_id          BIGINT NOT NULL,
    environment     TEXT   NOT NULL,
    sha             TEXT   NOT NULL,
    ref_name        TEXT,
    -- Who started the workflow run (GitHub's sender).
    requested_by    TEXT   NOT NULL,
    -- The event that started the run (push, workflow_dispatch, deployment, …).
    run_event       TEXT,
    train_id        BIGINT,
    -- deciding (just arrived), waiting (not yet), approved, rejected.
    state           TEXT   NOT NULL,
    reason          TEXT,
    -- What a waiting review waits for: unlock, window_end, required, approval.
    wait_for        TEXT,
    -- For window_end: when the freeze ends (epoch ms); the sweep decides it again then.
    recheck_at      BIGINT,
    requested_at    BIGINT NOT NULL,
    answered_at     BIGINT,
    UNIQUE (repository, run_id, environment)
);
CREATE INDEX gate_reviews_waiting ON gate_reviews (state, recheck_at);
CREATE INDEX gate_reviews_train ON gate_reviews (repository, train_id);

-- Bearer tokens for the gate API, one or more per repository, issued by the operator
-- (`trainyard token issue --repo …`). Only the SHA-256 of a token is kept.
CREATE TABLE api_tokens (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repository  TEXT   NOT NULL,
    token_hash  TEXT   NOT NULL UNIQUE,
    label       TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
