// Package consent keeps the consent ledger and the privacy-policy archive
// and decides, on every join, whether the user's consent lets the session
// start (PROMISES CONSENT-1…7, DISCLOSE-2, MINOR-1).
//
// An app publishes policy versions; a version marked material needs fresh
// consent once it takes effect (CONSENT-6). The SDK sends the consent it
// holds with every join (protocol.ConsentClaim); the service records a new
// or changed claim in the append-only ledger (CONSENT-3) and admits the
// join only when the claim, or without one the latest ledger entry, is a
// grant to a published version no material version has superseded.
// Withdrawal appends an entry that refuses every later join until fresh
// consent (CONSENT-5). A minor's consent needs a guardian reference, and a
// minor's claim without one is refused and not recorded (MINOR-1).
//
// The service never changes an app's settings (SWITCH-4): it only records
// and reads decisions.
package consent

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/parley-rtc/parley/internal/store"
)

// Policy is a published privacy-policy version (DISCLOSE-2).
type Policy = store.Policy

// Entry is one consent-ledger entry (CONSENT-3).
type Entry = store.ConsentEntry

// Filter narrows a ledger listing: UserID, DeviceID, Since, Limit.
type Filter = store.ConsentFilter

// Options tunes a Service. The zero value is usable.
type Options struct {
	Logger *slog.Logger     // nil: discard
	Now    func() time.Time // nil: time.Now
	// Recorded, if set, is called after an entry is appended to the
	// ledger (the server appends it to the audit log, SEC-2). An error
	// fails the operation that recorded the entry.
	Recorded func(ctx context.Context, e Entry) error
	// Published, if set, is called after a policy version is published
	// (the server appends it to the audit log).
	Published func(ctx context.Context, p Policy) error
}

// Service keeps the policy archive and the consent ledger. It is safe for
// concurrent use; all state lives in the stores.
type Service struct {
	policies  store.PolicyStore
	ledger    store.ConsentStore
	log       *slog.Logger
	now       func() time.Time
	recorded  func(ctx context.Context, e Entry) error
	published func(ctx context.Context, p Policy) error
}

// New builds the service over its two stores. The embedded *sqlite.DB
// implements both: New(db, db, opts).
func New(policies store.PolicyStore, ledger store.ConsentStore, o Options) *Service {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{
		policies:  policies,
		ledger:    ledger,
		log:       o.Logger.With("component", "consent"),
		now:       o.Now,
		recorded:  o.Recorded,
		published: o.Published,
	}
}

// appendEntry appends e to the ledger and reports an appended entry to
// the Recorded hook.
func (s *Service) appendEntry(ctx context.Context, e Entry) (Entry, bool, error) {
	got, appended, err := s.ledger.AppendConsent(ctx, e)
	if err != nil || !appended || s.recorded == nil {
		return got, appended, err
	}
	if err := s.recorded(ctx, got); err != nil {
		return got, appended, fmt.Errorf("consent: record in audit log: %w", err)
	}
	return got, appended, nil
}

// Ledger returns the app's ledger entries matching f, newest first: the
// operator's and console's view (CONSENT-3). It returns personal
// information; callers log the access (SEC-2).
func (s *Service) Ledger(ctx context.Context, appID uint32, f Filter) ([]Entry, error) {
	es, err := s.ledger.ListConsent(ctx, appID, f)
	if err != nil {
		return nil, fmt.Errorf("consent: ledger of app %d: %w", appID, err)
	}
	return es, nil
}

// Stats counts the app's (user, device) pairs whose latest decision is a
// grant and a withdrawal, for the console.
func (s *Service) Stats(ctx context.Context, appID uint32) (granted, withdrawn int, err error) {
	st, err := s.ledger.ConsentStats(ctx, appID)
	if err != nil {
		return 0, 0, fmt.Errorf("consent: stats of app %d: %w", appID, err)
	}
	return st.Granted, st.Withdrawn, nil
}
