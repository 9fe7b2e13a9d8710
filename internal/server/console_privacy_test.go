package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/parley-rtc/parley/internal/audit"
	"github.com/parley-rtc/parley/internal/dsr"
	"github.com/parley-rtc/parley/internal/operator"
	"github.com/parley-rtc/parley/internal/privacy/consent"
	"github.com/parley-rtc/parley/internal/privacy/disclosure"
	"github.com/parley-rtc/parley/internal/privacy/inventory"
	"github.com/parley-rtc/parley/internal/store"
)

// privacyFixture is the console fixture with a rights engine and a
// console clock the test can move.
type privacyFixture struct {
	*consoleFixture
	rights *Rights
	skew   *atomic.Int64 // added to the console's clock, in ns
}

func newPrivacyFixture(t *testing.T) *privacyFixture {
	t.Helper()
	f := newConsoleFixture(t)
	inv, err := inventory.Default()
	if err != nil {
		t.Fatal(err)
	}
	rights, err := NewRights(f.local, inv, RightsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	skew := new(atomic.Int64)
	// Set before the first request to these endpoints; handlers read
	// deps at request time.
	f.api.deps.Rights = rights
	f.api.deps.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	return &privacyFixture{consoleFixture: f, rights: rights, skew: skew}
}

// do sends a request and returns the response with its whole body.
func (f *privacyFixture) do(t *testing.T, method, path, token, body string) (*http.Response, []byte) {
	t.Helper()
	return f.send(t, method, path, token, body)
}

func privacyJSON(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not a JSON object: %q", raw)
	}
	return m
}

func privacyErrCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// submit runs a data-subject request through the engine.
func (f *privacyFixture) submit(t *testing.T, typ dsr.Type, user string) dsr.Request {
	t.Helper()
	res, err := f.rights.Engine.Submit(consoleCtx(t), typ, dsr.Subject{SDKAppID: f.app, UserID: user}, dsr.SourceCLI, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res.Request
}

// privacyReads are the operator.read records of this file's endpoints.
func (f *privacyFixture) privacyReads(t *testing.T) []audit.Record {
	t.Helper()
	var out []audit.Record
	for _, r := range f.operatorReads(t) {
		if strings.Contains(r.Detail["endpoint"], "/dsr") {
			out = append(out, r)
		}
	}
	return out
}

// proves SEC-2: each role reaches exactly the privacy endpoints its
// permissions allow (403 naming the permission otherwise, 401 without a
// session); the DSR reads are audited, once per allowed read, never for
// a developer, and the other endpoints record nothing.
func TestConsolePrivacyRoleMatrix(t *testing.T) {
	f := newPrivacyFixture(t)
	done := f.submit(t, dsr.TypeDelete, "alice")
	app := fmt.Sprintf("/v1/console/apps/%d", f.app)
	type ep struct {
		method, path string
		body         func(operator.Role) string
		perm         operator.Permission
		okStatus     int
	}
	none := func(operator.Role) string { return "" }
	eps := []ep{
		{"GET", app + "/policies", none, operator.PermAppsRead, 200},
		{"POST", app + "/policies", func(r operator.Role) string { return `{"version":"by-` + string(r) + `"}` }, operator.PermAppsWrite, 201},
		{"GET", app + "/disclosure?platform=web&lang=en&format=json", none, operator.PermAppsRead, 200},
		{"GET", "/v1/console/disclosure/formats", none, operator.PermAppsRead, 200},
		{"GET", app + "/consent/stats", none, operator.PermAppsRead, 200},
		{"GET", app + "/dsr", none, operator.PermPersonalDataRead, 200},
		{"GET", "/v1/console/dsr/" + done.ID, none, operator.PermPersonalDataRead, 200},
	}
	allowed := 0
	for _, e := range eps {
		if resp, _ := f.do(t, e.method, e.path, "", e.body("")); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("anonymous %s %s: %d, want 401", e.method, e.path, resp.StatusCode)
		}
		for _, r := range operator.Roles() {
			resp, raw := f.do(t, e.method, e.path, f.tokens[r], e.body(r))
			if r.Allows(e.perm) {
				if resp.StatusCode != e.okStatus {
					t.Errorf("%s %s %s: %d %s, want %d", r, e.method, e.path, resp.StatusCode, raw, e.okStatus)
				}
				if e.perm == operator.PermPersonalDataRead {
					allowed++
				}
				continue
			}
			m := privacyJSON(t, raw)
			want := fmt.Sprintf("operator: forbidden: role %s lacks permission %s (granted to: ", r, e.perm)
			msg, _ := m["error"].(map[string]any)["message"].(string)
			if resp.StatusCode != http.StatusForbidden || privacyErrCode(m) != "forbidden" || !strings.HasPrefix(msg, want) {
				t.Errorf("%s %s %s: %d %s, want 403 %q…", r, e.method, e.path, resp.StatusCode, raw, want)
			}
		}
	}
	reads := f.privacyReads(t)
	if allowed != 6 || len(reads) != allowed {
		t.Fatalf("%d operator.read records for %d allowed DSR reads", len(reads), allowed)
	}
	if n := len(f.operatorReads(t)); n != allowed {
		t.Fatalf("%d operator.read records in all; the non-audited endpoints recorded some", n)
	}
	for _, rec := range reads {
		if rec.Detail["role"] == string(operator.RoleDeveloper) || rec.SDKAppID != f.app {
			t.Errorf("record %+v", rec)
		}
	}
}

