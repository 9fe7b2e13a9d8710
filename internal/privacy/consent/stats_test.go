package consent

import (
	"slices"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/store"
	"github.com/parley-rtc/parley/protocol"
)

// proves CONSENT-3: the console's statistics count consents in force by
// version, purpose and method, agree with Stats, and follow a withdrawal
// and a re-consent to a new version.
func TestBreakdown(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)
	f.publish(t, "v1", true)
	mustAllow(t, f.join(t, "alice", "dev-a", claim("v1", 1, protocol.PurposeRTC, protocol.PurposeQuality)))
	mustAllow(t, f.join(t, "bob", "dev-b", claim("v1", 1)))
	popup := claim("v1", 1)
	popup.Method = protocol.ConsentMethodPopup
	mustAllow(t, f.join(t, "carol", "dev-c", popup))

	check := func(want Breakdown) {
		t.Helper()
		b, err := f.svc.Breakdown(ctx, app)
		if err != nil {
			t.Fatal(err)
		}
		granted, withdrawn, err := f.svc.Stats(ctx, app)
		if err != nil || granted != b.Granted || withdrawn != b.Withdrawn {
			t.Fatalf("Stats = %d, %d, %v; breakdown says %d, %d", granted, withdrawn, err, b.Granted, b.Withdrawn)
		}
		if b.Granted != want.Granted || b.Withdrawn != want.Withdrawn ||
			!slices.Equal(b.ByVersion, want.ByVersion) || !slices.Equal(b.ByPurpose, want.ByPurpose) || !slices.Equal(b.ByMethod, want.ByMethod) {
			t.Fatalf("Breakdown =\n%+v\nwant\n%+v", b, want)
		}
	}
	check(Breakdown{Granted: 3,
		ByVersion: []store.ConsentVersionCount{{Version: "v1", Grants: 3}},
		ByPurpose: []store.ConsentPurposeCount{{Purpose: "rtc", Grants: 3}, {Purpose: "quality", Grants: 1}},
		ByMethod:  []store.ConsentMethodCount{{Method: "sdk", Grants: 2}, {Method: "popup", Grants: 1}},
	})

	// The withdrawal keeps the version it withdrew; alice re-consents to
	// v2 for rtc only.
	f.clock.Advance(time.Second)
	if err := f.svc.Withdraw(ctx, app, "bob", "dev-b"); err != nil {
		t.Fatal(err)
	}
	f.publish(t, "v2", true)
	mustAllow(t, f.join(t, "alice", "dev-a", claim("v2", 2)))
	check(Breakdown{Granted: 2, Withdrawn: 1,
		ByVersion: []store.ConsentVersionCount{{Version: "v1", Grants: 1, Withdrawals: 1}, {Version: "v2", Grants: 1}},
		ByPurpose: []store.ConsentPurposeCount{{Purpose: "rtc", Grants: 2}},
		ByMethod:  []store.ConsentMethodCount{{Method: "popup", Grants: 1}, {Method: "sdk", Grants: 1}},
	})
}
