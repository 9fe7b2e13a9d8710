package test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/auth"
	"github.com/parley-rtc/parley/protocol"
	parley "github.com/parley-rtc/parley/sdk/go"
)

func enterCode(t *testing.T, err error) (int, string) {
	t.Helper()
	var se *parley.ServerError
	if !errors.As(err, &se) {
		t.Fatalf("error %v is not a *parley.ServerError", err)
	}
	return se.Code, se.Message
}

// TestBadUserSigCannotEnter: wrong key, expired, another user's, another
// app's — each refused with -3320 (or -3317 for an unknown app) and a
// message naming the reason.
func TestBadUserSigCannotEnter(t *testing.T) {
	env := startServer(t)
	ctx := testCtx(t, 20*time.Second)
	now := time.Now()
	mustSig := func(app uint32, key, user string, expire time.Duration, at time.Time) string {
		s, err := auth.GenerateUserSig(app, key, user, expire, at)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	otherKey := strings.Repeat("0", 64)
	cases := []struct {
		name    string
		app     uint32
		sig     string
		code    int
		message string
	}{
		{"wrong key", env.appID, mustSig(env.appID, otherKey, "alice", time.Hour, now), protocol.ErrCodeUserSigInvalid, "bad signature"},
		{"expired", env.appID, mustSig(env.appID, env.key, "alice", time.Hour, now.Add(-2*time.Hour)), protocol.ErrCodeUserSigInvalid, "expired"},
		{"other user", env.appID, mustSig(env.appID, env.key, "mallory", time.Hour, now), protocol.ErrCodeUserSigInvalid, "wrong user"},
		{"other app's sig", env.appID, mustSig(env.appID+1, env.key, "alice", time.Hour, now), protocol.ErrCodeUserSigInvalid, "wrong app"},
		{"unknown app", env.appID + 100, mustSig(env.appID+100, env.key, "alice", time.Hour, now), protocol.ErrCodeSDKAppIDInvalid, "no such app"},
		{"garbage", env.appID, "not-a-usersig", protocol.ErrCodeUserSigInvalid, "bad encoding"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl, err := parley.New(parley.Config{URL: env.srv.SignalURL(), SDKAppID: c.app, UserID: "alice", UserSig: c.sig})
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			if err := cl.GrantConsent("2025-09-11", protocol.PurposeRTC); err != nil {
				t.Fatal(err)
			}
			if err := cl.Init(ctx); err != nil {
				t.Fatal(err)
			}
			_, err = cl.EnterRoom(ctx, parley.EnterParams{RoomID: 1, Scene: protocol.SceneVideoCall})
			code, msg := enterCode(t, err)
			if code != c.code || !strings.Contains(msg, c.message) {
				t.Fatalf("got (%d, %q), want (%d, …%q…)", code, msg, c.code, c.message)
			}
		})
	}
	if n := len(env.srv.Rooms().Rooms(env.appID)); n != 0 {
		t.Fatalf("refused joins left %d rooms behind", n)
	}
}

// TestAudienceCannotPublish: in a live room an audience member's publish
// is refused with -4004 until it switches to anchor.
func TestAudienceCannotPublish(t *testing.T) {
	env := startServer(t)
	ctx := testCtx(t, 30*time.Second)
	viewer := env.client(t, "viewer", parley.Listener{})
	if _, err := viewer.EnterRoom(ctx, parley.EnterParams{StrRoomID: "live", Scene: protocol.SceneLive, Role: protocol.RoleAudience}); err != nil {
		t.Fatal(err)
	}
	src, err := parley.NewSyntheticSource(parley.SyntheticOptions{Kind: protocol.KindAudio})
	if err != nil {
		t.Fatal(err)
	}
	_, err = viewer.PublishAudio(ctx, src)
	if code, _ := enterCode(t, err); code != protocol.ErrCodePublishNotAllowed {
		t.Fatalf("audience publish: code %d, want %d", code, protocol.ErrCodePublishNotAllowed)
	}
	if err := viewer.SwitchRole(ctx, protocol.RoleAnchor); err != nil {
		t.Fatal(err)
	}
	if _, err := viewer.PublishAudio(ctx, src); err != nil {
		t.Fatalf("publish after switching to anchor: %v", err)
	}
}

// rest calls the REST API with an admin UserSig and decodes Response.
func (e *testEnv) rest(t *testing.T, action string, body any, sig string) map[string]any {
	t.Helper()
	if sig == "" {
		sig = e.userSig(t, "administrator")
	}
	q := url.Values{"sdkappid": {fmt.Sprint(e.appID)}, "identifier": {"administrator"}, "usersig": {sig}}
	b, _ := json.Marshal(body)
	resp, err := http.Post("http://"+e.srv.HTTPAddr()+"/v1/rest/"+action+"?"+q.Encode(), "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: HTTP %d: %s", action, resp.StatusCode, raw)
	}
	var out struct{ Response map[string]any }
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s: %v: %s", action, err, raw)
	}
	return out.Response
}

