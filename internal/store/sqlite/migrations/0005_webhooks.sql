-- Durable webhook outbox (issue 4, item 7): an event is accepted once its
-- row is committed, then delivered with the REFERENCE.md §1.4 retry
-- schedule or marked failed. No foreign key to apps: a row outlives a
-- deleted app only until retention removes it (14 days after creation,
-- delivered and failed rows; webhook.Retention).
-- body is the raw JSON exactly as signed and holds user ids (personal
-- information); last_error is a fixed phrase and never does.
CREATE TABLE webhook_outbox (
    id               INTEGER PRIMARY KEY,
    sdkappid         INTEGER NOT NULL CHECK (sdkappid BETWEEN 1 AND 4294967295),
    event_id         TEXT    NOT NULL CHECK (length(CAST(event_id AS BLOB)) BETWEEN 1 AND 64),
    url              TEXT    NOT NULL CHECK (url <> ''),
    body             BLOB    NOT NULL,
    created_at       INTEGER NOT NULL, -- Unix ms
    first_attempt_at INTEGER,          -- Unix ms; NULL before the first attempt
    next_attempt_at  INTEGER NOT NULL, -- Unix ms
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    state            TEXT    NOT NULL DEFAULT 'pending'
                             CHECK (state IN ('pending', 'delivered', 'failed')),
    last_error       TEXT    NOT NULL DEFAULT '' CHECK (length(last_error) <= 200),
    UNIQUE (sdkappid, event_id)
) STRICT;

-- The dispatcher's due scan and its next wake-up.
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at) WHERE state = 'pending';

-- Retention deletes finished rows by age.
CREATE INDEX webhook_outbox_done ON webhook_outbox (created_at) WHERE state <> 'pending';
