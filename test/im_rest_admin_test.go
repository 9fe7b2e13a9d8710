package test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// imFail asserts a FAIL reply with the given ErrorCode.
func imFail(t *testing.T, action string, out map[string]any, code int) {
	t.Helper()
	if out["ActionStatus"] != "FAIL" || out["ErrorCode"] != float64(code) {
		t.Fatalf("%s: %v, want FAIL %d", action, out, code)
	}
}

// imList returns a reply's list field as objects.
func imList(t *testing.T, out map[string]any, field string) []map[string]any {
	t.Helper()
	raw, ok := out[field].([]any)
	if !ok {
		t.Fatalf("%s is not a list: %v", field, out)
	}
	list := make([]map[string]any, len(raw))
	for i, v := range raw {
		list[i], _ = v.(map[string]any)
	}
	return list
}

// roamTexts is the C2C history of operator with peer, newest first, as
// "text@unix-time" entries.
func (e *testEnv) roamTexts(t *testing.T, operator, peer string) []string {
	t.Helper()
	out := e.imCall(t, "openim/admin_getroammsg", map[string]any{"Operator_Account": operator, "Peer_Account": peer, "MaxCnt": 100}, "")
	mustOK(t, "admin_getroammsg", out)
	var texts []string
	for _, m := range imList(t, out, "MsgList") {
		texts = append(texts, fmt.Sprintf("%s@%.0f", msgText(m), m["MsgTimeStamp"]))
	}
	return texts
}

// msgText is the text of a history entry's first element.
func msgText(m map[string]any) string {
	body, _ := m["MsgBody"].([]any)
	if len(body) == 0 {
		return ""
	}
	el, _ := body[0].(map[string]any)
	content, _ := el["MsgContent"].(map[string]any)
	s, _ := content["Text"].(string)
	return s
}

// A batch send reports the invalid recipient in ErrorList and delivers to
// the others; the same batch retried with the same MsgRandom stores
// nothing twice.
func TestIMRESTBatchSend(t *testing.T) {
	env := startServer(t)
	req := map[string]any{"From_Account": "alice", "To_Account": []string{"bob", "bad|id", "carol"}, "MsgRandom": 42, "MsgBody": textBody("notice")}
	for attempt := range 2 {
		out := env.imCall(t, "openim/batchsendmsg", req, "")
		mustOK(t, "batchsendmsg", out)
		errs := imList(t, out, "ErrorList")
		if len(errs) != 1 || errs[0]["To_Account"] != "bad|id" || errs[0]["ErrorCode"] != float64(10004) {
			t.Fatalf("attempt %d: ErrorList %v, want only bad|id with 10004", attempt, errs)
		}
		for _, u := range []string{"bob", "carol"} {
			if got := env.roamTexts(t, u, "alice"); len(got) != 1 || !strings.HasPrefix(got[0], "notice@") {
				t.Fatalf("attempt %d: %s's history with alice = %v, want the notice once", attempt, u, got)
			}
		}
	}
	many := make([]string, 501)
	for i := range many {
		many[i] = fmt.Sprint("u", i)
	}
	imFail(t, "batchsendmsg", env.imCall(t, "openim/batchsendmsg", map[string]any{"From_Account": "alice", "To_Account": many, "MsgBody": textBody("x")}, ""), 10004)
	imFail(t, "batchsendmsg", env.imCall(t, "openim/batchsendmsg", map[string]any{"From_Account": "alice", "To_Account": []string{"bob"}, "MsgBody": textBody(strings.Repeat("x", 13<<10))}, ""), 80002)
}

