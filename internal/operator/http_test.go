package operator

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/parley-rtc/parley/internal/audit"
	"github.com/parley-rtc/parley/internal/store/sqlite"
)

func newAuditLog(t *testing.T, db *sqlite.DB, c *clock) *audit.Log {
	t.Helper()
	kek := make([]byte, 32)
	kek[0] = 7
	signer, vkey, err := audit.SignerFromRoot(kek, audit.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.Open(db, signer, v, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// auditRecords returns the log's records of kind k.
func auditRecords(t *testing.T, db *sqlite.DB, k audit.Kind) []audit.Record {
	t.Helper()
	recs, err := db.AuditLogRecords(testCtx(t), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Record
	for _, r := range recs {
		rec, err := audit.ParseRecord(r.Data)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Kind == k {
			out = append(out, rec)
		}
	}
	return out
}

type failingAuditor struct{}

func (failingAuditor) Append(context.Context, audit.Entry) (int64, error) {
	return 0, errors.New("disk full")
}

type fixture struct {
	svc    *Service
	db     *sqlite.DB
	srv    *httptest.Server
	tokens map[Role]string
}

// newFixture serves login/logout/me and one audited endpoint that returns
// a user id, with one operator per role logged in.
func newFixture(t *testing.T, a Auditor) *fixture {
	t.Helper()
	ctx := testCtx(t)
	c := newClock()
	svc, db := newTestService(t, c)
	if a == nil {
		a = newAuditLog(t, db, c)
	}
	con, err := NewConsole(svc, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /v1/console/login", con.Login())
	mux.Handle("POST /v1/console/logout", con.RequireRole(PermSession)(con.Logout()))
	mux.Handle("GET /v1/console/me", con.RequireRole(PermSession)(con.Me()))
	mux.Handle("GET /v1/console/secret", con.RequireRole(PermPersonalDataRead)(con.Audited("GET /v1/console/secret",
		func(r *http.Request, op Operator) (Read, error) {
			if r.URL.Query().Get("bad") != "" {
				return Read{}, Errorf(http.StatusBadRequest, "invalid_parameter", "bad is bad")
			}
			if r.URL.Query().Get("as") == "text" {
				return Read{SDKAppID: 1400000001, Records: 1, Body: textBody("user_id alice-secret")}, nil
			}
			return Read{SDKAppID: 1400000001, Records: 1, Filters: []string{"user"}, Body: map[string]string{"user_id": "alice-secret"}}, nil
		})))
	f := &fixture{svc: svc, db: db, srv: httptest.NewServer(mux), tokens: map[Role]string{}}
	t.Cleanup(f.srv.Close)
	for _, r := range Roles() {
		if _, err := svc.Create(ctx, string(r), r, ownerPass); err != nil {
			t.Fatal(err)
		}
		s, err := svc.Login(ctx, string(r), ownerPass)
		if err != nil {
			t.Fatal(err)
		}
		f.tokens[r] = s.Token
	}
	return f
}

func (f *fixture) do(t *testing.T, method, path, token, body string) (*http.Response, map[string]any) {
	t.Helper()
	resp, raw := f.send(t, method, path, token, body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp, m
}

// send makes one request with token as the bearer (none when empty) and
// returns the response with its body read.
func (f *fixture) send(t *testing.T, method, path, token, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), method, f.srv.URL+path, strings.NewReader(body))
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
	raw, _ := io.ReadAll(resp.Body)
	return resp, raw
}

func errMessage(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e["message"].(string)
	return s
}

// proves SEC-2: a read of personal data appends exactly one operator.read
// record — operator, role, endpoint, app and count, never the data —
// before it is returned; a forbidden attempt appends none.
func TestAuditedReadRecordsOnce(t *testing.T) {
	f := newFixture(t, nil)
	resp, body := f.do(t, "GET", "/v1/console/secret?user=alice-secret", f.tokens[RoleSupport], "")
	if resp.StatusCode != http.StatusOK || body["user_id"] != "alice-secret" {
		t.Fatalf("support read: %d %v", resp.StatusCode, body)
	}
	recs := auditRecords(t, f.db, audit.KindOperatorRead)
	if len(recs) != 1 {
		t.Fatalf("%d operator.read records, want 1", len(recs))
	}
	r := recs[0]
	want := map[string]string{"operator": "3", "role": "support", "endpoint": "GET /v1/console/secret", "records": "1", "filters": "user"}
	if r.SDKAppID != 1400000001 || r.Subject != "" || len(r.Detail) != len(want) {
		t.Fatalf("record %+v", r)
	}
	for k, v := range want {
		if r.Detail[k] != v {
			t.Errorf("detail %s = %q, want %q", k, r.Detail[k], v)
		}
	}
	data, _ := r.Marshal()
	if strings.Contains(string(data), "alice") {
		t.Fatalf("record holds personal data: %s", data)
	}

	resp, body = f.do(t, "GET", "/v1/console/secret", f.tokens[RoleDeveloper], "")
	if resp.StatusCode != http.StatusForbidden || errMessage(body) != "operator: forbidden: role developer lacks permission personal_data.read (granted to: owner, support, auditor)" {
		t.Fatalf("developer: %d %v", resp.StatusCode, body)
	}
	resp, _ = f.do(t, "GET", "/v1/console/secret", "", "")
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("anonymous: %d", resp.StatusCode)
	}
	resp, _ = f.do(t, "GET", "/v1/console/secret?bad=1", f.tokens[RoleAuditor], "")
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("client error: %d", resp.StatusCode)
	}
	if n := len(auditRecords(t, f.db, audit.KindOperatorRead)); n != 1 {
		t.Fatalf("%d records after forbidden, anonymous and failed reads, want still 1", n)
	}
}

// proves SEC-2: when the audit log cannot record the read, the data is
// not returned, whether as JSON or written by a BodyWriter.
func TestAuditedReadFailsWithoutAudit(t *testing.T) {
	f := newFixture(t, failingAuditor{})
	resp, body := f.do(t, "GET", "/v1/console/secret", f.tokens[RoleOwner], "")
	if resp.StatusCode != http.StatusServiceUnavailable || body["user_id"] != nil ||
		!strings.Contains(errMessage(body), "audit log unavailable") {
		t.Fatalf("got %d %v", resp.StatusCode, body)
	}
	status, ctype, raw := f.getRaw(t, "/v1/console/secret?as=text", f.tokens[RoleOwner])
	if status != http.StatusServiceUnavailable || strings.Contains(raw, "alice") || !strings.HasPrefix(ctype, "application/json") {
		t.Fatalf("BodyWriter without audit: %d %s %q", status, ctype, raw)
	}
}

// textBody is a Read.Body that writes itself as text/plain.
type textBody string

func (b textBody) WriteBody(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, string(b))
}

// A BodyWriter body is written as it writes itself, once its read is
// recorded like any other.
func TestAuditedReadBodyWriter(t *testing.T) {
	f := newFixture(t, nil)
	status, ctype, raw := f.getRaw(t, "/v1/console/secret?as=text", f.tokens[RoleAuditor])
	if status != http.StatusOK || ctype != "text/plain; charset=utf-8" || raw != "user_id alice-secret" {
		t.Fatalf("got %d %s %q", status, ctype, raw)
	}
	recs := auditRecords(t, f.db, audit.KindOperatorRead)
	if len(recs) != 1 || recs[0].Detail["role"] != "auditor" || recs[0].Detail["endpoint"] != "GET /v1/console/secret" {
		t.Fatalf("records %+v", recs)
	}
}

func (f *fixture) getRaw(t *testing.T, path, token string) (status int, contentType, body string) {
	t.Helper()
	resp, raw := f.send(t, http.MethodGet, path, token, "")
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(raw)
}

func TestLoginHandler(t *testing.T) {
	f := newFixture(t, nil)
	resp, body := f.do(t, "POST", "/v1/console/login", "", `{"name":"owner","password":"`+ownerPass+`"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d %v", resp.StatusCode, body)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == CookieName {
			cookie = c
		}
	}
	tok, _ := body["token"].(string)
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Value != tok ||
		cookie.Path != "/v1/console" || cookie.MaxAge != int((12*time.Hour)/time.Second) {
		t.Fatalf("cookie %+v", cookie)
	}
	// The cookie alone authenticates.
	req, _ := http.NewRequestWithContext(testCtx(t), "GET", f.srv.URL+"/v1/console/me", nil)
	req.AddCookie(&http.Cookie{Name: CookieName, Value: tok})
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusOK {
		t.Fatalf("me by cookie: %d", r2.StatusCode)
	}
	resp, body = f.do(t, "GET", "/v1/console/me", tok, "")
	op, _ := body["operator"].(map[string]any)
	if resp.StatusCode != http.StatusOK || op["role"] != "owner" || op["password_hash"] != nil {
		t.Fatalf("me: %d %v", resp.StatusCode, body)
	}
	resp, _ = f.do(t, "POST", "/v1/console/logout", tok, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	resp, body = f.do(t, "GET", "/v1/console/me", tok, "")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(errMessage(body), "unknown or ended session") {
		t.Fatalf("after logout: %d %v", resp.StatusCode, body)
	}

	for _, bad := range []string{``, `{}`, `{"name":"owner"}`, `{"name":"owner","password":"x","extra":1}`, `{"name":"owner","password":"x"} {}`, `[1]`} {
		resp, body = f.do(t, "POST", "/v1/console/login", "", bad)
		if resp.StatusCode != http.StatusBadRequest || body["error"] == nil {
			t.Errorf("body %q: %d %v", bad, resp.StatusCode, body)
		}
	}
	resp, body = f.do(t, "POST", "/v1/console/login", "", `{"name":"owner","password":"wrong"}`)
	if resp.StatusCode != http.StatusUnauthorized || errMessage(body) != "operator: wrong name or password" {
		t.Fatalf("wrong password: %d %v", resp.StatusCode, body)
	}
	// The fixture logged in once and this test twice: two attempts left.
	for range 2 {
		f.do(t, "POST", "/v1/console/login", "", `{"name":"owner","password":"wrong"}`)
	}
	resp, body = f.do(t, "POST", "/v1/console/login", "", `{"name":"owner","password":"`+ownerPass+`"}`)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "12" ||
		!strings.Contains(errMessage(body), "at most 5 per 1m0s") {
		t.Fatalf("rate limit: %d %v %v", resp.StatusCode, resp.Header, body)
	}
}
