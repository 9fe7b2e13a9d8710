package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parley-rtc/parley/internal/keyring"
)

// Retention errors.
var (
	// ErrInvalidHold means a legal hold was refused: unknown reason, a
	// note too long, a malformed subject reference, or an expiry missing
	// or beyond MaxHoldDuration.
	ErrInvalidHold = errors.New("store: invalid legal hold")
	// ErrHoldEnded means the hold was already released or has expired.
	ErrHoldEnded = errors.New("store: legal hold already ended")
)

// HoldReason is the legal ground of a hold (RETAIN-4).
type HoldReason string

// The grounds a hold may have: a legal obligation, a court order, an
// authority's request, a dispute.
const (
	HoldLaw       HoldReason = "law"
	HoldCourt     HoldReason = "court"
	HoldAuthority HoldReason = "authority"
	HoldDispute   HoldReason = "dispute"
)

// Valid reports whether r is a known reason.
func (r HoldReason) Valid() bool {
	return r == HoldLaw || r == HoldCourt || r == HoldAuthority || r == HoldDispute
}

// Hold limits.
const (
	// MaxHoldDuration bounds a hold: it must expire at most three years
	// after it is recorded. A longer obligation is a new hold, recorded
	// again with its ground.
	MaxHoldDuration = 3 * 365 * 24 * time.Hour
	// MaxHoldNote is the note's limit in bytes.
	MaxHoldNote = 200
	// EndedHoldRetention is how long a released or expired hold's record
	// is kept before retention deletes it.
	EndedHoldRetention = 14 * 24 * time.Hour
)

// LegalHold keeps an app's data, or one user's data in an app, past its
// retention limit until the hold ends (RETAIN-4). It never holds a user
// id: Subject is the user's blind-index reference
// ((*keyring.BlindIndex).User), which callers compute.
type LegalHold struct {
	ID       int64
	SDKAppID uint32
	// Subject is "" for a hold on the whole app, else the user's
	// reference text ("~" and 22 base64url characters).
	Subject string
	Reason  HoldReason
	// Note is an operator's remark such as a case number, at most
	// MaxHoldNote bytes. It must not contain personal information.
	Note      string
	CreatedAt time.Time // millisecond precision
	ExpiresAt time.Time
	// ReleasedAt is zero until the hold is released.
	ReleasedAt time.Time
}

// Active reports whether the hold is in force at t.
func (h LegalHold) Active(t time.Time) bool {
	return h.ReleasedAt.IsZero() && t.Before(h.ExpiresAt)
}

// EndedAt is when the hold stopped, or will stop, being in force.
func (h LegalHold) EndedAt() time.Time {
	if !h.ReleasedAt.IsZero() && h.ReleasedAt.Before(h.ExpiresAt) {
		return h.ReleasedAt
	}
	return h.ExpiresAt
}

// SubjectRef is the subject's 16-byte reference (nil for an app hold),
// the form telemetry stores in user_ref.
func (h LegalHold) SubjectRef() ([]byte, error) {
	if h.Subject == "" {
		return nil, nil
	}
	ref, ok := keyring.RefBytes(h.Subject)
	if !ok {
		return nil, fmt.Errorf("%w: subject is not a blind-index reference (want %q and 22 base64url characters; pass the reference, never the user id)", ErrInvalidHold, "~")
	}
	return ref, nil
}

