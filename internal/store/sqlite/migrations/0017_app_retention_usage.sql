-- An app chooses how long its message history is kept (RETAIN-3: "as
-- long as the app's configured retention"): 0 is the server's
-- im.retention, otherwise 1 to 3650 whole days (store.MaxMessageRetentionDays).
ALTER TABLE apps ADD COLUMN message_retention_days INTEGER NOT NULL DEFAULT 0
    CHECK (message_retention_days BETWEEN 0 AND 3650);

-- Usage for billing (docs/console.md): participant time per app per UTC
-- day, counted from room entry to exit, and the most rooms with a
-- participant open at once that day. Counts only, never a user id. The
-- server accumulates in memory and adds to these rows periodically and at
-- shutdown. Rows go after 400 days (the usage_daily retention target),
-- and with their app (the terminated-app purge finds the sdkappid column).
CREATE TABLE usage_daily (
    sdkappid       INTEGER NOT NULL CHECK (sdkappid BETWEEN 1 AND 4294967295),
    day            TEXT    NOT NULL CHECK (length(day) = 10 AND day GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]'),
    participant_ms INTEGER NOT NULL DEFAULT 0 CHECK (participant_ms >= 0),
    peak_rooms     INTEGER NOT NULL DEFAULT 0 CHECK (peak_rooms >= 0),
    PRIMARY KEY (sdkappid, day)
) WITHOUT ROWID, STRICT;
