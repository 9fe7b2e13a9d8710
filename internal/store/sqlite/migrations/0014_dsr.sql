-- Data-subject requests (issue 5, item 3; RIGHTS-1…7). No personal data:
-- the subject is a commitment (hex HMAC) under the subject's own key, so
-- after an erasure the record proves what was done, not for whom.
-- Kept three years after it finishes (store.DSRRetention), or until the
-- app is purged after its deletion (RETAIN-2), then deleted
-- by retention.
CREATE TABLE dsr_requests (
    id            TEXT    PRIMARY KEY CHECK (length(id) = 32),
    sdkappid      INTEGER NOT NULL CHECK (sdkappid BETWEEN 1 AND 4294967295),
    type          TEXT    NOT NULL CHECK (type IN ('access', 'export', 'correct', 'delete', 'delete_device', 'withdraw', 'cancel')),
    state         TEXT    NOT NULL CHECK (state IN ('received', 'verified', 'processing', 'completed', 'refused')),
    source        TEXT    NOT NULL CHECK (source IN ('rest', 'cli', 'sdk', 'system')),
    subject       TEXT    NOT NULL CHECK (length(subject) = 64),
    ground        TEXT    NOT NULL DEFAULT '',
    message       TEXT    NOT NULL DEFAULT '' CHECK (length(message) <= 500),
    received_at   INTEGER NOT NULL, -- Unix ms
    verified_at   INTEGER,
    processing_at INTEGER,
    finished_at   INTEGER,
    due_at        INTEGER NOT NULL,
    receipt       BLOB,
    audit_seq     INTEGER NOT NULL DEFAULT -1,
    -- A refusal names its ground (RIGHTS-5).
    CHECK (state <> 'refused' OR ground <> '')
) STRICT;

CREATE INDEX dsr_requests_app ON dsr_requests (sdkappid, received_at);
CREATE INDEX dsr_requests_subject ON dsr_requests (sdkappid, subject, type, received_at);
CREATE INDEX dsr_requests_finished ON dsr_requests (finished_at) WHERE finished_at IS NOT NULL;
