-- Dashboard sign-ins (GitHub's, through the App's OAuth): only the SHA-256 of the session
-- cookie is kept, with who it is and the session's CSRF token; sessions end after 8 hours.
CREATE TABLE web_sessions (
    token_hash TEXT   PRIMARY KEY,
    github_id  BIGINT NOT NULL,
    login      TEXT   NOT NULL,
    csrf       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);
