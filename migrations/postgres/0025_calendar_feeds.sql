-- Calendar feeds: a URL with its own token that a calendar app fetches without signing in
-- (`GET /calendar.ics?feed=…`). Made by a signed-in person for one repository or for all
-- they could read then (kept, one per line); revoked by them. Only the token's SHA-256 is kept.
CREATE TABLE calendar_feeds (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash   TEXT   NOT NULL UNIQUE,
    github_id    BIGINT NOT NULL,
    login        TEXT   NOT NULL,
    repositories TEXT   NOT NULL,
    label        TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE INDEX calendar_feeds_owner ON calendar_feeds (github_id);
