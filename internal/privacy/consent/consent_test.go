package consent

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-rtc/parley/internal/store"
	"github.com/parley-rtc/parley/internal/store/sqlite"
	"github.com/parley-rtc/parley/internal/store/sqlite/sqlitetest"
	"github.com/parley-rtc/parley/protocol"
)

// Every test must leave no goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const app = 1400000001

var t0 = time.Date(2026, 11, 5, 10, 0, 0, 0, time.UTC)

// clock is an injected, advanceable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

type fixture struct {
	svc   *Service
	clock *clock
	path  string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "parley.db")
	db, err := sqlite.Open(testContext(t), path, sqlitetest.Options())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	c := &clock{t: t0}
	return fixture{svc: New(db, db, Options{Now: c.Now}), clock: c, path: path}
}

func (f fixture) publish(t *testing.T, version string, material bool) Policy {
	t.Helper()
	p, err := f.svc.PublishPolicy(testContext(t), app, Policy{
		Version: version, Material: material, Summary: "What we collect, " + version,
		URL: "https://example.com/privacy/" + version,
	})
	if err != nil {
		t.Fatalf("publish %s: %v", version, err)
	}
	return p
}

// claim is a consent the SDK holds; grantedAt is the device's Unix ms.
func claim(version string, grantedAt int64, purposes ...string) *protocol.ConsentClaim {
	if len(purposes) == 0 {
		purposes = []string{protocol.PurposeRTC}
	}
	return &protocol.ConsentClaim{
		PolicyVersion: version, Purposes: purposes, Method: protocol.ConsentMethodSDK,
		GrantedAt: grantedAt, AgeBand: protocol.AgeBandAdult,
	}
}

func (f fixture) join(t *testing.T, user, device string, c *protocol.ConsentClaim) Decision {
	t.Helper()
	d, err := f.svc.CheckJoin(testContext(t), app, user, device, c)
	if err != nil {
		t.Fatalf("CheckJoin: %v", err)
	}
	return d
}

func mustAllow(t *testing.T, d Decision) {
	t.Helper()
	if !d.Allowed || d.Code != 0 {
		t.Fatalf("refused: %+v", d)
	}
}

func mustRefuse(t *testing.T, d Decision, code int, reason string) {
	t.Helper()
	if d.Allowed || d.Code != code || !strings.Contains(d.Reason, reason) {
		t.Fatalf("decision %+v, want refusal %d containing %q", d, code, reason)
	}
}

func (f fixture) ledger(t *testing.T, user, device string) []Entry {
	t.Helper()
	es, err := f.svc.Ledger(testContext(t), app, Filter{UserID: user, DeviceID: device})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// proves DISCLOSE-2: versions are validated, unique, archived in order,
// announced with an effective date that cannot lie in the past.
func TestPublishPolicy(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)

	v1 := f.publish(t, "2026-11-01", true)
	if !v1.EffectiveAt.Equal(t0) || !v1.PublishedAt.Equal(t0) || v1.SDKAppID != app || v1.Seq == 0 {
		t.Fatalf("v1 = %+v: default effective date is now", v1)
	}
	ahead := t0.Add(14 * 24 * time.Hour)
	v2, err := f.svc.PublishPolicy(ctx, app, Policy{Version: "2026-12-01", Material: true, EffectiveAt: ahead})
	if err != nil {
		t.Fatal(err)
	}
	if !v2.EffectiveAt.Equal(ahead) || v2.Seq <= v1.Seq {
		t.Fatalf("v2 = %+v", v2)
	}
	// A few seconds of clock skew count as now.
	v3, err := f.svc.PublishPolicy(ctx, app, Policy{Version: "v3", EffectiveAt: t0.Add(-10 * time.Second)})
	if err != nil || !v3.EffectiveAt.Equal(t0) {
		t.Fatalf("v3 = %+v, %v", v3, err)
	}
	if _, err := f.svc.PublishPolicy(ctx, app, Policy{Version: "2026-11-01"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("republish: err = %v, want ErrConflict", err)
	}

	for name, p := range map[string]Policy{
		"empty version":    {},
		"long version":     {Version: strings.Repeat("v", 65)},
		"space in version": {Version: "v 1"},
		"non-ASCII":        {Version: "v１"},
		"control summary":  {Version: "x1", Summary: "a\x00b"},
		"long summary":     {Version: "x2", Summary: strings.Repeat("s", MaxSummaryBytes+1)},
		"relative url":     {Version: "x3", URL: "/privacy"},
		"ftp url":          {Version: "x4", URL: "ftp://example.com/p"},
		"past effective":   {Version: "x5", EffectiveAt: t0.Add(-time.Hour)},
	} {
		if _, err := f.svc.PublishPolicy(ctx, app, p); !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("%s: err = %v, want ErrInvalidPolicy", name, err)
		}
	}
	if _, err := f.svc.PublishPolicy(ctx, 0, Policy{Version: "v9"}); !errors.Is(err, ErrInvalidPolicy) {
		t.Errorf("app 0: err = %v", err)
	}

	ps, err := f.svc.Policies(ctx, app)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 3 || ps[0].Version != "2026-11-01" || ps[1].Version != "2026-12-01" || ps[2].Version != "v3" {
		t.Fatalf("Policies = %+v", ps)
	}
	m, err := f.svc.MaterialInForce(ctx, app)
	if err != nil || m.Version != "2026-11-01" {
		t.Fatalf("MaterialInForce = %+v, %v; the announced one is not in force yet", m, err)
	}
	if other, err := f.svc.Policies(ctx, app+1); err != nil || len(other) != 0 {
		t.Fatalf("another app's policies = %+v, %v", other, err)
	}
}

