-- A job that failed is parked: it no longer holds up the later jobs of its queue key, and is
-- retried after them, in an order of its own (the oldest parked job of a key first).
ALTER TABLE jobs ADD COLUMN parked BIGINT NOT NULL DEFAULT 0;
-- The head of each key: its oldest job that is neither dead nor parked.
CREATE INDEX jobs_head_by_key ON jobs (queue_key, id) WHERE state <> 'dead' AND parked = 0;
CREATE INDEX jobs_parked_by_key ON jobs (queue_key, id) WHERE state <> 'dead' AND parked = 1;

-- Each command on a train, once carried out (or refused): a retry of its job finds the
-- outcome here and does not act again. Written in the transaction that applies the command.
CREATE TABLE command_outcomes (
    command_id  TEXT   PRIMARY KEY,
    repository  TEXT   NOT NULL,
    command     TEXT   NOT NULL,
    actor       TEXT   NOT NULL,
    refused     BIGINT NOT NULL,
    answer      TEXT   NOT NULL,
    decided_at  BIGINT NOT NULL
);
CREATE INDEX command_outcomes_by_repository ON command_outcomes (repository, decided_at);