// proves SEC-2: the DSR queue and a request's detail are returned after
// one operator.read record each (endpoint pattern, app, count, filter
// names, never the user id), with state, deadline, refusal, the signed
// receipt and an inclusion proof that verify as the REST API's do; a bad
// id, an unknown request or app, a bad limit or a missing rights engine
// return nothing and record nothing.
func TestConsolePrivacyDSRReads(t *testing.T) {
	f := newPrivacyFixture(t)
	support := f.tokens[operator.RoleSupport]
	del := f.submit(t, dsr.TypeDelete, "alice")
	var refused dsr.Request
	for range dsr.RepeatLimit + 1 {
		refused = f.submit(t, dsr.TypeAccess, "bob")
	}
	if del.State != dsr.StateCompleted || len(del.Receipt) == 0 || refused.State != dsr.StateRefused {
		t.Fatalf("setup: delete %s, access %s", del.State, refused.State)
	}

	queue := fmt.Sprintf("/v1/console/apps/%d/dsr", f.app)
	resp, raw := f.do(t, "GET", queue, support, "")
	m := privacyJSON(t, raw)
	reqs, _ := m["requests"].([]any)
	if resp.StatusCode != 200 || len(reqs) != dsr.RepeatLimit+2 {
		t.Fatalf("queue: %d %s", resp.StatusCode, raw)
	}
	byID := map[string]map[string]any{}
	for _, r := range reqs {
		rm := r.(map[string]any)
		byID[rm["id"].(string)] = rm
	}
	stored, err := f.rights.Engine.Get(consoleCtx(t), del.ID) // times as kept (ms)
	if err != nil {
		t.Fatal(err)
	}
	d, x := byID[del.ID], byID[refused.ID]
	if d == nil || x == nil {
		t.Fatalf("queue lacks the requests: %s", raw)
	}
	if d["type"] != "delete" || d["state"] != "completed" || d["source"] != "cli" || d["refusal"] != nil ||
		d["completed_at"] == nil || d["overdue"] != false || d["deadline"] != stored.DueAt.UTC().Format(time.RFC3339Nano) ||
		d["received_at"] != stored.ReceivedAt.UTC().Format(time.RFC3339Nano) || d["subject"] != del.Subject {
		t.Errorf("delete in the queue: %v", d)
	}
	ref, _ := x["refusal"].(map[string]any)
	if x["state"] != "refused" || ref["ground"] != string(dsr.GroundRepeated) || ref["message"] == "" || x["completed_at"] == nil {
		t.Errorf("refused in the queue: %v", x)
	}
	if bytes.Contains(raw, []byte("alice")) || bytes.Contains(raw, []byte("bob")) {
		t.Fatalf("the queue names a user: %s", raw)
	}
	if resp, raw = f.do(t, "GET", queue+"?limit=2", support, ""); resp.StatusCode != 200 || len(privacyJSON(t, raw)["requests"].([]any)) != 2 {
		t.Fatalf("limit=2: %d %s", resp.StatusCode, raw)
	}

	// The detail of the erasure: receipt and proof verify.
	resp, raw = f.do(t, "GET", "/v1/console/dsr/"+del.ID, f.tokens[operator.RoleAuditor], "")
	m = privacyJSON(t, raw)
	if resp.StatusCode != 200 {
		t.Fatalf("detail: %d %s", resp.StatusCode, raw)
	}
	if rq, _ := m["request"].(map[string]any); rq["id"] != del.ID || rq["state"] != "completed" {
		t.Fatalf("detail request: %v", m["request"])
	}
	receipt, _ := m["receipt"].(string)
	pub, err := base64.StdEncoding.DecodeString(m["receipt_key"].(string))
	if err != nil || !bytes.Equal(pub, f.rights.Engine.PublicKey()) {
		t.Fatalf("receipt_key %v: %v", m["receipt_key"], err)
	}
	rc, err := dsr.VerifyReceipt([]byte(receipt), pub)
	if err != nil || rc.RequestID != del.ID {
		t.Fatalf("receipt %q: %+v %v", receipt, rc, err)
	}
	pj, _ := m["proof"].(map[string]any)
	if pj == nil {
		t.Fatalf("no proof: %s", raw)
	}
	p := audit.Proof{Seq: int64(pj["seq"].(float64)), Record: []byte(pj["record"].(string)), Checkpoint: []byte(pj["checkpoint"].(string))}
	for _, h := range pj["hashes"].([]any) {
		b, err := base64.StdEncoding.DecodeString(h.(string))
		if err != nil || len(b) != len(tlog.Hash{}) {
			t.Fatalf("hash %v: %v", h, err)
		}
		p.Proof = append(p.Proof, tlog.Hash(b))
	}
	v, err := note.NewVerifier(pj["audit_key"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if err := audit.CheckProof(p, v); err != nil {
		t.Fatalf("inclusion proof: %v", err)
	}
	var signed dsr.SignedReceipt
	if err := json.Unmarshal([]byte(receipt), &signed); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(signed.Receipt))
	if !bytes.Contains(p.Record, []byte(hex.EncodeToString(sum[:]))) {
		t.Fatalf("the proven record %s does not carry the receipt's hash", p.Record)
	}

	// An access request has neither receipt nor proof.
	resp, raw = f.do(t, "GET", "/v1/console/dsr/"+refused.ID, support, "")
	if m = privacyJSON(t, raw); resp.StatusCode != 200 || m["receipt"] != nil || m["proof"] != nil {
		t.Fatalf("refused detail: %d %s", resp.StatusCode, raw)
	}

	reads := f.privacyReads(t)
	if len(reads) != 4 {
		t.Fatalf("%d records for 4 reads: %+v", len(reads), reads)
	}
	want := []map[string]string{
		{"endpoint": "GET /v1/console/apps/{sdkappid}/dsr", "records": "5", "role": "support", "operator": "3"},
		{"endpoint": "GET /v1/console/apps/{sdkappid}/dsr", "records": "2", "role": "support", "filters": "limit"},
		{"endpoint": "GET /v1/console/dsr/{id}", "records": "1", "role": "auditor", "operator": "4"},
		{"endpoint": "GET /v1/console/dsr/{id}", "records": "1", "role": "support"},
	}
	for i, rec := range reads {
		for k, v := range want[i] {
			if rec.Detail[k] != v {
				t.Errorf("record %d: %s = %q, want %q (%+v)", i, k, rec.Detail[k], v, rec.Detail)
			}
		}
		data, _ := rec.Marshal()
		if rec.SDKAppID != f.app || bytes.Contains(data, []byte("alice")) || bytes.Contains(data, []byte("bob")) {
			t.Errorf("record %d: %s", i, data)
		}
	}

	// Refused reads return nothing and record nothing.
	for _, c := range []struct {
		path   string
		status int
		code   string
	}{
		{"/v1/console/dsr/not-an-id", 400, "invalid_parameter"},
		{"/v1/console/dsr/" + strings.ToUpper(del.ID), 400, "invalid_parameter"},
		{"/v1/console/dsr/" + strings.Repeat("0", 32), 404, "not_found"},
		{queue + "?limit=0", 400, "invalid_parameter"},
		{queue + "?limit=1001", 400, "invalid_parameter"},
		{queue + "?limit=1&limit=2", 400, "invalid_parameter"},
		{"/v1/console/apps/1/dsr", 404, "app_not_found"},
	} {
		resp, raw := f.do(t, "GET", c.path, support, "")
		if m := privacyJSON(t, raw); resp.StatusCode != c.status || privacyErrCode(m) != c.code || m["requests"] != nil || m["request"] != nil {
			t.Errorf("%s: %d %s, want %d %s", c.path, resp.StatusCode, raw, c.status, c.code)
		}
	}
	f.api.deps.Rights = nil
	resp, raw = f.do(t, "GET", queue, support, "")
	if resp.StatusCode != 503 || privacyErrCode(privacyJSON(t, raw)) != "unavailable" {
		t.Errorf("without a rights engine: %d %s", resp.StatusCode, raw)
	}
	if n := len(f.privacyReads(t)); n != 4 {
		t.Fatalf("%d records after refused reads, want 4", n)
	}
}

func TestConsoleDSROverdue(t *testing.T) {
	due := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name     string
		state    dsr.State
		finished time.Time
		now      time.Time
		overdue  bool
		done     bool
	}{
		{"open before the deadline", dsr.StateProcessing, time.Time{}, due.Add(-time.Hour), false, false},
		{"open past the deadline", dsr.StateReceived, time.Time{}, due.Add(time.Hour), true, false},
		{"answered in time, read later", dsr.StateCompleted, due.Add(-time.Hour), due.Add(48 * time.Hour), false, true},
		{"answered late", dsr.StateRefused, due.Add(time.Hour), due.Add(2 * time.Hour), true, true},
	} {
		got := toConsoleDSR(dsr.Request{State: c.state, DueAt: due, FinishedAt: c.finished, ReceivedAt: due.AddDate(0, 0, -20)}, c.now)
		if got.Overdue != c.overdue || (got.CompletedAt != nil) != c.done || (got.Refusal != nil) != (c.state == dsr.StateRefused) {
			t.Errorf("%s: %+v", c.name, got)
		}
	}
}

