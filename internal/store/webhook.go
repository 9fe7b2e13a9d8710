package store

import (
	"context"
	"time"
)

// WebhookState is where a webhook delivery is in its life.
type WebhookState string

// Webhook delivery states.
const (
	// WebhookPending is waiting for its next attempt (or in one).
	WebhookPending WebhookState = "pending"
	// WebhookDelivered got a success reply from the receiver.
	WebhookDelivered WebhookState = "delivered"
	// WebhookFailed used up its retry budget, or cannot be delivered.
	WebhookFailed WebhookState = "failed"
)

// Valid reports whether s is a known state.
func (s WebhookState) Valid() bool {
	return s == WebhookPending || s == WebhookDelivered || s == WebhookFailed
}

// Webhook is one row of the durable outbox: a signed event callback to
// one app's backend. Body holds personal information (user ids in event
// bodies); it is kept only until retention deletes the row. LastError
// never does: it is a fixed phrase such as "timeout" or "http status 500".
type Webhook struct {
	ID       int64
	SDKAppID uint32
	// EventID is unique per app; receivers deduplicate on it.
	EventID string
	URL     string
	// Body is the raw JSON exactly as signed.
	Body      []byte
	CreatedAt time.Time
	// FirstAttemptAt anchors the retry schedule; zero before the first
	// attempt.
	FirstAttemptAt time.Time
	NextAttemptAt  time.Time
	Attempts       int
	State          WebhookState
	LastError      string
}

// WebhookResult is the outcome of one attempt (or of a release without
// one), applied to a pending row.
type WebhookResult struct {
	// State is WebhookPending to try again at NextAttemptAt, or final.
	State         WebhookState
	NextAttemptAt time.Time
	LastError     string
	// Attempted is false when an attempt was abandoned before it could
	// be judged (shutdown): the row is rescheduled and the attempt is not
	// counted.
	Attempted bool
}

// WebhookOutbox persists webhook deliveries so that an accepted event is
// delivered or recorded as failed across restarts. Times have millisecond
// precision.
type WebhookOutbox interface {
	// EnqueueWebhook durably inserts w as pending, due at
	// w.NextAttemptAt, and returns its id; the row is committed before it
	// returns. ErrConflict if (SDKAppID, EventID) exists.
	EnqueueWebhook(ctx context.Context, w Webhook) (int64, error)
	// ClaimWebhooks returns up to limit pending rows due at now, oldest
	// due first, and leases them: their NextAttemptAt becomes leaseUntil
	// (so a crash mid-attempt retries them then) and FirstAttemptAt is
	// set to now where unset.
	ClaimWebhooks(ctx context.Context, now, leaseUntil time.Time, limit int) ([]Webhook, error)
	// NextWebhookAt returns the earliest NextAttemptAt of pending rows;
	// ok is false when none is pending.
	NextWebhookAt(ctx context.Context) (at time.Time, ok bool, err error)
	// FinishWebhookAttempt applies r to the pending row id; ErrNotFound
	// if there is no such pending row.
	FinishWebhookAttempt(ctx context.Context, id int64, r WebhookResult) error
	// GetWebhook returns one row; ErrNotFound if absent.
	GetWebhook(ctx context.Context, id int64) (Webhook, error)
	// DeleteWebhooksBefore deletes delivered and failed rows created
	// before t (retention; pending rows are never deleted) and returns
	// how many it deleted.
	DeleteWebhooksBefore(ctx context.Context, t time.Time) (int64, error)
}
