package consent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/parley-rtc/parley/internal/store"
	"github.com/parley-rtc/parley/protocol"
)

// Decision is the outcome of a consent check on a join.
type Decision struct {
	Allowed bool
	// Code is the protocol error code when refused:
	// protocol.ErrCodeConsentRequired (-4008),
	// protocol.ErrCodeGuardianRequired (-4010) or
	// protocol.ErrCodeUserIDInvalid.
	Code int
	// Reason says why, for the client; it names no personal information.
	Reason string
	// Purposes are the consented purposes, sorted (CONSENT-3): the
	// session may process personal information for these only.
	Purposes []string
	// Minor marks a minor's session, admitted on a guardian's consent:
	// optional collection stays off (MINOR-1).
	Minor bool
	// PolicyVersion is the consented version.
	PolicyVersion string
	// Recorded reports that this check appended a ledger entry (a new
	// or changed claim), for the audit log.
	Recorded bool
}

func refuse(code int, format string, a ...any) Decision {
	return Decision{Code: code, Reason: fmt.Sprintf(format, a...)}
}

// CheckJoin decides whether a join may start (CONSENT-1, CONSENT-2) and
// records a new or changed claim in the ledger (CONSENT-3):
//
//   - a device id is required: consent is recorded per device;
//   - a claim must be well formed; a minor's claim needs a guardian
//     reference, else -4010 and nothing is recorded (MINOR-1);
//   - if the app has published policies, the claimed version must be one
//     of them and no material version published after it may be in force
//     (CONSENT-6); with none published (development) any valid claim is
//     accepted;
//   - without a claim, the latest ledger entry must be a grant that
//     passes the same policy test, recorded after its version was
//     published; a withdrawal or no entry refuses (CONSENT-5), and so does
//     an app with no published policy, where a join must carry its claim.
//
// A refusal is a Decision with Allowed false; the error is for store
// faults only.
func (s *Service) CheckJoin(ctx context.Context, appID uint32, userID, deviceID string, claim *protocol.ConsentClaim) (Decision, error) {
	d, err := s.checkJoin(ctx, appID, userID, deviceID, claim)
	if err != nil {
		return Decision{}, err
	}
	if !d.Allowed {
		// No user or device id: the log is not a place for PI.
		s.log.Debug("join refused for consent", "sdkappid", appID, "code", d.Code, "reason", d.Reason)
	}
	return d, nil
}

func (s *Service) checkJoin(ctx context.Context, appID uint32, userID, deviceID string, claim *protocol.ConsentClaim) (Decision, error) {
	if err := protocol.ValidateUserID(userID); err != nil {
		return refuse(protocol.ErrCodeUserIDInvalid, "%v", err), nil
	}
	if err := protocol.ValidateDeviceID(deviceID); err != nil {
		return refuse(protocol.ErrCodeConsentRequired, "consent required: consent is recorded per device: %v", err), nil
	}
	if claim != nil {
		if err := claim.Validate(); err != nil {
			return refuse(protocol.ErrCodeConsentRequired, "consent required: %v", err), nil
		}
		// MINOR-1: checked before anything is read or written, so a
		// minor's claim without a guardian leaves no trace.
		if claim.AgeBand == protocol.AgeBandMinor && claim.GuardianRef == "" {
			return refuse(protocol.ErrCodeGuardianRequired,
				"guardian consent required: a minor's consent needs guardian_ref"), nil
		}
	}
	now := s.now()
	policies, err := s.policies.ListPolicies(ctx, appID)
	if err != nil {
		return Decision{}, fmt.Errorf("consent: check join: %w", err)
	}
	if claim == nil {
		return s.checkLedger(ctx, appID, userID, deviceID, policies, now)
	}
	return s.checkClaim(ctx, appID, userID, deviceID, claim, policies, now)
}

func (s *Service) checkClaim(ctx context.Context, appID uint32, userID, deviceID string,
	claim *protocol.ConsentClaim, policies []store.Policy, now time.Time) (Decision, error) {
	if len(policies) > 0 {
		p, ok := find(policies, claim.PolicyVersion)
		if !ok {
			return refuse(protocol.ErrCodeConsentRequired,
				"consent required: policy version %q is not published for this app", claim.PolicyVersion), nil
		}
		if m, ok := supersededBy(policies, p, now); ok {
			return refuse(protocol.ErrCodeConsentRequired, "consent required: policy %s is in force", m.Version), nil
		}
	}
	e := Entry{
		SDKAppID:      appID,
		UserID:        userID,
		DeviceID:      deviceID,
		Action:        store.ConsentGrant,
		PolicyVersion: claim.PolicyVersion,
		Purposes:      normalise(claim.Purposes),
		Method:        claim.Method,
		AgeBand:       claim.AgeBand,
		GuardianRef:   claim.GuardianRef,
		RecordedAt:    now.UTC(),
	}
	if claim.GrantedAt > 0 {
		e.DeviceGrantedAt = time.UnixMilli(claim.GrantedAt).UTC()
	}
	// CONSENT-5: after a withdrawal, the very consent that was withdrawn
	// (same version and device time) does not come back by being resent;
	// the user must be asked again.
	latest, err := s.ledger.LatestConsent(ctx, appID, userID, deviceID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return Decision{}, fmt.Errorf("consent: check join: %w", err)
	case latest.Action == store.ConsentWithdraw && !e.DeviceGrantedAt.IsZero() &&
		latest.PolicyVersion == e.PolicyVersion && latest.DeviceGrantedAt.Equal(e.DeviceGrantedAt):
		return refuse(protocol.ErrCodeConsentRequired,
			"consent required: this consent was withdrawn; ask the user again"), nil
	}
	_, appended, err := s.appendEntry(ctx, e)
	if err != nil {
		return Decision{}, fmt.Errorf("consent: record consent: %w", err)
	}
	return Decision{
		Allowed:       true,
		Purposes:      e.Purposes,
		Minor:         e.AgeBand == protocol.AgeBandMinor,
		PolicyVersion: e.PolicyVersion,
		Recorded:      appended,
	}, nil
}

