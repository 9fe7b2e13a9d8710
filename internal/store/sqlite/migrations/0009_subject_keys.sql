-- Per-subject data keys (issue 5, item 2; RIGHTS-3, RIGHTS-5). Every
-- personal field a store keeps about a user is sealed (AES-256-GCM) with
-- that user's data key; the user appears in key columns only as a blind
-- index reference ("~" + base64url HMAC, keyring.BlindIndex). A data key
-- is stored wrapped by an epoch key that lives in the keystore file, not
-- in this database; epoch keys are destroyed after the keystore window,
-- so erasing a row here also reaches every backup of this file once the
-- window has passed.
CREATE TABLE subject_keys (
    key_id     TEXT    PRIMARY KEY CHECK (length(key_id) = 16), -- hex; its 8 bytes prefix every value sealed with the key
    sdkappid   INTEGER NOT NULL CHECK (sdkappid BETWEEN 1 AND 4294967295),
    subject    TEXT    NOT NULL CHECK (length(subject) = 23),   -- blind-index reference of the user id
    epoch      TEXT    NOT NULL,                                 -- keystore epoch that wrapped the key
    wrapped    BLOB    NOT NULL,                                 -- data key sealed by the epoch key (aad: key_id)
    sealed_id  BLOB    NOT NULL,                                 -- the user id sealed by the data key, for exports and listings
    created_at INTEGER NOT NULL,                                 -- Unix ms
    UNIQUE (sdkappid, subject)
) WITHOUT ROWID, STRICT;

-- Rewrapping after an epoch rotation walks the keys of old epochs.
CREATE INDEX subject_keys_epoch ON subject_keys (epoch);
