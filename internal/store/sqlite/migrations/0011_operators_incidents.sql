-- Operator accounts and console sessions (issue 5, item 7; SEC-2), and
-- declared security incidents (issue 5, item 6; SEC-3).

-- Console accounts of the people who run Parley. Never deleted: a
-- disabled account keeps its id, so audit-log records that name it stay
-- meaningful, and its name is never reused. password_hash is
-- "pbkdf2-sha256$<iterations>$<salt>$<hash>" (package operator).
CREATE TABLE operators (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE CHECK (length(CAST(name AS BLOB)) BETWEEN 1 AND 64),
    role          TEXT    NOT NULL CHECK (role IN ('owner', 'developer', 'support', 'auditor')),
    password_hash TEXT    NOT NULL CHECK (password_hash LIKE 'pbkdf2-sha256$%'),
    created_at    INTEGER NOT NULL, -- Unix ms
    disabled_at   INTEGER           -- Unix ms; NULL while active
) STRICT;

CREATE TRIGGER operators_no_delete BEFORE DELETE ON operators
BEGIN
    SELECT RAISE(ABORT, 'operators are disabled, never deleted (their ids appear in the audit log)');
END;

-- Console sessions: only the SHA-256 of the random token is stored.
CREATE TABLE operator_sessions (
    token_hash  BLOB    PRIMARY KEY CHECK (length(token_hash) = 32),
    operator_id INTEGER NOT NULL REFERENCES operators (id),
    created_at  INTEGER NOT NULL, -- Unix ms
    expires_at  INTEGER NOT NULL  -- Unix ms
) STRICT;
CREATE INDEX operator_sessions_operator ON operator_sessions (operator_id);
CREATE INDEX operator_sessions_expiry ON operator_sessions (expires_at);

-- Declared incidents: the console notice of SEC-3. The text fields are
-- what the notification says (no personal data by contract); categories
-- is a JSON array of inventory element ids. Append-only except for the
-- notification state of incident_apps. No foreign key to apps: the
-- record outlives a deleted app.
CREATE TABLE incidents (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    declared_at   INTEGER NOT NULL, -- Unix ms
    since_at      INTEGER,          -- Unix ms; NULL = every stored record
    what_happened TEXT    NOT NULL CHECK (what_happened <> ''),
    impact        TEXT    NOT NULL CHECK (impact <> ''),
    measures      TEXT    NOT NULL CHECK (measures <> ''),
    advice        TEXT    NOT NULL CHECK (advice <> ''),
    remedies      TEXT    NOT NULL CHECK (remedies <> ''),
    contact       TEXT    NOT NULL CHECK (contact <> ''),
    categories    TEXT    NOT NULL CHECK (json_valid(categories) AND json_type(categories) = 'array')
) STRICT;

CREATE TRIGGER incidents_no_update BEFORE UPDATE ON incidents
BEGIN
    SELECT RAISE(ABORT, 'incidents are append-only: declare a new one');
END;
CREATE TRIGGER incidents_no_delete BEFORE DELETE ON incidents
BEGIN
    SELECT RAISE(ABORT, 'incidents are append-only');
END;

-- One row per affected app: counts (never identifiers) and how the app
-- was notified. users_by_source is a JSON object {store: distinct users}.
CREATE TABLE incident_apps (
    incident_id        INTEGER NOT NULL REFERENCES incidents (id),
    sdkappid           INTEGER NOT NULL CHECK (sdkappid BETWEEN 1 AND 4294967295),
    affected_users     INTEGER NOT NULL CHECK (affected_users >= 0),
    affected_users_min INTEGER NOT NULL CHECK (affected_users_min BETWEEN 0 AND affected_users),
    users_by_source    TEXT    NOT NULL CHECK (json_valid(users_by_source) AND json_type(users_by_source) = 'object'),
    notice             TEXT    NOT NULL DEFAULT 'pending' CHECK (notice IN ('pending', 'webhook', 'no_callback')),
    audit_seq          INTEGER,          -- audit-log record; NULL before it is written
    notified_at        INTEGER,          -- Unix ms
    PRIMARY KEY (incident_id, sdkappid)
) WITHOUT ROWID, STRICT;

CREATE TRIGGER incident_apps_no_delete BEFORE DELETE ON incident_apps
BEGIN
    SELECT RAISE(ABORT, 'incidents are append-only');
END;
CREATE TRIGGER incident_apps_counts_fixed BEFORE UPDATE OF incident_id, sdkappid, affected_users, affected_users_min, users_by_source ON incident_apps
BEGIN
    SELECT RAISE(ABORT, 'an incident''s counts are fixed at declaration');
END;
