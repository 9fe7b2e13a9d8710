package store

import (
	"context"
	"time"
)

// AuditLogRecord is one record of the Merkle audit log (package audit):
// Seq is its index in the tree, from 0; Data is its canonical JSON, which
// holds commitments and codes, never personal information.
type AuditLogRecord struct {
	Seq  int64
	Data []byte
}

// AuditLogHash is one stored hash of the tree, at an index numbered as
// golang.org/x/mod/sumdb/tlog.StoredHashIndex numbers them.
type AuditLogHash struct {
	Index int64
	Hash  [32]byte
}

// AuditLogCheckpoint is a signed tree head: Note is the signed note text
// (golang.org/x/mod/sumdb/note) over the tlog tree description of the
// first Size records.
type AuditLogCheckpoint struct {
	Size int64
	Note []byte
	At   time.Time // millisecond precision
}

// AuditLogStore keeps the Merkle audit log. It is append-only: nothing is
// ever updated or deleted, and the package audit detects it if anything is.
type AuditLogStore interface {
	// AppendAuditLogRecord stores rec, the stored hashes the record adds
	// to the tree and, if cp is non-nil, a checkpoint, in one
	// transaction. A seq, hash index or checkpoint size that already
	// exists is ErrConflict and nothing is written.
	AppendAuditLogRecord(ctx context.Context, rec AuditLogRecord, hashes []AuditLogHash, cp *AuditLogCheckpoint) error
	// AuditLogSize is one more than the highest record seq (0 if empty).
	AuditLogSize(ctx context.Context) (int64, error)
	// AuditLogRecords returns up to limit records with Seq >= from, in
	// seq order.
	AuditLogRecords(ctx context.Context, from int64, limit int) ([]AuditLogRecord, error)
	// AuditLogHashes returns the stored hashes at indexes, in the same
	// order; a missing index is ErrNotFound.
	AuditLogHashes(ctx context.Context, indexes []int64) ([][32]byte, error)
	// AuditLogHashRange returns the stored hashes with lo <= Index < hi,
	// in index order.
	AuditLogHashRange(ctx context.Context, lo, hi int64) ([]AuditLogHash, error)
	// PutAuditLogCheckpoint stores a checkpoint; an existing size is
	// ErrConflict.
	PutAuditLogCheckpoint(ctx context.Context, cp AuditLogCheckpoint) error
	// LatestAuditLogCheckpoint returns the checkpoint of the largest size,
	// or ErrNotFound.
	LatestAuditLogCheckpoint(ctx context.Context) (AuditLogCheckpoint, error)
	// AuditLogCheckpoints returns up to limit checkpoints with Size >
	// afterSize, in size order.
	AuditLogCheckpoints(ctx context.Context, afterSize int64, limit int) ([]AuditLogCheckpoint, error)
	// AuditLogCheckpointCount is the number of stored checkpoints.
	AuditLogCheckpointCount(ctx context.Context) (int64, error)
}
