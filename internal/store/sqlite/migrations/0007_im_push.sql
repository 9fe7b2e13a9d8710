-- Offline push tokens (issue 4, item 6). One row per device that
-- registered a token while logged in to messaging. The device model the
-- vendor channel is chosen from (inventory im.device_model) is never
-- stored: only the vendor derived from it. An explicit logout deletes the
-- device's row (no push after logout); a row not refreshed by a login
-- within the token TTL is deleted by retention.
CREATE TABLE im_push_tokens (
    sdkappid      INTEGER NOT NULL CHECK (sdkappid BETWEEN 1 AND 4294967295),
    user_id       TEXT    NOT NULL CHECK (length(CAST(user_id AS BLOB)) BETWEEN 1 AND 32),
    device_id     TEXT    NOT NULL CHECK (length(CAST(device_id AS BLOB)) BETWEEN 1 AND 64),
    vendor        TEXT    NOT NULL CHECK (vendor IN ('apns', 'fcm', 'huawei', 'honor', 'xiaomi', 'oppo', 'vivo', 'meizu')),
    token         TEXT    NOT NULL CHECK (length(CAST(token AS BLOB)) BETWEEN 1 AND 512),
    registered_at INTEGER NOT NULL, -- Unix ms
    PRIMARY KEY (sdkappid, user_id, device_id)
) WITHOUT ROWID, STRICT;

CREATE INDEX im_push_tokens_registered ON im_push_tokens (registered_at);