func restUsers(resp map[string]any) []string {
	var ids []string
	users, _ := resp["Users"].([]any)
	for _, u := range users {
		m, _ := u.(map[string]any)
		ids = append(ids, fmt.Sprint(m["user_id"]))
	}
	sort.Strings(ids)
	return ids
}

// TestRESTRemoveUserDismissRoomAndNamespaces: numeric room 123 and string
// room "123" are different rooms; RemoveUser ends a session with reason 1
// (others see leave reason 2), DismissRoom with reason 2.
func TestRESTRemoveUserDismissRoomAndNamespaces(t *testing.T) {
	env := startServer(t)
	ctx := testCtx(t, 30*time.Second)
	exits := map[string]chan int{}
	leaves := make(chan string, 8)
	join := func(user string, ref protocol.RoomRef) {
		exits[user] = make(chan int, 1)
		ch := exits[user]
		l := parley.Listener{OnExitRoom: func(r int) { ch <- r }}
		if user == "alice" {
			l.OnRemoteUserLeave = func(u string, reason int) { leaves <- fmt.Sprintf("%s:%d", u, reason) }
		}
		c := env.client(t, user, l)
		if _, err := c.EnterRoom(ctx, parley.EnterParams{RoomID: ref.ID, StrRoomID: ref.Str, Scene: protocol.SceneVideoCall}); err != nil {
			t.Fatalf("%s: %v", user, err)
		}
	}
	join("alice", protocol.RoomRef{ID: 123})
	join("bob", protocol.RoomRef{ID: 123})
	join("carol", protocol.RoomRef{Str: "123"})
	join("dave", protocol.RoomRef{Str: "123"})

	if got := restUsers(env.rest(t, "DescribeRoomUsers", map[string]any{"RoomId": 123}, "")); fmt.Sprint(got) != "[alice bob]" {
		t.Fatalf("numeric room 123 users = %v", got)
	}
	if got := restUsers(env.rest(t, "DescribeRoomUsers", map[string]any{"StrRoomId": "123"}, "")); fmt.Sprint(got) != "[carol dave]" {
		t.Fatalf("string room \"123\" users = %v", got)
	}
	if total := env.rest(t, "DescribeRooms", nil, "")["Total"]; total != float64(2) {
		t.Fatalf("DescribeRooms Total = %v, want 2", total)
	}

	bad, err := auth.GenerateUserSig(env.appID, strings.Repeat("1", 64), "administrator", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp := env.rest(t, "RemoveUser", map[string]any{"RoomId": 123, "UserIds": []string{"bob"}}, bad)
	if e, _ := resp["Error"].(map[string]any); e["Code"] != "AuthFailure.SignatureFailure" {
		t.Fatalf("forged admin sig: %v", resp)
	}
	resp = env.rest(t, "RemoveUser", map[string]any{"RoomId": 123, "UserIds": []string{}}, "")
	if e, _ := resp["Error"].(map[string]any); e["Code"] != "InvalidParameter.UserIds" {
		t.Fatalf("empty UserIds: %v", resp)
	}

	if resp := env.rest(t, "RemoveUser", map[string]any{"RoomId": 123, "UserIds": []string{"bob"}}, ""); resp["Removed"] != float64(1) {
		t.Fatalf("RemoveUser: %v", resp)
	}
	if r := waitFor(t, ctx, exits["bob"], "bob's exit"); r != protocol.ExitReasonKicked {
		t.Fatalf("bob exit reason %d, want %d", r, protocol.ExitReasonKicked)
	}
	if l := waitFor(t, ctx, leaves, "alice sees bob leave"); l != "bob:2" {
		t.Fatalf("alice saw %q, want bob:2", l)
	}
	if resp := env.rest(t, "DismissRoomByStrRoomId", map[string]any{"StrRoomId": "123"}, ""); resp["Error"] != nil {
		t.Fatalf("DismissRoomByStrRoomId: %v", resp)
	}
	for _, u := range []string{"carol", "dave"} {
		if r := waitFor(t, ctx, exits[u], u+"'s exit"); r != protocol.ExitReasonDismissed {
			t.Fatalf("%s exit reason %d, want %d", u, r, protocol.ExitReasonDismissed)
		}
	}
	if got := restUsers(env.rest(t, "DescribeRoomUsers", map[string]any{"RoomId": 123}, "")); fmt.Sprint(got) != "[alice]" {
		t.Fatalf("dismissing string room \"123\" touched numeric room 123: %v", got)
	}
	resp = env.rest(t, "DismissRoomByStrRoomId", map[string]any{"StrRoomId": "123"}, "")
	if e, _ := resp["Error"].(map[string]any); e["Code"] != "FailedOperation.RoomNotExist" {
		t.Fatalf("dismissing a gone room: %v", resp)
	}
	select {
	case r := <-exits["alice"]:
		t.Fatalf("alice exited (reason %d) though her room was not touched", r)
	default:
	}
}
