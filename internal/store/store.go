// Package store declares the persistence interfaces Parley's services consume.
// Each interface is small and owned by its consumer's needs, so the embedded
// SQLite implementation (store/sqlite) and a later PostgreSQL one can be
// swapped in one wiring function without changing callers.
//
// Implementations must be safe for concurrent use and return the sentinel
// errors in errors.go.
package store

import (
	"context"
	"time"
)

// BillingMode selects what an app is metered on.
type BillingMode string

// Billing modes.
const (
	BillingParticipantMinutes BillingMode = "participant_minutes"
	BillingBandwidth          BillingMode = "bandwidth"
)

// Valid reports whether m is a known billing mode.
func (m BillingMode) Valid() bool {
	return m == BillingParticipantMinutes || m == BillingBandwidth
}

// AppSettings are the per-app switches an operator can change after creation.
type AppSettings struct {
	Recording bool
	Relay     bool
	// BillingMode is BillingParticipantMinutes or BillingBandwidth.
	BillingMode BillingMode
	// EnforcePrivateMapKey makes room entry require a PrivateMapKey in
	// addition to the UserSig.
	EnforcePrivateMapKey bool
	// MinorAudience declares the app's users under 14 (MINOR-1): each is
	// a minor whose consent needs a guardian reference, with every
	// optional switch off.
	MinorAudience bool
	// MessageRetentionDays is how long the app's message history is
	// kept (RETAIN-3: "as long as the app's configured retention"): 0
	// means the server's im.retention, else 1 to MaxMessageRetentionDays
	// whole days, shorter or longer than the server's.
	MessageRetentionDays int
}

// MaxMessageRetentionDays bounds an app's own message retention: ten
// years, beyond which keeping chat history has no plausible purpose.
const MaxMessageRetentionDays = 3650

// App is one tenant: an SDKAppID with its secret key, sealed at rest.
type App struct {
	SDKAppID uint32
	Name     string
	// SealedSecret is the secret key encrypted by a keyring.Sealer with
	// the SDKAppID as associated data; the store never sees plaintext.
	SealedSecret []byte
	// SecretKeyID names the key-encryption key that sealed SealedSecret.
	SecretKeyID string
	Settings    AppSettings
	// CreatedAt has microsecond precision, the finest both SQLite
	// integers and PostgreSQL timestamptz keep identically.
	CreatedAt time.Time
}

// AppStore persists apps.
type AppStore interface {
	// AllocateSDKAppID reserves a new, never-reused SDKAppID. It is
	// separate from CreateApp because the secret is sealed with the id as
	// associated data before the row can be written.
	AllocateSDKAppID(ctx context.Context) (uint32, error)
	// CreateApp inserts a; ErrConflict if a.SDKAppID exists.
	CreateApp(ctx context.Context, a App) error
	// GetApp returns the app; ErrNotFound if absent.
	GetApp(ctx context.Context, sdkAppID uint32) (App, error)
	// ListApps returns all apps ordered by SDKAppID.
	ListApps(ctx context.Context) ([]App, error)
	// DeleteApp removes the app; ErrNotFound if absent.
	DeleteApp(ctx context.Context, sdkAppID uint32) error
	// UpdateAppSettings replaces the settings; ErrNotFound if absent.
	UpdateAppSettings(ctx context.Context, sdkAppID uint32, s AppSettings) error
	// UpdateAppSecret replaces the sealed secret (rotation); ErrNotFound
	// if absent.
	UpdateAppSecret(ctx context.Context, sdkAppID uint32, sealed []byte, keyID string) error
}

// Store aggregates every interface one backend provides, so a second
// backend (PostgreSQL) is checked against all of them at compile time.
type Store interface {
	AppStore
	AppCallbackStore
	PolicyStore
	ConsentStore
	TelemetryStore
	AuditStore
	WebhookOutbox
	IMStore
	IMAdminStore
	IMPushStore
	RetentionStore
	AuditLogStore
	SubjectKeyStore
	DSRStore
	OperatorStore
	IncidentStore
	Close() error
}
