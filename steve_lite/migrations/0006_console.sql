-- The review console: reviewer accounts (one company each), one-time sign-in links and
-- server-side console sessions. Tokens are stored as SHA-256 hex of the value the browser holds.

CREATE TABLE reviewers (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id),
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT,
    created_at TEXT NOT NULL,
    password_set_at TEXT,
    disabled_at TEXT
);
CREATE INDEX reviewers_company ON reviewers(company_id);

CREATE TABLE reviewer_links (
    token_hash TEXT PRIMARY KEY,
    reviewer_id TEXT NOT NULL REFERENCES reviewers(id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);
CREATE INDEX reviewer_links_reviewer ON reviewer_links(reviewer_id);

CREATE TABLE console_sessions (
    token_hash TEXT PRIMARY KEY,
    reviewer_id TEXT NOT NULL REFERENCES reviewers(id),
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    ended_at TEXT
);
CREATE INDEX console_sessions_reviewer ON console_sessions(reviewer_id);

-- Sign-in attempts per account (hashed email, known or not) and per client address, in fixed
-- windows; windows that have ended are deleted by the next attempt.
CREATE TABLE console_sign_in_windows (
    scope TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (scope, window_start)
) WITHOUT ROWID;
