-- Release trains. One open train per line at most (partial unique index), so two deliveries
-- racing to start a line's train cannot make two. Times are epoch milliseconds.
CREATE TABLE trains (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    repository       TEXT   NOT NULL,
    line             TEXT   NOT NULL,
    kind             TEXT   NOT NULL DEFAULT 'regular' CHECK (kind IN ('regular', 'hotfix')),
    state            TEXT   NOT NULL DEFAULT 'open'
                     CHECK (state IN ('open', 'frozen', 'approved', 'released', 'abandoned', 'blocked')),
    branch           TEXT   NOT NULL,
    -- Frozen at the cut: the version, its tag and the commit the tag goes to.
    version          TEXT,
    tag_name         TEXT,
    target_sha       TEXT,
    baseline_tag     TEXT,
    cut_by           TEXT,
    cut_at           BIGINT,
    -- The one draft release of this train, once created.
    draft_release_id BIGINT,
    -- Release steps, each recorded before the next starts (retries skip finished ones).
    tag_created_at   BIGINT,
    published_at     BIGINT,
    commented_at     BIGINT,
    -- Why the train is blocked, or why it was last rejected.
    blocked_reason   TEXT,
    rejected_reason  TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE UNIQUE INDEX trains_one_open_per_line ON trains (repository, line) WHERE state = 'open';
CREATE INDEX trains_by_repository ON trains (repository, state);

-- Pull requests on board.
CREATE TABLE train_pull_requests (
    train_id    BIGINT NOT NULL REFERENCES trains (id) ON DELETE CASCADE,
    number      BIGINT NOT NULL,
    title       TEXT   NOT NULL,
    author      TEXT,
    merge_sha   TEXT,
    merged_at   TEXT,
    labels      TEXT   NOT NULL DEFAULT '[]',
    boarded_at  BIGINT NOT NULL,
    PRIMARY KEY (train_id, number)
);

-- Approvals, one per person and train.
CREATE TABLE train_approvals (
    train_id    BIGINT NOT NULL REFERENCES trains (id) ON DELETE CASCADE,
    login       TEXT   NOT NULL,
    approved_at BIGINT NOT NULL,
    PRIMARY KEY (train_id, login)
);

-- "Released in vX" comments already written (a retry never comments twice).
CREATE TABLE train_release_comments (
    train_id   BIGINT NOT NULL REFERENCES trains (id) ON DELETE CASCADE,
    number     BIGINT NOT NULL,
    comment_id BIGINT NOT NULL,
    PRIMARY KEY (train_id, number)
);

-- Scheduled cuts: one row per line and slot, so each slot fires once across replicas.
CREATE TABLE schedule_slots (
    repository TEXT   NOT NULL,
    line       TEXT   NOT NULL,
    slot_at    BIGINT NOT NULL,
    fired_at   BIGINT NOT NULL,
    PRIMARY KEY (repository, line, slot_at)
);
