-- Instant messaging (issue 4, REFERENCE §2). Times are Unix microseconds, UTC.

-- Groups. A dismissed group keeps its row (dismissed_at set) so its id is
-- not reused while history may still reference it.
CREATE TABLE im_groups (
    sdkappid     INTEGER NOT NULL CHECK (sdkappid BETWEEN 1 AND 4294967295),
    group_id     TEXT    NOT NULL CHECK (length(CAST(group_id AS BLOB)) BETWEEN 1 AND 48),
    type         TEXT    NOT NULL CHECK (type IN ('Work', 'Public', 'Meeting', 'AVChatRoom', 'Community')),
    name         TEXT    NOT NULL DEFAULT '',
    owner        TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    dismissed_at INTEGER, -- NULL while active
    PRIMARY KEY (sdkappid, group_id)
) STRICT;

-- join_seq: first conversation seq allocated after joining; messages below
-- it are pre-join history (REFERENCE §2 "Pre-join history" column).
CREATE TABLE im_group_members (
    sdkappid    INTEGER NOT NULL,
    group_id    TEXT    NOT NULL,
    user_id     TEXT    NOT NULL CHECK (length(CAST(user_id AS BLOB)) BETWEEN 1 AND 32),
    role        TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    muted_until INTEGER NOT NULL DEFAULT 0,
    joined_at   INTEGER NOT NULL,
    join_seq    INTEGER NOT NULL CHECK (join_seq >= 1),
    PRIMARY KEY (sdkappid, group_id, user_id),
    FOREIGN KEY (sdkappid, group_id) REFERENCES im_groups (sdkappid, group_id) ON DELETE CASCADE
) STRICT;
CREATE INDEX im_group_members_user ON im_group_members (sdkappid, user_id);

-- Pending applications to Public groups (apply + approval).
CREATE TABLE im_join_requests (
    sdkappid     INTEGER NOT NULL,
    group_id     TEXT    NOT NULL,
    user_id      TEXT    NOT NULL CHECK (length(CAST(user_id AS BLOB)) BETWEEN 1 AND 32),
    requested_at INTEGER NOT NULL,
    PRIMARY KEY (sdkappid, group_id, user_id),
    FOREIGN KEY (sdkappid, group_id) REFERENCES im_groups (sdkappid, group_id) ON DELETE CASCADE
) STRICT;

-- Per-conversation seq allocator (REFERENCE §2 "Sequence and dedupe").
-- Never deleted by retention, so a seq is never reused after DropIMDay.
CREATE TABLE im_conversations (
    sdkappid INTEGER NOT NULL CHECK (sdkappid BETWEEN 1 AND 4294967295),
    conv_id  TEXT    NOT NULL,
    last_seq INTEGER NOT NULL CHECK (last_seq >= 0),
    PRIMARY KEY (sdkappid, conv_id)
) WITHOUT ROWID, STRICT;

-- Messages. One table keyed (sdkappid, conv_id, seq); `day` (UTC days since
-- the epoch) lets retention delete a whole day through one index range
-- (RETAIN-3), and the sender index finds one user's messages for erasure
-- (RIGHTS-1/3). A recalled or erased message stays as a tombstone with its
-- content cleared.
CREATE TABLE im_messages (
    sdkappid          INTEGER NOT NULL CHECK (sdkappid BETWEEN 1 AND 4294967295),
    conv_id           TEXT    NOT NULL,
    seq               INTEGER NOT NULL CHECK (seq >= 1),
    day               INTEGER NOT NULL,
    at                INTEGER NOT NULL,
    sender            TEXT    NOT NULL,
    client_msg_id     TEXT    CHECK (client_msg_id IS NULL OR length(CAST(client_msg_id AS BLOB)) BETWEEN 1 AND 128),
    body              BLOB    NOT NULL,
    cloud_custom_data TEXT    NOT NULL DEFAULT '',
    need_receipt      INTEGER NOT NULL DEFAULT 0 CHECK (need_receipt IN (0, 1)),
    recalled          INTEGER NOT NULL DEFAULT 0 CHECK (recalled IN (0, 1)),
    recalled_at       INTEGER,
    recalled_by       TEXT,
    erased            INTEGER NOT NULL DEFAULT 0 CHECK (erased IN (0, 1)),
    PRIMARY KEY (sdkappid, conv_id, seq)
) STRICT;
CREATE INDEX im_messages_day ON im_messages (day, sdkappid);
CREATE INDEX im_messages_sender ON im_messages (sdkappid, sender);
-- Exactly-once: a retried client message id returns the original seq.
CREATE UNIQUE INDEX im_messages_client_id ON im_messages (sdkappid, conv_id, sender, client_msg_id)
    WHERE client_msg_id IS NOT NULL;

-- One row per (conversation, user) the user takes part in: the read cursor
-- (REFERENCE §2 "Read receipts", unread counts) and the conversation list.
CREATE TABLE im_cursors (
    sdkappid INTEGER NOT NULL,
    conv_id  TEXT    NOT NULL,
    user_id  TEXT    NOT NULL,
    read_seq INTEGER NOT NULL DEFAULT 0 CHECK (read_seq >= 0),
    PRIMARY KEY (sdkappid, conv_id, user_id)
) WITHOUT ROWID, STRICT;
CREATE INDEX im_cursors_user ON im_cursors (sdkappid, user_id);

-- Message KV extensions, first writer wins (REFERENCE §2 "Extension KV").
CREATE TABLE im_extensions (
    sdkappid INTEGER NOT NULL,
    conv_id  TEXT    NOT NULL,
    seq      INTEGER NOT NULL,
    key      TEXT    NOT NULL CHECK (length(CAST(key AS BLOB)) BETWEEN 1 AND 100),
    value    TEXT    NOT NULL CHECK (length(CAST(value AS BLOB)) <= 1024),
    writer   TEXT    NOT NULL,
    set_at   INTEGER NOT NULL,
    PRIMARY KEY (sdkappid, conv_id, seq, key),
    FOREIGN KEY (sdkappid, conv_id, seq) REFERENCES im_messages (sdkappid, conv_id, seq) ON DELETE CASCADE
) WITHOUT ROWID, STRICT;
