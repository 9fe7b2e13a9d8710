package retention_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/app"
	"github.com/parley-rtc/parley/internal/keyring"
	"github.com/parley-rtc/parley/internal/store"
	"github.com/parley-rtc/parley/internal/store/sqlite"
	"github.com/parley-rtc/parley/internal/store/sqlite/sqlitetest"
)

// apps is the app service over the fixture's store, on its clock.
func (f *fixture) apps(t *testing.T) *app.Service {
	t.Helper()
	sealer, err := keyring.NewAESGCM(sqlitetest.KEK)
	if err != nil {
		t.Fatal(err)
	}
	return app.New(f.db, sealer, app.Options{Now: f.clk.Now, CacheTTL: -1})
}

func (f *fixture) newApp(t *testing.T, svc *app.Service, name string) uint32 {
	t.Helper()
	a, err := svc.Create(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return a.SDKAppID
}

// seedEveryStore writes at least one row of app into every store that
// keeps app data, through the stores' own methods.
func (f *fixture) seedEveryStore(t *testing.T, id uint32, at time.Time) {
	t.Helper()
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.db.CreateIMGroup(ctx, store.IMGroup{SDKAppID: id, GroupID: "g1", Type: store.IMGroupPublic, Owner: "owner", CreatedAt: at}))
	_, err := f.db.AddIMMember(ctx, id, "g1", store.IMMember{UserID: "member", Role: store.IMRoleMember, JoinedAt: at, JoinSeq: 1})
	must(err)
	must(f.db.AddIMJoinRequest(ctx, id, "g1", "applicant", at))
	m, _, err := f.db.AppendIMMessage(ctx, store.IMMessage{SDKAppID: id, ConvID: "group:g1", Sender: "owner", At: at,
		Body: []byte("hello")}, []string{"owner", "member"})
	must(err)
	_, err = f.db.SetIMExtensions(ctx, id, "group:g1", m.Seq, "member", at, map[string]string{"like": "1"}, 10)
	must(err)
	f.addPushToken(t, id, "owner", at)
	_, _, err = f.db.AppendConsent(ctx, store.ConsentEntry{SDKAppID: id, UserID: "owner", DeviceID: "dev", Action: store.ConsentGrant,
		PolicyVersion: "v1", Purposes: []string{"im"}, Method: "sdk", RecordedAt: at})
	must(err)
	_, err = f.db.PublishPolicy(ctx, store.Policy{SDKAppID: id, Version: "v1", EffectiveAt: at, PublishedAt: at})
	must(err)
	f.addWebhook(t, id, "ev-1", at, store.WebhookPending)
	f.addWebhook(t, id, "ev-2", at, store.WebhookDelivered)
	must(f.db.PutAppCallback(ctx, store.AppCallback{SDKAppID: id, URL: "https://cb", SealedKey: []byte("k"), KeyID: "k", UpdatedAt: at}))
	f.addTelemetry(t, id, []byte("0123456789abcdef"), at)
	must(f.db.AppendAudit(ctx, store.AuditEvent{At: at, SDKAppID: id, Kind: "telemetry_rejected", Detail: []byte(`{}`)}))
	_, err = f.db.AddLegalHold(ctx, store.LegalHold{SDKAppID: id, Reason: store.HoldDispute, CreatedAt: at, ExpiresAt: at.Add(30 * time.Minute)})
	must(err)
	must(f.db.AddUsage(ctx, []sqlite.UsageDay{{SDKAppID: id, Day: at.UTC().Truncate(24 * time.Hour), ParticipantMS: 60_000, PeakRooms: 1}}))
}

