package store

import (
	"context"
	"time"
)

// Operator is a console account of the people who run Parley (SEC-2).
// Role is one of package operator's roles; PasswordHash is the encoded
// PBKDF2 hash, never a password.
type Operator struct {
	// ID is assigned by the store and never reused.
	ID           int64
	Name         string
	Role         string
	PasswordHash string
	// CreatedAt and DisabledAt have millisecond precision; DisabledAt is
	// zero while the account is active.
	CreatedAt  time.Time
	DisabledAt time.Time
}

// Disabled reports whether the account was disabled.
func (o Operator) Disabled() bool { return !o.DisabledAt.IsZero() }

// OperatorSession is a console login. Only the SHA-256 of the session
// token is stored, so a copy of the database opens no session.
type OperatorSession struct {
	TokenHash  [32]byte
	OperatorID int64
	CreatedAt  time.Time // millisecond precision
	ExpiresAt  time.Time // millisecond precision
}

// OperatorStore keeps operator accounts and their sessions.
type OperatorStore interface {
	// CreateOperator inserts o and returns it with ID set; ErrConflict if
	// the name is taken (by an active or a disabled account).
	CreateOperator(ctx context.Context, o Operator) (Operator, error)
	// GetOperator returns an account by id; ErrNotFound if absent.
	GetOperator(ctx context.Context, id int64) (Operator, error)
	// GetOperatorByName returns an account by name; ErrNotFound if absent.
	GetOperatorByName(ctx context.Context, name string) (Operator, error)
	// ListOperators returns every account ordered by id.
	ListOperators(ctx context.Context) ([]Operator, error)
	// DisableOperator marks an active account disabled at `at` and deletes
	// its sessions, atomically. Disabling the last active owner is
	// refused with ErrConflict (nobody could manage operators any more).
	// ErrNotFound if there is no active account with that id.
	DisableOperator(ctx context.Context, id int64, at time.Time) error
	// SetOperatorPassword replaces an active account's hash and deletes
	// its sessions, atomically; ErrNotFound if there is no active account
	// with that id.
	SetOperatorPassword(ctx context.Context, id int64, hash string) error

	// CreateOperatorSession stores a session; ErrNotFound if the operator
	// is absent or disabled.
	CreateOperatorSession(ctx context.Context, s OperatorSession) error
	// GetOperatorSession returns the session with that token hash;
	// ErrNotFound if absent.
	GetOperatorSession(ctx context.Context, tokenHash [32]byte) (OperatorSession, error)
	// DeleteOperatorSession removes one session (logout); no error if
	// it is already gone.
	DeleteOperatorSession(ctx context.Context, tokenHash [32]byte) error
	// DeleteOperatorSessionsBefore removes sessions that expired before t
	// and returns how many.
	DeleteOperatorSessionsBefore(ctx context.Context, t time.Time) (int64, error)
}
