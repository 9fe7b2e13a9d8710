package store

import (
	"context"
	"time"
)

// DSRRecord is the stored form of a data-subject request (package dsr).
// It holds no personal data: the subject is a commitment under the
// subject's own key, unlinkable once that key is destroyed.
type DSRRecord struct {
	ID           string
	SDKAppID     uint32
	Type         string
	State        string
	Source       string
	Subject      string // hex commitment
	Ground       string
	Message      string
	ReceivedAt   time.Time
	VerifiedAt   time.Time // zero: not yet
	ProcessingAt time.Time
	FinishedAt   time.Time
	DueAt        time.Time
	Receipt      []byte // signed receipt JSON, or nil
	AuditSeq     int64  // audit-log record of the receipt; -1 if none
}

// DSRStore keeps data-subject requests. Records are kept for
// DSRRetention after they finish and then deleted by retention.
type DSRStore interface {
	// InsertDSR stores a new request; ErrConflict if the id exists.
	InsertDSR(ctx context.Context, r DSRRecord) error
	// UpdateDSR replaces a request's state fields; ErrNotFound.
	UpdateDSR(ctx context.Context, r DSRRecord) error
	// GetDSR returns a request; ErrNotFound.
	GetDSR(ctx context.Context, id string) (DSRRecord, error)
	// ListDSR returns an app's requests, newest first (all apps if 0).
	ListDSR(ctx context.Context, sdkAppID uint32, limit int) ([]DSRRecord, error)
	// CountDSR counts an app's requests of a type for a subject received
	// at or after since (the "unreasonably repeated" ground).
	CountDSR(ctx context.Context, sdkAppID uint32, subject, typ string, since time.Time) (int, error)
	// DeleteFinishedDSR deletes requests finished before t.
	DeleteFinishedDSR(ctx context.Context, before time.Time) (int64, error)
}

// DSRRetention is how long a finished request's record (with its
// receipt) is kept: three years, the general limitation period for civil
// claims (PRC Civil Code art. 188), so a receipt can answer a dispute.
const DSRRetention = 3 * 365 * 24 * time.Hour
