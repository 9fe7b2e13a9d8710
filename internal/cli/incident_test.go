package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/app"
	"github.com/parley-rtc/parley/internal/audit"
	"github.com/parley-rtc/parley/internal/incident"
	"github.com/parley-rtc/parley/internal/store"
	"github.com/parley-rtc/parley/internal/webhook"
)

func incidentRunCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	env := Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" },
		Now: func() time.Time { return policyNow }}
	code = Main(ctx, append([]string{"incident"}, args...), env)
	return code, out.String(), errb.String()
}

// signedReceiver is an app backend that verifies every callback as app
// backends do (webhook.VerifyRequest).
type signedReceiver struct {
	key    []byte
	mu     sync.Mutex
	bodies [][]byte
	bad    int
}

func (rc *signedReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _, err := webhook.VerifyRequest(r, rc.key, time.Now(), 0)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err != nil {
		rc.bad++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	rc.bodies = append(rc.bodies, body)
	_, _ = w.Write([]byte(`{"code":0}`))
}

func (rc *signedReceiver) received() ([][]byte, int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([][]byte(nil), rc.bodies...), rc.bad
}

// newIncidentData makes two apps (1400000001 with a callback to rc,
// 1400000002 without) and consent of two users in the first, one in the
// second.
func newIncidentData(t *testing.T) (data string, rc *signedReceiver) {
	t.Helper()
	data = newPolicyApp(t)
	if code, _, errOut := appRun(t, nil, "create", "--name", "second", "--data", data); code != ExitOK {
		t.Fatalf("app create: %s", errOut)
	}
	rc = &signedReceiver{key: []byte("IncidentKey7")}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	if code, _, errOut := appRun(t, nil, "callback", "--data", data, "--sdkappid", "1400000001", "--url", srv.URL+"/cb", "--key", string(rc.key)); code != ExitOK {
		t.Fatalf("callback: %s", errOut)
	}
	ctx := t.Context()
	db, err := openDataDB(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	at := policyNow.Add(-time.Hour)
	for _, c := range []store.ConsentEntry{
		{SDKAppID: 1400000001, UserID: "alice", DeviceID: "a1", Action: store.ConsentGrant, PolicyVersion: "v1", Purposes: []string{"rtc"}, Method: "sdk", RecordedAt: at},
		{SDKAppID: 1400000001, UserID: "bob", DeviceID: "b1", Action: store.ConsentGrant, PolicyVersion: "v1", Purposes: []string{"rtc"}, Method: "sdk", RecordedAt: at},
		{SDKAppID: 1400000002, UserID: "carol", DeviceID: "c1", Action: store.ConsentGrant, PolicyVersion: "v1", Purposes: []string{"rtc"}, Method: "sdk", RecordedAt: at},
	} {
		if _, _, err := db.AppendConsent(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	return data, rc
}

var declareArgs = []string{
	"--categories", "identity.user_id,identity.device_id",
	"--what", "A debug endpoint exposed the consent ledger for two hours.",
	"--impact", "User and install ids may have been read.",
	"--measures", "The endpoint was removed.",
	"--advice", "No action needed by end users; rotate any ids you reuse elsewhere.",
	"--remedies", "None needed beyond the fix.",
	"--contact", "security@parley.example",
}

// incidentRecords returns the audit log's incident records.
func incidentRecords(t *testing.T, data string) []audit.Record {
	t.Helper()
	db, err := openDataDB(t.Context(), data)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recs, err := db.AuditLogRecords(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Record
	for _, r := range recs {
		rec, err := audit.ParseRecord(r.Data)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Kind == audit.KindIncident {
			out = append(out, rec)
		}
	}
	return out
}

// proves SEC-3: `parley incident declare` counts each app's users, sends
// the signed notification to the app with a callback, reports the app
// without one as not notified (the console notice keeps it), records one
// audit record per app, and list/show report the delivery state.
func TestIncidentDeclareCLI(t *testing.T) {
	data, rc := newIncidentData(t)
	args := append([]string{"declare", "--data", data, "--apps", "all", "--json", "--wait", "10s"}, declareArgs...)
	code, out, errOut := incidentRunCLI(t, args...)
	if code != ExitOK {
		t.Fatalf("declare: %d %s %s", code, out, errOut)
	}
	rep := decodeJSON[incident.Report](t, out)
	if rep.ID != 1 || len(rep.Apps) != 2 || len(rep.Categories) != 2 || rep.Categories[0].Label == "" {
		t.Fatalf("report %+v", rep)
	}
	a1, a2 := rep.Apps[0], rep.Apps[1]
	if a1.SDKAppID != 1400000001 || a1.AffectedUsers != 2 || a1.UsersByStore["consent_ledger"] != 2 || a1.Delivery.State != incident.DeliveryDelivered {
		t.Fatalf("app 1: %+v", a1)
	}
	if a2.AffectedUsers != 1 || a2.Delivery.State != incident.DeliveryNoCallback || !strings.HasPrefix(a2.Delivery.Summary, "not notified: no callback configured") {
		t.Fatalf("app 2: %+v", a2)
	}
	bodies, bad := rc.received()
	if bad != 0 || len(bodies) != 1 {
		t.Fatalf("%d callbacks, %d with bad signatures", len(bodies), bad)
	}
	var n incident.Notification
	if err := json.Unmarshal(bodies[0], &n); err != nil {
		t.Fatal(err)
	}
	if n.EventType != "Parley.SecurityIncident" || n.IncidentId != 1 || n.AffectedUsers != 2 || n.Advice == "" || n.Contact != "security@parley.example" || len(n.Categories) != 2 {
		t.Fatalf("notification %+v", n)
	}
	if recs := incidentRecords(t, data); len(recs) != 2 || recs[0].Detail["notice"] != "webhook" || recs[1].Detail["notice"] != "no_callback" {
		t.Fatalf("audit records %+v", recs)
	}

	code, out, _ = incidentRunCLI(t, "list", "--data", data)
	if code != ExitOK || !strings.Contains(out, "Incident 1 (declared 2026-11-05T08:00:00Z)") ||
		!strings.Contains(out, "1400000001: up to 2 affected users (at least 2; consent_ledger 2, im_sessions 0, messages 0, quality_logs 0): delivered (1 attempt(s))") ||
		!strings.Contains(out, "1400000002: up to 1 affected users") || !strings.Contains(out, "not notified: no callback configured") {
		t.Fatalf("list: %d\n%s", code, out)
	}
	if strings.Contains(out, "alice") {
		t.Fatal("list prints a user id")
	}
	code, out, _ = incidentRunCLI(t, "show", "--data", data, "--id", "1", "--json")
	if code != ExitOK || decodeJSON[incident.Report](t, out).Apps[1].Notice != "no_callback" {
		t.Fatalf("show: %d %s", code, out)
	}
	if code, _, errOut = incidentRunCLI(t, "show", "--data", data, "--id", "9"); code != ExitFailure || !strings.Contains(errOut, "no incident 9") {
		t.Fatalf("show missing: %d %s", code, errOut)
	}
	// The log still verifies with the incident records in it.
	if code, out, errOut := auditRun(t, nil, "verify", "--data", data); code != ExitOK {
		t.Fatalf("audit verify: %d %s %s", code, out, errOut)
	}
}

// proves SEC-3: against a stopped data directory (no delivery here) the
// notification waits in the outbox, and the server's dispatcher delivers
// it when it starts.
func TestIncidentDeclareEnqueueOnly(t *testing.T) {
	data, rc := newIncidentData(t)
	args := append([]string{"declare", "--data", data, "--apps", "1400000001", "--json", "--wait", "0"}, declareArgs...)
	code, out, errOut := incidentRunCLI(t, args...)
	if code != ExitOK {
		t.Fatalf("declare: %d %s", code, errOut)
	}
	if st := decodeJSON[incident.Report](t, out).Apps[0].Delivery.State; st != incident.DeliveryPending {
		t.Fatalf("state %q, want pending", st)
	}
	if bodies, _ := rc.received(); len(bodies) != 0 {
		t.Fatal("delivered with --wait 0")
	}
	// What `parley serve` does at start: a dispatcher over the outbox.
	l, err := app.OpenLocalStores(t.Context(), app.LocalOptions{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	d, err := webhook.New(webhook.Config{Outbox: l.DB, Targets: callbackTargets{l.Callbacks}})
	if err != nil {
		t.Fatal(err)
	}
	d.Start()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if bodies, _ := rc.received(); len(bodies) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the outbox row was not delivered")
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = d.Close()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	code, out, _ = incidentRunCLI(t, "show", "--data", data, "--id", "1")
	if code != ExitOK || !strings.Contains(out, "1400000001: up to 2 affected users") || !strings.Contains(out, "delivered") {
		t.Fatalf("show: %s", out)
	}
}

func TestIncidentDeclareUsageErrors(t *testing.T) {
	data, _ := newIncidentData(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--apps", "all", "--categories", "identity.user_id,im.message_text"}, `unknown data category "im.message_text"`},
		{[]string{"--apps", "1400000001,x", "--categories", "im.message"}, `--apps item 2 "x"`},
		{[]string{"--apps", "all", "--categories", ""}, "--categories item 1 is empty"},
		{[]string{"--apps", "all", "--categories", "im.message", "--since", "yesterday"}, "want RFC 3339"},
	} {
		args := append(append([]string{"declare", "--data", data}, declareArgs...), tc.args...)
		code, _, errOut := incidentRunCLI(t, args...)
		if code != ExitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: %d %q, want usage error %q", tc.args, code, errOut, tc.want)
		}
	}
	// A required text missing.
	code, _, errOut := incidentRunCLI(t, "declare", "--data", data, "--apps", "all", "--categories", "im.message", "--what", "x",
		"--impact", "x", "--measures", "x", "--remedies", "x", "--contact", "x")
	if code != ExitUsage || !strings.Contains(errOut, "--advice is required") {
		t.Fatalf("missing advice: %d %s", code, errOut)
	}
	code, _, errOut = incidentRunCLI(t, append([]string{"declare", "--data", data, "--apps", "1400000009"}, declareArgs...)...)
	if code != ExitFailure || !strings.Contains(errOut, "no app with SDKAppID 1400000009") {
		t.Fatalf("unknown app: %d %s", code, errOut)
	}
	if recs := incidentRecords(t, data); len(recs) != 0 {
		t.Fatalf("rejected declarations left %d audit records", len(recs))
	}
	if code, out, _ := incidentRunCLI(t, "list", "--data", data); code != ExitOK || !strings.Contains(out, "No incidents declared.") {
		t.Fatalf("list: %d %s", code, out)
	}
}
