-- Merkle audit log (package audit): an RFC 6962 tree over canonical JSON
-- records built with golang.org/x/mod/sumdb/tlog, with signed checkpoints.
-- Records hold commitments, codes and counts, never personal information,
-- so an erased subject's entries stay verifiable but unlinkable.
CREATE TABLE audit_log_records (
    seq  INTEGER PRIMARY KEY CHECK (seq >= 0),   -- tlog record index, from 0
    data BLOB NOT NULL                           -- canonical JSON record
) STRICT;

-- tlog stored hashes, keyed by tlog.StoredHashIndex.
CREATE TABLE audit_log_hashes (
    idx  INTEGER PRIMARY KEY CHECK (idx >= 0),
    hash BLOB NOT NULL CHECK (length(hash) = 32)
) STRICT;

-- Signed tree heads: a note (golang.org/x/mod/sumdb/note) over the tlog
-- tree description of the first size records.
CREATE TABLE audit_log_checkpoints (
    size  INTEGER PRIMARY KEY CHECK (size > 0),
    note  TEXT NOT NULL,
    at_ms INTEGER NOT NULL                       -- Unix ms
) STRICT;

-- Append-only: the server never changes or removes a row. (Someone with
-- the file can drop these triggers; 'parley audit verify' catches that.)
CREATE TRIGGER audit_log_records_no_update BEFORE UPDATE ON audit_log_records
BEGIN SELECT RAISE(ABORT, 'audit_log_records is append-only'); END;
CREATE TRIGGER audit_log_records_no_delete BEFORE DELETE ON audit_log_records
BEGIN SELECT RAISE(ABORT, 'audit_log_records is append-only'); END;
CREATE TRIGGER audit_log_hashes_no_update BEFORE UPDATE ON audit_log_hashes
BEGIN SELECT RAISE(ABORT, 'audit_log_hashes is append-only'); END;
CREATE TRIGGER audit_log_hashes_no_delete BEFORE DELETE ON audit_log_hashes
BEGIN SELECT RAISE(ABORT, 'audit_log_hashes is append-only'); END;
CREATE TRIGGER audit_log_checkpoints_no_update BEFORE UPDATE ON audit_log_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_log_checkpoints is append-only'); END;
CREATE TRIGGER audit_log_checkpoints_no_delete BEFORE DELETE ON audit_log_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_log_checkpoints is append-only'); END;
