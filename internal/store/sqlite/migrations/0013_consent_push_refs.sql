-- The consent ledger and the offline push tokens keep no identifier in
-- clear (issue 5, item 2; CONSENT-3, MINOR-1, RIGHTS-3, RIGHTS-5).
-- user_id and device_id now hold blind-index references ("~" and 22
-- base64url characters, keyring.BlindIndex: per app, keyed by a key
-- derived from the KEK), so equality lookups keep using the indexes; the
-- values a listing must show (the device id, the guardian reference, the
-- push token) are sealed with the user's data key (subject_keys), and
-- destroying that key erases them everywhere, backups included.
--
-- Sealed values carry "key id ‖ nonce ‖ ciphertext ‖ tag" (8 + 12 + n +
-- 16 bytes). Their additional data binds each one to its row:
--   consent_ledger.device_sealed  "consent.device/<sdkappid>/<id>"
--   consent_ledger.guardian_ref   "consent.guardian/<sdkappid>/<id>"
--   im_push_tokens.device_sealed  "im_push.device/<sdkappid>/<user ref>/<device ref>"
--   im_push_tokens.token          "im_push.token/<sdkappid>/<user ref>/<device ref>"
-- (the store allocates a ledger id inside its write transaction before
-- sealing: rows are never updated, so the id must be known first).

-- Consent ledger. SQLite cannot alter a CHECK, so the table is rebuilt.
-- Rows recorded before this migration name users in clear and cannot be
-- rewritten here (the references need the KEK): they move, unchanged, to
-- consent_ledger_legacy, which the store converts in Go on first use
-- (same ids, same order) and then drops. The sequence carries over, so a
-- new entry can never take a converted entry's id.
DROP TRIGGER consent_ledger_no_update;
DROP INDEX consent_ledger_subject;
DROP INDEX consent_ledger_app;
ALTER TABLE consent_ledger RENAME TO consent_ledger_legacy;

-- One row per decision, per app, user and device; the latest row for a
-- (sdkappid, user_id, device_id) is the consent in force. Rows are never
-- updated (trigger below). DELETE stays allowed on purpose: erasure for
-- data-subject rights and retention (RIGHTS-3, RETAIN-3) removes a
-- subject's rows; ordinary code never deletes.
CREATE TABLE consent_ledger (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    sdkappid          INTEGER NOT NULL CHECK (sdkappid BETWEEN 1 AND 4294967295),
    user_id           TEXT    NOT NULL CHECK (length(user_id) = 23 AND substr(user_id, 1, 1) = '~'),     -- user reference
    device_id         TEXT    NOT NULL CHECK (length(device_id) = 23 AND substr(device_id, 1, 1) = '~'), -- device reference
    device_sealed     BLOB    NOT NULL CHECK (length(device_sealed) BETWEEN 37 AND 100),                -- the device id (1-64 bytes), sealed
    action            TEXT    NOT NULL CHECK (action IN ('grant', 'withdraw')),
    policy_version    TEXT    NOT NULL DEFAULT '' CHECK (length(CAST(policy_version AS BLOB)) <= 64),
    purposes          TEXT    NOT NULL DEFAULT '', -- sorted, comma-separated
    method            TEXT    NOT NULL DEFAULT ''
                              CHECK (method IN ('', 'sdk', 'popup', 'device_config')),
    age_band          TEXT    NOT NULL DEFAULT '' CHECK (age_band IN ('', 'adult', 'minor')),
    -- The guardian's consent reference (1-128 bytes), sealed; empty when
    -- there is none.
    guardian_ref      BLOB    NOT NULL DEFAULT X''
                              CHECK (length(guardian_ref) = 0 OR length(guardian_ref) BETWEEN 37 AND 164),
    recorded_at       INTEGER NOT NULL, -- Unix microseconds, UTC (server clock)
    device_granted_at INTEGER,          -- Unix microseconds (device clock); NULL if not given
    -- A grant names a version, its purposes and how it was given.
    CHECK (action = 'withdraw' OR (policy_version <> '' AND purposes <> '' AND method <> '')),
    -- MINOR-1: no grant for a minor without the guardian's consent.
    CHECK (action = 'withdraw' OR age_band <> 'minor' OR length(guardian_ref) > 0)
) STRICT;

INSERT INTO sqlite_sequence (name, seq)
    SELECT 'consent_ledger', seq FROM sqlite_sequence WHERE name = 'consent_ledger_legacy';

-- Latest entry per (app, user, device): the consent check on every join.
CREATE INDEX consent_ledger_subject ON consent_ledger (sdkappid, user_id, device_id, id);

-- An app's ledger, newest first (console, `parley policy ledger`).
CREATE INDEX consent_ledger_app ON consent_ledger (sdkappid, id);

CREATE TRIGGER consent_ledger_no_update BEFORE UPDATE ON consent_ledger
BEGIN
    SELECT RAISE(ABORT, 'consent_ledger is append-only: record a new entry (CONSENT-3)');
END;

-- Offline push tokens (issue 4, item 6), one row per device that
-- registered a token while logged in to messaging; an explicit logout
-- deletes the device's row, retention deletes rows not refreshed within
-- the token TTL. Tokens registered before this migration are discarded:
-- a device registers its token again at its next login.
DROP INDEX im_push_tokens_registered;
DROP TABLE im_push_tokens;

CREATE TABLE im_push_tokens (
    sdkappid      INTEGER NOT NULL CHECK (sdkappid BETWEEN 1 AND 4294967295),
    user_id       TEXT    NOT NULL CHECK (length(user_id) = 23 AND substr(user_id, 1, 1) = '~'),     -- user reference
    device_id     TEXT    NOT NULL CHECK (length(device_id) = 23 AND substr(device_id, 1, 1) = '~'), -- device reference
    device_sealed BLOB    NOT NULL CHECK (length(device_sealed) BETWEEN 37 AND 100),                -- the device id (1-64 bytes), sealed
    vendor        TEXT    NOT NULL CHECK (vendor IN ('apns', 'fcm', 'huawei', 'honor', 'xiaomi', 'oppo', 'vivo', 'meizu')),
    token         BLOB    NOT NULL CHECK (length(token) BETWEEN 37 AND 548),                        -- the token (1-512 bytes), sealed
    registered_at INTEGER NOT NULL, -- Unix ms
    PRIMARY KEY (sdkappid, user_id, device_id)
) WITHOUT ROWID, STRICT;

CREATE INDEX im_push_tokens_registered ON im_push_tokens (registered_at);
