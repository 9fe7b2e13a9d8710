package sqlite

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/store"
)

func withdrawal(app uint32, user, device, version string, at time.Time) store.ConsentEntry {
	return store.ConsentEntry{SDKAppID: app, UserID: user, DeviceID: device, Action: store.ConsentWithdraw,
		PolicyVersion: version, RecordedAt: at}
}

// checkBreakdown compares the breakdown with want and with ConsentStats,
// which must agree on the totals.
func checkBreakdown(t *testing.T, db *DB, app uint32, want store.ConsentBreakdown) {
	t.Helper()
	ctx := testContext(t)
	got, err := db.ConsentBreakdown(ctx, app)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ConsentBreakdown(%d) =\n%+v\nwant\n%+v", app, got, want)
	}
	st, err := db.ConsentStats(ctx, app)
	if err != nil {
		t.Fatal(err)
	}
	if st.Granted != got.Granted || st.Withdrawn != got.Withdrawn {
		t.Fatalf("ConsentStats %+v disagrees with the breakdown's %d/%d", st, got.Granted, got.Withdrawn)
	}
}

// proves CONSENT-3: the console's consent statistics count each (user,
// device) by its consent in force — the latest entry — by version,
// purpose and method; they follow every new entry, ignore other apps and
// drop erased subjects.
func TestConsentBreakdown(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	checkBreakdown(t, db, 7, store.ConsentBreakdown{})

	popup := grant(7, "bob", "dev-b", "v1", consentT0, "rtc")
	popup.Method = "popup"
	for _, e := range []store.ConsentEntry{
		grant(7, "alice", "dev-a", "v1", consentT0, "quality", "rtc"),
		popup,
		grant(7, "carol", "dev-c", "v2", consentT0, "rtc"),
		grant(7, "alice", "dev-a2", "v2", consentT0, "rtc"),
		withdrawal(7, "alice", "dev-a2", "v2", consentT0.Add(time.Minute)),
		withdrawal(7, "dave", "dev-d", "", consentT0),     // withdrew before any grant
		grant(8, "alice", "dev-a", "v9", consentT0, "im"), // another app
	} {
		if _, _, err := db.AppendConsent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	checkBreakdown(t, db, 7, store.ConsentBreakdown{
		Granted: 3, Withdrawn: 2,
		ByVersion: []store.ConsentVersionCount{{Version: "v1", Grants: 2}, {Version: "v2", Grants: 1, Withdrawals: 1}, {Version: "", Withdrawals: 1}},
		ByPurpose: []store.ConsentPurposeCount{{Purpose: "rtc", Grants: 3}, {Purpose: "quality", Grants: 1}},
		ByMethod:  []store.ConsentMethodCount{{Method: "sdk", Grants: 2}, {Method: "popup", Grants: 1}},
	})
	checkBreakdown(t, db, 8, store.ConsentBreakdown{Granted: 1,
		ByVersion: []store.ConsentVersionCount{{Version: "v9", Grants: 1}},
		ByPurpose: []store.ConsentPurposeCount{{Purpose: "im", Grants: 1}},
		ByMethod:  []store.ConsentMethodCount{{Method: "sdk", Grants: 1}},
	})

	// New entries move the counts: bob withdraws, alice's first device
	// re-consents to v2 without the quality purpose.
	for _, e := range []store.ConsentEntry{
		withdrawal(7, "bob", "dev-b", "v1", consentT0.Add(time.Hour)),
		grant(7, "alice", "dev-a", "v2", consentT0.Add(time.Hour), "rtc"),
	} {
		if _, _, err := db.AppendConsent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	checkBreakdown(t, db, 7, store.ConsentBreakdown{
		Granted: 2, Withdrawn: 3,
		ByVersion: []store.ConsentVersionCount{{Version: "v2", Grants: 2, Withdrawals: 1}, {Version: "", Withdrawals: 1}, {Version: "v1", Withdrawals: 1}},
		ByPurpose: []store.ConsentPurposeCount{{Purpose: "rtc", Grants: 2}},
		ByMethod:  []store.ConsentMethodCount{{Method: "sdk", Grants: 2}},
	})

	// Erasing alice (her key destroyed) removes her two devices.
	if _, err := db.ShredSubject(ctx, 7, "alice"); err != nil {
		t.Fatal(err)
	}
	checkBreakdown(t, db, 7, store.ConsentBreakdown{
		Granted: 1, Withdrawn: 2,
		ByVersion: []store.ConsentVersionCount{{Version: "", Withdrawals: 1}, {Version: "v1", Withdrawals: 1}, {Version: "v2", Grants: 1}},
		ByPurpose: []store.ConsentPurposeCount{{Purpose: "rtc", Grants: 1}},
		ByMethod:  []store.ConsentMethodCount{{Method: "sdk", Grants: 1}},
	})
}

// The breakdown's query never reads a sealed column beyond the key-id
// prefix, nor the guardian reference: it cannot leak what the ledger
// seals.
func TestConsentBreakdownReadsClearColumnsOnly(t *testing.T) {
	q := consentBreakdownQuery
	if strings.Contains(q, "guardian_ref") || strings.Count(q, "device_sealed") != 1 ||
		!strings.Contains(q, "substr(l.device_sealed, 1, 8)") {
		t.Fatalf("query reads sealed values: %s", q)
	}
}