// appRows counts one app's rows in every table of the schema that has an
// sdkappid column, found with plain SQL independently of the purge.
// app_terminations is left out: it is the record that the app was deleted
// and when (an id and two times, no personal information; docs/retention.md).
func (f *fixture) appRows(t *testing.T, id uint32) map[string]int64 {
	t.Helper()
	rows, err := f.raw.QueryContext(t.Context(), `SELECT m.name FROM sqlite_master m WHERE m.type = 'table'
		AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) c WHERE c.name = 'sdkappid') ORDER BY m.name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	out := map[string]int64{}
	for _, n := range tables {
		if n == "app_terminations" {
			continue
		}
		out[n] = f.count(t, `SELECT count(*) FROM "`+n+`" WHERE sdkappid = ?`, int64(id))
	}
	return out
}

// Deleting an app removes its secret and callback key at once; the next
// sweep, and in any case within 7 days, leaves no row of it in any table
// that has an sdkappid column, while another app's rows are untouched.
// proves RETAIN-2
func TestTerminatedAppPurgedEverywhere(t *testing.T) {
	f := newFixture(t, defaultLimits)
	ctx := t.Context()
	svc := f.apps(t)
	gone, kept := f.newApp(t, svc, "gone"), f.newApp(t, svc, "kept")
	f.seedEveryStore(t, gone, t0)
	f.seedEveryStore(t, kept, t0)

	before := f.appRows(t, gone)
	for _, table := range []string{"apps", "im_groups", "im_group_members", "im_join_requests", "im_conversations",
		"im_messages", "im_cursors", "im_extensions", "im_push_tokens", "consent_ledger", "policy_versions",
		"webhook_outbox", "app_callbacks", "audit_events", "legal_holds", "usage_daily"} {
		if before[table] == 0 {
			t.Errorf("seed wrote no %s row: the test would prove nothing for it", table)
		}
	}
	if n, ok := before["subject_keys"]; ok && n == 0 {
		t.Error("seed made no per-subject key")
	}
	var telemetry bool
	for table, n := range before {
		telemetry = telemetry || (strings.HasPrefix(table, "telemetry_d") && n > 0)
	}
	if !telemetry {
		t.Error("seed wrote no telemetry row")
	}
	keptBefore := f.appRows(t, kept)

	f.clk.add(time.Hour)
	if err := svc.Delete(ctx, gone); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.GetApp(ctx, gone); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("app row after delete: %v", err)
	}
	if _, err := f.db.GetAppCallback(ctx, gone); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("callback key after delete: %v", err)
	}
	st, _ := f.eng.Status(ctx)
	if s := st[4]; s.Store != "terminated_apps" || s.Empty {
		t.Fatalf("status after delete: %+v; want a pending termination", s)
	}

	f.clk.add(time.Hour) // the next sweep
	res := f.run(t)
	if r := res["terminated_apps"]; r.Deleted == 0 || r.Held != 0 || r.Error != "" {
		t.Fatalf("terminated_apps result = %+v", r)
	}
	for table, n := range f.appRows(t, gone) {
		if n != 0 {
			t.Errorf("%d rows of the deleted app left in %s", n, table)
		}
	}
	for table, n := range f.appRows(t, kept) {
		if n != keptBefore[table] {
			t.Errorf("%s: the other app has %d rows, had %d", table, n, keptBefore[table])
		}
	}
	ts, err := f.db.AppTerminations(ctx, true)
	if err != nil || len(ts) != 1 || ts[0].SDKAppID != gone || ts[0].PurgedAt.IsZero() {
		t.Fatalf("terminations = %+v, %v", ts, err)
	}
	f.assertWithin(t, "after the purge")

	// Seven days after the delete nothing of it has come back.
	f.clk.set(t0.Add(time.Hour + 7*24*time.Hour))
	f.run(t)
	for table, n := range f.appRows(t, gone) {
		if n != 0 {
			t.Errorf("7 days on: %d rows of the deleted app in %s", n, table)
		}
	}
}

// An app-wide hold on a deleted app keeps all of its data until the hold
// ends; then the next sweep purges it. proves RETAIN-2, RETAIN-4
func TestTerminatedAppUnderHold(t *testing.T) {
	f := newFixture(t, defaultLimits)
	ctx := t.Context()
	svc := f.apps(t)
	id := f.newApp(t, svc, "disputed")
	f.seedEveryStore(t, id, t0)
	hold, err := f.db.AddLegalHold(ctx, store.LegalHold{SDKAppID: id, Reason: store.HoldCourt, Note: "case 2026-17",
		CreatedAt: t0, ExpiresAt: t0.Add(3 * day)})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	held := f.appRows(t, id)
	f.clk.add(time.Hour)
	r := f.run(t)["terminated_apps"]
	var total int64
	for table, n := range f.appRows(t, id) {
		if table == "legal_holds" {
			continue
		}
		total += n
		if want := held[table]; n != want {
			t.Errorf("%s: %d rows under the hold, had %d", table, n, want)
		}
	}
	// The only row that went is the other hold's record, which had
	// ended; the court's hold record stays while in force.
	if n := f.count(t, `SELECT count(*) FROM legal_holds WHERE sdkappid = ?`, int64(id)); n != 1 {
		t.Errorf("hold records of the app: %d, want the court's", n)
	}
	if r.Held != total || r.Deleted != 1 {
		t.Fatalf("terminated_apps under hold = %+v; want %d held, 1 ended hold record deleted", r, total)
	}
	f.assertWithin(t, "under hold") // a held termination is not late
	f.clk.set(hold.ExpiresAt.Add(time.Hour))
	f.run(t)
	for table, n := range f.appRows(t, id) {
		if n != 0 {
			t.Errorf("after the hold: %d rows in %s", n, table)
		}
	}
}
