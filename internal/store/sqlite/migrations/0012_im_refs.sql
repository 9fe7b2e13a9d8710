-- Messaging under per-subject keys (issue 5, item 2; RIGHTS-3, RIGHTS-5).
-- From this version on the im_* tables hold no user id and no message
-- content in clear:
--
-- * every user-id column holds the user's blind-index reference ("~" and
--   22 base64url characters, keyring.BlindIndex), as subject_keys.subject
--   does (0009); the CHECKs below refuse anything else;
-- * a C2C conversation id is "c2c:<ref a>|<ref b>", the references of the
--   two user ids in the order of the clear id "c2c:<a>|<b>" (a < b); a
--   group conversation id "group:<group id>" is unchanged;
-- * a message's body and cloud custom data are one value, sealed into
--   im_messages.body with the sender's data key (AES-256-GCM, key id prefix, aad
--   "im.msg/<sdkappid>/<conv_id>/<seq>"); an extension's value is sealed
--   with its writer's key (aad "im.ext/<sdkappid>/<conv_id>/<seq>/<key>").
--
-- Destroying a user's key (crypto-shredding) therefore makes their
-- messages and extension values unreadable at once, here and in every
-- backup once the keystore window has passed; the store reads such a
-- message as an erased tombstone.
--
-- Rows written before this version hold clear ids and content. They are
-- not converted (pre-1.0, no deployment holds any): sealing needs the
-- key-encryption key, which SQL does not have. Instead this migration
-- refuses to run while any IM row exists, so such a database fails to
-- open with the message below rather than being misread later. The
-- tables are then empty, and are recreated with the new columns and
-- CHECKs. im_push_tokens (0007) is not touched here.

CREATE TEMP TABLE im_refs_guard (
    legacy INTEGER NOT NULL
        CONSTRAINT "im tables hold rows from before per-subject keys (pre-0012): they are not converted; remove the IM data (im_* tables) or the database and start again"
        CHECK (legacy = 0)
);
INSERT INTO im_refs_guard SELECT
    EXISTS (SELECT 1 FROM im_groups) OR EXISTS (SELECT 1 FROM im_group_members) OR
    EXISTS (SELECT 1 FROM im_join_requests) OR EXISTS (SELECT 1 FROM im_conversations) OR
    EXISTS (SELECT 1 FROM im_messages) OR EXISTS (SELECT 1 FROM im_cursors) OR
    EXISTS (SELECT 1 FROM im_extensions);
DROP TABLE im_refs_guard;

-- Children first: the tables are empty, so the drops cascade nothing.
DROP TABLE im_extensions;
DROP TABLE im_cursors;
DROP TABLE im_messages;
DROP TABLE im_conversations;
DROP TABLE im_join_requests;
DROP TABLE im_group_members;
DROP TABLE im_groups;

-- Groups. A dismissed group keeps its row (dismissed_at set) so its id is
-- not reused while history may still reference it. owner: reference.
CREATE TABLE im_groups (
    sdkappid     INTEGER NOT NULL CHECK (sdkappid BETWEEN 1 AND 4294967295),
    group_id     TEXT    NOT NULL CHECK (length(CAST(group_id AS BLOB)) BETWEEN 1 AND 48),
    type         TEXT    NOT NULL CHECK (type IN ('Work', 'Public', 'Meeting', 'AVChatRoom', 'Community')),
    name         TEXT    NOT NULL DEFAULT '',
    owner        TEXT    NOT NULL CHECK (owner = '' OR (length(owner) = 23 AND substr(owner, 1, 1) = '~')), -- '' once erased
    created_at   INTEGER NOT NULL,
    dismissed_at INTEGER, -- NULL while active
    PRIMARY KEY (sdkappid, group_id)
) STRICT;

-- join_seq: first conversation seq allocated after joining; messages below
-- it are pre-join history. user_id: reference.
CREATE TABLE im_group_members (
    sdkappid    INTEGER NOT NULL,
    group_id    TEXT    NOT NULL,
    user_id     TEXT    NOT NULL CHECK (length(user_id) = 23 AND substr(user_id, 1, 1) = '~'),
    role        TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    muted_until INTEGER NOT NULL DEFAULT 0,
    joined_at   INTEGER NOT NULL,
    join_seq    INTEGER NOT NULL CHECK (join_seq >= 1),
    PRIMARY KEY (sdkappid, group_id, user_id),
    FOREIGN KEY (sdkappid, group_id) REFERENCES im_groups (sdkappid, group_id) ON DELETE CASCADE
) STRICT;
CREATE INDEX im_group_members_user ON im_group_members (sdkappid, user_id);

-- Pending applications to Public groups. user_id: reference.
CREATE TABLE im_join_requests (
    sdkappid     INTEGER NOT NULL,
    group_id     TEXT    NOT NULL,
    user_id      TEXT    NOT NULL CHECK (length(user_id) = 23 AND substr(user_id, 1, 1) = '~'),
    requested_at INTEGER NOT NULL,
    PRIMARY KEY (sdkappid, group_id, user_id),
    FOREIGN KEY (sdkappid, group_id) REFERENCES im_groups (sdkappid, group_id) ON DELETE CASCADE
) STRICT;

