package store

import (
	"context"
	"slices"
	"time"
)

// Policy is one published version of an app's privacy policy. Published
// versions are archived forever and never changed (DISCLOSE-2): a
// correction is a new version.
type Policy struct {
	SDKAppID uint32
	// Version names the policy text the end user was shown, 1-64 bytes,
	// unique per app. SDKs send it in their consent claim.
	Version string
	// Material marks a change that needs fresh consent (CONSENT-6):
	// once it is in force, consent to any earlier version no longer
	// counts.
	Material bool
	// EffectiveAt is when the version takes effect, announced in
	// advance for material changes (CONSENT-6, DISCLOSE-2).
	EffectiveAt time.Time
	Summary     string
	URL         string
	// PublishedAt is when it was published; set by the caller.
	PublishedAt time.Time
	// Seq orders publications: a version with a higher Seq was published
	// later. Assigned by the store; never reused.
	Seq int64
}

// ConsentAction is what a consent-ledger entry records.
type ConsentAction string

// Consent actions (CONSENT-3, CONSENT-5).
const (
	ConsentGrant    ConsentAction = "grant"
	ConsentWithdraw ConsentAction = "withdraw"
)

// Valid reports whether a is a known action.
func (a ConsentAction) Valid() bool { return a == ConsentGrant || a == ConsentWithdraw }

// ConsentEntry is one consent-ledger entry: who decided what, under which
// policy version, for which purposes, how and when (CONSENT-3). Entries are
// append-only; the latest entry for an (app, user, device) is the consent
// in force.
type ConsentEntry struct {
	// ID is assigned by the store and orders entries.
	ID       int64
	SDKAppID uint32
	UserID   string
	DeviceID string
	Action   ConsentAction
	// PolicyVersion is the version consented to; for a withdrawal, the
	// version of the grant it withdraws ("" if there was none).
	PolicyVersion string
	// Purposes are sorted and unique.
	Purposes []string
	// Method is how the user consented (protocol.ConsentMethod*); ""
	// for withdrawals.
	Method string
	// AgeBand is protocol.AgeBandAdult, AgeBandMinor or "" (undeclared).
	AgeBand string
	// GuardianRef references the guardian's consent for a minor (MINOR-1).
	GuardianRef string
	// RecordedAt is the server's time of recording.
	RecordedAt time.Time
	// DeviceGrantedAt is the device's own clock at consent, as claimed;
	// zero when the device did not say.
	DeviceGrantedAt time.Time
}

// SameDecision reports whether e and o record the same decision, so that
// appending o after e would add nothing: a device rejoining with the
// consent it already presented is not re-recorded.
func (e ConsentEntry) SameDecision(o ConsentEntry) bool {
	return e.SDKAppID == o.SDKAppID && e.UserID == o.UserID && e.DeviceID == o.DeviceID &&
		e.Action == o.Action && e.PolicyVersion == o.PolicyVersion &&
		slices.Equal(e.Purposes, o.Purposes) && e.Method == o.Method &&
		e.AgeBand == o.AgeBand && e.GuardianRef == o.GuardianRef &&
		e.DeviceGrantedAt.Equal(o.DeviceGrantedAt)
}

// ConsentFilter narrows a ledger listing. Zero fields do not filter.
type ConsentFilter struct {
	UserID   string
	DeviceID string
	// Since keeps entries recorded at or after it.
	Since time.Time
	// Limit caps the number of entries; zero or negative means the
	// store's default.
	Limit int
}

// ConsentStats counts (user, device) pairs by their latest ledger entry.
type ConsentStats struct {
	Granted   int
	Withdrawn int
}

// ConsentBreakdown counts an app's (user, device) pairs by their latest
// ledger entry — the consent in force, as ConsentStats — broken down by the
// entry's clear columns only: action, policy version, purposes and method.
// The ledger's user and device columns are blind-index references and its
// device id and guardian reference are sealed; a breakdown groups by the
// references without resolving them and opens no sealed value, so it
// holds counts and never an identifier. A pair whose latest entry was
// erased (its key destroyed) is not counted.
type ConsentBreakdown struct {
	Granted   int
	Withdrawn int
	// ByVersion has, per policy version, the pairs whose consent in
	// force is a grant to it and the pairs whose latest entry withdrew a
	// grant to it (Version "" for a withdrawal with no grant before).
	ByVersion []ConsentVersionCount
	// ByPurpose and ByMethod count grants in force only: a withdrawn
	// pair consents to no purpose.
	ByPurpose []ConsentPurposeCount
	ByMethod  []ConsentMethodCount
}

// ConsentVersionCount is one policy version's row of a ConsentBreakdown.
type ConsentVersionCount struct {
	Version     string
	Grants      int
	Withdrawals int
}

// ConsentPurposeCount is the number of grants in force covering Purpose.
type ConsentPurposeCount struct {
	Purpose string
	Grants  int
}

// ConsentMethodCount is the number of grants in force given by Method.
type ConsentMethodCount struct {
	Method string
	Grants int
}

// PolicyStore persists published privacy-policy versions, append-only
// (DISCLOSE-2).
type PolicyStore interface {
	// PublishPolicy appends p and returns it with Seq set; ErrConflict if
	// the app already has that version.
	PublishPolicy(ctx context.Context, p Policy) (Policy, error)
	// ListPolicies returns the app's versions in publication order.
	ListPolicies(ctx context.Context, sdkAppID uint32) ([]Policy, error)
	// LatestMaterialPolicy returns the most recently published material
	// version in force at asOf (EffectiveAt <= asOf); ErrNotFound if none.
	LatestMaterialPolicy(ctx context.Context, sdkAppID uint32, asOf time.Time) (Policy, error)
}

// ConsentStore persists the consent ledger (CONSENT-3). Entries are never
// modified; deleting them is reserved to data-subject rights and retention.
type ConsentStore interface {
	// AppendConsent appends e unless the latest entry for its (app, user,
	// device) already records the same decision (SameDecision), atomically.
	// It returns the entry in force (the new one, with ID set, or the
	// existing one) and whether it appended.
	AppendConsent(ctx context.Context, e ConsentEntry) (ConsentEntry, bool, error)
	// LatestConsent returns the latest entry for the (app, user, device);
	// ErrNotFound if there is none.
	LatestConsent(ctx context.Context, sdkAppID uint32, userID, deviceID string) (ConsentEntry, error)
	// ListConsent returns the app's entries matching f, newest first.
	ListConsent(ctx context.Context, sdkAppID uint32, f ConsentFilter) ([]ConsentEntry, error)
	// ConsentStats counts the app's (user, device) pairs by latest action.
	ConsentStats(ctx context.Context, sdkAppID uint32) (ConsentStats, error)
	// ConsentBreakdown counts the app's (user, device) pairs by latest
	// entry, by action, policy version, purpose and method; rows are
	// sorted by count, largest first, then by name.
	ConsentBreakdown(ctx context.Context, sdkAppID uint32) (ConsentBreakdown, error)
}
