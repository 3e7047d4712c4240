-- The whole schema of steve-lite v1. Timestamps are ISO 8601 UTC strings with milliseconds and Z,
-- so that they sort as text.

CREATE TABLE companies (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    name TEXT,
    company_id TEXT REFERENCES companies(id),
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    last_used_at TEXT
);
CREATE INDEX api_keys_company ON api_keys(company_id);

CREATE TABLE workflows (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    icon TEXT,
    color TEXT,
    is_system INTEGER NOT NULL DEFAULT 0,
    published_version INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE workflow_versions (
    workflow_id TEXT NOT NULL REFERENCES workflows(id),
    version INTEGER NOT NULL,
    definition TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (workflow_id, version)
);

CREATE TABLE company_workflows (
    company_id TEXT NOT NULL REFERENCES companies(id),
    workflow_id TEXT NOT NULL REFERENCES workflows(id),
    assigned_at TEXT NOT NULL,
    PRIMARY KEY (company_id, workflow_id)
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id),
    api_key_id TEXT NOT NULL REFERENCES api_keys(id),
    workflow_id TEXT NOT NULL REFERENCES workflows(id),
    workflow_version INTEGER NOT NULL,
    client_submission_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL,
    file_count INTEGER NOT NULL,
    webhook_url TEXT,
    metadata TEXT,
    external_user TEXT,
    failed_reason TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    submitted_at TEXT,
    processed_at TEXT,
    lease_until TEXT,
    objects_purged_at TEXT,
    UNIQUE (api_key_id, client_submission_id)
);
CREATE INDEX sessions_state_expiry ON sessions(state, expires_at);
CREATE INDEX sessions_state_lease ON sessions(state, lease_until);

CREATE TABLE session_files (
    session_id TEXT NOT NULL REFERENCES sessions(id),
    file_index INTEGER NOT NULL,
    label TEXT NOT NULL,
    content_type TEXT NOT NULL,
    object_key TEXT NOT NULL,
    size_bytes INTEGER,
    sha256 TEXT,
    phash TEXT,
    ocr_text TEXT,
    PRIMARY KEY (session_id, file_index)
);

CREATE TABLE submissions (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    session_id TEXT NOT NULL UNIQUE REFERENCES sessions(id),
    company_id TEXT NOT NULL REFERENCES companies(id),
    workflow_id TEXT NOT NULL REFERENCES workflows(id),
    workflow_version INTEGER NOT NULL,
    status TEXT NOT NULL,
    fraud_status TEXT,
    fraud_score INTEGER,
    result TEXT,
    confidence REAL,
    reject_reason TEXT,
    cancel_reason TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX submissions_company_seq ON submissions(company_id, seq);

CREATE TABLE submission_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    submission_id TEXT NOT NULL REFERENCES submissions(id),
    type TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    actor TEXT,
    data TEXT
);
CREATE INDEX submission_events_submission ON submission_events(submission_id, seq);

CREATE TABLE fraud_matches (
    id TEXT PRIMARY KEY,
    submission_id TEXT NOT NULL REFERENCES submissions(id),
    kind TEXT NOT NULL,
    score INTEGER NOT NULL,
    file_index INTEGER,
    matched_submission_id TEXT NOT NULL REFERENCES submissions(id),
    matched_file_index INTEGER,
    details TEXT,
    status TEXT NOT NULL DEFAULT 'open',
    resolution TEXT,
    note TEXT,
    resolved_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX fraud_matches_submission ON fraud_matches(submission_id);

CREATE TABLE webhook_events (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    api_key_id TEXT NOT NULL REFERENCES api_keys(id),
    event_type TEXT NOT NULL,
    url TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_status_code INTEGER,
    last_error TEXT,
    created_at TEXT NOT NULL,
    delivered_at TEXT
);
CREATE INDEX webhook_events_due ON webhook_events(status, next_attempt_at);
CREATE INDEX webhook_events_session ON webhook_events(session_id);

CREATE TABLE rate_limit_windows (
    api_key_id TEXT NOT NULL,
    bucket TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (api_key_id, bucket, window_start)
) WITHOUT ROWID;

-- Secrets shared by every process of this installation (cursor signing).
CREATE TABLE instance_secrets (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
INSERT INTO instance_secrets (name, value) VALUES ('cursor', randomblob(32));
