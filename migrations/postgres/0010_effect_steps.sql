-- Effects on GitHub that cannot be repeated harmlessly (a comment), each under a key that
-- names it (`release-comment:<train>:<pr>`, `reply:<command id>`). The row is written before
-- the effect is sent and completed with what GitHub answered; a retry that finds a row
-- without an answer looks on GitHub for the effect (by a marker it carries) before sending
-- it again, so an effect that happened while its answer was lost is not repeated.
CREATE TABLE effect_steps (
    step_key   TEXT   PRIMARY KEY,
    started_at BIGINT NOT NULL,
    done_at    BIGINT,
    result     TEXT
);
