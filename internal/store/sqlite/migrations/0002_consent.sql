-- Privacy-policy versions (DISCLOSE-2, CONSENT-6). Append-only: a published
-- version is archived forever, never changed or removed, so the text a user
-- consented to can always be shown again; a correction is a new version.
-- The triggers below enforce it against any writer, the CLI included.
-- seq orders publications (AUTOINCREMENT: never reused). No foreign key to
-- apps: the archive outlives an app, and SDKAppIDs are never reused.
CREATE TABLE policy_versions (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    sdkappid     INTEGER NOT NULL CHECK (sdkappid BETWEEN 1 AND 4294967295),
    version      TEXT    NOT NULL CHECK (length(CAST(version AS BLOB)) BETWEEN 1 AND 64),
    material     INTEGER NOT NULL CHECK (material IN (0, 1)),
    effective_at INTEGER NOT NULL, -- Unix microseconds, UTC
    summary      TEXT    NOT NULL DEFAULT '',
    url          TEXT    NOT NULL DEFAULT '',
    published_at INTEGER NOT NULL, -- Unix microseconds, UTC
    UNIQUE (sdkappid, version)
) STRICT;

CREATE TRIGGER policy_versions_no_update BEFORE UPDATE ON policy_versions
BEGIN
    SELECT RAISE(ABORT, 'policy_versions is append-only: publish a new version (DISCLOSE-2)');
END;

CREATE TRIGGER policy_versions_no_delete BEFORE DELETE ON policy_versions
BEGIN
    SELECT RAISE(ABORT, 'policy_versions is append-only: published versions stay archived (DISCLOSE-2)');
END;

-- The consent ledger (CONSENT-3, CONSENT-5, MINOR-1): one row per decision,
-- per app, user and device; the latest row for a (sdkappid, user_id,
-- device_id) is the consent in force. Rows are never updated (trigger
-- below). DELETE stays allowed on purpose: erasure for data-subject rights
-- and retention (RIGHTS-3, RETAIN-3) removes a subject's rows; ordinary
-- code never deletes.
CREATE TABLE consent_ledger (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    sdkappid          INTEGER NOT NULL CHECK (sdkappid BETWEEN 1 AND 4294967295),
    user_id           TEXT    NOT NULL CHECK (length(CAST(user_id AS BLOB)) BETWEEN 1 AND 32),
    device_id         TEXT    NOT NULL CHECK (length(CAST(device_id AS BLOB)) BETWEEN 1 AND 64),
    action            TEXT    NOT NULL CHECK (action IN ('grant', 'withdraw')),
    policy_version    TEXT    NOT NULL DEFAULT '' CHECK (length(CAST(policy_version AS BLOB)) <= 64),
    purposes          TEXT    NOT NULL DEFAULT '', -- sorted, comma-separated
    method            TEXT    NOT NULL DEFAULT ''
                              CHECK (method IN ('', 'sdk', 'popup', 'device_config')),
    age_band          TEXT    NOT NULL DEFAULT '' CHECK (age_band IN ('', 'adult', 'minor')),
    guardian_ref      TEXT    NOT NULL DEFAULT '' CHECK (length(CAST(guardian_ref AS BLOB)) <= 128),
    recorded_at       INTEGER NOT NULL, -- Unix microseconds, UTC (server clock)
    device_granted_at INTEGER,          -- Unix microseconds (device clock); NULL if not given
    -- A grant names a version, its purposes and how it was given.
    CHECK (action = 'withdraw' OR (policy_version <> '' AND purposes <> '' AND method <> '')),
    -- MINOR-1: no grant for a minor without the guardian's consent.
    CHECK (action = 'withdraw' OR age_band <> 'minor' OR guardian_ref <> '')
) STRICT;

-- Latest entry per (app, user, device): the consent check on every join.
CREATE INDEX consent_ledger_subject ON consent_ledger (sdkappid, user_id, device_id, id);

-- An app's ledger, newest first (console, `parley policy ledger`).
CREATE INDEX consent_ledger_app ON consent_ledger (sdkappid, id);

CREATE TRIGGER consent_ledger_no_update BEFORE UPDATE ON consent_ledger
BEGIN
    SELECT RAISE(ABORT, 'consent_ledger is append-only: record a new entry (CONSENT-3)');
END;