// proves CONSENT-1, CONSENT-3: with no policy published (development) a
// valid claim is accepted and recorded with its version, purposes, method,
// age band and device time; a join without a claim is still refused.
func TestNoPolicyPublished(t *testing.T) {
	f := newFixture(t)

	mustRefuse(t, f.join(t, "alice", "dev-a", nil), protocol.ErrCodeConsentRequired, "none recorded")

	d := f.join(t, "alice", "dev-a", claim("draft", 1_700_000_000_123, "rtc", "quality", "rtc"))
	mustAllow(t, d)
	if !d.Recorded || d.PolicyVersion != "draft" || strings.Join(d.Purposes, ",") != "quality,rtc" || d.Minor {
		t.Fatalf("decision %+v", d)
	}
	es := f.ledger(t, "alice", "dev-a")
	if len(es) != 1 {
		t.Fatalf("ledger = %+v", es)
	}
	e := es[0]
	if e.Action != store.ConsentGrant || e.PolicyVersion != "draft" || strings.Join(e.Purposes, ",") != "quality,rtc" ||
		e.Method != protocol.ConsentMethodSDK || e.AgeBand != protocol.AgeBandAdult ||
		!e.RecordedAt.Equal(t0) || !e.DeviceGrantedAt.Equal(time.UnixMilli(1_700_000_000_123)) {
		t.Fatalf("entry %+v", e)
	}

	// A ledger grant cannot stand for a claim when no policy exists.
	mustRefuse(t, f.join(t, "alice", "dev-a", nil), protocol.ErrCodeConsentRequired, "published no policy")
}

// proves CONSENT-1: malformed claims, device ids and user ids are refused
// and nothing is recorded.
func TestJoinInputs(t *testing.T) {
	f := newFixture(t)
	f.publish(t, "v1", true)

	bad := claim("v1", 1)
	bad.Purposes = []string{"advertising"}
	mustRefuse(t, f.join(t, "alice", "dev-a", bad), protocol.ErrCodeConsentRequired, "not a known purpose")
	bad = claim("v1", 1)
	bad.Method = "implied"
	mustRefuse(t, f.join(t, "alice", "dev-a", bad), protocol.ErrCodeConsentRequired, "method")
	mustRefuse(t, f.join(t, "alice", "", claim("v1", 1)), protocol.ErrCodeConsentRequired, "per device")
	mustRefuse(t, f.join(t, "alice", "AA:BB:CC:DD:EE:FF", claim("v1", 1)), protocol.ErrCodeConsentRequired, "per device")
	mustRefuse(t, f.join(t, "", "dev-a", claim("v1", 1)), protocol.ErrCodeUserIDInvalid, "user id")
	mustRefuse(t, f.join(t, "alice", "dev-a", claim("v0", 1)), protocol.ErrCodeConsentRequired, `"v0" is not published`)

	if es := f.ledger(t, "", ""); len(es) != 0 {
		t.Fatalf("refused joins recorded %+v", es)
	}
}