-- Per-conversation seq allocator. Never deleted by retention, so a seq is
-- never reused after DropIMDay. A conv_id is "group:<id>" or
-- "c2c:<ref>|<ref>" (4 + 23 + 1 + 23 = 51 characters).
CREATE TABLE im_conversations (
    sdkappid INTEGER NOT NULL CHECK (sdkappid BETWEEN 1 AND 4294967295),
    conv_id  TEXT    NOT NULL CHECK (substr(conv_id, 1, 6) = 'group:' OR
        (length(conv_id) = 51 AND substr(conv_id, 1, 5) = 'c2c:~' AND substr(conv_id, 28, 2) = '|~')),
    last_seq INTEGER NOT NULL CHECK (last_seq >= 0),
    PRIMARY KEY (sdkappid, conv_id)
) WITHOUT ROWID, STRICT;

-- Messages, keyed (sdkappid, conv_id, seq); `day` (UTC days since the
-- epoch) lets retention delete a whole day through one index range
-- (RETAIN-3), and the sender index finds one user's messages for erasure
-- (RIGHTS-1/3). body is the sealed body and cloud custom data together
-- (there is no cloud_custom_data column any more). A recalled message
-- keeps only the 8-byte key ids of its sender's and its recaller's data
-- keys in body, an erased one X'' (and sender ''): both are tombstones.
CREATE TABLE im_messages (
    sdkappid      INTEGER NOT NULL CHECK (sdkappid BETWEEN 1 AND 4294967295),
    conv_id       TEXT    NOT NULL CHECK (substr(conv_id, 1, 6) = 'group:' OR
        (length(conv_id) = 51 AND substr(conv_id, 1, 5) = 'c2c:~' AND substr(conv_id, 28, 2) = '|~')),
    seq           INTEGER NOT NULL CHECK (seq >= 1),
    day           INTEGER NOT NULL,
    at            INTEGER NOT NULL,
    sender        TEXT    NOT NULL CHECK (sender = '' OR (length(sender) = 23 AND substr(sender, 1, 1) = '~')),
    client_msg_id TEXT    CHECK (client_msg_id IS NULL OR length(CAST(client_msg_id AS BLOB)) BETWEEN 1 AND 128),
    body          BLOB    NOT NULL,
    need_receipt  INTEGER NOT NULL DEFAULT 0 CHECK (need_receipt IN (0, 1)),
    recalled      INTEGER NOT NULL DEFAULT 0 CHECK (recalled IN (0, 1)),
    recalled_at   INTEGER,
    recalled_by   TEXT    CHECK (recalled_by IS NULL OR recalled_by = '' OR
        (length(recalled_by) = 23 AND substr(recalled_by, 1, 1) = '~')),
    erased        INTEGER NOT NULL DEFAULT 0 CHECK (erased IN (0, 1)),
    PRIMARY KEY (sdkappid, conv_id, seq)
) STRICT;
CREATE INDEX im_messages_day ON im_messages (day, sdkappid);
CREATE INDEX im_messages_sender ON im_messages (sdkappid, sender);
-- Exactly-once: a retried client message id returns the original seq.
CREATE UNIQUE INDEX im_messages_client_id ON im_messages (sdkappid, conv_id, sender, client_msg_id)
    WHERE client_msg_id IS NOT NULL;

-- One row per (conversation, user) the user takes part in: the read cursor
-- and the conversation list. user_id: reference.
CREATE TABLE im_cursors (
    sdkappid INTEGER NOT NULL,
    conv_id  TEXT    NOT NULL CHECK (substr(conv_id, 1, 6) = 'group:' OR
        (length(conv_id) = 51 AND substr(conv_id, 1, 5) = 'c2c:~' AND substr(conv_id, 28, 2) = '|~')),
    user_id  TEXT    NOT NULL CHECK (length(user_id) = 23 AND substr(user_id, 1, 1) = '~'),
    read_seq INTEGER NOT NULL DEFAULT 0 CHECK (read_seq >= 0),
    PRIMARY KEY (sdkappid, conv_id, user_id)
) WITHOUT ROWID, STRICT;
CREATE INDEX im_cursors_user ON im_cursors (sdkappid, user_id);

-- Message KV extensions, first writer wins. value is sealed with the
-- writer's key: 8-byte key id, 12-byte nonce, ≤ 1024 bytes, 16-byte tag
-- (the service bounds the clear value). writer: reference, '' once the
-- writer's name was erased.
CREATE TABLE im_extensions (
    sdkappid INTEGER NOT NULL,
    conv_id  TEXT    NOT NULL,
    seq      INTEGER NOT NULL,
    key      TEXT    NOT NULL CHECK (length(CAST(key AS BLOB)) BETWEEN 1 AND 100),
    value    BLOB    NOT NULL CHECK (length(value) BETWEEN 36 AND 1060),
    writer   TEXT    NOT NULL CHECK (writer = '' OR (length(writer) = 23 AND substr(writer, 1, 1) = '~')),
    set_at   INTEGER NOT NULL,
    PRIMARY KEY (sdkappid, conv_id, seq, key),
    FOREIGN KEY (sdkappid, conv_id, seq) REFERENCES im_messages (sdkappid, conv_id, seq) ON DELETE CASCADE
) WITHOUT ROWID, STRICT;
