-- Consecutive waits after transient failures (GitHub 5xx, timeouts): they back off
-- exponentially without using up the job's attempts.
ALTER TABLE jobs ADD COLUMN transient_retries BIGINT NOT NULL DEFAULT 0;
