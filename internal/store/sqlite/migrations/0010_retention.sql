-- Retention engine (issue 5, item 1): legal holds (RETAIN-4) and the
-- record of terminated apps whose data the engine purges (RETAIN-2).
-- Times are Unix milliseconds, UTC.

-- A legal hold keeps data past its retention limit for a legal reason,
-- recorded as such. subject NULL holds the whole app; otherwise it is the
-- user's blind-index reference ("~" and 22 base64url characters,
-- keyring.RefText) and subject_ref the same 16 bytes, which is what
-- telemetry stores in user_ref: a hold never holds a user id. note is a
-- short operator remark (a case number); it must not hold personal
-- information. Every hold ends: expires_at is mandatory (at most three
-- years after created_at, checked by the store), released_at ends it
-- earlier. Ended holds are deleted 14 days after they end, or as soon as
-- their app is purged.
CREATE TABLE legal_holds (
    id          INTEGER PRIMARY KEY,
    sdkappid    INTEGER NOT NULL CHECK (sdkappid BETWEEN 1 AND 4294967295),
    subject     TEXT    NULL CHECK (subject IS NULL OR (length(subject) = 23 AND substr(subject, 1, 1) = '~')),
    subject_ref BLOB    NULL CHECK (subject_ref IS NULL OR length(subject_ref) = 16),
    reason      TEXT    NOT NULL CHECK (reason IN ('law', 'court', 'authority', 'dispute')),
    note        TEXT    NOT NULL DEFAULT '' CHECK (length(CAST(note AS BLOB)) <= 200),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL CHECK (expires_at > created_at),
    released_at INTEGER NULL CHECK (released_at IS NULL OR released_at >= created_at),
    CHECK ((subject IS NULL) = (subject_ref IS NULL))
) STRICT;

-- The sweeps look holds up per app for every candidate row.
CREATE INDEX legal_holds_app ON legal_holds (sdkappid, expires_at) WHERE released_at IS NULL;

-- One row per deleted app: the app row (secret key, callback key) goes at
-- once in the same transaction; the retention engine purges every other
-- row of the app at its next sweep (at the latest 7 days later) and sets
-- purged_at. The row itself holds no personal information and stays, as
-- the record that the app's data was deleted.
CREATE TABLE app_terminations (
    sdkappid      INTEGER PRIMARY KEY CHECK (sdkappid BETWEEN 1 AND 4294967295),
    terminated_at INTEGER NOT NULL,
    purged_at     INTEGER NULL
) STRICT;

CREATE INDEX app_terminations_pending ON app_terminations (terminated_at) WHERE purged_at IS NULL;

-- Apps deleted before this version left their data behind: every app id
-- that has rows in an app table but no app row is recorded as terminated
-- now, so the next sweep purges it. (Telemetry partitions are found by
-- the purge itself; they cannot be listed here.)
INSERT OR IGNORE INTO app_terminations (sdkappid, terminated_at)
    SELECT sdkappid, CAST(strftime('%s', 'now') AS INTEGER) * 1000 FROM (
        SELECT sdkappid FROM policy_versions UNION SELECT sdkappid FROM consent_ledger
        UNION SELECT sdkappid FROM im_groups UNION SELECT sdkappid FROM im_conversations
        UNION SELECT sdkappid FROM im_push_tokens UNION SELECT sdkappid FROM webhook_outbox
        UNION SELECT sdkappid FROM audit_events
    )
    WHERE sdkappid BETWEEN 1 AND 4294967295 AND sdkappid NOT IN (SELECT sdkappid FROM apps);

-- Published policy versions stay archived while their app exists
-- (DISCLOSE-2); a terminated app's versions are purged with the rest of
-- its data (RETAIN-2).
DROP TRIGGER policy_versions_no_delete;

CREATE TRIGGER policy_versions_no_delete BEFORE DELETE ON policy_versions
WHEN NOT EXISTS (SELECT 1 FROM app_terminations WHERE sdkappid = OLD.sdkappid)
BEGIN
    SELECT RAISE(ABORT, 'policy_versions is append-only: published versions stay archived while the app exists (DISCLOSE-2)');
END;
