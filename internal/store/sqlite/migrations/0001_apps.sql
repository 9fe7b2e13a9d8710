-- Apps (tenants). SDKAppIDs come from app_id_seq, starting at 1400000001
-- like TRTC's, and are never reused: a deleted app's UserSigs must not
-- become valid for a new app.
CREATE TABLE app_id_seq (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    next_id INTEGER NOT NULL CHECK (next_id BETWEEN 1 AND 4294967296)
) STRICT;

INSERT INTO app_id_seq (id, next_id) VALUES (1, 1400000001);

CREATE TABLE apps (
    sdkappid                INTEGER PRIMARY KEY CHECK (sdkappid BETWEEN 1 AND 4294967295),
    name                    TEXT    NOT NULL,
    sealed_secret           BLOB    NOT NULL,
    secret_key_id           TEXT    NOT NULL,
    recording               INTEGER NOT NULL DEFAULT 0 CHECK (recording IN (0, 1)),
    relay                   INTEGER NOT NULL DEFAULT 0 CHECK (relay IN (0, 1)),
    billing_mode            TEXT    NOT NULL DEFAULT 'participant_minutes'
                                    CHECK (billing_mode IN ('participant_minutes', 'bandwidth')),
    enforce_private_map_key INTEGER NOT NULL DEFAULT 0 CHECK (enforce_private_map_key IN (0, 1)),
    created_at              INTEGER NOT NULL -- Unix microseconds, UTC
) STRICT;
