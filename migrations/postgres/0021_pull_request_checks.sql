-- The `trainyard` check run of each pull request trainyard has seen: what it knows of the
-- pull request (kept from its webhooks), the check run on its head commit, the text last sent,
-- and a generation counter bumped whenever its standing may have changed (a sync clears it
-- only if nothing bumped it meanwhile).
CREATE TABLE pr_checks (
    repository      TEXT   NOT NULL,
    number          BIGINT NOT NULL,
    installation_id BIGINT NOT NULL,
    head_sha        TEXT   NOT NULL,
    base_ref        TEXT   NOT NULL,
    default_branch  TEXT,
    labels          TEXT   NOT NULL DEFAULT '[]',
    merged          BIGINT NOT NULL DEFAULT 0,
    closed          BIGINT NOT NULL DEFAULT 0,
    -- When the webhook the row was last taken from was received: older ones change nothing.
    event_at        BIGINT NOT NULL DEFAULT 0,
    check_run_id    BIGINT,
    sent_title      TEXT,
    sent_summary    TEXT,
    sent_at         BIGINT,
    dirty           BIGINT NOT NULL DEFAULT 1,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (repository, number)
);
CREATE INDEX pr_checks_dirty ON pr_checks (repository, dirty);

-- Each installation's budget of content-creating writes trainyard paces itself by (GitHub's
-- secondary limits: 80 a minute, 500 an hour), counted per window on the store, so every
-- replica shares it.
CREATE TABLE write_budgets (
    installation_id BIGINT NOT NULL,
    window_name     TEXT   NOT NULL,
    window_start    BIGINT NOT NULL,
    used            BIGINT NOT NULL,
    PRIMARY KEY (installation_id, window_name)
);
