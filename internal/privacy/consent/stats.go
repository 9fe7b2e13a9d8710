package consent

import (
	"context"
	"fmt"

	"github.com/parley-rtc/parley/internal/store"
)

// Breakdown is an app's consent statistics: counts of (user, device)
// pairs by their consent in force, by policy version, purpose and method.
// It holds no identifier, so showing it is not a read of personal
// information.
type Breakdown = store.ConsentBreakdown

// Breakdown returns the app's consent statistics for the console: Stats
// broken down by policy version, purpose and method.
func (s *Service) Breakdown(ctx context.Context, appID uint32) (Breakdown, error) {
	b, err := s.ledger.ConsentBreakdown(ctx, appID)
	if err != nil {
		return Breakdown{}, fmt.Errorf("consent: statistics of app %d: %w", appID, err)
	}
	return b, nil
}