func (s *Service) checkLedger(ctx context.Context, appID uint32, userID, deviceID string,
	policies []store.Policy, now time.Time) (Decision, error) {
	latest, err := s.ledger.LatestConsent(ctx, appID, userID, deviceID)
	if errors.Is(err, store.ErrNotFound) {
		return refuse(protocol.ErrCodeConsentRequired, "consent required: none recorded for this user and device"), nil
	}
	if err != nil {
		return Decision{}, fmt.Errorf("consent: check join: %w", err)
	}
	if latest.Action != store.ConsentGrant {
		return refuse(protocol.ErrCodeConsentRequired, "consent required: consent was withdrawn"), nil
	}
	if len(policies) == 0 {
		return refuse(protocol.ErrCodeConsentRequired,
			"consent required: the app has published no policy, so the join must carry its consent"), nil
	}
	if d, ok := grantStands(latest, policies, now); !ok {
		return d, nil
	}
	return Decision{
		Allowed:       true,
		Purposes:      latest.Purposes,
		Minor:         latest.AgeBand == protocol.AgeBandMinor,
		PolicyVersion: latest.PolicyVersion,
	}, nil
}

// grantStands checks a recorded grant against the published policies: its
// version is published, it was recorded after publication (a grant
// recorded while the app had no policy never covers a text published
// later), and no material version has superseded it (CONSENT-6).
func grantStands(g Entry, policies []store.Policy, now time.Time) (Decision, bool) {
	p, ok := find(policies, g.PolicyVersion)
	if !ok || g.RecordedAt.Before(p.PublishedAt) {
		return refuse(protocol.ErrCodeConsentRequired,
			"consent required: the recorded consent is not to a published version of the policy"), false
	}
	if m, ok := supersededBy(policies, p, now); ok {
		return refuse(protocol.ErrCodeConsentRequired, "consent required: policy %s is in force", m.Version), false
	}
	return Decision{}, true
}

// supersededBy returns the latest material version in force at now if it
// was published after p (CONSENT-6). A material version announced for a
// later date supersedes nothing until that date.
func supersededBy(policies []store.Policy, p store.Policy, now time.Time) (store.Policy, bool) {
	var (
		m     store.Policy
		found bool
	)
	for _, q := range policies {
		if q.Material && !q.EffectiveAt.After(now) && (!found || q.Seq > m.Seq) {
			m, found = q, true
		}
	}
	if found && m.Seq > p.Seq {
		return m, true
	}
	return store.Policy{}, false
}

// Allowed reports whether personal information may be processed for
// purpose now: the latest ledger entry is a grant that covers purpose and,
// if the app has published policies, still stands (CONSENT-3, CONSENT-5,
// CONSENT-6, PROCESS-1). With no policy published (development) a grant
// counts as recorded, since its session was admitted on a claim.
func (s *Service) Allowed(ctx context.Context, appID uint32, userID, deviceID, purpose string) (bool, error) {
	latest, err := s.ledger.LatestConsent(ctx, appID, userID, deviceID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("consent: allowed: %w", err)
	}
	if latest.Action != store.ConsentGrant || !slices.Contains(latest.Purposes, purpose) {
		return false, nil
	}
	policies, err := s.policies.ListPolicies(ctx, appID)
	if err != nil {
		return false, fmt.Errorf("consent: allowed: %w", err)
	}
	if len(policies) == 0 {
		return true, nil
	}
	_, ok := grantStands(latest, policies, s.now())
	return ok, nil
}

// Withdraw records that the user withdrew consent on the device
// (CONSENT-5): every later join without fresh consent is refused and
// Allowed reports false. Processing done before stays valid. The entry
// names the version, purposes and device time of the grant it withdraws;
// withdrawing twice records once.
func (s *Service) Withdraw(ctx context.Context, appID uint32, userID, deviceID string) error {
	if err := protocol.ValidateUserID(userID); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidSubject, err)
	}
	if err := protocol.ValidateDeviceID(deviceID); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidSubject, err)
	}
	e := Entry{
		SDKAppID:   appID,
		UserID:     userID,
		DeviceID:   deviceID,
		Action:     store.ConsentWithdraw,
		RecordedAt: s.now().UTC(),
	}
	latest, err := s.ledger.LatestConsent(ctx, appID, userID, deviceID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return fmt.Errorf("consent: withdraw: %w", err)
	default:
		// Either the grant being withdrawn or an earlier withdrawal,
		// whose fields it copies, so a repeat is the same decision.
		e.PolicyVersion = latest.PolicyVersion
		e.Purposes = latest.Purposes
		e.DeviceGrantedAt = latest.DeviceGrantedAt
	}
	if _, _, err := s.appendEntry(ctx, e); err != nil {
		return fmt.Errorf("consent: withdraw: %w", err)
	}
	s.log.Debug("consent withdrawn", "sdkappid", appID)
	return nil
}

// normalise sorts purposes and drops repeats, so the same set is always
// stored and compared the same way.
func normalise(purposes []string) []string {
	out := slices.Clone(purposes)
	slices.Sort(out)
	return slices.Compact(out)
}
