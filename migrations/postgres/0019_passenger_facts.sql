-- What a train's notes read of each passenger besides its title and labels: its body (from
-- the webhook, bounded) for `$BODY`, and its changed files (read once at boarding, only when
-- a configuration key uses them; NULL when they were not read).
ALTER TABLE train_pull_requests ADD COLUMN body TEXT NOT NULL DEFAULT '';
ALTER TABLE train_pull_requests ADD COLUMN changed_files TEXT;
