-- A repository's releases as last listed, so a draft refresh in steady state costs one call
-- (the write) instead of two. Invalidated (the row deleted) by any release webhook but the
-- bot's own draft edits, by a failed or publishing write, and replaced after our own writes.
CREATE TABLE release_snapshots (
    repository TEXT   PRIMARY KEY,
    releases   TEXT   NOT NULL,
    taken_at   BIGINT NOT NULL
);
