-- What a dashboard session carries besides who it is: the repositories its user could read
-- when signing in (from their own token, a few calls), the outcome of its last form shown
-- once (never echoed from a URL), and how many commands it sent in the current minute.
ALTER TABLE web_sessions ADD COLUMN repositories TEXT NOT NULL DEFAULT '[]';
ALTER TABLE web_sessions ADD COLUMN flash TEXT;
ALTER TABLE web_sessions ADD COLUMN command_window_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE web_sessions ADD COLUMN commands_in_window BIGINT NOT NULL DEFAULT 0;