// A group import keeps each message's SendTime and the list's order,
// numbers the messages from MsgSeq 1 for a sender who is not a member,
// rejects a future time per message, dedupes a retried import, and a live
// send continues the sequence.
func TestIMRESTImportGroupMsg(t *testing.T) {
	env := startServer(t)
	out := env.imCall(t, "group_open_http_svc/create_group", map[string]any{"Owner_Account": "alice", "Type": "Public", "GroupId": "migrated", "Name": "old team"}, "")
	mustOK(t, "create_group", out)
	now := time.Now().Unix()
	times := []int64{now - 300, now - 200, now + 3600, now - 100}
	var list []map[string]any
	for i, at := range times {
		list = append(list, map[string]any{"From_Account": "legacy", "SendTime": at, "Random": 100 + i, "MsgBody": textBody(fmt.Sprint("old", i))})
	}
	for attempt := range 2 {
		out = env.imCall(t, "group_open_http_svc/import_group_msg", map[string]any{"GroupId": "migrated", "MsgList": list}, "")
		mustOK(t, "import_group_msg", out)
		res := imList(t, out, "ImportMsgResult")
		want := []struct {
			seq, result int
		}{{1, 0}, {2, 0}, {0, 10004}, {3, 0}}
		if len(res) != len(want) {
			t.Fatalf("attempt %d: ImportMsgResult %v", attempt, res)
		}
		for i, w := range want {
			if res[i]["MsgSeq"] != float64(w.seq) || res[i]["Result"] != float64(w.result) || res[i]["MsgTime"] != float64(times[i]) {
				t.Fatalf("attempt %d: result %d = %v, want MsgSeq %d Result %d MsgTime %d", attempt, i, res[i], w.seq, w.result, times[i])
			}
		}
	}
	hist := env.imCall(t, "group_open_http_svc/group_msg_get_simple", map[string]any{"GroupId": "migrated", "ReqMsgNumber": 20}, "")
	mustOK(t, "group_msg_get_simple", hist)
	var got []string
	for _, m := range imList(t, hist, "RspMsgList") {
		got = append(got, fmt.Sprintf("%v:%s@%.0f:%v", m["MsgSeq"], msgText(m), m["MsgTimeStamp"], m["From_Account"]))
	}
	want := fmt.Sprintf("3:old3@%d:legacy 2:old1@%d:legacy 1:old0@%d:legacy", times[3], times[1], times[0])
	if strings.Join(got, " ") != want {
		t.Fatalf("history %v, want %s (newest first, original times)", got, want)
	}
	live := env.imCall(t, "group_open_http_svc/send_group_msg", map[string]any{"GroupId": "migrated", "From_Account": "alice", "Random": 1, "MsgBody": textBody("live")}, "")
	if live["ActionStatus"] != "OK" || live["MsgSeq"] != float64(4) {
		t.Fatalf("live send after import: %v, want MsgSeq 4", live)
	}
	// Older than the newest message now: imports are in time order.
	late := env.imCall(t, "group_open_http_svc/import_group_msg", map[string]any{"GroupId": "migrated",
		"MsgList": []map[string]any{{"From_Account": "legacy", "SendTime": now - 50, "Random": 7, "MsgBody": textBody("late")}}}, "")
	mustOK(t, "import_group_msg", late)
	if r := imList(t, late, "ImportMsgResult"); r[0]["Result"] != float64(10004) {
		t.Fatalf("import older than the newest message: %v", r)
	}
	imFail(t, "import_group_msg", env.imCall(t, "group_open_http_svc/import_group_msg", map[string]any{"GroupId": "nope", "MsgList": list[:1]}, ""), 10010)
	imFail(t, "import_group_msg", env.imCall(t, "group_open_http_svc/import_group_msg", map[string]any{"GroupId": "migrated", "MsgList": []any{}}, ""), 10004)
}

// A C2C history import is stored with its MsgTimeStamp, once on retry, and
// does not count as unread (SyncFromOldSystem 2).
func TestIMRESTImportC2C(t *testing.T) {
	env := startServer(t)
	at := time.Now().Add(-time.Hour).Unix()
	req := map[string]any{"SyncFromOldSystem": 2, "From_Account": "alice", "To_Account": "bob", "MsgSeq": 9, "MsgRandom": 77, "MsgTimeStamp": at, "MsgBody": textBody("from the old system")}
	for range 2 {
		out := env.imCall(t, "openim/importmsg", req, "")
		mustOK(t, "importmsg", out)
		if out["MsgTime"] != float64(at) {
			t.Fatalf("importmsg: %v, want MsgTime %d", out, at)
		}
	}
	if got := env.roamTexts(t, "bob", "alice"); len(got) != 1 || got[0] != fmt.Sprintf("from the old system@%d", at) {
		t.Fatalf("bob's history = %v, want the import once with its time", got)
	}
	unread := env.imCall(t, "openim/get_c2c_unread_msg_num", map[string]any{"To_Account": "bob"}, "")
	if unread["ActionStatus"] != "OK" || unread["AllC2CUnreadMsgNum"] != float64(0) {
		t.Fatalf("unread after a history import: %v, want 0", unread)
	}
	bad := map[string]any{"SyncFromOldSystem": 3, "From_Account": "alice", "To_Account": "bob", "MsgRandom": 1, "MsgTimeStamp": at, "MsgBody": textBody("x")}
	imFail(t, "importmsg", env.imCall(t, "openim/importmsg", bad, ""), 10004)
	bad["SyncFromOldSystem"], bad["MsgTimeStamp"] = 2, 0
	imFail(t, "importmsg", env.imCall(t, "openim/importmsg", bad, ""), 10004)
	bad["MsgTimeStamp"] = time.Now().Add(time.Hour).Unix()
	imFail(t, "importmsg", env.imCall(t, "openim/importmsg", bad, ""), 10004)
}