// proves DISCLOSE-2: the console lists versions with the one in force,
// and publishes with the CLI's validation: a bad version, summary, URL or
// effective date is refused with 400 invalid_parameter, a malformed body
// with 400 invalid_body, a reused version with 409; refused publications
// store nothing.
func TestConsolePrivacyPolicies(t *testing.T) {
	f := newPrivacyFixture(t)
	dev := f.tokens[operator.RoleDeveloper]
	path := fmt.Sprintf("/v1/console/apps/%d/policies", f.app)
	list := func() []any {
		t.Helper()
		resp, raw := f.do(t, "GET", path, f.tokens[operator.RoleAuditor], "")
		ps, ok := privacyJSON(t, raw)["policies"].([]any)
		if resp.StatusCode != 200 || !ok {
			t.Fatalf("list: %d %s", resp.StatusCode, raw)
		}
		return ps
	}
	if ps := list(); len(ps) != 0 {
		t.Fatalf("new app has policies: %v", ps)
	}
	resp, raw := f.do(t, "POST", path, dev, `{"version":"2026-11","material":true,"summary":"What we collect","url":"https://example.com/p"}`)
	p, _ := privacyJSON(t, raw)["policy"].(map[string]any)
	if resp.StatusCode != 201 || p["version"] != "2026-11" || p["material"] != true || p["in_force"] != true ||
		p["summary"] != "What we collect" || p["url"] != "https://example.com/p" {
		t.Fatalf("publish: %d %s", resp.StatusCode, raw)
	}
	next := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
	resp, raw = f.do(t, "POST", path, dev, `{"version":"2026-12","effective_at":"`+next.Format(time.RFC3339)+`"}`)
	p, _ = privacyJSON(t, raw)["policy"].(map[string]any)
	if resp.StatusCode != 201 || p["in_force"] != false || p["effective_at"] != next.Format(time.RFC3339) {
		t.Fatalf("publish ahead: %d %s", resp.StatusCode, raw)
	}
	inForce := func() []bool {
		var out []bool
		for _, p := range list() {
			out = append(out, p.(map[string]any)["in_force"].(bool))
		}
		return out
	}
	if got := inForce(); !slices.Equal(got, []bool{true, false}) {
		t.Fatalf("in_force now = %v, want the first only", got)
	}
	f.skew.Store(int64(25 * time.Hour)) // the second takes effect
	if got := inForce(); !slices.Equal(got, []bool{false, true}) {
		t.Fatalf("in_force a day later = %v, want the second only", got)
	}
	f.skew.Store(0)

	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	for _, c := range []struct{ body, code, msg string }{
		{`{"version":"has space"}`, "invalid_parameter", "not printable ASCII"},
		{`{"version":""}`, "invalid_parameter", "version: 1-64 bytes"},
		{`{"material":true}`, "invalid_parameter", "version: 1-64 bytes"},
		{`{"version":"` + strings.Repeat("v", 65) + `"}`, "invalid_parameter", "version: 1-64 bytes"},
		{`{"version":"v3","summary":"a\u0007b"}`, "invalid_parameter", "control character"},
		{`{"version":"v3","summary":"` + strings.Repeat("s", 4097) + `"}`, "invalid_parameter", "summary: at most 4096 bytes"},
		{`{"version":"v3","url":"ftp://example.com/p"}`, "invalid_parameter", "absolute http(s) URL"},
		{`{"version":"v3","url":"/relative"}`, "invalid_parameter", "absolute http(s) URL"},
		{`{"version":"v3","effective_at":"` + past + `"}`, "invalid_parameter", "is in the past"},
		{`{"version":"v3","effective_at":"tomorrow"}`, "invalid_parameter", "effective_at: want RFC 3339"},
		{`{"version":"v3","effective_at":1795000000}`, "invalid_body", "field effective_at has the wrong type"},
		{`{"version":"v3","extra":1}`, "invalid_body", `unknown field "extra"`},
		{`{"version":"v3"} {}`, "invalid_body", "data after the JSON object"},
		{`{"version":"v3"`, "invalid_body", "empty or truncated"},
		{``, "invalid_body", "empty or truncated"},
		{`[1]`, "invalid_body", "not a JSON object"},
		{`{"version":"v3","summary":"` + strings.Repeat("s", 70<<10) + `"}`, "invalid_body", "over 65536 bytes"},
	} {
		resp, raw := f.do(t, "POST", path, dev, c.body)
		m := privacyJSON(t, raw)
		msg, _ := m["error"].(map[string]any)["message"].(string)
		if resp.StatusCode != 400 || privacyErrCode(m) != c.code || !strings.Contains(msg, c.msg) {
			t.Errorf("%.60s: %d %s, want 400 %s %q", c.body, resp.StatusCode, raw, c.code, c.msg)
		}
	}
	resp, raw = f.do(t, "POST", path, dev, `{"version":"2026-11"}`)
	if resp.StatusCode != 409 || privacyErrCode(privacyJSON(t, raw)) != "version_exists" {
		t.Fatalf("reused version: %d %s", resp.StatusCode, raw)
	}
	if resp, raw = f.do(t, "POST", "/v1/console/apps/1/policies", dev, `{"version":"v9"}`); resp.StatusCode != 404 {
		t.Fatalf("unknown app: %d %s", resp.StatusCode, raw)
	}
	if n := len(list()); n != 2 {
		t.Fatalf("%d versions after refused publications, want 2", n)
	}

	// With the server's consent service the publication is audited as
	// from the CLI; when that record fails, the stored version is still
	// reported, with a warning, so the operator does not retry into 409.
	f.api.consent = AuditedConsent(f.local, f.local.Audit, nil, time.Now)
	if resp, raw = f.do(t, "POST", path, dev, `{"version":"audited"}`); resp.StatusCode != 201 {
		t.Fatalf("audited publish: %d %s", resp.StatusCode, raw)
	}
	recs, err := f.local.DB.AuditLogRecords(consoleCtx(t), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	published := false
	for _, r := range recs {
		rec, err := audit.ParseRecord(r.Data)
		if err != nil {
			t.Fatal(err)
		}
		published = published || (rec.Kind == audit.KindPolicyPublish && rec.Detail["version"] == "audited" && rec.SDKAppID == f.app)
	}
	if !published {
		t.Fatal("no policy.publish record for the console's publication")
	}
	f.api.consent = consent.New(f.local.DB, f.local.DB, consent.Options{
		Published: func(context.Context, consent.Policy) error { return errors.New("audit log down") }})
	resp, raw = f.do(t, "POST", path, dev, `{"version":"unaudited"}`)
	m := privacyJSON(t, raw)
	if p, _ := m["policy"].(map[string]any); resp.StatusCode != 201 || p["version"] != "unaudited" || p["in_force"] != true ||
		!strings.Contains(fmt.Sprint(m["warning"]), "audit log") {
		t.Fatalf("publish with a failing audit record: %d %s", resp.StatusCode, raw)
	}
	if n := len(list()); n != 4 {
		t.Fatalf("%d versions, want 4", n)
	}
}

// wantPrivacyMedia is how each generator format must be served:
// media type of a download, type of a preview, file extension.
var wantPrivacyMedia = map[string][3]string{
	"text":      {"text/plain; charset=utf-8", "text/plain; charset=utf-8", "txt"},
	"markdown":  {"text/markdown; charset=utf-8", "text/markdown; charset=utf-8", "md"},
	"json":      {"application/json", "application/json", "json"},
	"xcprivacy": {"application/x-plist", "text/plain; charset=utf-8", "xcprivacy"},
	"play-csv":  {"text/csv; charset=utf-8", "text/csv; charset=utf-8", "csv"},
	"fideslang": {"application/yaml", "application/yaml", "yaml"},
}

// proves DISCLOSE-1: the console serves every format of the generator,
// from the app's stored settings and the policy in force, previewed with
// a type a browser will not render as a page (nosniff, sandbox CSP) and
// downloaded as an attachment with the format's media type and name.
func TestConsolePrivacyDisclosure(t *testing.T) {
	f := newPrivacyFixture(t)
	ctx := consoleCtx(t)
	tok := f.tokens[operator.RoleDeveloper]
	ap, err := f.local.Apps.Get(ctx, f.app)
	if err != nil {
		t.Fatal(err)
	}
	settings := ap.Settings
	settings.Recording = true // not the default: the stored value must be used
	if err := f.local.Apps.UpdateSettings(ctx, f.app, settings); err != nil {
		t.Fatal(err)
	}
	if resp, raw := f.do(t, "POST", fmt.Sprintf("/v1/console/apps/%d/policies", f.app), tok,
		`{"version":"pv-7","url":"https://example.com/pv-7"}`); resp.StatusCode != 201 {
		t.Fatalf("publish: %d %s", resp.StatusCode, raw)
	}
	for _, format := range disclosure.Formats() {
		want, ok := wantPrivacyMedia[format]
		if !ok {
			t.Errorf("format %q: no expected media type in this test; add it (and to disclosureMediaTypes)", format)
			continue
		}
		expected, err := disclosure.Generate(f.api.inv, disclosure.AppConfig{SDKAppID: f.app, AppName: "demo",
			Recording: true, PolicyVersion: "pv-7", PolicyURL: "https://example.com/pv-7"},
			disclosure.Options{Platform: "ios", Lang: "en", Format: format})
		if err != nil {
			t.Fatal(err)
		}
		base := fmt.Sprintf("/v1/console/apps/%d/disclosure?platform=ios&lang=en&format=%s", f.app, format)
		for _, download := range []bool{false, true} {
			path := base
			if download {
				path += "&download=1"
			}
			resp, raw := f.do(t, "GET", path, tok, "")
			h := resp.Header
			if resp.StatusCode != 200 || !bytes.Equal(raw, expected) {
				t.Errorf("%s: %d, body differs from the generator's for the stored settings:\n%.300s", path, resp.StatusCode, raw)
			}
			if h.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(h.Get("Content-Security-Policy"), "sandbox") {
				t.Errorf("%s: headers %v", path, h)
			}
			wantType, wantDisp := want[1], ""
			if download {
				wantType = want[0]
				wantDisp = fmt.Sprintf(`attachment; filename="parley-%d-ios-en.%s"`, f.app, want[2])
			}
			if h.Get("Content-Type") != wantType || h.Get("Content-Disposition") != wantDisp {
				t.Errorf("%s: Content-Type %q, Content-Disposition %q; want %q, %q", path, h.Get("Content-Type"), h.Get("Content-Disposition"), wantType, wantDisp)
			}
		}
	}

	// The switches change what is disclosed.
	get := func(q string) []byte {
		resp, raw := f.do(t, "GET", fmt.Sprintf("/v1/console/apps/%d/disclosure?%s", f.app, q), tok, "")
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", q, resp.StatusCode, raw)
		}
		return raw
	}
	if bytes.Equal(get("platform=android&format=json"), get("platform=android&format=json&switches=audio_enable")) {
		t.Error("switches=audio_enable left the disclosure unchanged")
	}
	// Defaults are the CLI's: zh, text.
	if !bytes.Equal(get("platform=web"), get("platform=web&lang=zh&format=text")) {
		t.Error("defaults differ from lang=zh&format=text")
	}

	for _, q := range []string{"", "platform=symbian", "platform=web&platform=ios", "platform=web&lang=fr",
		"platform=web&format=html", "platform=web&download=yes", "platform=web&switches=ext.nope", "platform=web&switches=audio_enable,"} {
		resp, raw := f.do(t, "GET", fmt.Sprintf("/v1/console/apps/%d/disclosure?%s", f.app, q), tok, "")
		if resp.StatusCode != 400 || privacyErrCode(privacyJSON(t, raw)) != "invalid_parameter" || resp.Header.Get("Content-Disposition") != "" {
			t.Errorf("%q: %d %s", q, resp.StatusCode, raw)
		}
	}
	if resp, _ := f.do(t, "GET", "/v1/console/apps/1/disclosure?platform=web", tok, ""); resp.StatusCode != 404 {
		t.Errorf("unknown app: %d", resp.StatusCode)
	}

	resp, raw := f.do(t, "GET", "/v1/console/disclosure/formats", tok, "")
	var fm struct {
		Formats, Platforms, Langs []string
		Media                     map[string]disclosureMedia
		Switches                  []inventory.Switch
	}
	if err := json.Unmarshal(raw, &fm); err != nil || resp.StatusCode != 200 {
		t.Fatalf("formats: %d %s", resp.StatusCode, raw)
	}
	if !slices.Equal(fm.Formats, disclosure.Formats()) || !slices.Equal(fm.Platforms, inventory.Platforms()) ||
		!slices.Equal(fm.Langs, []string{"zh", "en"}) || len(fm.Switches) != len(f.api.inv.Switches) {
		t.Fatalf("formats: %s", raw)
	}
	for _, format := range fm.Formats {
		w := wantPrivacyMedia[format]
		if got := fm.Media[format]; got != (disclosureMedia{Type: w[0], PreviewType: w[1], Extension: w[2]}) {
			t.Errorf("media of %s: %+v, want %v", format, got, w)
		}
	}
}

