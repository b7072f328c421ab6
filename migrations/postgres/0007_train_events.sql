-- What happened to trains, for the chat notifications: an outbox, written in the step that
-- made the change and delivered later (delivered_at set once every routed channel has it).
CREATE TABLE train_events (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repository   TEXT   NOT NULL,
    line         TEXT   NOT NULL,
    train_id     BIGINT,
    kind         TEXT   NOT NULL,
    detail       TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    delivered_at BIGINT
);
CREATE INDEX train_events_by_train ON train_events (repository, train_id, id);

-- Reminders before scheduled cuts, one per line and slot across replicas.
CREATE TABLE schedule_reminders (
    repository TEXT   NOT NULL,
    line       TEXT   NOT NULL,
    slot_at    BIGINT NOT NULL,
    fired_at   BIGINT NOT NULL,
    PRIMARY KEY (repository, line, slot_at)
);

-- When each line's schedule was first seen (again after it changed): slots before that never
-- fire, so a newly written schedule does not cut at once for yesterday's slot.
CREATE TABLE schedule_watch (
    repository TEXT   NOT NULL,
    line       TEXT   NOT NULL,
    expression TEXT   NOT NULL,
    since      BIGINT NOT NULL,
    PRIMARY KEY (repository, line)
);
