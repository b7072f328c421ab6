-- `/release link` requests: one row per link a chat user asked for. The browser that opens
-- the link is bound to it by a cookie (its hash kept here), must sign in to the chat service
-- as the user who asked, then to GitHub; the row is spent by the first GitHub answer, and
-- lives ten minutes. The token itself is never stored: only its SHA-256.
CREATE TABLE link_requests (
    token_hash       TEXT   PRIMARY KEY,
    surface          TEXT   NOT NULL,
    workspace        TEXT   NOT NULL,
    chat_user        TEXT   NOT NULL,
    login_hint       TEXT,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    browser_hash     TEXT,
    chat_verified_at BIGINT,
    spent_at         BIGINT
);
CREATE INDEX link_requests_expires_at ON link_requests (expires_at);