// proves CONSENT-3: the console's consent statistics are counts of the
// consents in force by version, purpose and method, follow new ledger
// entries, name nobody, and are not an audited read.
func TestConsolePrivacyConsentStats(t *testing.T) {
	f := newPrivacyFixture(t)
	ctx := consoleCtx(t)
	path := fmt.Sprintf("/v1/console/apps/%d/consent/stats", f.app)
	stats := func() string {
		t.Helper()
		resp, raw := f.do(t, "GET", path, f.tokens[operator.RoleDeveloper], "")
		if resp.StatusCode != 200 {
			t.Fatalf("stats: %d %s", resp.StatusCode, raw)
		}
		for _, id := range []string{"alice", "bob", "carol", "-dev"} {
			if bytes.Contains(raw, []byte(id)) {
				t.Fatalf("stats name %q: %s", id, raw)
			}
		}
		return strings.TrimSpace(string(raw))
	}
	// The fixture: alice and bob granted v1 for rtc through the SDK.
	if got, want := stats(), `{"granted":2,"withdrawn":0,"by_version":[{"version":"v1","grants":2,"withdrawals":0}],"by_purpose":[{"purpose":"rtc","grants":2}],"by_method":[{"method":"sdk","grants":2}]}`; got != want {
		t.Fatalf("stats\n got %s\nwant %s", got, want)
	}
	for _, e := range []store.ConsentEntry{
		{SDKAppID: f.app, UserID: "bob", DeviceID: "bob-dev", Action: store.ConsentWithdraw, PolicyVersion: "v1", RecordedAt: time.Now()},
		{SDKAppID: f.app, UserID: "carol", DeviceID: "carol-dev", Action: store.ConsentGrant, PolicyVersion: "v2",
			Purposes: []string{"quality", "rtc"}, Method: "popup", RecordedAt: time.Now()},
	} {
		if _, _, err := f.local.DB.AppendConsent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := stats(), `{"granted":2,"withdrawn":1,"by_version":[{"version":"v1","grants":1,"withdrawals":1},{"version":"v2","grants":1,"withdrawals":0}],"by_purpose":[{"purpose":"rtc","grants":2},{"purpose":"quality","grants":1}],"by_method":[{"method":"popup","grants":1},{"method":"sdk","grants":1}]}`; got != want {
		t.Fatalf("stats after a withdrawal and a grant\n got %s\nwant %s", got, want)
	}
	if n := len(f.operatorReads(t)); n != 0 {
		t.Fatalf("statistics left %d operator.read records", n)
	}
	// An app without entries has empty lists, not null.
	b, err := f.local.Apps.Create(ctx, "empty")
	if err != nil {
		t.Fatal(err)
	}
	resp, raw := f.do(t, "GET", fmt.Sprintf("/v1/console/apps/%d/consent/stats", b.SDKAppID), f.tokens[operator.RoleOwner], "")
	if resp.StatusCode != 200 || strings.TrimSpace(string(raw)) != `{"granted":0,"withdrawn":0,"by_version":[],"by_purpose":[],"by_method":[]}` {
		t.Fatalf("empty app: %d %s", resp.StatusCode, raw)
	}
}

var safeDisclosureName = regexp.MustCompile(`^parley-[0-9]+-[a-z]+-[a-z]+\.[a-z]+$`)

// FuzzParseDisclosureQuery: any query either fails with
// errDisclosureQuery or yields values from the fixed lists, declared
// switches, and a file name safe to quote in a header.
func FuzzParseDisclosureQuery(f *testing.F) {
	inv, err := inventory.Default()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"platform=web", "platform=ios&lang=en&format=xcprivacy&download=1",
		"platform=go&switches=audio_enable,ext.apm", "platform=web&platform=ios", "platform=%22%0d%0a",
		"download=1&format=play-csv&platform=harmony&lang=zh", "switches=,,&platform=pc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw) // keeps what parses, as net/http does
		d, err := parseDisclosureQuery(q, inv)
		if err != nil {
			if d.Platform != "" || !errors.Is(err, errDisclosureQuery) {
				t.Fatalf("%q: %+v, %v", raw, d, err)
			}
			return
		}
		if !slices.Contains(inventory.Platforms(), d.Platform) || !slices.Contains(disclosureLangs, d.Lang) ||
			!slices.Contains(disclosure.Formats(), d.Format) {
			t.Fatalf("%q: accepted %+v", raw, d)
		}
		for id, on := range d.Switches {
			if _, ok := inv.Switch(id); !ok || !on {
				t.Fatalf("%q: switch %q", raw, id)
			}
		}
		if name := d.fileName(1400000001); !safeDisclosureName.MatchString(name) {
			t.Fatalf("%q: file name %q", raw, name)
		}
	})
}

// FuzzDecodePublishPolicy: any body either fails or yields a valid
// version; a failure is a body error or an invalid-policy error, never
// anything else, and never a panic.
func FuzzDecodePublishPolicy(f *testing.F) {
	for _, s := range []string{`{"version":"v1"}`, `{"version":"v1","material":true,"effective_at":"2030-01-01T00:00:00Z","summary":"s","url":"https://x"}`,
		`{"version":"v 1"}`, `{"version":"v1"} x`, `{"version":"v1","x":1}`, `{"effective_at":"x","version":"v"}`, `null`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := decodePublishPolicy(body)
		if err != nil {
			if !errors.Is(err, errPolicyBody) && !errors.Is(err, consent.ErrInvalidPolicy) {
				t.Fatalf("%q: unexpected error %v", body, err)
			}
			return
		}
		if verr := consent.ValidateVersion(p.Version); verr != nil {
			t.Fatalf("%q: accepted version %q: %v", body, p.Version, verr)
		}
	})
}
