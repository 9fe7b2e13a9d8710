package consent

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/parley-rtc/parley/internal/store"
	"github.com/parley-rtc/parley/protocol"
)

// ErrCorrection means a correction cannot be applied as asked.
var ErrCorrection = errors.New("consent: invalid correction")

// devices returns the user's devices with their latest entry, from the
// ledger (newest first, so the first entry seen per device is its latest).
func (s *Service) devices(ctx context.Context, appID uint32, userID string) ([]Entry, error) {
	es, err := s.ledger.ListConsent(ctx, appID, store.ConsentFilter{UserID: userID, Limit: 10_000})
	if err != nil {
		return nil, err
	}
	var latest []Entry
	for _, e := range es {
		if !slices.ContainsFunc(latest, func(l Entry) bool { return l.DeviceID == e.DeviceID }) {
			latest = append(latest, e)
		}
	}
	return latest, nil
}

// WithdrawAll withdraws the user's consent on every device whose latest
// entry is a grant (a data-subject withdrawal or an account
// cancellation, CONSENT-5, RIGHTS-6). It returns how many devices.
func (s *Service) WithdrawAll(ctx context.Context, appID uint32, userID string) (int, error) {
	devs, err := s.devices(ctx, appID, userID)
	if err != nil {
		return 0, fmt.Errorf("consent: withdraw all: %w", err)
	}
	n := 0
	for _, d := range devs {
		if d.Action != store.ConsentGrant {
			continue
		}
		if err := s.Withdraw(ctx, appID, userID, d.DeviceID); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Declared is a correction of the user-declared consent fields: the age
// band and the guardian reference (MINOR-1). Nil fields stay as they are.
type Declared struct {
	AgeBand     *string
	GuardianRef *string
}

// CorrectDeclared records, for every device whose latest entry is a grant,
// a new grant equal to it but for the corrected fields (the ledger is
// append-only: a correction is a new entry, CONSENT-3). A correction to
// minor without a guardian reference is refused (MINOR-1). It returns the
// number of entries recorded.
func (s *Service) CorrectDeclared(ctx context.Context, appID uint32, userID string, c Declared) (int, error) {
	if c.AgeBand != nil && *c.AgeBand != protocol.AgeBandAdult && *c.AgeBand != protocol.AgeBandMinor {
		return 0, fmt.Errorf("%w: age_band must be %q or %q", ErrCorrection, protocol.AgeBandAdult, protocol.AgeBandMinor)
	}
	if c.GuardianRef != nil && len(*c.GuardianRef) > 128 {
		return 0, fmt.Errorf("%w: guardian_ref over 128 bytes", ErrCorrection)
	}
	devs, err := s.devices(ctx, appID, userID)
	if err != nil {
		return 0, fmt.Errorf("consent: correct: %w", err)
	}
	n := 0
	for _, d := range devs {
		if d.Action != store.ConsentGrant {
			continue
		}
		e := d
		e.ID, e.RecordedAt = 0, s.now().UTC()
		if c.AgeBand != nil {
			e.AgeBand = *c.AgeBand
		}
		if c.GuardianRef != nil {
			e.GuardianRef = *c.GuardianRef
		}
		if e.AgeBand == protocol.AgeBandMinor && e.GuardianRef == "" {
			return n, fmt.Errorf("%w: a minor's consent needs guardian_ref", ErrCorrection)
		}
		_, appended, err := s.appendEntry(ctx, e)
		if err != nil {
			return n, fmt.Errorf("consent: correct: %w", err)
		}
		if appended {
			n++
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("%w: the user has no consent in force to correct", ErrCorrection)
	}
	return n, nil
}

// HasGuardianConsent reports whether any of the user's devices has, as its
// latest entry, a minor's grant with a guardian reference (MINOR-1): data
// stored under it was collected with the guardian's consent.
func (s *Service) HasGuardianConsent(ctx context.Context, appID uint32, userID string) (bool, error) {
	devs, err := s.devices(ctx, appID, userID)
	if err != nil {
		return false, fmt.Errorf("consent: guardian consent: %w", err)
	}
	return slices.ContainsFunc(devs, func(e Entry) bool {
		return e.Action == store.ConsentGrant && e.AgeBand == protocol.AgeBandMinor && e.GuardianRef != ""
	}), nil
}
