package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/im"
	"github.com/parley-rtc/parley/internal/store/sqlite"
	"github.com/parley-rtc/parley/internal/store/sqlite/sqlitetest"
)

const fuzzApp = 1400000001

// fuzzIMREST returns an imREST over a real Service on a fresh SQLite store
// holding a Public group "team" (owner alice, member bob) with one group
// and one C2C message, and an empty Work group "archive" to import into,
// so valid bodies reach the Service's logic.
func fuzzIMREST(tb testing.TB) *imREST {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "im.db"), sqlitetest.Options())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	svc, err := im.New(db, im.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = svc.Close() })
	if _, err := svc.CreateGroup(ctx, fuzzApp, "alice", im.GroupSpec{ID: "team", Type: im.Public, Name: "team"}); err != nil {
		tb.Fatal(err)
	}
	if _, err := svc.CreateGroup(ctx, fuzzApp, "alice", im.GroupSpec{ID: "archive", Type: im.Work}); err != nil {
		tb.Fatal(err)
	}
	if _, err := svc.InviteMember(ctx, fuzzApp, "alice", "team", "bob"); err != nil {
		tb.Fatal(err)
	}
	hi := im.Message{Elements: []im.Element{im.Text{Text: "hi"}}}
	if _, err := svc.Send(ctx, fuzzApp, "alice", im.Target{Group: "team"}, hi); err != nil {
		tb.Fatal(err)
	}
	if _, err := svc.Send(ctx, fuzzApp, "alice", im.Target{User: "bob"}, hi); err != nil {
		tb.Fatal(err)
	}
	return &imREST{svc: svc}
}

// imActions are every action register serves, by name. register keeps its
// basic set in a local map, so it is repeated here;
// TestIMActionsCoverRegister keeps the two in step.
func (a *imREST) imActions() map[string]imHandler {
	actions := map[string]imHandler{
		"group_open_http_svc/create_group":         a.createGroup,
		"group_open_http_svc/add_group_member":     a.addGroupMember,
		"group_open_http_svc/send_group_msg":       a.sendGroupMsg,
		"group_open_http_svc/group_msg_get_simple": a.groupHistory,
		"group_open_http_svc/group_msg_recall":     a.groupRecall,
		"openim/sendmsg":                           a.sendC2C,
		"openim/admin_getroammsg":                  a.c2cHistory,
		"openim/admin_msgwithdraw":                 a.c2cRecall,
	}
	for name, h := range a.adminActions() {
		actions[name] = h
	}
	return actions
}

// TestIMActionsCoverRegister: the fuzz target reaches every IM REST action.
// Each name here is served by register, and each action name in the
// source files that build register's table is here.
func TestIMActionsCoverRegister(t *testing.T) {
	a := &imREST{}
	actions := a.imActions()
	mux := http.NewServeMux()
	a.register(mux)
	for name := range actions {
		if _, pattern := mux.Handler(httptest.NewRequest(http.MethodPost, "/v4/"+name, nil)); pattern != "POST /v4/"+name {
			t.Errorf("%s: not registered (pattern %q)", name, pattern)
		}
	}
	key := regexp.MustCompile(`"((?:openim|group_open_http_svc)/[a-z0-9_]+)":`)
	for _, file := range []string{"rest_im.go", "rest_im_admin.go"} {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range key.FindAllSubmatch(src, -1) {
			if _, ok := actions[string(m[1])]; !ok {
				t.Errorf("%s registers %s, which the fuzz target does not call", file, m[1])
			}
		}
	}
}

