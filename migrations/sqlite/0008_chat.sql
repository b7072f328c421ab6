-- Chat-ops. Times are epoch milliseconds.

-- Which chat channel speaks for which repository (from each repository's `chat:` section,
-- rewritten whenever its configuration is stored).
CREATE TABLE chat_routes (
    surface    TEXT   NOT NULL CHECK (surface IN ('slack', 'discord')),
    channel    TEXT   NOT NULL,
    repository TEXT   NOT NULL,
    announce   BIGINT NOT NULL DEFAULT 1,
    PRIMARY KEY (surface, channel, repository)
);
CREATE INDEX chat_routes_by_repository ON chat_routes (repository);

-- Chat users linked to GitHub accounts through GitHub's sign-in (never by name or e-mail).
CREATE TABLE chat_identities (
    surface      TEXT   NOT NULL CHECK (surface IN ('slack', 'discord')),
    workspace    TEXT   NOT NULL,
    chat_user    TEXT   NOT NULL,
    github_id    BIGINT NOT NULL,
    github_login TEXT   NOT NULL,
    linked_at    BIGINT NOT NULL,
    PRIMARY KEY (surface, workspace, chat_user)
);

-- Requests already answered, so a retried one is not carried out twice. Pruned after a day.
CREATE TABLE chat_requests (
    surface     TEXT   NOT NULL,
    request_id  TEXT   NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (surface, request_id)
);

-- The thread each train has in each channel: its first message (Slack ts, Discord message id).
CREATE TABLE chat_threads (
    train_id   BIGINT NOT NULL,
    surface    TEXT   NOT NULL,
    channel    TEXT   NOT NULL,
    thread     TEXT   NOT NULL,
    PRIMARY KEY (train_id, surface, channel)
);

-- Which channel already has which train event (a retry posts only what is missing).
CREATE TABLE train_event_deliveries (
    event_id     BIGINT NOT NULL,
    surface      TEXT   NOT NULL,
    channel      TEXT   NOT NULL,
    delivered_at BIGINT NOT NULL,
    PRIMARY KEY (event_id, surface, channel)
);
