package retention_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/keyring"
	"github.com/parley-rtc/parley/internal/retention"
	"github.com/parley-rtc/parley/internal/store"
)

// aliceSender is the sender to append alice's messages with in app, and
// the reference a hold on her names. Where the store keeps senders as
// blind-index references (a probe message in a scratch app shows which),
// that is "alice" and her reference; otherwise the sender column keeps
// what it is given, so the reference itself is sent.
func (f *fixture) aliceSender(t *testing.T, app uint32) (sender, ref string) {
	t.Helper()
	const probeApp = 4000000000
	f.addMessage(t, probeApp, "alice", "probe", t0)
	var stored string
	if err := f.raw.QueryRowContext(t.Context(), `SELECT sender FROM im_messages WHERE sdkappid = ?`, probeApp).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	ref = f.db.UserRef(app, "alice")
	if _, isRef := keyring.RefBytes(stored); isRef {
		return "alice", ref
	}
	return ref, ref
}

// holdCase seeds apps a (a hold on user alice), b (a hold on the whole
// app) and c (a hold released before the limit), each with messages,
// telemetry, finished callbacks and push tokens at t0.
type holdCase struct {
	a, b, c    uint32
	aliceRef   string
	aliceMsgs  string // sender column value of alice's messages
	aliceTelem []byte
	holds      []store.LegalHold
}

func seedHolds(t *testing.T, f *fixture) holdCase {
	t.Helper()
	svc := f.apps(t)
	h := holdCase{a: f.newApp(t, svc, "a"), b: f.newApp(t, svc, "b"), c: f.newApp(t, svc, "c")}
	sender, ref := f.aliceSender(t, h.a)
	h.aliceRef, h.aliceMsgs = ref, ref
	h.aliceTelem, _ = keyring.RefBytes(ref)
	bobTelem := []byte("bob-0123456789ab")
	add := func(app uint32, from string, user []byte, n int) {
		for i := range n {
			f.addMessage(t, app, from, fmt.Sprintf("%s-%d", from, i), t0)
			f.addTelemetry(t, app, user, t0.Add(time.Duration(i)*time.Minute))
		}
	}
	add(h.a, sender, h.aliceTelem, 3)
	add(h.a, "bob", bobTelem, 2)
	add(h.b, "bob", bobTelem, 2)
	add(h.c, "bob", bobTelem, 2)
	for i, app := range []uint32{h.a, h.a, h.b, h.b, h.c} {
		f.addWebhook(t, app, fmt.Sprintf("ev-%d", i), t0, store.WebhookDelivered)
	}
	for _, app := range []uint32{h.a, h.b, h.c} {
		f.addPushToken(t, app, "bob", t0)
	}
	for _, hold := range []store.LegalHold{
		{SDKAppID: h.a, Subject: ref, Reason: store.HoldCourt, Note: "order 12/2026"},
		{SDKAppID: h.b, Reason: store.HoldAuthority},
		{SDKAppID: h.c, Reason: store.HoldDispute},
	} {
		hold.CreatedAt, hold.ExpiresAt = t0.Add(time.Hour), t0.Add(time.Hour+30*day)
		rec, err := f.db.AddLegalHold(t.Context(), hold)
		if err != nil {
			t.Fatal(err)
		}
		h.holds = append(h.holds, rec)
	}
	return h
}