// Group management as the owner: info and member paging, roles, mutes,
// renaming, joined-group lists, removal and dismissal, each checked
// through a later action that depends on it.
func TestIMRESTGroupManagement(t *testing.T) {
	env := startServer(t)
	call := func(action string, body map[string]any) map[string]any {
		return env.imCall(t, "group_open_http_svc/"+action, body, "")
	}
	mustOK(t, "create_group", call("create_group", map[string]any{"Owner_Account": "alice", "Type": "Public", "GroupId": "team", "Name": "team"}))
	mustOK(t, "create_group", call("create_group", map[string]any{"Owner_Account": "zed", "Type": "Meeting", "GroupId": "other"}))
	for _, u := range []string{"bob", "carol", "dave"} {
		mustOK(t, "add_group_member", call("add_group_member", map[string]any{"GroupId": "team", "MemberList": []map[string]any{{"Member_Account": u}}}))
	}
	mustOK(t, "add_group_member", call("add_group_member", map[string]any{"GroupId": "other", "MemberList": []map[string]any{{"Member_Account": "dave"}}}))
	send := func(from string) map[string]any {
		return call("send_group_msg", map[string]any{"GroupId": "team", "From_Account": from, "MsgBody": textBody("hi from " + from)})
	}
	members := func(limit, offset int) (float64, []string) {
		out := call("get_group_member_info", map[string]any{"GroupId": "team", "Limit": limit, "Offset": offset})
		mustOK(t, "get_group_member_info", out)
		var ms []string
		for _, m := range imList(t, out, "MemberList") {
			muted := m["ShutUpUntil"].(float64) > float64(time.Now().Unix())
			ms = append(ms, fmt.Sprintf("%s:%s:%v", m["Member_Account"], m["Role"], muted))
		}
		n, _ := out["MemberNum"].(float64)
		return n, ms
	}

	info := call("get_group_info", map[string]any{"GroupIdList": []string{"team", "nope"}})
	mustOK(t, "get_group_info", info)
	gi := imList(t, info, "GroupInfo")
	if len(gi) != 2 || gi[0]["ErrorCode"] != float64(0) || gi[0]["Type"] != "Public" || gi[0]["Name"] != "team" ||
		gi[0]["Owner_Account"] != "alice" || gi[0]["MemberNum"] != float64(4) || gi[1]["GroupId"] != "nope" || gi[1]["ErrorCode"] != float64(10010) {
		t.Fatalf("get_group_info = %v", gi)
	}
	if n, ms := members(2, 1); n != 4 || strings.Join(ms, " ") != "bob:Member:false carol:Member:false" {
		t.Fatalf("member page (Limit 2, Offset 1) = %v of %v", ms, n)
	}

	mustOK(t, "modify_group_member_info", call("modify_group_member_info", map[string]any{"GroupId": "team", "Member_Account": "bob", "Role": "Admin"}))
	imFail(t, "modify_group_member_info", call("modify_group_member_info", map[string]any{"GroupId": "team", "Member_Account": "carol", "Role": "Owner"}), 10004)
	out := call("modify_group_member_info", map[string]any{"GroupId": "team", "Member_Account": "carol", "Role": "Member", "NameCard": "c"})
	if imFail(t, "modify_group_member_info", out, 10004); !strings.Contains(fmt.Sprint(out["ErrorInfo"]), "NameCard") {
		t.Fatalf("NameCard refusal does not name the field: %v", out)
	}

	mustOK(t, "forbid_send_msg", call("forbid_send_msg", map[string]any{"GroupId": "team", "Members_Account": []string{"carol"}, "MuteTime": 600}))
	imFail(t, "send_group_msg", send("carol"), 10017)
	if _, ms := members(0, 0); strings.Join(ms, " ") != "alice:Owner:false bob:Admin:false carol:Member:true dave:Member:false" {
		t.Fatalf("members after role change and mute = %v", ms)
	}
	mustOK(t, "forbid_send_msg", call("forbid_send_msg", map[string]any{"GroupId": "team", "Members_Account": []string{"carol"}, "MuteTime": 0}))
	mustOK(t, "send_group_msg", send("carol"))
	imFail(t, "forbid_send_msg", call("forbid_send_msg", map[string]any{"GroupId": "team", "Members_Account": []string{"carol"}}), 10004)

	mustOK(t, "modify_group_base_info", call("modify_group_base_info", map[string]any{"GroupId": "team", "Name": "renamed"}))
	out = call("modify_group_base_info", map[string]any{"GroupId": "team", "Name": "x", "Introduction": "about"})
	if imFail(t, "modify_group_base_info", out, 10004); !strings.Contains(fmt.Sprint(out["ErrorInfo"]), "Introduction") {
		t.Fatalf("Introduction refusal does not name the field: %v", out)
	}
	if gi := imList(t, call("get_group_info", map[string]any{"GroupIdList": []string{"team"}}), "GroupInfo"); gi[0]["Name"] != "renamed" {
		t.Fatalf("name after modify_group_base_info = %v", gi[0]["Name"])
	}

	joined := func(user string) []string {
		out := call("get_joined_group_list", map[string]any{"Member_Account": user})
		mustOK(t, "get_joined_group_list", out)
		var ids []string
		for _, g := range imList(t, out, "GroupIdList") {
			ids = append(ids, fmt.Sprint(g["GroupId"]))
		}
		if out["TotalCount"] != float64(len(ids)) {
			t.Fatalf("TotalCount %v for %v", out["TotalCount"], ids)
		}
		return ids
	}
	if ids := joined("dave"); strings.Join(ids, ",") != "team,other" {
		t.Fatalf("dave's groups = %v", ids)
	}

	imFail(t, "delete_group_member", call("delete_group_member", map[string]any{"GroupId": "team", "MemberToDel_Account": []string{"dave", "alice"}}), 10007)
	mustOK(t, "send_group_msg", send("dave")) // the failed batch removed nobody
	mustOK(t, "delete_group_member", call("delete_group_member", map[string]any{"GroupId": "team", "MemberToDel_Account": []string{"dave"}}))
	imFail(t, "send_group_msg", send("dave"), 10007)
	if ids := joined("dave"); strings.Join(ids, ",") != "other" {
		t.Fatalf("dave's groups after removal = %v", ids)
	}
	if n, _ := members(0, 0); n != 3 {
		t.Fatalf("MemberNum after removal = %v", n)
	}

	mustOK(t, "destroy_group", call("destroy_group", map[string]any{"GroupId": "team"}))
	imFail(t, "send_group_msg", send("alice"), 10010)
	imFail(t, "destroy_group", call("destroy_group", map[string]any{"GroupId": "team"}), 10010)
	if gi := imList(t, call("get_group_info", map[string]any{"GroupIdList": []string{"team"}}), "GroupInfo"); gi[0]["ErrorCode"] != float64(10010) {
		t.Fatalf("get_group_info of a destroyed group = %v", gi[0])
	}
	if ids := joined("bob"); len(ids) != 0 {
		t.Fatalf("bob's groups after destroy = %v", ids)
	}
}