// proves CONSENT-6: a material version refuses consent to earlier
// versions, claimed or recorded; a non-material one does not; old versions
// stay archived.
func TestMaterialPolicyChange(t *testing.T) {
	f := newFixture(t)
	f.publish(t, "v1", true)

	mustAllow(t, f.join(t, "alice", "dev-a", claim("v1", 1)))
	mustAllow(t, f.join(t, "alice", "dev-a", nil)) // the ledger grant stands

	f.clock.Advance(time.Hour)
	f.publish(t, "v2", true)
	mustRefuse(t, f.join(t, "alice", "dev-a", claim("v1", 1)), protocol.ErrCodeConsentRequired, "policy v2 is in force")
	mustRefuse(t, f.join(t, "alice", "dev-a", nil), protocol.ErrCodeConsentRequired, "policy v2 is in force")
	if ok, err := f.svc.Allowed(testContext(t), app, "alice", "dev-a", protocol.PurposeRTC); err != nil || ok {
		t.Fatalf("Allowed after material change = %v, %v", ok, err)
	}

	d := f.join(t, "alice", "dev-a", claim("v2", 2))
	mustAllow(t, d)
	if d.PolicyVersion != "v2" || !d.Recorded {
		t.Fatalf("decision %+v", d)
	}

	f.clock.Advance(time.Hour)
	f.publish(t, "v3", false)
	mustAllow(t, f.join(t, "alice", "dev-a", claim("v2", 2)))
	mustAllow(t, f.join(t, "alice", "dev-a", nil))
	mustAllow(t, f.join(t, "bob", "dev-b", claim("v3", 3)))
	mustRefuse(t, f.join(t, "carol", "dev-c", claim("v1", 3)), protocol.ErrCodeConsentRequired, "policy v2 is in force")

	ps, err := f.svc.Policies(testContext(t), app)
	if err != nil || len(ps) != 3 {
		t.Fatalf("archive = %+v, %v", ps, err)
	}
}

// proves CONSENT-6: a material change announced with a later effective
// date leaves earlier consent valid until that date, and users may consent
// to it ahead of time.
func TestMaterialPolicyAnnouncedAhead(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)
	f.publish(t, "v1", false)
	mustAllow(t, f.join(t, "alice", "dev-a", claim("v1", 1)))

	if _, err := f.svc.PublishPolicy(ctx, app, Policy{Version: "v2", Material: true, EffectiveAt: t0.Add(7 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	mustAllow(t, f.join(t, "alice", "dev-a", nil))
	mustAllow(t, f.join(t, "bob", "dev-b", claim("v2", 2)))

	f.clock.Advance(7 * 24 * time.Hour)
	mustRefuse(t, f.join(t, "alice", "dev-a", nil), protocol.ErrCodeConsentRequired, "policy v2 is in force")
	mustAllow(t, f.join(t, "bob", "dev-b", nil))
}

// proves CONSENT-5: after withdrawal a join without fresh consent is
// refused, resending the withdrawn consent does not revive it, and fresh
// consent is accepted.
func TestWithdrawThenFreshConsent(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)
	f.publish(t, "v1", true)

	mustAllow(t, f.join(t, "alice", "dev-a", claim("v1", 1000, "rtc", "im")))
	f.clock.Advance(time.Minute)
	if err := f.svc.Withdraw(ctx, app, "alice", "dev-a"); err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, f.join(t, "alice", "dev-a", nil), protocol.ErrCodeConsentRequired, "withdrawn")
	for _, p := range []string{protocol.PurposeRTC, protocol.PurposeIM} {
		if ok, err := f.svc.Allowed(ctx, app, "alice", "dev-a", p); err != nil || ok {
			t.Fatalf("Allowed(%s) after withdrawal = %v, %v", p, ok, err)
		}
	}
	mustRefuse(t, f.join(t, "alice", "dev-a", claim("v1", 1000, "rtc", "im")), protocol.ErrCodeConsentRequired, "ask the user again")

	// Withdrawing twice records once.
	if err := f.svc.Withdraw(ctx, app, "alice", "dev-a"); err != nil {
		t.Fatal(err)
	}
	es := f.ledger(t, "alice", "dev-a")
	if len(es) != 2 || es[0].Action != store.ConsentWithdraw || es[0].PolicyVersion != "v1" ||
		strings.Join(es[0].Purposes, ",") != "im,rtc" || !es[0].RecordedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("ledger after withdrawals = %+v", es)
	}

	f.clock.Advance(time.Minute)
	d := f.join(t, "alice", "dev-a", claim("v1", 2000, "rtc"))
	mustAllow(t, d)
	if !d.Recorded {
		t.Fatal("fresh consent not recorded")
	}
	mustAllow(t, f.join(t, "alice", "dev-a", nil))
	if ok, _ := f.svc.Allowed(ctx, app, "alice", "dev-a", protocol.PurposeRTC); !ok {
		t.Fatal("Allowed(rtc) false after fresh consent")
	}
	if ok, _ := f.svc.Allowed(ctx, app, "alice", "dev-a", protocol.PurposeIM); ok {
		t.Fatal("Allowed(im) true: the fresh consent did not include im")
	}

	// Another device of the same user is unaffected by this one's choices.
	if err := f.svc.Withdraw(ctx, app, "alice", "dev-z"); err != nil {
		t.Fatal(err)
	}
	mustAllow(t, f.join(t, "alice", "dev-a", nil))

	if err := f.svc.Withdraw(ctx, app, "alice", "bad device"); !errors.Is(err, ErrInvalidSubject) {
		t.Fatalf("bad device: err = %v", err)
	}
	if err := f.svc.Withdraw(ctx, app, "", "dev-a"); !errors.Is(err, ErrInvalidSubject) {
		t.Fatalf("no user: err = %v", err)
	}
}

