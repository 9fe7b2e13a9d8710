-- Per-app event callback (webhook) target: URL and signing key. The key
-- is customer key material (SEC-4): sealed with the key-encryption key
-- like the app secret, deleted with the app (RETAIN-2).
CREATE TABLE app_callbacks (
    sdkappid   INTEGER PRIMARY KEY REFERENCES apps (sdkappid) ON DELETE CASCADE,
    url        TEXT    NOT NULL,
    sealed_key BLOB    NOT NULL,
    key_id     TEXT    NOT NULL,
    updated_at INTEGER NOT NULL            -- Unix ms
) STRICT;