// Unread counts per peer and in total, and setting a conversation read.
func TestIMRESTC2CReadAndUnread(t *testing.T) {
	env := startServer(t)
	for i, from := range []string{"alice", "alice", "alice", "carol"} {
		mustOK(t, "sendmsg", env.imCall(t, "openim/sendmsg", map[string]any{"From_Account": from, "To_Account": "bob", "MsgRandom": i + 1, "MsgBody": textBody("m")}, ""))
	}
	unread := func(peers ...string) map[string]any {
		req := map[string]any{"To_Account": "bob"}
		if len(peers) > 0 {
			req["Peer_Account"] = peers
		}
		out := env.imCall(t, "openim/get_c2c_unread_msg_num", req, "")
		mustOK(t, "get_c2c_unread_msg_num", out)
		return out
	}
	out := unread("alice", "carol", "dave")
	var got []string
	for _, p := range imList(t, out, "C2CUnreadMsgNumList") {
		got = append(got, fmt.Sprintf("%s:%v", p["Peer_Account"], p["C2CUnreadMsgNum"]))
	}
	if out["AllC2CUnreadMsgNum"] != float64(4) || strings.Join(got, " ") != "alice:3 carol:1 dave:0" {
		t.Fatalf("unread = %v", out)
	}
	mustOK(t, "admin_set_msg_read", env.imCall(t, "openim/admin_set_msg_read", map[string]any{"Report_Account": "bob", "Peer_Account": "alice"}, ""))
	if out := unread(); out["AllC2CUnreadMsgNum"] != float64(1) {
		t.Fatalf("unread after admin_set_msg_read = %v, want 1 (carol's)", out)
	}
	imFail(t, "admin_set_msg_read", env.imCall(t, "openim/admin_set_msg_read", map[string]any{"Report_Account": "bob", "Peer_Account": "bob"}, ""), 10004)
	imFail(t, "get_c2c_unread_msg_num", env.imCall(t, "openim/get_c2c_unread_msg_num",
		map[string]any{"To_Account": "bob", "Peer_Account": strings.Split("a,b,c,d,e,f,g,h,i,j,k", ",")}, ""), 10004)
}