// A legal hold keeps exactly the rows it covers past every limit — one
// user's messages and telemetry for a user hold, everything of the app
// for an app hold — and reports them as held; a released hold keeps
// nothing; once a hold expires the next sweep deletes what it kept, and
// 14 days later the hold's own record. proves RETAIN-4, RETAIN-1, RETAIN-3
func TestLegalHoldsKeepExactlyTheHeldRows(t *testing.T) {
	f := newFixture(t, retention.Limits{Messages: 7 * day, PushTokens: 10 * day, Webhooks: 14 * day})
	ctx := t.Context()
	h := seedHolds(t, f)
	f.clk.set(t0.Add(19 * day))
	if _, err := f.db.ReleaseLegalHold(ctx, h.holds[2].ID, f.clk.Now()); err != nil {
		t.Fatal(err)
	}

	f.clk.set(t0.Add(20 * day)) // past every limit
	res := f.run(t)
	want := map[string][2]int64{ // deleted, held
		"messages":       {2 + 2 + 1, 3 + 2}, // a's bob, c and the probe go; alice's 3 and b's 2 stay
		"quality_logs":   {2 + 2, 3 + 2},
		"webhook_outbox": {2 + 1, 2},
		"im_push_tokens": {1 + 1, 1},
	}
	for store, w := range want {
		if r := res[store]; r.Deleted != w[0] || r.Held != w[1] {
			t.Errorf("%s: deleted %d held %d, want %d and %d", store, r.Deleted, r.Held, w[0], w[1])
		}
	}
	counts := func() map[string]int64 {
		return map[string]int64{
			"alice msgs":  f.count(t, `SELECT count(*) FROM im_messages WHERE sdkappid = ? AND sender = ?`, int64(h.a), h.aliceMsgs),
			"a msgs":      f.count(t, `SELECT count(*) FROM im_messages WHERE sdkappid = ?`, int64(h.a)),
			"b msgs":      f.count(t, `SELECT count(*) FROM im_messages WHERE sdkappid = ?`, int64(h.b)),
			"c msgs":      f.count(t, `SELECT count(*) FROM im_messages WHERE sdkappid = ?`, int64(h.c)),
			"a telemetry": f.telemetryRows(t, h.a, nil),
			"alice telem": f.telemetryRows(t, h.a, h.aliceTelem),
			"b telemetry": f.telemetryRows(t, h.b, nil),
			"c telemetry": f.telemetryRows(t, h.c, nil),
			"a webhooks":  f.count(t, `SELECT count(*) FROM webhook_outbox WHERE sdkappid = ?`, int64(h.a)),
			"b webhooks":  f.count(t, `SELECT count(*) FROM webhook_outbox WHERE sdkappid = ?`, int64(h.b)),
			"b tokens":    f.count(t, `SELECT count(*) FROM im_push_tokens WHERE sdkappid = ?`, int64(h.b)),
			"all tokens":  f.count(t, `SELECT count(*) FROM im_push_tokens`),
		}
	}
	wantLeft := map[string]int64{"alice msgs": 3, "a msgs": 3, "b msgs": 2, "c msgs": 0, "a telemetry": 3, "alice telem": 3,
		"b telemetry": 2, "c telemetry": 0, "a webhooks": 0, "b webhooks": 2, "b tokens": 1, "all tokens": 1}
	for k, n := range counts() {
		if n != wantLeft[k] {
			t.Errorf("under the holds, %s = %d, want %d", k, n, wantLeft[k])
		}
	}
	f.assertWithin(t, "under the holds") // held rows do not make a store late

	// The holds expire; the next sweep deletes what they kept.
	f.clk.set(h.holds[0].ExpiresAt.Add(time.Hour))
	res = f.run(t)
	for k, n := range counts() {
		if n != 0 {
			t.Errorf("after the holds expired, %s = %d", k, n)
		}
	}
	if parts, _ := f.db.TelemetryPartitions(ctx); len(parts) != 0 {
		t.Errorf("telemetry partitions left after the holds: %+v", parts)
	}
	for _, r := range res {
		if r.Held != 0 {
			t.Errorf("%s still reports %d held rows", r.Store, r.Held)
		}
	}
	// The hold records stay 14 days after they end, then go.
	if hs, _ := f.db.ListLegalHolds(ctx, 0, true, f.clk.Now()); len(hs) != 3 {
		t.Fatalf("hold records right after expiry: %+v", hs)
	}
	f.clk.set(h.holds[0].ExpiresAt.Add(14*day + time.Hour))
	if r := f.run(t)["legal_holds"]; r.Deleted != 3 {
		t.Fatalf("legal_holds sweep = %+v; want the 3 ended records", r)
	}
}

// telemetryRows counts an app's telemetry rows in every partition, only
// those of user when set.
func (f *fixture) telemetryRows(t *testing.T, app uint32, user []byte) int64 {
	t.Helper()
	parts, err := f.db.TelemetryPartitions(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, p := range parts {
		table := "telemetry_d" + p.Day.Format("20060102")
		if user == nil {
			n += f.count(t, `SELECT count(*) FROM `+table+` WHERE sdkappid = ?`, int64(app))
		} else {
			n += f.count(t, `SELECT count(*) FROM `+table+` WHERE sdkappid = ? AND user_ref = ?`, int64(app), user)
		}
	}
	return n
}
