package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/app"
	"github.com/parley-rtc/parley/internal/audit"
	"github.com/parley-rtc/parley/internal/auth"
	"github.com/parley-rtc/parley/internal/config"
	"github.com/parley-rtc/parley/internal/operator"
	"github.com/parley-rtc/parley/internal/privacy/inventory"
	"github.com/parley-rtc/parley/internal/room"
	"github.com/parley-rtc/parley/internal/store/sqlite"
	"github.com/parley-rtc/parley/protocol"
)

// manageClock is the fake clock of the room manager and the usage meter:
// tests move it, nothing sleeps.
type manageClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manageClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *manageClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// manageEndpoint is a participant's connection that does nothing.
type manageEndpoint struct{}

func (manageEndpoint) Notify(protocol.Type, any)  {}
func (manageEndpoint) Exit(int, string)           {}
func (manageEndpoint) Subscribe(*room.Track)      {}
func (manageEndpoint) Unsubscribe(*room.Track)    {}
func (manageEndpoint) StopPublishing(*room.Track) {}

// manageFixture is the console fixture served with a room manager on a
// fake clock, observed by the console's live view over the fixture's
// database, as server.go wires it.
type manageFixture struct {
	*consoleFixture
	clk   *manageClock
	rooms *room.Manager
	live  *liveRooms
}

// usageT0 is 23:30 UTC, half an hour before a midnight.
var usageT0 = time.Date(2026, 11, 23, 23, 30, 0, 0, time.UTC)

func newManageFixture(t *testing.T) *manageFixture {
	t.Helper()
	base := newConsoleFixture(t)
	clk := &manageClock{t: usageT0}
	live := newLiveRooms(base.local.DB, clk.Now, nil)
	mgr := room.NewManager(room.Config{Now: clk.Now, Observer: roomObservers{live}})
	// The console keeps the real clock: operator sessions expire by it.
	d := base.api.deps
	d.Rooms, d.Live = mgr, live
	api, err := newConsoleAPI(d)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	// The operators' sessions are in the shared database: the tokens
	// work on this server too.
	f := &consoleFixture{local: base.local, api: api, srv: srv, app: base.app, tokens: base.tokens}
	return &manageFixture{consoleFixture: f, clk: clk, rooms: mgr, live: live}
}

// raw calls the API and returns the status and the body as text.
func (f *manageFixture) raw(t *testing.T, method, path, token, body string) (int, string) {
	t.Helper()
	resp, b := f.send(t, method, path, token, body)
	return resp.StatusCode, string(b)
}

