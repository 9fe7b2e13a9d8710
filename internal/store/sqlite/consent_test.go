package sqlite

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
	if _, err := db.write.ExecContext(ctx, `DELETE FROM consent_ledger WHERE user_id = ?`, db.UserRef(7, "alice")); err != nil {
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

// Distinctive identifiers the raw-file scans look for.
const (
	rawUser     = "zq-user-77310"
	rawUser2    = "zq-user-88421"
	rawMinor    = "zq-minor-55102"
	rawDevice   = "zq-device-44107"
	rawDevice2  = "zq-device-66203"
	rawGuardian = "zq-guardian-99820"
	rawToken    = "zq-token-55236-apns"
	rawToken2   = "zq-token-31337-fcm"
)

// assertNoClearText reads every file under dir (the database, its -wal and
// -shm, the keystore) as bytes and fails if any needle occurs in clear.
func assertNoClearText(t *testing.T, dir string, needles ...string) {
	t.Helper()
	var files int
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for _, n := range needles {
			if bytes.Contains(b, []byte(n)) {
				t.Errorf("%s holds %q in clear", filepath.Base(path), n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatal("no file scanned")
	}
}

// proves issue 5 item 2 for the consent ledger and push tokens (CONSENT-3,
// MINOR-1, RIGHTS-3): a raw scan of every database file finds no user id,
// device id, guardian reference or push token, while the store still
// returns them all in clear.
func TestConsentPushRawFileHasNoIdentifiers(t *testing.T) {
	ctx := testContext(t)
	dir := t.TempDir()
	db, err := Open(ctx, filepath.Join(dir, "parley.db"), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if db != nil {
			db.Close()
		}
	}()
	must := func(_ store.ConsentEntry, _ bool, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.AppendConsent(ctx, grant(7, rawUser, rawDevice, "v1", consentT0, "quality", "rtc")))
	must(db.AppendConsent(ctx, grant(7, rawUser, rawDevice2, "v1", consentT0, "rtc")))
	must(db.AppendConsent(ctx, store.ConsentEntry{SDKAppID: 7, UserID: rawUser, DeviceID: rawDevice,
		Action: store.ConsentWithdraw, PolicyVersion: "v1", RecordedAt: consentT0.Add(time.Minute)}))
	minor := grant(7, rawMinor, rawDevice2, "v1", consentT0, "rtc")
	minor.AgeBand, minor.GuardianRef = "minor", rawGuardian
	must(db.AppendConsent(ctx, minor))
	must(db.AppendConsent(ctx, grant(8, rawUser2, rawDevice, "v1", consentT0, "rtc")))
	for _, tok := range []store.IMPushToken{
		{SDKAppID: 7, UserID: rawUser, DeviceID: rawDevice, Vendor: "apns", Token: rawToken, RegisteredAt: consentT0},
		{SDKAppID: 7, UserID: rawUser2, DeviceID: rawDevice2, Vendor: "fcm", Token: rawToken2, RegisteredAt: consentT0},
	} {
		if err := db.PutIMPushToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}

	// Everything reads back in clear through the store.
	es, err := db.ListConsent(ctx, 7, store.ConsentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 4 || es[0].UserID != rawMinor || es[0].DeviceID != rawDevice2 || es[0].GuardianRef != rawGuardian ||
		es[1].UserID != rawUser || es[1].DeviceID != rawDevice || es[1].Action != store.ConsentWithdraw {
		t.Fatalf("ledger = %+v", es)
	}
	if got, err := db.LatestConsent(ctx, 7, rawMinor, rawDevice2); err != nil || got.GuardianRef != rawGuardian || !got.SameDecision(minor) {
		t.Fatalf("minor's latest = %+v, %v", got, err)
	}
	if es, err := db.ListConsent(ctx, 7, store.ConsentFilter{DeviceID: rawDevice2}); err != nil || len(es) != 2 {
		t.Fatalf("by device: %d entries, %v", len(es), err)
	}
	if toks, err := db.IMPushTokens(ctx, 7, rawUser); err != nil || len(toks) != 1 || toks[0].Token != rawToken || toks[0].DeviceID != rawDevice {
		t.Fatalf("tokens = %+v, %v", toks, err)
	}

	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = nil
	assertNoClearText(t, dir, rawUser, rawUser2, rawMinor, rawDevice, rawDevice2, rawGuardian, rawToken, rawToken2)
}

// proves RIGHTS-3: the erasure methods delete exactly the subject's ledger
// entries (one device, then all), nothing of other users or apps, and the
// counts confirm it.
func TestConsentErase(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	for _, e := range []store.ConsentEntry{
		grant(7, "alice", "dev-a", "v1", consentT0, "rtc"),
		grant(7, "alice", "dev-b", "v1", consentT0, "rtc"),
		{SDKAppID: 7, UserID: "alice", DeviceID: "dev-a", Action: store.ConsentWithdraw, RecordedAt: consentT0.Add(time.Minute)},
		grant(7, "bob", "dev-a", "v1", consentT0, "rtc"),   // same device, other user
		grant(8, "alice", "dev-a", "v1", consentT0, "rtc"), // same user, other app
	} {
		if _, _, err := db.AppendConsent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	count := func(app uint32, user string) int64 {
		t.Helper()
		n, err := db.CountConsentSubject(ctx, app, user)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(7, "alice"); n != 3 {
		t.Fatalf("alice has %d entries, want 3", n)
	}
	exp, err := db.ExportConsent(ctx, 7, "alice")
	if err != nil || len(exp) != 3 || exp[0].ID > exp[1].ID || exp[2].Action != store.ConsentWithdraw || exp[0].UserID != "alice" {
		t.Fatalf("export = %+v, %v", exp, err)
	}
	if _, err := db.EraseConsentDevice(ctx, 7, "alice", ""); err == nil {
		t.Fatal("device erasure without a device id accepted")
	}
	if n, err := db.EraseConsentDevice(ctx, 7, "alice", "dev-a"); err != nil || n != 2 {
		t.Fatalf("erase alice/dev-a = %d, %v; want 2", n, err)
	}
	if es, _ := db.ExportConsent(ctx, 7, "alice"); len(es) != 1 || es[0].DeviceID != "dev-b" {
		t.Fatalf("after device erasure: %+v", es)
	}
	if n, err := db.EraseConsentSubject(ctx, 7, "alice"); err != nil || n != 1 {
		t.Fatalf("erase alice = %d, %v; want 1", n, err)
	}
	if n := count(7, "alice"); n != 0 {
		t.Fatalf("alice has %d entries after erasure", n)
	}
	if n, err := db.EraseConsentSubject(ctx, 7, "alice"); err != nil || n != 0 {
		t.Fatalf("second erasure = %d, %v", n, err)
	}
	if count(7, "bob") != 1 || count(8, "alice") != 1 {
		t.Fatal("erasure reached another subject")
	}
	if got, err := db.LatestConsent(ctx, 7, "bob", "dev-a"); err != nil || got.UserID != "bob" {
		t.Fatalf("bob's entry: %+v, %v", got, err)
	}
}

// proves RIGHTS-3 (crypto-shredding): once a user's key is destroyed their
// entries are erased for every read — listings, stats, latest, export —
// without failing the listing of others; a fresh decision after that is
// recorded under a new key.
func TestConsentAfterShred(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	kid := grant(7, "kid", "dev-k", "v1", consentT0, "rtc")
	kid.AgeBand, kid.GuardianRef = "minor", "guardian-1"
	for _, e := range []store.ConsentEntry{
		grant(7, "alice", "dev-a", "v1", consentT0, "rtc"),
		grant(7, "bob", "dev-b", "v1", consentT0, "rtc"),
		kid,
		grant(7, "alice", "dev-c", "v1", consentT0, "rtc"),
	} {
		if _, _, err := db.AppendConsent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{"alice", "kid"} {
		if ids, err := db.ShredSubject(ctx, 7, u); err != nil || len(ids) != 1 {
			t.Fatalf("shred %s: %v, %v", u, ids, err)
		}
	}
	es, err := db.ListConsent(ctx, 7, store.ConsentFilter{Limit: 1})
	if err != nil || len(es) != 1 || es[0].UserID != "bob" {
		t.Fatalf("listing after shred (limit 1) = %+v, %v; want bob's entry", es, err)
	}
	if es, err := db.ListConsent(ctx, 7, store.ConsentFilter{UserID: "alice"}); err != nil || len(es) != 0 {
		t.Fatalf("alice's listing after shred = %+v, %v", es, err)
	}
	if _, err := db.LatestConsent(ctx, 7, "kid", "dev-k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("kid's latest after shred: %v, want ErrNotFound", err)
	}
	if es, err := db.ExportConsent(ctx, 7, "alice"); err != nil || len(es) != 0 {
		t.Fatalf("export after shred = %+v, %v", es, err)
	}
	if st, err := db.ConsentStats(ctx, 7); err != nil || st != (store.ConsentStats{Granted: 1}) {
		t.Fatalf("stats after shred = %+v, %v", st, err)
	}
	// The rows are still there until the erasure deletes them.
	if n, _ := db.CountConsentSubject(ctx, 7, "alice"); n != 2 {
		t.Fatalf("alice's stored entries = %d, want 2", n)
	}

	// A new decision after the shred is a new entry under a new key.
	e, appended, err := db.AppendConsent(ctx, grant(7, "alice", "dev-a", "v1", consentT0.Add(time.Hour), "rtc"))
	if err != nil || !appended {
		t.Fatalf("grant after shred: %+v, %v, %v", e, appended, err)
	}
	if es, err := db.ListConsent(ctx, 7, store.ConsentFilter{UserID: "alice"}); err != nil || len(es) != 1 || es[0].ID != e.ID {
		t.Fatalf("alice after a fresh grant = %+v, %v", es, err)
	}
	if n, err := db.EraseConsentSubject(ctx, 7, "alice"); err != nil || n != 3 {
		t.Fatalf("erasure deleted %d, %v; want all 3 (readable or not)", n, err)
	}
}

// proves the no-KEK contract: without a key the ledger refuses to work
// instead of silently finding nothing.
func TestConsentWithoutKEK(t *testing.T) {
	ctx := testContext(t)
	db, err := Open(ctx, filepath.Join(t.TempDir(), "parley.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ListConsent(ctx, 7, store.ConsentFilter{}); !errors.Is(err, ErrNoKEK) {
		t.Fatalf("list without KEK: %v", err)
	}
	if _, _, err := db.AppendConsent(ctx, grant(7, "a", "d", "v1", consentT0, "rtc")); !errors.Is(err, ErrNoKEK) {
		t.Fatalf("append without KEK: %v", err)
	}
	if _, err := db.IMPushTokens(ctx, 7, "a"); !errors.Is(err, ErrNoKEK) {
		t.Fatalf("push tokens without KEK: %v", err)
	}
}

// openLegacy builds a database as a binary before migration 0013 left it.
func openLegacy(t *testing.T, path string) *sql.DB {
	t.Helper()
	ctx := testContext(t)
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	raw.SetMaxOpenConns(1)
	if _, err := raw.ExecContext(ctx, `CREATE TABLE schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL DEFAULT (unixepoch())) STRICT`); err != nil {
		t.Fatal(err)
	}
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.version >= 13 {
			break
		}
		if _, err := applyMigration(ctx, raw, m); err != nil {
			t.Fatal(err)
		}
	}
	return raw
}

// proves the upgrade path of migration 0013: entries recorded with clear
// identifiers are converted on first use (same ids, same content), no
// clear identifier is left in the files, new entries never reuse an id,
// and push tokens of the old form are discarded.
func TestConsentLegacyConversion(t *testing.T) {
	ctx := testContext(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "parley.db")
	raw := openLegacy(t, path)
	ins := func(user, device, action, guardian, age string) {
		t.Helper()
		pv, purposes, method := "v1", "quality,rtc", "sdk"
		if action == "withdraw" {
			purposes, method = "", ""
		}
		if _, err := raw.ExecContext(ctx, `INSERT INTO consent_ledger (sdkappid, user_id, device_id, action, policy_version,
			purposes, method, age_band, guardian_ref, recorded_at, device_granted_at) VALUES (7, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			user, device, action, pv, purposes, method, age, guardian, consentT0.UnixMicro(), consentT0.Add(-time.Second).UnixMicro()); err != nil {
			t.Fatal(err)
		}
	}
	ins(rawUser, rawDevice, "grant", "", "adult")
	ins(rawMinor, rawDevice2, "grant", rawGuardian, "minor")
	ins(rawUser, rawDevice, "withdraw", "", "")
	ins(rawUser, rawDevice2, "grant", "", "")
	// An erased entry leaves a gap: the sequence, not max(id), must carry.
	if _, err := raw.ExecContext(ctx, `DELETE FROM consent_ledger WHERE id = 4`); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx, `INSERT INTO im_push_tokens (sdkappid, user_id, device_id, vendor, token, registered_at)
		VALUES (7, ?, ?, 'apns', ?, 0)`, rawUser, rawDevice, rawToken); err != nil {
		t.Fatal(err)
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := Open(ctx, path, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if db != nil {
			db.Close()
		}
	}()
	es, err := db.ListConsent(ctx, 7, store.ConsentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 3 || es[0].ID != 3 || es[0].UserID != rawUser || es[0].DeviceID != rawDevice || es[0].Action != store.ConsentWithdraw ||
		es[1].ID != 2 || es[1].GuardianRef != rawGuardian || es[1].AgeBand != "minor" || strings.Join(es[1].Purposes, ",") != "quality,rtc" ||
		!es[1].RecordedAt.Equal(consentT0) || !es[1].DeviceGrantedAt.Equal(consentT0.Add(-time.Second)) || es[2].ID != 1 {
		t.Fatalf("converted ledger = %+v", es)
	}
	var legacy int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE name = 'consent_ledger_legacy'`).Scan(&legacy); err != nil || legacy != 0 {
		t.Fatalf("legacy table left: %d, %v", legacy, err)
	}
	e, _, err := db.AppendConsent(ctx, grant(7, rawUser, rawDevice, "v1", consentT0.Add(time.Hour), "rtc"))
	if err != nil || e.ID != 5 {
		t.Fatalf("first new entry = %+v, %v; want id 5", e, err)
	}
	if toks, err := db.IMPushTokens(ctx, 7, rawUser); err != nil || len(toks) != 0 {
		t.Fatalf("old-form push tokens kept: %+v, %v", toks, err)
	}
	// The trigger still forbids rewriting an entry.
	if _, err := db.write.ExecContext(ctx, `UPDATE consent_ledger SET action = 'grant'`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("update after conversion: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = nil
	assertNoClearText(t, dir, rawUser, rawMinor, rawDevice, rawDevice2, rawGuardian, rawToken)
}
