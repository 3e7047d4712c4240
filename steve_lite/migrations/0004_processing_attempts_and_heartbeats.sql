-- Processing attempts, so that a session whose processing keeps failing ends `failed` instead
-- of being retried for ever; and worker heartbeats, so that /readyz can tell that no worker runs.

ALTER TABLE sessions ADD COLUMN processing_attempts INTEGER NOT NULL DEFAULT 0;

CREATE TABLE worker_heartbeats (
    worker_id TEXT PRIMARY KEY,
    hostname TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    beat_at TEXT NOT NULL
);
