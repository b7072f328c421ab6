-- The files a repository's configuration extends (`_extends`), one `owner/repo:path` a line,
-- so a push to one of them reloads every configuration built on it.
ALTER TABLE repo_configs ADD COLUMN extends_sources TEXT;
