-- The audit log: every command (accepted or refused, with the reason), every effect on GitHub
-- and every configuration change, written in the transaction of the change it records.
-- Records are never changed; housekeeping removes them after 400 days.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          BIGINT NOT NULL,
    repository  TEXT   NOT NULL,
    line        TEXT   NOT NULL DEFAULT '',
    train_id    BIGINT,
    actor_id    BIGINT,
    actor_login TEXT   NOT NULL,
    -- slack, discord, comment, web, schedule, github (a webhook), trainyard (its own work)
    surface     TEXT   NOT NULL,
    -- command.<name>, github.tag, github.release, github.draft_deleted, github.deployment,
    -- github.comment, config.changed, config.refused
    action      TEXT   NOT NULL,
    -- accepted, refused, done
    outcome     TEXT   NOT NULL,
    detail      TEXT   NOT NULL DEFAULT '',
    -- What finds the record again, so a retried effect is recorded once.
    record_key  TEXT   UNIQUE
);
CREATE INDEX audit_log_repository ON audit_log (repository, at);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TRIGGER audit_log_is_never_changed BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit records are never changed');
END;
