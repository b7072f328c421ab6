-- Each repository's configuration as last read from its default branch: the file it came
-- from, that file's blob sha (unchanged sha: nothing to re-read) and the text of the last
-- good version. A broken push keeps the last good text and records the error to report.
CREATE TABLE repo_configs (
    repository   TEXT   PRIMARY KEY,
    source_path  TEXT,
    blob_sha     TEXT,
    config_text  TEXT,
    error        TEXT,
    error_sha    TEXT,
    checked_at   BIGINT NOT NULL
);