// FuzzIMRESTHandlers calls the IM REST handlers directly (no HTTP, no
// auth, no rate limit) with an arbitrary body. A handler must not panic;
// it returns a result serve can encode, or an error with a nonzero IM
// ErrorCode that is not the internal-fault code (bad input is the
// caller's fault, never the server's).
func FuzzIMRESTHandlers(f *testing.F) {
	a := fuzzIMREST(f)
	actions := a.imActions()
	names := make([]string, 0, len(actions))
	for name := range actions {
		names = append(names, name)
	}
	slices.Sort(names)
	text := `[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}}]`
	seeds := map[string][]string{
		"group_open_http_svc/create_group": {
			`{"Owner_Account":"alice","Type":"Public","Name":"g"}`,
			`{"Owner_Account":"zed","Type":"Meeting","GroupId":"other"}`,
			`{"Owner_Account":"alice","Type":"Nope"}`,
		},
		"group_open_http_svc/add_group_member": {
			`{"GroupId":"team","MemberList":[{"Member_Account":"carol"},{"Member_Account":"bob"},{"Member_Account":"bad|id"}]}`,
			`{"GroupId":"team","MemberList":[]}`,
		},
		"group_open_http_svc/send_group_msg": {
			`{"GroupId":"team","From_Account":"bob","Random":7,"MsgBody":` + text + `,"CloudCustomData":"c"}`,
			`{"GroupId":"team","From_Account":"bob","MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"` + strings.Repeat("x", 13<<10) + `"}}]}`,
			`{"GroupId":"team","From_Account":"bob","MsgBody":null}`,
		},
		"group_open_http_svc/group_msg_get_simple": {
			`{"GroupId":"team","ReqMsgNumber":10}`,
			`{"GroupId":"team","ReqMsgNumber":20,"ReqMsgSeq":9223372036854775807}`,
		},
		"group_open_http_svc/group_msg_recall": {
			`{"GroupId":"team","MsgSeqList":[{"MsgSeq":1},{"MsgSeq":-1},{"MsgSeq":9223372036854775807}]}`,
		},
		"openim/sendmsg": {
			`{"From_Account":"alice","To_Account":"bob","MsgRandom":99,"MsgBody":` + text + `}`,
			`{"From_Account":"alice","To_Account":"alice","MsgBody":` + text + `}`,
			`{"From_Account":"alice","To_Account":"bob","MsgBody":` + text + `,"Sync":1}`,
		},
		"openim/admin_getroammsg": {
			`{"Operator_Account":"bob","Peer_Account":"alice","MaxCnt":10}`,
			`{"Operator_Account":"bob","Peer_Account":"alice","MaxCnt":0}`,
		},
		"openim/admin_msgwithdraw": {
			`{"From_Account":"alice","To_Account":"bob","MsgKey":"1"}`,
			`{"From_Account":"alice","To_Account":"bob","MsgKey":"-1"}`,
		},
		"openim/batchsendmsg": {
			`{"From_Account":"alice","To_Account":["bob","bad|id","carol"],"MsgRandom":42,"MsgBody":` + text + `}`,
			`{"From_Account":"alice","To_Account":[],"MsgBody":` + text + `}`,
		},
		"openim/importmsg": {
			`{"SyncFromOldSystem":2,"From_Account":"alice","To_Account":"erin","MsgSeq":9,"MsgRandom":77,"MsgTimeStamp":1700000000,"MsgBody":` + text + `}`,
			`{"SyncFromOldSystem":1,"From_Account":"carol","To_Account":"dave","MsgRandom":1,"MsgTimeStamp":1700000000,"MsgBody":` + text + `}`,
			`{"SyncFromOldSystem":3,"From_Account":"alice","To_Account":"bob","MsgTimeStamp":9223372036854775807,"MsgBody":` + text + `}`,
		},
		"openim/admin_set_msg_read": {
			`{"Report_Account":"bob","Peer_Account":"alice"}`,
			`{"Report_Account":"bob","Peer_Account":"bob"}`,
		},
		"openim/get_c2c_unread_msg_num": {
			`{"To_Account":"bob"}`,
			`{"To_Account":"bob","Peer_Account":["alice","bad|id"]}`,
		},
		"group_open_http_svc/import_group_msg": {
			`{"GroupId":"archive","MsgList":[{"From_Account":"legacy","SendTime":1700000000,"Random":100,"MsgBody":` + text + `},{"From_Account":"legacy","SendTime":0,"MsgBody":` + text + `}]}`,
			`{"GroupId":"nope","MsgList":[{"From_Account":"legacy","SendTime":1700000000,"MsgBody":` + text + `}]}`,
		},
		"group_open_http_svc/destroy_group": {
			`{"GroupId":"other"}`,
			`{"GroupId":""}`,
		},
		"group_open_http_svc/delete_group_member": {
			`{"GroupId":"team","MemberToDel_Account":["carol"]}`,
			`{"GroupId":"team","MemberToDel_Account":["alice"]}`,
		},
		"group_open_http_svc/get_group_info": {
			`{"GroupIdList":["team","nope"]}`,
		},
		"group_open_http_svc/get_group_member_info": {
			`{"GroupId":"team","Limit":2,"Offset":1}`,
			`{"GroupId":"team","Limit":0,"Offset":9223372036854775807}`,
		},
		"group_open_http_svc/modify_group_base_info": {
			`{"GroupId":"team","Name":"renamed"}`,
			`{"GroupId":"team","Name":"x","Introduction":"about"}`,
			`{"GroupId":"team","Name":null}`,
		},
		"group_open_http_svc/forbid_send_msg": {
			`{"GroupId":"team","Members_Account":["bob"],"MuteTime":600}`,
			`{"GroupId":"team","Members_Account":["bob"],"MuteTime":0}`,
			`{"GroupId":"team","Members_Account":["bob"],"MuteTime":4294967296}`,
		},
		"group_open_http_svc/modify_group_member_info": {
			`{"GroupId":"team","Member_Account":"bob","Role":"Admin"}`,
			`{"GroupId":"team","Member_Account":"bob","Role":"Owner"}`,
			`{"GroupId":"team","Member_Account":"bob","Role":"Member","NameCard":"c"}`,
		},
		"group_open_http_svc/get_joined_group_list": {
			`{"Member_Account":"bob"}`,
			`{"Member_Account":"bob","Limit":1,"Offset":9223372036854775807}`,
		},
	}
	for i, name := range names {
		if len(seeds[name]) == 0 {
			f.Fatalf("%s: no seed body", name)
		}
		for _, body := range append(seeds[name], ``, `{}`, `null`, `[]`, `{"GroupId":"team"}{}`) {
			f.Add(uint8(i), []byte(body))
		}
	}
	f.Fuzz(func(t *testing.T, action uint8, body []byte) {
		name := names[int(action)%len(names)]
		out, err := actions[name](t.Context(), fuzzApp, body)
		if err != nil {
			code := im.Code(err)
			if e, ok := err.(*imError); ok {
				code = e.code
			}
			if code == 0 || code == im.CodeInternal {
				t.Fatalf("%s %q: error %v has code %d", name, body, err, code)
			}
			return
		}
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("%s %q: result %v does not encode: %v", name, body, out, err)
		}
	})
}
