-- The pull requests each channel's last `/release preview` showed, per repository and line,
-- so the next preview there says which were added or dropped since.
CREATE TABLE previews (
    surface     TEXT   NOT NULL,
    workspace   TEXT   NOT NULL,
    channel     TEXT   NOT NULL,
    repository  TEXT   NOT NULL,
    line        TEXT   NOT NULL,
    numbers     TEXT   NOT NULL,
    shown_at    BIGINT NOT NULL,
    PRIMARY KEY (surface, workspace, channel, repository, line)
);