// Validate checks a hold before it is recorded.
func (h LegalHold) Validate() error {
	switch {
	case h.SDKAppID == 0:
		return fmt.Errorf("%w: sdkappid is zero", ErrInvalidHold)
	case !h.Reason.Valid():
		return fmt.Errorf("%w: reason %q (want law, court, authority or dispute)", ErrInvalidHold, h.Reason)
	case len(h.Note) > MaxHoldNote:
		return fmt.Errorf("%w: note is %d bytes, at most %d", ErrInvalidHold, len(h.Note), MaxHoldNote)
	case !utf8.ValidString(h.Note) || strings.IndexFunc(h.Note, unicode.IsControl) >= 0:
		return fmt.Errorf("%w: note must be UTF-8 text without control characters", ErrInvalidHold)
	case h.CreatedAt.IsZero() || h.ExpiresAt.IsZero():
		return fmt.Errorf("%w: an expiry is mandatory", ErrInvalidHold)
	case !h.ExpiresAt.After(h.CreatedAt):
		return fmt.Errorf("%w: expiry %s is not after %s", ErrInvalidHold, stamp(h.ExpiresAt), stamp(h.CreatedAt))
	case h.ExpiresAt.Sub(h.CreatedAt) > MaxHoldDuration:
		return fmt.Errorf("%w: expiry %s is more than %d days after %s; record a new hold when this one ends",
			ErrInvalidHold, stamp(h.ExpiresAt), int(MaxHoldDuration/(24*time.Hour)), stamp(h.CreatedAt))
	}
	_, err := h.SubjectRef()
	return err
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// SweepCount is one sweep's outcome: rows deleted, and rows past their
// limit that legal holds kept.
type SweepCount struct {
	Deleted int64
	Held    int64
}

// Add sums two counts.
func (c SweepCount) Add(o SweepCount) SweepCount {
	return SweepCount{Deleted: c.Deleted + o.Deleted, Held: c.Held + o.Held}
}

// AppTermination records a deleted app whose data retention purges
// (RETAIN-2).
type AppTermination struct {
	SDKAppID     uint32
	TerminatedAt time.Time
	// PurgedAt is zero until every row of the app is gone.
	PurgedAt time.Time
}

// AppTerminator deletes an app and records its termination in one
// transaction; the app service uses it in place of AppStore.DeleteApp
// when the store provides it, so the record carries the service's clock.
type AppTerminator interface {
	// TerminateApp removes the app row (its secret and callback key)
	// and records the termination at at; ErrNotFound if absent.
	TerminateApp(ctx context.Context, sdkAppID uint32, at time.Time) error
}

// LegalHoldStore records legal holds (RETAIN-4).
type LegalHoldStore interface {
	// AddLegalHold validates and records h, returning it with its ID.
	// The app must exist or be terminated and not yet purged
	// (ErrNotFound otherwise).
	AddLegalHold(ctx context.Context, h LegalHold) (LegalHold, error)
	// ListLegalHolds lists the holds of one app (every app when sdkAppID
	// is 0), oldest first: those in force at at, or every recorded one
	// when includeEnded is set.
	ListLegalHolds(ctx context.Context, sdkAppID uint32, includeEnded bool, at time.Time) ([]LegalHold, error)
	// ReleaseLegalHold ends a hold at at: ErrNotFound if absent,
	// ErrHoldEnded if already released or expired.
	ReleaseLegalHold(ctx context.Context, id int64, at time.Time) (LegalHold, error)
}

// RetentionStore is what the retention engine sweeps (issue 5: RETAIN-1
// to RETAIN-4). Every sweep keeps the rows a hold in force at now covers
// and reports them as held; every Oldest method reports the oldest record
// no hold covers (ok is false when there is none), so a held record does
// not make a store look late.
type RetentionStore interface {
	LegalHoldStore
	AppTerminator

	// OldestTelemetry is the day of the oldest partition with an unheld
	// row.
	OldestTelemetry(ctx context.Context, now time.Time) (at time.Time, ok bool, err error)
	// SweepTelemetry drops day partitions wholly before before and
	// deletes older rows of the partition straddling it. A partition
	// with held rows loses only its unheld rows; it is dropped once no
	// hold touches it.
	SweepTelemetry(ctx context.Context, before, now time.Time) (SweepCount, error)

	OldestIMMessage(ctx context.Context, now time.Time) (at time.Time, ok bool, err error)
	// SweepIMMessages deletes messages sent before before, except those
	// of a held app or sent by a held subject.
	SweepIMMessages(ctx context.Context, before, now time.Time) (SweepCount, error)

	OldestFinishedWebhook(ctx context.Context, now time.Time) (at time.Time, ok bool, err error)
	// SweepFinishedWebhooks deletes delivered and failed callbacks
	// created before before, except those of a held app.
	SweepFinishedWebhooks(ctx context.Context, before, now time.Time) (SweepCount, error)

	OldestIMPushToken(ctx context.Context, now time.Time) (at time.Time, ok bool, err error)
	// SweepIMPushTokens deletes push tokens registered before before,
	// except those of a held app.
	SweepIMPushTokens(ctx context.Context, before, now time.Time) (SweepCount, error)

	// OldestPendingTermination is the oldest termination not yet purged
	// of an app no hold covers.
	OldestPendingTermination(ctx context.Context, now time.Time) (at time.Time, ok bool, err error)
	// PurgeTerminatedApps deletes every row of every terminated app in
	// every store, except what holds in force keep, and marks an app
	// purged once nothing of it is left.
	PurgeTerminatedApps(ctx context.Context, now time.Time) (SweepCount, error)
	// AppTerminations lists terminations, oldest first; pending only
	// unless all.
	AppTerminations(ctx context.Context, all bool) ([]AppTermination, error)

	// OldestEndedLegalHold is when the longest-ended hold ended.
	OldestEndedLegalHold(ctx context.Context, now time.Time) (at time.Time, ok bool, err error)
	// DeleteEndedLegalHolds deletes the records of holds that ended
	// before before.
	DeleteEndedLegalHolds(ctx context.Context, before time.Time) (SweepCount, error)
}