// proves MINOR-1: a minor's consent needs a guardian reference; without
// one the join is refused with -4010 and nothing is recorded.
func TestMinorNeedsGuardian(t *testing.T) {
	f := newFixture(t)
	f.publish(t, "v1", true)

	c := claim("v1", 5, "rtc", "quality")
	c.AgeBand = protocol.AgeBandMinor
	mustRefuse(t, f.join(t, "kid", "dev-k", c), protocol.ErrCodeGuardianRequired, "guardian")
	if es := f.ledger(t, "kid", ""); len(es) != 0 {
		t.Fatalf("a minor's refused consent was recorded: %+v", es)
	}
	mustRefuse(t, f.join(t, "kid", "dev-k", nil), protocol.ErrCodeConsentRequired, "none recorded")

	// Refused even in development, before any policy lookup.
	g := newFixture(t)
	mustRefuse(t, g.join(t, "kid", "dev-k", c), protocol.ErrCodeGuardianRequired, "guardian")

	c.GuardianRef = "guardian-consent-7781"
	d := f.join(t, "kid", "dev-k", c)
	mustAllow(t, d)
	if !d.Minor {
		t.Fatalf("decision %+v: not marked minor", d)
	}
	es := f.ledger(t, "kid", "dev-k")
	if len(es) != 1 || es[0].AgeBand != protocol.AgeBandMinor || es[0].GuardianRef != "guardian-consent-7781" {
		t.Fatalf("ledger = %+v", es)
	}
	d = f.join(t, "kid", "dev-k", nil)
	mustAllow(t, d)
	if !d.Minor {
		t.Fatal("ledger-based decision lost the minor mark")
	}
}

// proves CONSENT-3: an identical claim on every rejoin is recorded once; a
// changed claim (a new purpose, CONSENT-6) is a new entry.
func TestIdenticalClaimRecordedOnce(t *testing.T) {
	f := newFixture(t)
	f.publish(t, "v1", true)

	if d := f.join(t, "alice", "dev-a", claim("v1", 7, "rtc")); !d.Recorded {
		t.Fatal("first claim not recorded")
	}
	for range 3 {
		f.clock.Advance(time.Minute)
		d := f.join(t, "alice", "dev-a", claim("v1", 7, "rtc", "rtc"))
		mustAllow(t, d)
		if d.Recorded {
			t.Fatal("identical claim re-recorded")
		}
	}
	if es := f.ledger(t, "alice", "dev-a"); len(es) != 1 {
		t.Fatalf("ledger has %d entries, want 1", len(es))
	}
	if ok, _ := f.svc.Allowed(testContext(t), app, "alice", "dev-a", protocol.PurposeQuality); ok {
		t.Fatal("quality allowed without consent to it")
	}
	if d := f.join(t, "alice", "dev-a", claim("v1", 8, "quality", "rtc")); !d.Recorded {
		t.Fatal("claim with a new purpose not recorded")
	}
	if ok, _ := f.svc.Allowed(testContext(t), app, "alice", "dev-a", protocol.PurposeQuality); !ok {
		t.Fatal("quality not allowed after consent to it")
	}
	if es := f.ledger(t, "alice", "dev-a"); len(es) != 2 {
		t.Fatalf("ledger has %d entries, want 2", len(es))
	}
}

