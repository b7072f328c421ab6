-- Release candidates of a train: each tags the frozen commit of its moment `<tag>-rc.N` and
-- publishes a GitHub pre-release while the train stays frozen; the final release is the
-- last candidate's commit. `passengers` (a JSON array of pull request numbers) is what was
-- aboard, so the next candidate's notes list what changed since.
CREATE TABLE train_candidates (
    train_id       BIGINT NOT NULL,
    number         BIGINT NOT NULL,
    version        TEXT   NOT NULL,
    tag_name       TEXT   NOT NULL,
    target_sha     TEXT   NOT NULL,
    passengers     TEXT   NOT NULL,
    created_by     TEXT   NOT NULL,
    created_at     BIGINT NOT NULL,
    tag_created_at BIGINT,
    release_id     BIGINT,
    release_url    TEXT,
    published_at   BIGINT,
    PRIMARY KEY (train_id, number)
);
