package sqlite

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/store"
)

var consentT0 = time.Date(2026, 11, 5, 10, 0, 0, 0, time.UTC)

func publish(t *testing.T, db *DB, app uint32, version string, material bool, at time.Time) store.Policy {
	t.Helper()
	p, err := db.PublishPolicy(testContext(t), store.Policy{
		SDKAppID: app, Version: version, Material: material,
		EffectiveAt: at, PublishedAt: at, Summary: "summary " + version, URL: "https://example.com/" + version,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// proves DISCLOSE-2: versions are kept in publication order, unique per
// app, and the latest material version in force is found by effective date.
func TestPolicyVersions(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)

	if _, err := db.LatestMaterialPolicy(ctx, 7, consentT0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no policies: err = %v, want ErrNotFound", err)
	}
	v1 := publish(t, db, 7, "v1", true, consentT0)
	v2 := publish(t, db, 7, "v2", false, consentT0.Add(time.Hour))
	v3 := publish(t, db, 7, "v3", true, consentT0.Add(48*time.Hour)) // announced ahead
	other := publish(t, db, 8, "v1", true, consentT0)                // same version, other app
	if !(v1.Seq < v2.Seq && v2.Seq < v3.Seq && v3.Seq < other.Seq) {
		t.Fatalf("seq not increasing: %d %d %d %d", v1.Seq, v2.Seq, v3.Seq, other.Seq)
	}
	if _, err := db.PublishPolicy(ctx, store.Policy{SDKAppID: 7, Version: "v2", EffectiveAt: consentT0, PublishedAt: consentT0}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate version: err = %v, want ErrConflict", err)
	}

	ps, err := db.ListPolicies(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 3 || ps[0] != v1 || ps[1] != v2 || ps[2] != v3 {
		t.Fatalf("ListPolicies = %+v", ps)
	}
	if ps[2].Summary != "summary v3" || ps[2].URL != "https://example.com/v3" || !ps[2].Material ||
		!ps[2].EffectiveAt.Equal(consentT0.Add(48*time.Hour)) {
		t.Fatalf("v3 round trip: %+v", ps[2])
	}

	m, err := db.LatestMaterialPolicy(ctx, 7, consentT0.Add(24*time.Hour))
	if err != nil || m.Version != "v1" {
		t.Fatalf("material before v3 takes effect = %+v, %v; want v1", m, err)
	}
	m, err = db.LatestMaterialPolicy(ctx, 7, consentT0.Add(48*time.Hour))
	if err != nil || m.Version != "v3" {
		t.Fatalf("material once v3 takes effect = %+v, %v; want v3", m, err)
	}
}

// proves DISCLOSE-2: a published version cannot be changed or removed, not
// even by a raw statement on the writer.
func TestPolicyVersionsAppendOnly(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	publish(t, db, 7, "v1", true, consentT0)

	for _, stmt := range []string{
		`UPDATE policy_versions SET summary = 'rewritten' WHERE version = 'v1'`,
		`UPDATE policy_versions SET material = 0`,
		`DELETE FROM policy_versions WHERE version = 'v1'`,
		`DELETE FROM policy_versions`,
	} {
		_, err := db.write.ExecContext(ctx, stmt)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want the append-only abort", stmt, err)
		}
	}
	ps, err := db.ListPolicies(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Summary != "summary v1" || !ps[0].Material {
		t.Fatalf("after refused writes: %+v", ps)
	}
}

func grant(app uint32, user, device, version string, at time.Time, purposes ...string) store.ConsentEntry {
	return store.ConsentEntry{
		SDKAppID: app, UserID: user, DeviceID: device, Action: store.ConsentGrant,
		PolicyVersion: version, Purposes: purposes, Method: "sdk", AgeBand: "adult",
		RecordedAt: at, DeviceGrantedAt: at.Add(-time.Second),
	}
}

// proves CONSENT-3: entries keep app, user, device, version, purposes,
// method and both times; the latest entry per subject is the one in force;
// an identical decision is not appended twice.
func TestConsentLedgerRoundTrip(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)

	if _, err := db.LatestConsent(ctx, 7, "alice", "dev-a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("empty ledger: err = %v, want ErrNotFound", err)
	}
	g := grant(7, "alice", "dev-a", "v1", consentT0, "quality", "rtc")
	first, appended, err := db.AppendConsent(ctx, g)
	if err != nil || !appended || first.ID == 0 {
		t.Fatalf("first append = %+v, %v, %v", first, appended, err)
	}
	got, err := db.LatestConsent(ctx, 7, "alice", "dev-a")
	if err != nil {
		t.Fatal(err)
	}
	if !got.SameDecision(g) || got.ID != first.ID || !got.RecordedAt.Equal(consentT0) {
		t.Fatalf("LatestConsent = %+v, want %+v", got, g)
	}

	// The same decision again, later: not re-appended.
	again := g
	again.RecordedAt = consentT0.Add(time.Minute)
	e, appended, err := db.AppendConsent(ctx, again)
	if err != nil || appended || e.ID != first.ID {
		t.Fatalf("identical repeat = %+v, appended %v, %v", e, appended, err)
	}

	w := store.ConsentEntry{SDKAppID: 7, UserID: "alice", DeviceID: "dev-a", Action: store.ConsentWithdraw,
		PolicyVersion: "v1", Purposes: []string{"quality", "rtc"}, RecordedAt: consentT0.Add(2 * time.Minute)}
	wd, appended, err := db.AppendConsent(ctx, w)
	if err != nil || !appended || wd.ID <= first.ID {
		t.Fatalf("withdraw = %+v, %v, %v", wd, appended, err)
	}
	if got, _ := db.LatestConsent(ctx, 7, "alice", "dev-a"); got.Action != store.ConsentWithdraw || !got.DeviceGrantedAt.IsZero() {
		t.Fatalf("latest after withdraw = %+v", got)
	}
	// The earlier grant, repeated after the withdrawal, is a new decision.
	if _, appended, err := db.AppendConsent(ctx, again); err != nil || !appended {
		t.Fatalf("grant after withdraw: appended %v, %v", appended, err)
	}

	// Other subjects and apps are separate.
	if _, _, err := db.AppendConsent(ctx, grant(7, "alice", "dev-b", "v1", consentT0, "rtc")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.AppendConsent(ctx, grant(8, "alice", "dev-a", "v1", consentT0, "rtc")); err != nil {
		t.Fatal(err)
	}

	all, err := db.ListConsent(ctx, 7, store.ConsentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 {
		t.Fatalf("app 7 ledger has %d entries, want 4", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID >= all[i-1].ID {
			t.Fatalf("ledger not newest first: %d then %d", all[i-1].ID, all[i].ID)
		}
	}
	for _, c := range []struct {
		f    store.ConsentFilter
		want int
	}{
		{store.ConsentFilter{UserID: "alice", DeviceID: "dev-a"}, 3},
		{store.ConsentFilter{DeviceID: "dev-b"}, 1},
		{store.ConsentFilter{UserID: "bob"}, 0},
		{store.ConsentFilter{Since: consentT0.Add(time.Minute)}, 2},
		{store.ConsentFilter{Limit: 2}, 2},
	} {
		es, err := db.ListConsent(ctx, 7, c.f)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != c.want {
			t.Errorf("ListConsent(%+v) = %d entries, want %d", c.f, len(es), c.want)
		}
	}

	st, err := db.ConsentStats(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	if st != (store.ConsentStats{Granted: 2}) {
		t.Fatalf("stats = %+v, want 2 granted", st)
	}
}

// proves CONSENT-3: a recorded decision cannot be rewritten; erasure
// (data-subject rights, retention) may still delete it.
func TestConsentLedgerAppendOnly(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	if _, _, err := db.AppendConsent(ctx, grant(7, "alice", "dev-a", "v1", consentT0, "rtc")); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`UPDATE consent_ledger SET action = 'withdraw'`,
		`UPDATE consent_ledger SET purposes = 'rtc,quality,im'`,
		`UPDATE consent_ledger SET recorded_at = 0`,
	} {
		_, err := db.write.ExecContext(ctx, stmt)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want the append-only abort", stmt, err)
		}
	}
	got, err := db.LatestConsent(ctx, 7, "alice", "dev-a")
	if err != nil || got.Action != store.ConsentGrant || strings.Join(got.Purposes, ",") != "rtc" {
		t.Fatalf("after refused updates: %+v, %v", got, err)
	}
	if _, err := db.write.ExecContext(ctx, `DELETE FROM consent_ledger WHERE user_id = 'alice'`); err != nil {
		t.Fatalf("erasure refused: %v", err)
	}
	if _, err := db.LatestConsent(ctx, 7, "alice", "dev-a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after erasure: err = %v", err)
	}
}

// proves MINOR-1 at the schema level: a minor's grant without a guardian
// reference cannot be stored, whoever writes it.
func TestConsentLedgerRefusesMinorWithoutGuardian(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	g := grant(7, "kid", "dev-k", "v1", consentT0, "rtc")
	g.AgeBand = "minor"
	if _, _, err := db.AppendConsent(ctx, g); err == nil {
		t.Fatal("minor grant without guardian_ref stored")
	}
	g.GuardianRef = "guardian-ticket-1"
	if _, _, err := db.AppendConsent(ctx, g); err != nil {
		t.Fatalf("minor grant with guardian_ref: %v", err)
	}
	bad := grant(7, "x", "dev-x", "v1", consentT0)
	if _, _, err := db.AppendConsent(ctx, bad); err == nil {
		t.Fatal("grant without purposes stored")
	}
	bad = grant(7, "x", "dev-x", "v1", consentT0, "a,b")
	if _, _, err := db.AppendConsent(ctx, bad); err == nil {
		t.Fatal("purpose with a comma stored")
	}
}

// proves CONSENT-3 under load: concurrent identical claims for one subject
// append once; concurrent decisions for many subjects all land.
func TestConsentLedgerConcurrent(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)

	const same = 16
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		appended int
	)
	for range same {
		wg.Go(func() {
			_, ok, err := db.AppendConsent(ctx, grant(7, "alice", "dev-a", "v1", consentT0, "rtc"))
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				mu.Lock()
				appended++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if appended != 1 {
		t.Fatalf("identical concurrent claims appended %d times, want 1", appended)
	}

	const devices = 40
	for i := range devices {
		wg.Go(func() {
			dev := fmt.Sprintf("dev-%d", i)
			if _, _, err := db.AppendConsent(ctx, grant(9, "bob", dev, "v1", consentT0, "rtc")); err != nil {
				t.Error(err)
				return
			}
			if i%2 == 0 {
				w := store.ConsentEntry{SDKAppID: 9, UserID: "bob", DeviceID: dev, Action: store.ConsentWithdraw, RecordedAt: consentT0}
				if _, _, err := db.AppendConsent(ctx, w); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	st, err := db.ConsentStats(ctx, 9)
	if err != nil {
		t.Fatal(err)
	}
	if st != (store.ConsentStats{Granted: devices / 2, Withdrawn: devices / 2}) {
		t.Fatalf("stats = %+v", st)
	}
}
