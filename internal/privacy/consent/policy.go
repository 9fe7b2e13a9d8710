package consent

import (
	"context"
	"fmt"
	"net/url"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parley-rtc/parley/internal/store"
	"github.com/parley-rtc/parley/protocol"
)

// Policy field limits.
const (
	MaxSummaryBytes = 4096
	MaxURLBytes     = 2048
)

// effectiveSkew is how far in the past an effective date may lie and
// still count as "now": the clock of the CLI or console that sent it may
// lag the server's a little.
const effectiveSkew = time.Minute

// PublishPolicy archives a new policy version for the app (DISCLOSE-2) and
// returns it as stored. Only Version, Material, EffectiveAt, Summary and
// URL are taken from p. A zero EffectiveAt means now; a past one is refused,
// because a change is announced before it applies (CONSENT-6). A material
// version refuses consent to every earlier version from its effective date.
// The version must be new: store.ErrConflict otherwise, and a published
// version is never changed.
func (s *Service) PublishPolicy(ctx context.Context, appID uint32, p Policy) (Policy, error) {
	now := s.now()
	if p.EffectiveAt.IsZero() {
		p.EffectiveAt = now
	}
	if err := validatePolicy(appID, p, now); err != nil {
		return Policy{}, err
	}
	if p.EffectiveAt.Before(now) {
		p.EffectiveAt = now // within the clock-skew allowance
	}
	out, err := s.policies.PublishPolicy(ctx, Policy{
		SDKAppID:    appID,
		Version:     p.Version,
		Material:    p.Material,
		EffectiveAt: p.EffectiveAt.UTC(),
		Summary:     p.Summary,
		URL:         p.URL,
		PublishedAt: now.UTC(),
	})
	if err != nil {
		return Policy{}, fmt.Errorf("consent: publish policy: %w", err)
	}
	s.log.Info("published privacy policy", "sdkappid", appID, "version", out.Version,
		"material", out.Material, "effective_at", out.EffectiveAt)
	if s.published != nil {
		if err := s.published(ctx, out); err != nil {
			return out, fmt.Errorf("consent: record publication in audit log: %w", err)
		}
	}
	return out, nil
}

// Policies returns the app's archived versions in publication order.
func (s *Service) Policies(ctx context.Context, appID uint32) ([]Policy, error) {
	ps, err := s.policies.ListPolicies(ctx, appID)
	if err != nil {
		return nil, fmt.Errorf("consent: policies of app %d: %w", appID, err)
	}
	return ps, nil
}

// MaterialInForce returns the latest material version in force now: any
// consent to an earlier version no longer counts (CONSENT-6).
// store.ErrNotFound (wrapped) if the app has none.
func (s *Service) MaterialInForce(ctx context.Context, appID uint32) (Policy, error) {
	p, err := s.policies.LatestMaterialPolicy(ctx, appID, s.now())
	if err != nil {
		return Policy{}, fmt.Errorf("consent: material policy of app %d: %w", appID, err)
	}
	return p, nil
}

func validatePolicy(appID uint32, p Policy, now time.Time) error {
	if appID == 0 {
		return fmt.Errorf("%w: sdkappid is zero", ErrInvalidPolicy)
	}
	if err := ValidateVersion(p.Version); err != nil {
		return err
	}
	if len(p.Summary) > MaxSummaryBytes || !utf8.ValidString(p.Summary) {
		return fmt.Errorf("%w: summary: at most %d bytes of UTF-8", ErrInvalidPolicy, MaxSummaryBytes)
	}
	for _, r := range p.Summary {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return fmt.Errorf("%w: summary: control character %U", ErrInvalidPolicy, r)
		}
	}
	if p.URL != "" {
		if len(p.URL) > MaxURLBytes {
			return fmt.Errorf("%w: url: at most %d bytes", ErrInvalidPolicy, MaxURLBytes)
		}
		u, err := url.Parse(p.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("%w: url: want an absolute http(s) URL", ErrInvalidPolicy)
		}
	}
	if p.EffectiveAt.Before(now.Add(-effectiveSkew)) {
		return fmt.Errorf("%w: effective date %s is in the past: announce changes before they apply",
			ErrInvalidPolicy, p.EffectiveAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// ValidateVersion checks a policy version name: 1-64 bytes of printable
// ASCII without spaces, so it reads the same in a claim, a log and a URL.
func ValidateVersion(v string) error {
	if v == "" || len(v) > protocol.MaxPolicyVersionBytes {
		return fmt.Errorf("%w: version: 1-%d bytes required", ErrInvalidPolicy, protocol.MaxPolicyVersionBytes)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("%w: version: byte %d (%q) is not printable ASCII", ErrInvalidPolicy, i, c)
		}
	}
	return nil
}

// find returns the published version named v.
func find(ps []store.Policy, v string) (store.Policy, bool) {
	for _, p := range ps {
		if p.Version == v {
			return p, true
		}
	}
	return store.Policy{}, false
}
