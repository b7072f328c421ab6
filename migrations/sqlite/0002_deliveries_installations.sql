-- Inbound deliveries, by source and id, so a redelivery is answered "duplicate" and never
-- runs twice. Kept at least 8 days (GitHub redelivers for up to 7), then pruned.
CREATE TABLE deliveries (
    source          TEXT   NOT NULL,
    delivery_id     TEXT   NOT NULL,
    event           TEXT   NOT NULL,
    action          TEXT,
    outcome         TEXT   NOT NULL CHECK (outcome IN ('queued', 'ignored')),
    repository      TEXT,
    installation_id BIGINT,
    received_at     BIGINT NOT NULL,
    PRIMARY KEY (source, delivery_id)
);
CREATE INDEX deliveries_received_at ON deliveries (received_at);

-- Where the App is installed, from installation events.
CREATE TABLE installations (
    id           BIGINT PRIMARY KEY,
    account      TEXT   NOT NULL,
    suspended_at BIGINT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

-- Which repositories each installation covers.
CREATE TABLE installation_repositories (
    installation_id BIGINT NOT NULL REFERENCES installations (id) ON DELETE CASCADE,
    repository      TEXT   NOT NULL,
    added_at        BIGINT NOT NULL,
    PRIMARY KEY (installation_id, repository)
);
CREATE INDEX installation_repositories_by_repo ON installation_repositories (repository);
