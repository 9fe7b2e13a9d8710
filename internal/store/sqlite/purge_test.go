package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/keyring"
	"github.com/parley-rtc/parley/internal/store"
)

// aliceSender is the sender to append alice's messages with, and the
// reference a hold on her names. Where the store keeps senders as
// blind-index references, that is "alice" and her reference; before, the
// sender column keeps what it is given, so the reference itself is sent.
func aliceSender(t *testing.T, db *DB, app uint32) (sender, ref string) {
	t.Helper()
	ctx := testContext(t)
	const probeApp = 4000000000
	if _, _, err := db.AppendIMMessage(ctx, store.IMMessage{SDKAppID: probeApp, ConvID: "c2c:alice|probe", Sender: "alice",
		At: holdT0, Body: []byte("probe")}, nil); err != nil {
		t.Fatal(err)
	}
	var stored string
	if err := db.read.QueryRowContext(ctx, `SELECT sender FROM im_messages WHERE sdkappid = ?`, probeApp).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	ref = db.UserRef(app, "alice")
	if _, isRef := keyring.RefBytes(stored); isRef {
		return "alice", ref
	}
	return ref, ref
}

func countRows(t *testing.T, db *DB, query string, args ...any) int64 {
	t.Helper()
	n, err := db.count(testContext(t), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Deleting an app removes its row and callback key at once and records
// the termination in the same transaction; published policies become
// deletable only then. proves RETAIN-2
func TestTerminateApp(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	a, b := newApp(t, db, "gone"), newApp(t, db, "kept")
	for _, app := range []uint32{a.SDKAppID, b.SDKAppID} {
		if err := db.PutAppCallback(ctx, store.AppCallback{SDKAppID: app, URL: "https://x", SealedKey: []byte("k"),
			KeyID: "k", UpdatedAt: holdT0}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.PublishPolicy(ctx, store.Policy{SDKAppID: app, Version: "v1", EffectiveAt: holdT0, PublishedAt: holdT0}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.write.ExecContext(ctx, `DELETE FROM policy_versions WHERE sdkappid = ?`, int64(a.SDKAppID)); err == nil {
		t.Fatal("a live app's published policy was deleted")
	}
	if err := db.TerminateApp(ctx, a.SDKAppID, holdT0); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetApp(ctx, a.SDKAppID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("app after termination: %v", err)
	}
	if _, err := db.GetAppCallback(ctx, a.SDKAppID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("callback key after termination: %v", err)
	}
	if err := db.TerminateApp(ctx, a.SDKAppID, holdT0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("terminate twice: %v", err)
	}
	ts, err := db.AppTerminations(ctx, false)
	if err != nil || len(ts) != 1 || ts[0].SDKAppID != a.SDKAppID || !ts[0].TerminatedAt.Equal(holdT0) {
		t.Fatalf("terminations = %+v, %v", ts, err)
	}
	c, err := db.PurgeTerminatedApps(ctx, holdT0.Add(time.Hour))
	if err != nil || c.Deleted != 1 || c.Held != 0 {
		t.Fatalf("purge = %+v, %v; want the one policy version deleted", c, err)
	}
	if n := countRows(t, db, `SELECT count(*) FROM policy_versions WHERE sdkappid = ?`, int64(b.SDKAppID)); n != 1 {
		t.Fatalf("the other app's policies: %d", n)
	}
	if _, err := db.write.ExecContext(ctx, `DELETE FROM policy_versions WHERE sdkappid = ?`, int64(b.SDKAppID)); err == nil {
		t.Fatal("the live app's published policy was deleted")
	}
	ts, err = db.AppTerminations(ctx, true)
	if err != nil || len(ts) != 1 || !ts[0].PurgedAt.Equal(holdT0.Add(time.Hour)) {
		t.Fatalf("terminations after purge = %+v, %v", ts, err)
	}
	if _, err := db.AddLegalHold(ctx, store.LegalHold{SDKAppID: a.SDKAppID, Reason: store.HoldLaw, CreatedAt: holdT0,
		ExpiresAt: holdT0.Add(time.Hour)}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("hold on a purged app: %v", err)
	}
}

// The purge goes in batches, keeps a held subject's messages and
// telemetry until the hold ends, and only then marks the app purged.
// proves RETAIN-2, RETAIN-4
func TestPurgeBatchesAndSubjectHold(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	a := newApp(t, db, "gone")
	app := a.SDKAppID
	sender, ref := aliceSender(t, db, app)
	refBytes, _ := keyring.RefBytes(ref)
	for i := range 5 {
		from := "bob"
		if i < 2 {
			from = sender
		}
		if _, _, err := db.AppendIMMessage(ctx, store.IMMessage{SDKAppID: app, ConvID: "group:room", Sender: from,
			At: holdT0, Body: fmt.Appendf(nil, "m%d", i)}, nil); err != nil {
			t.Fatal(err)
		}
		user := []byte("0123456789abcdef")
		if i < 2 {
			user = refBytes
		}
		if err := db.InsertTelemetry(ctx, []store.TelemetryRecord{{At: holdT0, SDKAppID: app, RoomKey: "n:1",
			UserRef: user, DeviceRef: []byte("d"), Section: "quality", Data: []byte(`{}`)}}); err != nil {
			t.Fatal(err)
		}
	}
	hold, err := db.AddLegalHold(ctx, store.LegalHold{SDKAppID: app, Subject: ref, Reason: store.HoldAuthority,
		CreatedAt: holdT0, ExpiresAt: holdT0.Add(48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.TerminateApp(ctx, app, holdT0); err != nil {
		t.Fatal(err)
	}
	// The hold is in force: 3 messages and 3 telemetry rows go (in
	// batches of 2), alice's 2 + 2 stay, the app is not purged yet.
	c, err := db.purgeTerminatedApps(ctx, holdT0.Add(time.Hour), 2)
	if err != nil {
		t.Fatal(err)
	}
	if c.Held != 4 || countRows(t, db, `SELECT count(*) FROM im_messages WHERE sdkappid = ? AND sender = ?`, int64(app), ref) != 2 {
		t.Fatalf("purge under hold = %+v; want alice's 2 messages and 2 telemetry rows kept", c)
	}
	if ts, _ := db.AppTerminations(ctx, false); len(ts) != 1 {
		t.Fatalf("app marked purged while held: %+v", ts)
	}
	if _, ok, err := db.OldestPendingTermination(ctx, holdT0.Add(time.Hour)); err != nil || ok {
		t.Fatalf("a held termination counts as late: %v, %v", ok, err)
	}
	// After the hold, everything goes, the hold record too.
	c, err = db.purgeTerminatedApps(ctx, hold.ExpiresAt, 2)
	if err != nil || c.Held != 0 || c.Deleted != 5 {
		t.Fatalf("purge after the hold = %+v, %v; want 4 rows and the hold record", c, err)
	}
	if ts, _ := db.AppTerminations(ctx, false); len(ts) != 0 {
		t.Fatalf("app not marked purged: %+v", ts)
	}
}

// Sweeps delete in batches until nothing unheld is left.
func TestSweepBatches(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	for i := range 7 {
		if _, _, err := db.AppendIMMessage(ctx, store.IMMessage{SDKAppID: 1, ConvID: "group:x", Sender: "bob",
			At: holdT0.Add(time.Duration(i) * time.Hour), Body: []byte("m")}, nil); err != nil {
			t.Fatal(err)
		}
	}
	c, err := db.sweepIMMessages(ctx, holdT0.Add(48*time.Hour), holdT0.Add(48*time.Hour), 2)
	if err != nil || c.Deleted != 7 || c.Held != 0 {
		t.Fatalf("sweep = %+v, %v", c, err)
	}
}

// An app deleted before terminations were recorded left its data behind:
// the migration records every such app, so the next sweep purges it.
// proves RETAIN-2
func TestMigrationRecordsAppsDeletedEarlier(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "parley.db")
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	raw.SetMaxOpenConns(1)
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
		applied_at INTEGER NOT NULL DEFAULT (unixepoch())) STRICT`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.version >= 10 {
			break
		}
		if _, err := applyMigration(ctx, raw, m); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		`INSERT INTO apps (sdkappid, name, sealed_secret, secret_key_id, created_at) VALUES (1400000001, 'live', x'00', 'k', 0)`,
		`INSERT INTO policy_versions (sdkappid, version, material, effective_at, published_at) VALUES (1400000001, 'v1', 1, 0, 0)`,
		`INSERT INTO policy_versions (sdkappid, version, material, effective_at, published_at) VALUES (1400000002, 'v1', 1, 0, 0)`,
		`INSERT INTO audit_events (at_ms, sdkappid, kind, detail) VALUES (0, 0, 'global', '{}')`,
	} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := Open(ctx, path, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ts, err := db.AppTerminations(ctx, false)
	if err != nil || len(ts) != 1 || ts[0].SDKAppID != 1400000002 {
		t.Fatalf("terminations after migration = %+v, %v; want the deleted app 1400000002 only", ts, err)
	}
}

// The purge finds its tables in the live schema: a table added later
// with an sdkappid column is purged without a code change (a WITHOUT
// ROWID one too), and one that declares itself append-only with a
// BEFORE DELETE trigger is left alone instead of failing the purge.
// proves RETAIN-2
func TestPurgeFindsTablesInTheSchema(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	for _, q := range []string{
		`CREATE TABLE later_store (k TEXT PRIMARY KEY, sdkappid INTEGER NOT NULL, v TEXT) WITHOUT ROWID, STRICT`,
		`CREATE TABLE later_notices (sdkappid INTEGER NOT NULL, n INTEGER NOT NULL) STRICT`,
		`CREATE TRIGGER later_notices_no_delete BEFORE DELETE ON later_notices BEGIN SELECT RAISE(ABORT, 'append-only'); END`,
	} {
		if _, err := db.write.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	a, b := newApp(t, db, "gone"), newApp(t, db, "kept")
	for i, app := range []uint32{a.SDKAppID, b.SDKAppID} {
		if _, err := db.write.ExecContext(ctx, `INSERT INTO later_store VALUES (?, ?, 'x'), (?, ?, 'y')`,
			fmt.Sprint("k", i), int64(app), fmt.Sprint("l", i), int64(app)); err != nil {
			t.Fatal(err)
		}
		if _, err := db.write.ExecContext(ctx, `INSERT INTO later_notices VALUES (?, 1)`, int64(app)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.TerminateApp(ctx, a.SDKAppID, holdT0); err != nil {
		t.Fatal(err)
	}
	c, err := db.purgeTerminatedApps(ctx, holdT0.Add(time.Hour), 1)
	if err != nil || c.Deleted != 2 {
		t.Fatalf("purge = %+v, %v; want the 2 later_store rows", c, err)
	}
	for _, q := range []struct {
		query string
		app   uint32
		want  int64
	}{
		{`SELECT count(*) FROM later_store WHERE sdkappid = ?`, a.SDKAppID, 0},
		{`SELECT count(*) FROM later_store WHERE sdkappid = ?`, b.SDKAppID, 2},
		{`SELECT count(*) FROM later_notices WHERE sdkappid = ?`, a.SDKAppID, 1},
	} {
		if n := countRows(t, db, q.query, int64(q.app)); n != q.want {
			t.Errorf("%s [%d] = %d, want %d", q.query, q.app, n, q.want)
		}
	}
}