func (f *manageFixture) join(t *testing.T, app uint32, ref protocol.RoomRef, scene protocol.Scene, user string, role protocol.Role) *room.Participant {
	t.Helper()
	p, _, err := f.rooms.Join(app, ref, scene, user, role, manageEndpoint{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// auditRecords returns the audit records of kind.
func (f *consoleFixture) auditRecords(t *testing.T, kind audit.Kind) []audit.Record {
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
		if rec.Kind == kind {
			out = append(out, rec)
		}
	}
	return out
}

func errMessage(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	code, _ := e["code"].(string)
	msg, _ := e["message"].(string)
	return code + ": " + msg
}

// proves SEC-2: the management endpoints follow the role table (apps.read
// to read, apps.write to change or sign, personal_data.read for the
// audited user list); without a session every one answers 401; each
// allowed read of a room's users leaves one operator.read record naming
// the room filter, never a user id.
func TestConsoleManageRoleMatrix(t *testing.T) {
	f := newManageFixture(t)
	f.join(t, f.app, protocol.RoomRef{ID: 7}, protocol.SceneVideoCall, "alice", protocol.RoleAnchor)
	base := fmt.Sprintf("/v1/console/apps/%d", f.app)
	eps := []struct {
		method, path, body string
		perm               operator.Permission
		ok                 int
	}{
		{"POST", "/v1/console/apps", `{"name":"made"}`, operator.PermAppsWrite, 201},
		{"GET", base, "", operator.PermAppsRead, 200},
		{"PATCH", base + "/settings", `{"relay":true}`, operator.PermAppsWrite, 200},
		{"POST", base + "/rotate-secret", "", operator.PermAppsWrite, 200},
		{"POST", base + "/usersig", `{"user_id":"alice"}`, operator.PermAppsWrite, 200},
		{"GET", base + "/rooms", "", operator.PermAppsRead, 200},
		{"GET", base + "/rooms/7/users", "", operator.PermPersonalDataRead, 200},
		{"GET", base + "/usage", "", operator.PermAppsRead, 200},
	}
	allowedReads := 0
	for _, e := range eps {
		if n := f.checkRoles(t, e.method, e.path, e.body, e.perm, e.ok); e.perm == operator.PermPersonalDataRead {
			allowedReads += n
		}
	}
	reads := f.operatorReads(t)
	if allowedReads != 3 || len(reads) != allowedReads {
		t.Fatalf("%d operator.read records for %d allowed reads", len(reads), allowedReads)
	}
	for _, rec := range reads {
		data, _ := rec.Marshal()
		if rec.Detail["endpoint"] != "GET /v1/console/apps/{sdkappid}/rooms/{room}/users" || rec.Detail["filters"] != "room" ||
			rec.Detail["records"] != "1" || rec.SDKAppID != f.app || strings.Contains(string(data), "alice") {
			t.Errorf("record %s", data)
		}
	}
}

// An app is created with its secret shown once, read without it, its
// settings changed only as named (each bad body refused with a precise
// message and no change), and its secret rotated; creation, settings and
// rotation are each in the audit log, the creation naming the operator.
func TestConsoleManageAppLifecycle(t *testing.T) {
	f := newManageFixture(t)
	owner := f.tokens[operator.RoleOwner]
	_, me := f.call(t, "GET", "/v1/console/me", owner, "")
	meOp, _ := me["operator"].(map[string]any)
	ownerID := fmt.Sprint(meOp["id"])

	for body, want := range map[string]string{
		``:                          `invalid_body: empty body; want a JSON object with "name"`,
		`{}`:                        `invalid_body: "name" is required (1-64 characters)`,
		`{"name":"  "}`:             `invalid_parameter: name: app: invalid name: empty`,
		`{"name":5}`:                `invalid_body: name: want a string, not a JSON number`,
		`{"name":"a","secret":"s"}`: `invalid_body: unknown field "secret"; want "name"`,
		`{"name":"a"} {}`:           `invalid_body: data after the JSON object; send one object`,
		`["a"]`:                     `invalid_body: want a JSON object with "name", not a JSON array`,
		`{"name":"a"`:               `invalid_body: want a JSON object with "name": unexpected EOF`,
		`{"name":"` + strings.Repeat("x", 70<<10) + `"}`: `invalid_body: body over 65536 bytes`,
	} {
		resp, b := f.call(t, "POST", "/v1/console/apps", owner, body)
		if resp.StatusCode != 400 || errMessage(b) != want {
			t.Errorf("create %.40q: %d %q, want 400 %q", body, resp.StatusCode, errMessage(b), want)
		}
	}
	resp, body := f.call(t, "POST", "/v1/console/apps", owner, `{"name":"shop"}`)
	secret, _ := body["secret_key"].(string)
	created, _ := body["app"].(map[string]any)
	if resp.StatusCode != 201 || len(secret) != 64 || created["name"] != "shop" || body["warning"] != nil {
		t.Fatalf("create: %d %v", resp.StatusCode, body)
	}
	id := uint32(created["sdkappid"].(float64))
	path := fmt.Sprintf("/v1/console/apps/%d", id)

	if err := f.local.Callbacks.Set(consoleCtx(t), id, app.Callback{URL: "https://example.com/cb", Key: "k1"}); err != nil {
		t.Fatal(err)
	}
	status, raw := f.raw(t, "GET", path, f.tokens[operator.RoleAuditor], "")
	if status != 200 || strings.Contains(raw, secret) || strings.Contains(raw, `"k1"`) ||
		!strings.Contains(raw, `"callback":{"url":"https://example.com/cb","configured":true}`) ||
		!strings.Contains(raw, `"message_retention_days":0`) || !strings.Contains(raw, `"minor_audience":false`) {
		t.Fatalf("get: %d %s", status, raw)
	}
	if resp, b := f.call(t, "GET", "/v1/console/apps/1", owner, ""); resp.StatusCode != 404 || errMessage(b) != "app_not_found: no app with SDKAppID 1" {
		t.Fatalf("unknown app: %d %v", resp.StatusCode, b)
	}

	settings := path + "/settings"
	for body, want := range map[string]string{
		`{}`:                                `invalid_body: no setting given; want any of recording, relay, billing_mode, enforce_private_map_key, message_retention_days, minor_audience`,
		`{"relay":null}`:                    `invalid_body: relay: null is not a value; leave the field out to keep it`,
		`{"relay":"yes"}`:                   `invalid_body: relay: want true or false, not a JSON string`,
		`{"message_retention_days":1.5}`:    `invalid_body: message_retention_days: want a whole number, not a JSON number 1.5`,
		`{"message_retention_days":3651}`:   `invalid_parameter: app: invalid settings: message retention 3651 days (want 0 for the server's im.retention, or 1-3650)`,
		`{"relay":true,"billing_mode":"x"}`: `invalid_parameter: app: invalid settings: billing mode "x" (want participant_minutes or bandwidth)`,
		`{"colour":"red"}`:                  `invalid_body: unknown field "colour"; want any of recording, relay, billing_mode, enforce_private_map_key, message_retention_days, minor_audience`,
	} {
		resp, b := f.call(t, "PATCH", settings, owner, body)
		if resp.StatusCode != 400 || errMessage(b) != want {
			t.Errorf("patch %s: %d %q, want 400 %q", body, resp.StatusCode, errMessage(b), want)
		}
	}
	if got, _ := f.local.Apps.Get(consoleCtx(t), id); got.Settings.Relay || got.Settings.MessageRetentionDays != 0 {
		t.Fatalf("refused patches changed the settings: %+v", got.Settings)
	}
	resp, body = f.call(t, "PATCH", settings, f.tokens[operator.RoleDeveloper], `{"message_retention_days":30,"relay":true}`)
	patched, _ := body["app"].(map[string]any)
	ps, _ := patched["settings"].(map[string]any)
	if resp.StatusCode != 200 || ps["message_retention_days"] != 30.0 || ps["relay"] != true || ps["recording"] != false ||
		ps["billing_mode"] != "participant_minutes" {
		t.Fatalf("patch: %d %v", resp.StatusCode, body)
	}
	if got, _ := f.local.Apps.Get(consoleCtx(t), id); !got.Settings.Relay || got.Settings.MessageRetentionDays != 30 {
		t.Fatalf("stored settings: %+v", got.Settings)
	}
	// The list shows the same settings as the app's own page.
	_, list := f.call(t, "GET", "/v1/console/apps", owner, "")
	listed := false
	for _, x := range list["apps"].([]any) {
		if la := x.(map[string]any); la["sdkappid"] == float64(id) {
			ls, _ := la["settings"].(map[string]any)
			listed = ls["message_retention_days"] == 30.0 && ls["relay"] == true && ls["minor_audience"] == false
		}
	}
	if !listed {
		t.Fatalf("app list: %v", list)
	}

	if resp, b := f.call(t, "POST", path+"/rotate-secret", owner, `{"now":true}`); resp.StatusCode != 400 {
		t.Fatalf("rotate with a body: %d %v", resp.StatusCode, b)
	}
	resp, body = f.call(t, "POST", path+"/rotate-secret", owner, `{}`)
	rotated, _ := body["secret_key"].(string)
	if key, _ := f.local.Apps.SecretKey(consoleCtx(t), id); resp.StatusCode != 200 || len(rotated) != 64 || rotated == secret || key != rotated {
		t.Fatalf("rotate: %d %v", resp.StatusCode, body)
	}

	_, me = f.call(t, "GET", "/v1/console/me", f.tokens[operator.RoleDeveloper], "")
	devOp, _ := me["operator"].(map[string]any)
	devID := fmt.Sprint(devOp["id"])
	var changes []string
	for _, rec := range f.auditRecords(t, audit.KindAppSettings) {
		if rec.SDKAppID != id {
			continue
		}
		changes = append(changes, rec.Detail["change"])
		switch rec.Detail["change"] {
		case "created":
			if rec.Detail["operator"] != ownerID || rec.Detail["role"] != "owner" {
				t.Errorf("creation record %+v; want operator %s", rec.Detail, ownerID)
			}
		case "settings": // by the developer, through the app service
			if rec.Detail["message_retention_days"] != "30" || rec.Detail["relay"] != "true" ||
				rec.Detail["operator"] != devID || rec.Detail["role"] != "developer" {
				t.Errorf("settings record %+v; want operator %s", rec.Detail, devID)
			}
		case "secret_rotated":
			if rec.Detail["operator"] != ownerID || rec.Detail["role"] != "owner" {
				t.Errorf("rotation record %+v; want operator %s", rec.Detail, ownerID)
			}
		}
	}
	if strings.Join(changes, ",") != "created,settings,secret_rotated" {
		t.Fatalf("audit records of the app: %v", changes)
	}
}

// A UserSig verifies with the app's secret for the user and lifetime
// asked (a day by default, at most 180 days); bad input is refused; each
// issue is in the audit log with the operator and the app, never the
// user id.
func TestConsoleManageUserSig(t *testing.T) {
	f := newManageFixture(t)
	dev := f.tokens[operator.RoleDeveloper]
	path := fmt.Sprintf("/v1/console/apps/%d/usersig", f.app)
	secret, err := f.local.Apps.SecretKey(consoleCtx(t), f.app)
	if err != nil {
		t.Fatal(err)
	}
	for body, lifetime := range map[string]time.Duration{
		`{"user_id":"zed_42-x"}`:                           24 * time.Hour,
		`{"user_id":"zed_42-x","expire_seconds":15552000}`: 180 * 24 * time.Hour,
		`{"user_id":"zed_42-x","expire_seconds":60}`:       time.Minute,
	} {
		before := time.Now().Truncate(time.Second)
		resp, b := f.call(t, "POST", path, dev, body)
		sig, _ := b["user_sig"].(string)
		claims, err := auth.VerifyUserSig(f.app, secret, "zed_42-x", sig, time.Now())
		if resp.StatusCode != 200 || err != nil {
			t.Fatalf("%s: %d %v, verify: %v", body, resp.StatusCode, b, err)
		}
		exp := claims.ExpiresAt()
		if claims.IssuedAt().Before(before) || exp.Sub(claims.IssuedAt()) != lifetime || b["expire_at"] != exp.Format(time.RFC3339) {
			t.Errorf("%s: issued %v, expires %v, answered %v; want %v later", body, claims.IssuedAt(), exp, b["expire_at"], lifetime)
		}
		if _, err := auth.VerifyUserSig(f.app, secret, "zed_42-x", sig, exp.Add(time.Second)); !errors.Is(err, auth.ErrExpired) {
			t.Errorf("%s: a second after expiry: %v", body, err)
		}
	}
	for body, want := range map[string]string{
		`{}`:                                   `invalid_body: "user_id" is required`,
		`{"user_id":"zed x"}`:                  `invalid_parameter: user_id: invalid user id: byte 3 (' ') not in [a-zA-Z0-9_-]`,
		`{"user_id":"zed","expire_seconds":0}`: `invalid_parameter: expire_seconds: want 1-15552000 (180 days), not 0`,
		`{"user_id":"zed","expire_seconds":15552001}`: `invalid_parameter: expire_seconds: want 1-15552000 (180 days), not 15552001`,
		`{"user_id":"zed","expire_seconds":"60"}`:     `invalid_body: expire_seconds: want a whole number, not a JSON string`,
		`{"user_id":"zed","userbuf":"x"}`:             `invalid_body: unknown field "userbuf"; want "user_id" and optional "expire_seconds"`,
	} {
		resp, b := f.call(t, "POST", path, dev, body)
		if resp.StatusCode != 400 || errMessage(b) != want || b["user_sig"] != nil {
			t.Errorf("%s: %d %q, want 400 %q", body, resp.StatusCode, errMessage(b), want)
		}
	}
	_, me := f.call(t, "GET", "/v1/console/me", dev, "")
	meOp, _ := me["operator"].(map[string]any)
	var issued int
	for _, rec := range f.auditRecords(t, audit.KindAppSettings) {
		if rec.Detail["change"] != "usersig_issued" {
			continue
		}
		issued++
		data, _ := rec.Marshal()
		if rec.SDKAppID != f.app || rec.Detail["operator"] != fmt.Sprint(meOp["id"]) || rec.Detail["role"] != "developer" ||
			rec.Subject != "" || strings.Contains(string(data), "zed") {
			t.Errorf("usersig record %s", data)
		}
	}
	if issued != 3 {
		t.Fatalf("%d usersig_issued records for 3 UserSigs issued (refusals record nothing)", issued)
	}
}

// The room list shows counts, never user ids; a room's user list (by
// numeric id or s: and a string id) shows each participant's role and
// media as the room's events left them; a bad or unknown room answers
// 400 or 404 and records nothing.
func TestConsoleManageLiveRooms(t *testing.T) {
	f := newManageFixture(t)
	support := f.tokens[operator.RoleSupport]
	base := fmt.Sprintf("/v1/console/apps/%d", f.app)
	alice := f.join(t, f.app, protocol.RoomRef{ID: 7}, protocol.SceneVideoCall, "alice", protocol.RoleAnchor)
	f.join(t, f.app, protocol.RoomRef{ID: 7}, protocol.SceneVideoCall, "bob", protocol.RoleAnchor)
	f.join(t, f.app, protocol.RoomRef{Str: "lobby #1"}, protocol.SceneLive, "carol", protocol.RoleAnchor)
	f.join(t, f.app, protocol.RoomRef{Str: "lobby #1"}, protocol.SceneLive, "dave", protocol.RoleAudience)
	f.join(t, f.app+1, protocol.RoomRef{ID: 7}, protocol.SceneVideoCall, "erin", protocol.RoleAnchor) // another app
	mic := &room.Track{Info: protocol.TrackInfo{TrackID: "mic", Kind: protocol.KindAudio, StreamType: protocol.StreamMain}}
	cam := &room.Track{Info: protocol.TrackInfo{TrackID: "cam", Kind: protocol.KindVideo, StreamType: protocol.StreamMain}}
	for _, tr := range []*room.Track{mic, cam} {
		if err := alice.Room().Publish(alice, tr); err != nil {
			t.Fatal(err)
		}
	}
	if err := alice.Room().SetMuted(alice, protocol.KindVideo, protocol.StreamMain, true); err != nil {
		t.Fatal(err)
	}

	status, raw := f.raw(t, "GET", base+"/rooms", f.tokens[operator.RoleDeveloper], "")
	want := `{"rooms":[{"room":7,"str_room":"","ref":"7","scene":"videocall","participants":2,"created_at":"2026-11-23T23:30:00Z"},` +
		`{"room":0,"str_room":"lobby #1","ref":"s:lobby #1","scene":"live","participants":2,"created_at":"2026-11-23T23:30:00Z"}]}`
	if status != 200 || strings.TrimSpace(raw) != want {
		t.Fatalf("rooms: %d %s\nwant %s", status, raw, want)
	}

	type user struct {
		id, role     string
		audio, video bool
	}
	users := func(ref string) []user {
		t.Helper()
		resp, b := f.call(t, "GET", base+"/rooms/"+ref+"/users", support, "")
		if resp.StatusCode != 200 {
			t.Fatalf("users of %s: %d %v", ref, resp.StatusCode, b)
		}
		var out []user
		list, _ := b["users"].([]any)
		for _, x := range list {
			u := x.(map[string]any)
			out = append(out, user{u["user_id"].(string), u["role"].(string), u["audio"].(bool), u["video"].(bool)})
		}
		return out
	}
	if got := fmt.Sprint(users("7")); got != "[{alice anchor true false} {bob anchor false false}]" {
		t.Fatalf("room 7: %s", got)
	}
	if got := fmt.Sprint(users("s:lobby%20%231")); got != "[{carol anchor false false} {dave audience false false}]" {
		t.Fatalf("room s:lobby #1: %s", got)
	}
	f.rooms.Leave(alice, protocol.ExitReasonLeft, "")
	if got := fmt.Sprint(users("7")); got != "[{bob anchor false false}]" {
		t.Fatalf("room 7 after alice left: %s", got)
	}
	reads := len(f.operatorReads(t))
	for ref, want := range map[string]string{
		"8":                            "404 not_found: no open room 8 in app " + strconv.FormatUint(uint64(f.app), 10),
		"0":                            `400 invalid_parameter: room "0": want a numeric room id 1-4294967295, or s: and a string room id`,
		"lobby":                        `400 invalid_parameter: room "lobby": want a numeric room id 1-4294967295, or s: and a string room id`,
		"s:":                           "400 invalid_parameter: room: invalid room id: neither room_id (1-4294967295) nor str_room_id set",
		"s:" + strings.Repeat("x", 65): "400 invalid_parameter: room: invalid room id: str_room_id is 65 bytes, at most 64",
	} {
		resp, b := f.call(t, "GET", base+"/rooms/"+ref+"/users", support, "")
		if got := fmt.Sprint(resp.StatusCode, " ", errMessage(b)); got != want || b["users"] != nil {
			t.Errorf("users of %q: %s, want %s", ref, got, want)
		}
	}
	if n := len(f.operatorReads(t)); n != reads {
		t.Fatalf("refused reads left %d records", n-reads)
	}
}

// usageMinutesOf reads the usage endpoint: per day, minutes and peak.
func (f *manageFixture) usageDays(t *testing.T, app uint32, query string) (map[string]any, []string) {
	t.Helper()
	resp, b := f.call(t, "GET", fmt.Sprintf("/v1/console/apps/%d/usage%s", app, query), f.tokens[operator.RoleDeveloper], "")
	if resp.StatusCode != 200 {
		t.Fatalf("usage%s: %d %v", query, resp.StatusCode, b)
	}
	var days []string
	list, _ := b["days"].([]any)
	for _, x := range list {
		d := x.(map[string]any)
		days = append(days, fmt.Sprintf("%s %v/%v", d["day"], d["participant_minutes"], d["peak_rooms"]))
	}
	return b, days
}

// Participant-minutes are counted from entry to exit per participant,
// split at midnight UTC, with open sessions counted up to now and each
// day's peak of rooms open at once; a flush stores them once (reads
// before and after agree, nothing counts twice); a participant replaced
// by the same user id elsewhere counts once; another app's rooms do not
// count.
func TestUsageSplitsAtMidnightAndCountsOpenSessions(t *testing.T) {
	f := newManageFixture(t)
	o, err := f.local.Apps.Create(consoleCtx(t), "other")
	if err != nil {
		t.Fatal(err)
	}
	other := o.SDKAppID
	at := func(hhmm string) time.Time {
		t.Helper()
		d, err := time.Parse("2006-01-02 15:04", hhmm)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	const q = "?from=2026-11-23&to=2026-11-25"
	f.clk.set(at("2026-11-23 23:30"))
	alice := f.join(t, f.app, protocol.RoomRef{ID: 1}, protocol.SceneVideoCall, "alice", protocol.RoleAnchor)
	f.join(t, other, protocol.RoomRef{ID: 1}, protocol.SceneVideoCall, "olga", protocol.RoleAnchor)
	f.clk.set(at("2026-11-23 23:45"))
	bob := f.join(t, f.app, protocol.RoomRef{Str: "b"}, protocol.SceneVideoCall, "bob", protocol.RoleAnchor)
	f.clk.set(at("2026-11-24 00:15"))
	f.rooms.Leave(alice, protocol.ExitReasonLeft, "")

	f.clk.set(at("2026-11-24 00:30"))
	// 23rd: alice 30 + bob 15; 24th: alice 15 + bob 30 so far. Both
	// rooms were open at midnight: peak 2 on both days.
	want := "[2026-11-23 45/2 2026-11-24 45/2 2026-11-25 0/0]"
	if _, got := f.usageDays(t, f.app, q); fmt.Sprint(got) != want {
		t.Fatalf("before the flush: %v, want %s", got, want)
	}
	if err := f.live.usage.flush(consoleCtx(t)); err != nil {
		t.Fatal(err)
	}
	stored, err := f.local.DB.Usage(consoleCtx(t), f.app, at("2026-11-23 00:00"), at("2026-11-25 00:00"))
	if err != nil || len(stored) != 2 || stored[0].ParticipantMS != 45*60_000 || stored[1].ParticipantMS != 45*60_000 ||
		stored[0].PeakRooms != 2 || stored[1].PeakRooms != 2 {
		t.Fatalf("stored after the flush: %+v %v", stored, err)
	}
	if _, got := f.usageDays(t, f.app, q); fmt.Sprint(got) != want {
		t.Fatalf("after the flush: %v, want %s (counted once)", got, want)
	}

	// Bob enters again elsewhere under his id: the room replaces him,
	// so one participant still. At 01:00 he has been in 75 minutes.
	f.clk.set(at("2026-11-24 00:40"))
	bob2 := f.join(t, f.app, protocol.RoomRef{Str: "b"}, protocol.SceneVideoCall, "bob", protocol.RoleAnchor)
	_ = bob
	f.clk.set(at("2026-11-24 01:00"))
	body, got := f.usageDays(t, f.app, q)
	if want := "[2026-11-23 45/2 2026-11-24 75/2 2026-11-25 0/0]"; fmt.Sprint(got) != want || body["total_participant_minutes"] != 120.0 {
		t.Fatalf("open session at 01:00: %v total %v, want %s, 120", got, body["total_participant_minutes"], want)
	}
	f.rooms.Leave(bob2, protocol.ExitReasonLeft, "")
	f.clk.set(at("2026-11-25 12:00"))
	if err := f.live.usage.flush(consoleCtx(t)); err != nil {
		t.Fatal(err)
	}
	if _, got := f.usageDays(t, f.app, q); fmt.Sprint(got) != "[2026-11-23 45/2 2026-11-24 75/2 2026-11-25 0/0]" {
		t.Fatalf("after everyone left: %v", got)
	}
	// Olga, still in the other app's room, is counted there only.
	if _, got := f.usageDays(t, other, "?from=2026-11-23&to=2026-11-24"); fmt.Sprint(got) != "[2026-11-23 30/1 2026-11-24 1440/1]" {
		t.Fatalf("other app: %v", got)
	}
	if _, got := f.usageDays(t, f.app, "?from=1795435200&to=2026-11-24T23:59:59Z"); fmt.Sprint(got) != "[2026-11-23 45/2 2026-11-24 75/2]" {
		t.Fatalf("Unix seconds and RFC 3339 bounds: %v", got)
	}
	// The default range is the 30 days to today by the console's clock.
	today := time.Now().UTC().Format(time.DateOnly)
	if body, got := f.usageDays(t, f.app, ""); len(got) != 30 || body["to"] != today && body["to"] != time.Now().UTC().Format(time.DateOnly) {
		t.Fatalf("default range: %v to %v; want the 30 days to %s", got, body["to"], today)
	}
}

// Bad usage ranges are refused with the reason.
func TestUsageEndpointRefusesBadRanges(t *testing.T) {
	f := newManageFixture(t)
	for query, want := range map[string]string{
		"?from=yesterday":                `invalid_parameter: from "yesterday": want a date (2026-11-23), an RFC 3339 time or Unix seconds`,
		"?from=2026-11-24&to=2026-11-23": "invalid_parameter: from 2026-11-24 to 2026-11-23: want from on or before to, at most 400 days (what usage_daily keeps)",
		"?from=2025-10-19&to=2026-11-23": "invalid_parameter: from 2025-10-19 to 2026-11-23: want from on or before to, at most 400 days (what usage_daily keeps)",
		"?to=-5":                         `invalid_parameter: to "-5": want a date (2026-11-23), an RFC 3339 time or Unix seconds`,
	} {
		resp, b := f.call(t, "GET", fmt.Sprintf("/v1/console/apps/%d/usage%s", f.app, query), f.tokens[operator.RoleOwner], "")
		if resp.StatusCode != 400 || errMessage(b) != want {
			t.Errorf("%s: %d %q, want %q", query, resp.StatusCode, errMessage(b), want)
		}
	}
	if _, days := f.usageDays(t, f.app, "?from=2025-10-20&to=2026-11-23"); len(days) != 400 {
		t.Fatalf("400 days: %d", len(days))
	}
}

// failingUsageStore fails AddUsage while fail is set, storing nothing.
type failingUsageStore struct {
	mu   sync.Mutex
	fail bool
	rows map[usageKey]usageDelta
}

func (s *failingUsageStore) AddUsage(_ context.Context, ds []sqlite.UsageDay) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("disk full")
	}
	for _, d := range ds {
		k := usageKey{d.SDKAppID, d.Day}
		r := s.rows[k]
		s.rows[k] = usageDelta{ms: r.ms + d.ParticipantMS, peak: max(r.peak, d.PeakRooms)}
	}
	return nil
}

func (s *failingUsageStore) Usage(_ context.Context, app uint32, from, to time.Time) ([]sqlite.UsageDay, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []sqlite.UsageDay
	for k, d := range s.rows {
		if k.app == app && !k.day.Before(from) && !k.day.After(to) {
			out = append(out, sqlite.UsageDay{SDKAppID: app, Day: k.day, ParticipantMS: d.ms, PeakRooms: d.peak})
		}
	}
	return out, nil
}

// A failed flush keeps the counts for the next one, which stores them
// exactly once; close flushes what is left, open sessions up to then.
func TestUsageFlushFailureAndClose(t *testing.T) {
	clk := &manageClock{t: usageT0}
	st := &failingUsageStore{fail: true, rows: map[usageKey]usageDelta{}}
	m := newUsageMeter(st, clk.Now, nil)
	ref := protocol.RoomRef{ID: 9}
	m.RoomEvent(room.Event{Type: room.EventEnterRoom, SDKAppID: 5, Room: ref})
	m.RoomEvent(room.Event{Type: room.EventExitRoom, SDKAppID: 6, Room: ref}) // never entered: ignored
	clk.set(usageT0.Add(10 * time.Minute))
	m.RoomEvent(room.Event{Type: room.EventExitRoom, SDKAppID: 5, Room: ref})
	if err := m.flush(consoleCtx(t)); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("flush = %v, want the store's error", err)
	}
	day := usageT0.Truncate(24 * time.Hour)
	read := func() []sqlite.UsageDay {
		t.Helper()
		u, err := m.read(consoleCtx(t), 5, day, day)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	if u := read(); len(u) != 1 || u[0].ParticipantMS != 10*60_000 {
		t.Fatalf("after a failed flush: %+v; want the 10 minutes still counted", u)
	}
	st.mu.Lock()
	st.fail = false
	st.mu.Unlock()
	m.RoomEvent(room.Event{Type: room.EventEnterRoom, SDKAppID: 5, Room: ref})
	clk.set(usageT0.Add(15 * time.Minute))
	m.start(time.Hour)
	if err := m.close(); err != nil {
		t.Fatal(err)
	}
	if got := st.rows[usageKey{5, day}]; got.ms != 15*60_000 || got.peak != 1 {
		t.Fatalf("stored after close = %+v; want 10 + 5 minutes once, peak 1", got)
	}
	if len(st.rows) != 1 {
		t.Fatalf("stored rows %+v; the unknown exit must count nothing", st.rows)
	}
	if u := read(); len(u) != 1 || u[0].ParticipantMS != 15*60_000 {
		t.Fatalf("read after close: %+v", u)
	}
}

// The server gives room events to its usage meter beside the webhooks,
// and Shutdown, which closes every room first, stores the sessions it
// ended: nothing is lost to the flush interval.
func TestUsageServerFlushesAtShutdown(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Media.UDPPort = 0
	clk := &manageClock{t: usageT0}
	srv, err := New(cfg, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := consoleCtx(t)
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	id := srv.DevApp().SDKAppID
	if _, _, err := srv.Rooms().Join(id, protocol.RoomRef{ID: 3}, protocol.SceneVideoCall, "alice", protocol.RoleAnchor, manageEndpoint{}); err != nil {
		t.Fatal(err)
	}
	clk.set(usageT0.Add(90 * time.Minute)) // 01:00 the next day
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	local, err := app.OpenLocalStores(ctx, app.LocalOptions{DataDir: cfg.DataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	day := usageT0.Truncate(24 * time.Hour)
	got, err := local.DB.Usage(ctx, id, day, day.Add(24*time.Hour))
	if err != nil || len(got) != 2 || got[0].ParticipantMS != 30*60_000 || got[1].ParticipantMS != 60*60_000 {
		t.Fatalf("usage after shutdown = %+v, %v; want 30 and 60 minutes", got, err)
	}
}

// The server's retention engine keeps usage 400 days: a day that ended
// more than 400 days ago goes at the next sweep, a younger one stays, and
// the status lists the store with its limit.
func TestUsageRetentionTarget(t *testing.T) {
	ctx := consoleCtx(t)
	local, err := app.OpenLocalStores(ctx, app.LocalOptions{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	a, err := local.Apps.Create(ctx, "billed")
	if err != nil {
		t.Fatal(err)
	}
	day0 := usageT0.Truncate(24 * time.Hour)
	if err := local.DB.AddUsage(ctx, []sqlite.UsageDay{
		{SDKAppID: a.SDKAppID, Day: day0, ParticipantMS: 1, PeakRooms: 1},
		{SDKAppID: a.SDKAppID, Day: day0.AddDate(0, 0, 1), ParticipantMS: 2, PeakRooms: 1},
	}); err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.Default()
	if err != nil {
		t.Fatal(err)
	}
	clk := &manageClock{t: day0.Add(401*24*time.Hour + time.Hour)} // day 0 ended 400 days and an hour ago
	eng, err := NewRetention(local.DB, inv, config.Default(), nil, clk.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := eng.Run(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, r := range res {
		if r.Store == "usage_daily" {
			found = true
			if r.Deleted != 1 || r.Limit != "400d" {
				t.Fatalf("usage_daily sweep = %+v; want day 0 deleted under a 400d limit", r)
			}
		}
	}
	if !found {
		t.Fatal("no usage_daily retention target")
	}
	left, _ := local.DB.Usage(ctx, a.SDKAppID, day0, day0.AddDate(0, 0, 1))
	if len(left) != 1 || left[0].ParticipantMS != 2 {
		t.Fatalf("usage left = %+v; want day 1 only", left)
	}
	st, _ := eng.Status(ctx)
	for _, s := range st {
		if s.Store == "usage_daily" && (s.LimitDays != 400 || !s.Within) {
			t.Fatalf("usage_daily status = %+v", s)
		}
	}
}
