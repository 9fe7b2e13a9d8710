package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/app"
	"github.com/parley-rtc/parley/internal/audit"
	"github.com/parley-rtc/parley/internal/config"
	"github.com/parley-rtc/parley/internal/operator"
	"github.com/parley-rtc/parley/internal/privacy/consent"
	"github.com/parley-rtc/parley/internal/privacy/inventory"
	"github.com/parley-rtc/parley/internal/store"
	"github.com/parley-rtc/parley/internal/webhook"
)

const consolePass = "console-password-0123456789"

type consoleFixture struct {
	local  *app.Local
	api    *consoleAPI
	srv    *httptest.Server
	app    uint32
	tokens map[operator.Role]string
}

func consoleCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newConsoleFixture serves the console API over a fresh data directory
// with one app, two consent entries, one audit record, and one logged-in
// operator per role.
func newConsoleFixture(t *testing.T) *consoleFixture {
	t.Helper()
	ctx := consoleCtx(t)
	local, err := app.OpenLocalStores(ctx, app.LocalOptions{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = local.Close() })
	a, err := local.Apps.Create(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "bob"} {
		if _, _, err := local.DB.AppendConsent(ctx, store.ConsentEntry{SDKAppID: a.SDKAppID, UserID: u, DeviceID: u + "-dev",
			Action: store.ConsentGrant, PolicyVersion: "v1", Purposes: []string{"rtc"}, Method: "sdk", RecordedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	inv, err := inventory.Default()
	if err != nil {
		t.Fatal(err)
	}
	d, err := webhook.New(webhook.Config{Outbox: local.DB, Targets: callbackTargets{local.Callbacks}})
	if err != nil {
		t.Fatal(err)
	}
	sweeper, err := NewRetention(local.DB, inv, config.Default(), nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	api, err := newConsoleAPI(consoleDeps{Local: local, Consent: consent.New(local.DB, local.DB, consent.Options{}),
		Inventory: inv, Notifier: d, Retention: sweeper, Iterations: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.audit.Append(ctx, audit.Entry{Kind: audit.KindPolicyPublish, SDKAppID: a.SDKAppID, Detail: map[string]string{"policy": "v1"}}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.register(mux)
	f := &consoleFixture{local: local, api: api, srv: httptest.NewServer(mux), app: a.SDKAppID, tokens: map[operator.Role]string{}}
	t.Cleanup(f.srv.Close)
	for _, r := range operator.Roles() {
		if _, err := api.ops.Create(ctx, string(r), r, consolePass); err != nil {
			t.Fatal(err)
		}
		resp, body := f.call(t, "POST", "/v1/console/login", "", `{"name":"`+string(r)+`","password":"`+consolePass+`"}`)
		tok, _ := body["token"].(string)
		if resp.StatusCode != http.StatusOK || tok == "" {
			t.Fatalf("login %s: %d %v", r, resp.StatusCode, body)
		}
		f.tokens[r] = tok
	}
	return f
}

// send makes one request to the console API with token (none if empty)
// and returns the response with its whole body.
func (f *consoleFixture) send(t *testing.T, method, path, token, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(consoleCtx(t), method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, raw
}

func (f *consoleFixture) call(t *testing.T, method, path, token, body string) (*http.Response, map[string]any) {
	t.Helper()
	resp, raw := f.send(t, method, path, token, body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s %s: not JSON: %q", method, path, raw)
	}
	return resp, m
}

func (f *consoleFixture) operatorReads(t *testing.T) []audit.Record {
	t.Helper()
	recs, err := f.local.DB.AuditLogRecords(consoleCtx(t), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Record
	for _, r := range recs {
		rec, err := audit.ParseRecord(r.Data)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Kind == audit.KindOperatorRead {
			out = append(out, rec)
		}
	}
	return out
}

const declareBody = `{"apps":"all","categories":"identity.user_id","what_happened":"w","impact":"i","measures_taken":"m","advice":"a","remedies":"r","contact":"c"}`

// proves SEC-2: each role reaches exactly the endpoints its permissions
// allow; the others answer 403 naming the role, the permission and the
// roles that have it; without a session every endpoint answers 401; and
// each allowed read of personal data leaves one operator.read record
// while forbidden attempts leave none.
func TestConsoleRoleMatrix(t *testing.T) {
	f := newConsoleFixture(t)
	ledger := fmt.Sprintf("/v1/console/apps/%d/consent-ledger", f.app)
	type ep struct {
		method, path, body string
		perm               operator.Permission
		okStatus           int
	}
	eps := []ep{
		{"GET", "/v1/console/me", "", operator.PermSession, 200},
		{"GET", "/v1/console/operators", "", operator.PermOperatorsManage, 200},
		{"GET", "/v1/console/apps", "", operator.PermAppsRead, 200},
		{"GET", ledger, "", operator.PermPersonalDataRead, 200},
		{"GET", "/v1/console/audit/checkpoint", "", operator.PermAuditRead, 200},
		{"GET", "/v1/console/retention", "", operator.PermRetentionRead, 200},
		{"GET", "/v1/console/incidents", "", operator.PermIncidentsRead, 200},
		{"POST", "/v1/console/incidents", declareBody, operator.PermIncidentsDeclare, 201},
	}
	allowedReads := 0
	for _, e := range eps {
		if n := f.checkRoles(t, e.method, e.path, e.body, e.perm, e.okStatus); e.perm == operator.PermPersonalDataRead {
			allowedReads += n
		}
	}
	reads := f.operatorReads(t)
	if allowedReads != 3 || len(reads) != allowedReads {
		t.Fatalf("%d operator.read records for %d allowed reads", len(reads), allowedReads)
	}
	for _, rec := range reads {
		if rec.Detail["endpoint"] != "GET /v1/console/apps/{sdkappid}/consent-ledger" || rec.Detail["records"] != "2" ||
			rec.SDKAppID != f.app || rec.Detail["role"] == "developer" {
			t.Errorf("record %+v", rec)
		}
		data, _ := rec.Marshal()
		if strings.Contains(string(data), "alice") {
			t.Fatalf("record holds a user id: %s", data)
		}
	}
}

// proves SEC-2: the ledger read returns the data after one audit record;
// a bad parameter or unknown app returns nothing and records nothing.
func TestConsoleConsentLedgerRead(t *testing.T) {
	f := newConsoleFixture(t)
	path := fmt.Sprintf("/v1/console/apps/%d/consent-ledger?user=alice&limit=5", f.app)
	resp, body := f.call(t, "GET", path, f.tokens[operator.RoleSupport], "")
	entries, _ := body["entries"].([]any)
	if resp.StatusCode != 200 || len(entries) != 1 || entries[0].(map[string]any)["user_id"] != "alice" {
		t.Fatalf("read: %d %v", resp.StatusCode, body)
	}
	reads := f.operatorReads(t)
	if len(reads) != 1 || reads[0].Detail["filters"] != "limit,user" || reads[0].Detail["records"] != "1" || reads[0].Detail["operator"] != "3" {
		t.Fatalf("records %+v", reads)
	}
	for _, p := range []string{"/v1/console/apps/1/consent-ledger", "/v1/console/apps/x/consent-ledger",
		fmt.Sprintf("/v1/console/apps/%d/consent-ledger?limit=0", f.app), fmt.Sprintf("/v1/console/apps/%d/consent-ledger?since=today", f.app)} {
		resp, body := f.call(t, "GET", p, f.tokens[operator.RoleAuditor], "")
		if resp.StatusCode != 400 && resp.StatusCode != 404 || body["entries"] != nil {
			t.Errorf("%s: %d %v", p, resp.StatusCode, body)
		}
	}
	if n := len(f.operatorReads(t)); n != 1 {
		t.Fatalf("%d records after failed reads, want 1", n)
	}
}

func TestConsoleLogoutAndDeclareErrors(t *testing.T) {
	f := newConsoleFixture(t)
	owner := f.tokens[operator.RoleOwner]
	resp, body := f.call(t, "POST", "/v1/console/incidents", owner, `{"apps":"all","categories":"im.message_text"}`)
	if resp.StatusCode != 400 || !strings.Contains(fmt.Sprint(body), `unknown data category \"im.message_text\"`) && !strings.Contains(fmt.Sprint(body), `unknown data category "im.message_text"`) {
		t.Fatalf("bad category: %d %v", resp.StatusCode, body)
	}
	resp, body = f.call(t, "POST", "/v1/console/incidents", owner, strings.Replace(declareBody, `"all"`, `"1"`, 1))
	if resp.StatusCode != 404 {
		t.Fatalf("unknown app: %d %v", resp.StatusCode, body)
	}
	resp, body = f.call(t, "POST", "/v1/console/incidents", owner, declareBody)
	inc, _ := body["incident"].(map[string]any)
	apps, _ := inc["apps"].([]any)
	if resp.StatusCode != 201 || len(apps) != 1 || apps[0].(map[string]any)["notice"] != "no_callback" {
		t.Fatalf("declare: %d %v", resp.StatusCode, body)
	}
	if resp, _ = f.call(t, "POST", "/v1/console/logout", owner, ""); resp.StatusCode != 200 {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	if resp, _ = f.call(t, "GET", "/v1/console/me", owner, ""); resp.StatusCode != 401 {
		t.Fatalf("after logout: %d", resp.StatusCode)
	}
}

// checkRoles calls one endpoint anonymously (401) and as every role: a
// role with perm gets ok, the others 403 naming the role, the permission
// and who has it. It returns how many roles were allowed.
func (f *consoleFixture) checkRoles(t *testing.T, method, path, body string, perm operator.Permission, ok int) (allowed int) {
	t.Helper()
	if resp, _ := f.call(t, method, path, "", body); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous %s %s: %d, want 401", method, path, resp.StatusCode)
	}
	n := 0
	for _, r := range operator.Roles() {
		resp, got := f.call(t, method, path, f.tokens[r], body)
		if r.Allows(perm) {
			n++
			if resp.StatusCode != ok {
				t.Errorf("%s %s %s: %d %v, want %d", r, method, path, resp.StatusCode, got, ok)
			}
			continue
		}
		want := fmt.Sprintf("operator: forbidden: role %s lacks permission %s (granted to: ", r, perm)
		eb, _ := got["error"].(map[string]any)
		if msg, _ := eb["message"].(string); resp.StatusCode != http.StatusForbidden || eb["code"] != "forbidden" || !strings.HasPrefix(msg, want) {
			t.Errorf("%s %s %s: %d %v, want 403 %q…", r, method, path, resp.StatusCode, got, want)
		}
	}
	return n
}
