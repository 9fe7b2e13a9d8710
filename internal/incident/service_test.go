package incident

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/app"
	"github.com/parley-rtc/parley/internal/audit"
	"github.com/parley-rtc/parley/internal/store"
	"github.com/parley-rtc/parley/internal/webhook"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// targets resolves callbacks as the server does.
type targets struct{ cbs *app.Callbacks }

func (t targets) Target(ctx context.Context, id uint32) (webhook.Target, bool, error) {
	cb, ok, err := t.cbs.Get(ctx, id)
	if err != nil || !ok {
		return webhook.Target{}, false, err
	}
	return webhook.Target{URL: cb.URL, Key: []byte(cb.Key)}, true, nil
}

// receiver is an app backend that checks every callback's signatures the
// way app backends do (webhook.VerifyRequest) and keeps what it got.
type receiver struct {
	key    []byte
	mu     sync.Mutex
	bodies [][]byte
	ids    []string
	bad    int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, id, err := webhook.VerifyRequest(r, rc.key, time.Now(), 0)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err != nil {
		rc.bad++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	rc.bodies, rc.ids = append(rc.bodies, body), append(rc.ids, id)
	_, _ = w.Write([]byte(`{"code":0}`))
}

func (rc *receiver) got() ([][]byte, []string, int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([][]byte(nil), rc.bodies...), append([]string(nil), rc.ids...), rc.bad
}

type env struct {
	l    *app.Local
	svc  *Service
	d    *webhook.Dispatcher
	rc   *receiver
	srv  *httptest.Server
	appA uint32 // callback set
	appB uint32 // no callback
	now  time.Time
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := testCtx(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	l, err := app.OpenLocalStores(ctx, app.LocalOptions{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	a, err := l.Apps.Create(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Apps.Create(ctx, "beta")
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{key: []byte("IncidentKey42")}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	if err := l.Callbacks.Set(ctx, a.SDKAppID, app.Callback{URL: srv.URL + "/cb", Key: string(rc.key)}); err != nil {
		t.Fatal(err)
	}
	d, err := webhook.New(webhook.Config{Outbox: l.DB, Targets: targets{l.Callbacks}})
	if err != nil {
		t.Fatal(err)
	}
	d.Start()
	t.Cleanup(func() { _ = d.Close() })
	log := l.Audit // one audit log per data directory
	inv := testInventory(t)
	svc, err := New(Config{Store: l.DB, Inventory: inv, Notifier: d, Audit: log, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{l: l, svc: svc, d: d, rc: rc, srv: srv, appA: a.SDKAppID, appB: b.SDKAppID, now: now}
	e.seed(t)
	return e
}

// seed stores, for app A: consent of alice and bob, messages of alice and
// carol, two telemetry pseudonyms; for app B: consent of dave.
func (e *env) seed(t *testing.T) {
	ctx := testCtx(t)
	at := e.now.Add(-time.Hour)
	for _, c := range []store.ConsentEntry{
		{SDKAppID: e.appA, UserID: "alice", DeviceID: "a1", Action: store.ConsentGrant, PolicyVersion: "v1", Purposes: []string{"rtc"}, Method: "sdk", RecordedAt: at},
		{SDKAppID: e.appA, UserID: "bob", DeviceID: "b1", Action: store.ConsentGrant, PolicyVersion: "v1", Purposes: []string{"rtc"}, Method: "sdk", RecordedAt: at},
		{SDKAppID: e.appB, UserID: "dave", DeviceID: "d1", Action: store.ConsentGrant, PolicyVersion: "v1", Purposes: []string{"rtc"}, Method: "sdk", RecordedAt: at},
	} {
		if _, _, err := e.l.DB.AppendConsent(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []store.IMMessage{
		{SDKAppID: e.appA, ConvID: "c2c:alice|carol", Sender: "alice", At: at, Body: []byte("hi")},
		{SDKAppID: e.appA, ConvID: "c2c:alice|carol", Sender: "carol", At: at, Body: []byte("ho")},
	} {
		if _, _, err := e.l.DB.AppendIMMessage(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
	}
	ref := func(b byte) []byte { r := make([]byte, 16); r[0] = b; return r }
	if err := e.l.DB.InsertTelemetry(ctx, []store.TelemetryRecord{
		{At: at, SDKAppID: e.appA, RoomKey: "r", UserRef: ref(1), DeviceRef: ref(8), Section: "quality", Data: []byte(`{}`)},
		{At: at, SDKAppID: e.appA, RoomKey: "r", UserRef: ref(2), DeviceRef: ref(9), Section: "quality", Data: []byte(`{}`)},
	}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) auditRecords(t *testing.T) []audit.Record {
	t.Helper()
	recs, err := e.l.DB.AuditLogRecords(testCtx(t), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Record
	for _, r := range recs {
		rec, err := audit.ParseRecord(r.Data)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(r.Data), "alice") || strings.Contains(string(r.Data), "Leak") {
			t.Fatalf("audit record holds personal data or free text: %s", r.Data)
		}
		if rec.Kind == audit.KindIncident {
			out = append(out, rec)
		}
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func declaration() Declaration {
	return Declaration{
		AllApps:      true,
		Categories:   []string{"identity.user_id", "im.message"},
		WhatHappened: "Leak: a misconfigured backup bucket was publicly readable for 3 hours.",
		Impact:       "User ids and message text may have been read.",
		Measures:     "The bucket was closed and its access keys rotated.",
		Advice:       "Ask users to watch for phishing that quotes their messages.",
		Remedies:     "Free identity monitoring for affected users.",
		Contact:      "security@parley.example",
	}
}

// proves SEC-3: a declared incident reaches each affected app's backend
// as a signed callback with what happened, the categories with their
// labels, the affected-user count, impact, measures, advice, remedies and
// contact; apps without a callback keep the console notice; each app gets
// one audit record of codes and counts; notifying again sends nothing
// twice.
func TestDeclareNotifiesApps(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	rep, err := e.svc.Declare(ctx, declaration())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Apps) != 2 {
		t.Fatalf("apps %+v", rep.Apps)
	}
	byApp := map[uint32]AppReport{}
	for _, a := range rep.Apps {
		byApp[a.SDKAppID] = a
	}
	a, b := byApp[e.appA], byApp[e.appB]
	// App A: linked users alice, bob (consent), carol (messages) = 3,
	// plus 2 telemetry pseudonyms: 3-5.
	if a.AffectedUsers != 5 || a.AffectedUsersMin != 3 || a.UsersByStore["consent_ledger"] != 2 ||
		a.UsersByStore["messages"] != 2 || a.UsersByStore["quality_logs"] != 2 || a.UsersByStore["im_sessions"] != 0 {
		t.Fatalf("app A counts %+v", a)
	}
	if a.Notice != "webhook" || b.Notice != "no_callback" || b.AffectedUsers != 1 {
		t.Fatalf("notices: A %+v B %+v", a, b)
	}
	if b.Delivery.State != DeliveryNoCallback || !strings.HasPrefix(b.Delivery.Summary, "not notified: no callback configured") {
		t.Fatalf("B delivery %+v", b.Delivery)
	}

	waitFor(t, "the signed callback", func() bool { bodies, _, _ := e.rc.got(); return len(bodies) == 1 })
	bodies, ids, bad := e.rc.got()
	if bad != 0 || ids[0] != a.EventID || a.EventID != EventID(store.Incident{ID: rep.ID, DeclaredAt: rep.DeclaredAt}, e.appA) {
		t.Fatalf("bad signatures %d, event ids %v (want %s)", bad, ids, a.EventID)
	}
	var n map[string]any
	if err := json.Unmarshal(bodies[0], &n); err != nil {
		t.Fatal(err)
	}
	d := declaration()
	for k, want := range map[string]any{
		"EventType": "Parley.SecurityIncident", "IncidentId": float64(rep.ID), "SdkAppId": float64(e.appA),
		"DeclaredAt": rep.DeclaredAt.Format(time.RFC3339Nano), "WhatHappened": d.WhatHappened,
		"AffectedUsers": float64(5), "AffectedUsersMin": float64(3), "Impact": d.Impact, "MeasuresTaken": d.Measures,
		"Advice": d.Advice, "Remedies": d.Remedies, "Contact": d.Contact,
	} {
		if n[k] != want {
			t.Errorf("%s = %v, want %v", k, n[k], want)
		}
	}
	cats, _ := n["Categories"].([]any)
	if len(cats) != 2 {
		t.Fatalf("categories %v", n["Categories"])
	}
	c0, _ := cats[0].(map[string]any)
	if c0["id"] != "identity.user_id" || c0["label"] != "User ID" || c0["label_zh"] != "用户 ID" {
		t.Errorf("category %v", c0)
	}
	if strings.Contains(string(bodies[0]), "alice") {
		t.Fatal("the notification names a user")
	}

	waitFor(t, "delivered state", func() bool {
		r, err := e.svc.Get(ctx, rep.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range r.Apps {
			if x.SDKAppID == e.appA {
				return x.Delivery.State == DeliveryDelivered
			}
		}
		return false
	})

	recs := e.auditRecords(t)
	if len(recs) != 2 {
		t.Fatalf("%d incident records, want one per app", len(recs))
	}
	for _, r := range recs {
		wantNotice := map[uint32]string{e.appA: "webhook", e.appB: "no_callback"}[r.SDKAppID]
		if r.Detail["notice"] != wantNotice || r.Detail["categories"] != "identity.user_id,im.message" ||
			r.Detail["incident"] == "" || r.Detail["event_id"] == "" {
			t.Errorf("record %+v", r)
		}
	}

	// Notify again: nothing new.
	if _, err := e.svc.Notify(ctx, rep.ID); err != nil {
		t.Fatal(err)
	}
	if n := len(e.auditRecords(t)); n != 2 {
		t.Fatalf("%d records after a repeated notify", n)
	}

	// B configures a callback; notify reaches it and records it.
	if err := e.l.Callbacks.Set(ctx, e.appB, app.Callback{URL: e.srv.URL + "/b", Key: string(e.rc.key)}); err != nil {
		t.Fatal(err)
	}
	rep, err = e.svc.Notify(ctx, rep.ID)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B's callback", func() bool { bodies, _, _ := e.rc.got(); return len(bodies) == 2 })
	if n := len(e.auditRecords(t)); n != 3 {
		t.Fatalf("%d records after B was notified, want 3", n)
	}
	time.Sleep(50 * time.Millisecond)
	if bodies, _, _ := e.rc.got(); len(bodies) != 2 {
		t.Fatalf("%d callbacks, want 2 (A must not get a second)", len(bodies))
	}
}

func TestDeclareRejects(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	d := declaration()
	d.Categories = []string{"im.message_text"}
	if _, err := e.svc.Declare(ctx, d); !errors.Is(err, ErrUnknownCategory) {
		t.Fatalf("unknown category: %v", err)
	}
	d = declaration()
	d.AllApps, d.Apps = false, []uint32{e.appA, 1}
	if _, err := e.svc.Declare(ctx, d); !errors.Is(err, ErrUnknownApp) || !strings.Contains(err.Error(), "no app with SDKAppID 1") {
		t.Fatalf("unknown app: %v", err)
	}
	if list, err := e.svc.List(ctx, 10); err != nil || len(list) != 0 {
		t.Fatalf("a rejected declaration was recorded: %v %v", list, err)
	}
	if _, err := e.svc.Get(ctx, 42); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
}

// The window: data recorded before --since does not count.
func TestDeclareSince(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	d := declaration()
	d.AllApps, d.Apps, d.Since = false, []uint32{e.appA}, e.now.Add(-time.Minute)
	rep, err := e.svc.Declare(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if a := rep.Apps[0]; a.AffectedUsers != 0 || rep.Since == nil {
		t.Fatalf("since after every record: %+v", rep)
	}
}
