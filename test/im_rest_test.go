package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// imCall posts a Tencent-IM-style REST request and decodes the reply.
func (e *testEnv) imCall(t *testing.T, action string, body any, sig string) map[string]any {
	t.Helper()
	if sig == "" {
		sig = e.userSig(t, "administrator")
	}
	q := url.Values{"sdkappid": {fmt.Sprint(e.appID)}, "identifier": {"administrator"}, "usersig": {sig}, "random": {"1"}, "contenttype": {"json"}}
	b, _ := json.Marshal(body)
	resp, err := http.Post("http://"+e.srv.HTTPAddr()+"/v4/"+action+"?"+q.Encode(), "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: HTTP %d: %s", action, resp.StatusCode, raw)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s: %v: %s", action, err, raw)
	}
	return out
}

func mustOK(t *testing.T, action string, out map[string]any) {
	t.Helper()
	if out["ActionStatus"] != "OK" {
		t.Fatalf("%s: %v", action, out)
	}
}

func textBody(s string) []map[string]any {
	return []map[string]any{{"MsgType": "TIMTextElem", "MsgContent": map[string]any{"Text": s}}}
}

// TestIMRESTGroupsMessagesAndRecall: an app backend manages a group and
// messages through the Tencent-IM-shaped REST API: exactly-once sends on
// retry (same Random), history in order, C2C send and recall leaving a
// tombstone, and precise errors for oversized messages, bad auth and
// unknown fields.
func TestIMRESTGroupsMessagesAndRecall(t *testing.T) {
	env := startServer(t)
	out := env.imCall(t, "group_open_http_svc/create_group", map[string]any{"Owner_Account": "alice", "Type": "Public", "Name": "team"}, "")
	mustOK(t, "create_group", out)
	group, _ := out["GroupId"].(string)
	if !strings.HasPrefix(group, "@TGS#") {
		t.Fatalf("generated group id %q", group)
	}
	add := func(users ...string) []any {
		var list []map[string]any
		for _, u := range users {
			list = append(list, map[string]any{"Member_Account": u})
		}
		out := env.imCall(t, "group_open_http_svc/add_group_member", map[string]any{"GroupId": group, "MemberList": list}, "")
		mustOK(t, "add_group_member", out)
		res, _ := out["MemberList"].([]any)
		return res
	}
	add("bob", "carol")
	if res := add("bob"); res[0].(map[string]any)["Result"] != float64(2) {
		t.Fatalf("re-adding bob: %v, want Result 2 (already a member)", res)
	}
	send := func(from, text string, random int) map[string]any {
		return env.imCall(t, "group_open_http_svc/send_group_msg", map[string]any{"GroupId": group, "From_Account": from, "Random": random, "MsgBody": textBody(text)}, "")
	}
	first := send("bob", "hello", 7)
	mustOK(t, "send_group_msg", first)
	retry := send("bob", "hello", 7)
	if retry["MsgSeq"] != first["MsgSeq"] || first["MsgSeq"] != float64(1) {
		t.Fatalf("retry with the same Random: seq %v then %v, want 1 both times", first["MsgSeq"], retry["MsgSeq"])
	}
	if second := send("carol", "hi bob", 8); second["MsgSeq"] != float64(2) {
		t.Fatalf("second message: %v", second)
	}
	hist := env.imCall(t, "group_open_http_svc/group_msg_get_simple", map[string]any{"GroupId": group, "ReqMsgNumber": 10}, "")
	mustOK(t, "group_msg_get_simple", hist)
	msgs, _ := hist["RspMsgList"].([]any)
	if len(msgs) != 2 {
		t.Fatalf("history: %v, want 2 messages (the retry was not stored twice)", msgs)
	}

	c2c := env.imCall(t, "openim/sendmsg", map[string]any{"From_Account": "alice", "To_Account": "bob", "MsgRandom": 99, "MsgBody": textBody("private")}, "")
	mustOK(t, "sendmsg", c2c)
	mustOK(t, "admin_msgwithdraw", env.imCall(t, "openim/admin_msgwithdraw", map[string]any{"From_Account": "alice", "To_Account": "bob", "MsgKey": c2c["MsgKey"]}, ""))
	roam := env.imCall(t, "openim/admin_getroammsg", map[string]any{"Operator_Account": "bob", "Peer_Account": "alice", "MaxCnt": 10}, "")
	mustOK(t, "admin_getroammsg", roam)
	list, _ := roam["MsgList"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["IsPlaceMsg"] != true || strings.Contains(fmt.Sprint(list[0]), "private") {
		t.Fatalf("after recall: %v, want one tombstone without the text", list)
	}

	big := send("bob", strings.Repeat("x", 13<<10), 9)
	if big["ActionStatus"] != "FAIL" || big["ErrorCode"] != float64(80002) {
		t.Fatalf("13 KB message: %v, want FAIL 80002", big)
	}
	bad := env.imCall(t, "openim/sendmsg", map[string]any{"From_Account": "alice", "To_Account": "bob", "MsgBody": textBody("x"), "Sync": 1}, "")
	if bad["ActionStatus"] != "FAIL" || !strings.Contains(fmt.Sprint(bad["ErrorInfo"]), `unknown field "Sync"`) {
		t.Fatalf("unknown field: %v", bad)
	}
	forged := env.imCall(t, "openim/sendmsg", map[string]any{}, "not-a-sig")
	if forged["ActionStatus"] != "FAIL" || forged["ErrorCode"] != float64(70003) {
		t.Fatalf("bad usersig: %v", forged)
	}
}
