-- Telemetry lives in one table per UTC day (telemetry_dYYYYMMDD), created
-- on first insert; this registry lists them so retention can drop whole
-- days (RETAIN-1) and status can report the oldest.
CREATE TABLE telemetry_partitions (
    day        TEXT PRIMARY KEY,          -- YYYYMMDD (UTC)
    table_name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL           -- Unix ms
) STRICT;

-- Append-only audit events (no personal information in detail).
CREATE TABLE audit_events (
    id       INTEGER PRIMARY KEY,
    at_ms    INTEGER NOT NULL,
    sdkappid INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    detail   TEXT NOT NULL
) STRICT;
CREATE INDEX audit_events_app_kind ON audit_events (sdkappid, kind, at_ms);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