// proves CONSENT-3, DISCLOSE-2: a grant recorded while the app had no
// policy never stands for a version published later under the same name.
func TestGrantBeforePublicationDoesNotCount(t *testing.T) {
	f := newFixture(t)
	mustAllow(t, f.join(t, "alice", "dev-a", claim("v1", 1)))
	if ok, _ := f.svc.Allowed(testContext(t), app, "alice", "dev-a", protocol.PurposeRTC); !ok {
		t.Fatal("development grant not honoured while no policy exists")
	}
	f.clock.Advance(time.Minute)
	f.publish(t, "v1", true)
	mustRefuse(t, f.join(t, "alice", "dev-a", nil), protocol.ErrCodeConsentRequired, "not to a published version")
	if ok, _ := f.svc.Allowed(testContext(t), app, "alice", "dev-a", protocol.PurposeRTC); ok {
		t.Fatal("development grant honoured for a later published text")
	}
	mustAllow(t, f.join(t, "alice", "dev-a", claim("v1", 2)))
	mustAllow(t, f.join(t, "alice", "dev-a", nil))
}

// proves CONSENT-3: the console's ledger view filters and counts.
func TestLedgerAndStats(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)
	f.publish(t, "v1", true)
	for i := range 5 {
		f.clock.Advance(time.Second)
		mustAllow(t, f.join(t, fmt.Sprintf("user%d", i), "dev", claim("v1", 1)))
	}
	f.clock.Advance(time.Second)
	for _, u := range []string{"user0", "user1"} {
		if err := f.svc.Withdraw(ctx, app, u, "dev"); err != nil {
			t.Fatal(err)
		}
	}
	granted, withdrawn, err := f.svc.Stats(ctx, app)
	if err != nil || granted != 3 || withdrawn != 2 {
		t.Fatalf("Stats = %d, %d, %v; want 3, 2", granted, withdrawn, err)
	}
	es, err := f.svc.Ledger(ctx, app, Filter{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 3 || es[0].Action != store.ConsentWithdraw || es[0].UserID != "user1" {
		t.Fatalf("newest first, limited: %+v", es)
	}
	es, err = f.svc.Ledger(ctx, app, Filter{Since: t0.Add(3 * time.Second)})
	if err != nil || len(es) != 5 {
		t.Fatalf("since filter: %d entries, %v; want 5", len(es), err)
	}
	es, err = f.svc.Ledger(ctx, app, Filter{UserID: "user0"})
	if err != nil || len(es) != 2 {
		t.Fatalf("user filter: %d entries, %v; want 2", len(es), err)
	}
}

// proves CONSENT-3, DISCLOSE-2: neither the ledger nor the policy archive
// can be rewritten, even by another process writing the file directly.
func TestRecordsAppendOnly(t *testing.T) {
	f := newFixture(t)
	f.publish(t, "v1", true)
	mustAllow(t, f.join(t, "alice", "dev-a", claim("v1", 1)))

	raw, err := sql.Open("sqlite", "file:"+f.path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	ctx := testContext(t)
	for _, stmt := range []string{
		`UPDATE consent_ledger SET action = 'grant', purposes = 'rtc,im,quality'`,
		`UPDATE policy_versions SET material = 0`,
		`DELETE FROM policy_versions`,
	} {
		if _, err := raw.ExecContext(ctx, stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want the append-only abort", stmt, err)
		}
	}
	es := f.ledger(t, "alice", "dev-a")
	if len(es) != 1 || strings.Join(es[0].Purposes, ",") != "rtc" {
		t.Fatalf("ledger changed: %+v", es)
	}
}

// proves CONSENT-3, CONSENT-5 under concurrency: many devices granting,
// rejoining and withdrawing at once end with the decision each made last.
func TestConcurrentGrantAndWithdraw(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)
	f.publish(t, "v1", true)

	const devices = 32
	var wg sync.WaitGroup
	for i := range devices {
		wg.Go(func() {
			dev := fmt.Sprintf("dev-%d", i)
			for range 3 { // the same claim on every rejoin
				d, err := f.svc.CheckJoin(ctx, app, "alice", dev, claim("v1", int64(i+1)))
				if err != nil || !d.Allowed {
					t.Errorf("%s: %+v, %v", dev, d, err)
					return
				}
			}
			if i%2 == 1 {
				if err := f.svc.Withdraw(ctx, app, "alice", dev); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()

	granted, withdrawn, err := f.svc.Stats(ctx, app)
	if err != nil || granted != devices/2 || withdrawn != devices/2 {
		t.Fatalf("Stats = %d, %d, %v", granted, withdrawn, err)
	}
	for i := range devices {
		dev := fmt.Sprintf("dev-%d", i)
		es := f.ledger(t, "alice", dev)
		want := 1 + i%2
		if len(es) != want {
			t.Errorf("%s: %d entries, want %d", dev, len(es), want)
		}
		d := f.join(t, "alice", dev, nil)
		if d.Allowed != (i%2 == 0) {
			t.Errorf("%s: no-claim join %+v", dev, d)
		}
	}
}
