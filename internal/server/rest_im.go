package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/parley-rtc/parley/internal/im"
)

// imRatePerAction is Tencent IM's REST limit: 200 requests per second per
// API (REFERENCE.md §2).
const imRatePerAction = 200

// imREST serves the IM REST API for app backends in Tencent IM's shape:
// POST /v4/<service>/<command>?sdkappid=&identifier=administrator&usersig=&random=,
// HTTP 200 always, the result in ActionStatus / ErrorCode / ErrorInfo.
// Group actions act as the group's owner; bodies are strict JSON.
type imREST struct {
	svc      *im.Service
	verify   adminVerifier
	limiters *limiterSet
}

type imHandler func(ctx context.Context, appID uint32, body []byte) (map[string]any, error)

func (a *imREST) register(mux *http.ServeMux) {
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
	for name, h := range actions {
		mux.HandleFunc("POST /v4/"+name, a.serve(name, h))
	}
}

// imError is a request-level failure with a TIM-style code.
type imError struct {
	code int
	msg  string
}

func (e *imError) Error() string { return e.msg }

func badBody(format string, a ...any) error {
	return &imError{code: 10004, msg: fmt.Sprintf(format, a...)}
}

func (a *imREST) serve(action string, h imHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		reply := func(out map[string]any, err error) {
			if out == nil {
				out = map[string]any{}
			}
			out["ActionStatus"], out["ErrorCode"], out["ErrorInfo"] = "OK", 0, ""
			if err != nil {
				code := im.Code(err)
				if e, ok := err.(*imError); ok {
					code = e.code
				}
				out = map[string]any{"ActionStatus": "FAIL", "ErrorCode": code, "ErrorInfo": err.Error()}
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(out)
		}
		appID64, err := strconv.ParseUint(q.Get("sdkappid"), 10, 32)
		if err != nil || appID64 == 0 {
			reply(nil, &imError{code: 60006, msg: "sdkappid must be a positive 32-bit integer"})
			return
		}
		appID := uint32(appID64)
		if err := a.verify(r.Context(), appID, q.Get("identifier"), q.Get("usersig")); err != nil {
			reply(nil, &imError{code: 70003, msg: "usersig: " + err.Error()})
			return
		}
		if !a.limiters.get(appID, action).Allow() {
			reply(nil, &imError{code: 60007, msg: fmt.Sprintf("at most %d %s requests per second", imRatePerAction, action)})
			return
		}
		body, err := readBody(r)
		if err != nil {
			reply(nil, badBody("%v", err))
			return
		}
		reply(h(r.Context(), appID, body))
	}
}

func decodeIM(body []byte, v any) error {
	if e := decodeStrict(body, v); e != nil {
		return badBody("%s", e.Message)
	}
	return nil
}

// clientMsgID turns TIM's Random into the dedupe key: a REST send retried
// with the same Random is delivered once.
func clientMsgID(random uint32) string {
	if random == 0 {
		return ""
	}
	return "rest-" + strconv.FormatUint(uint64(random), 10)
}

func (a *imREST) createGroup(ctx context.Context, appID uint32, body []byte) (map[string]any, error) {
	var req struct {
		OwnerAccount string `json:"Owner_Account"`
		Type         string `json:"Type"`
		GroupID      string `json:"GroupId,omitempty"`
		Name         string `json:"Name"`
	}
	if err := decodeIM(body, &req); err != nil {
		return nil, err
	}
	g, err := a.svc.CreateGroup(ctx, appID, req.OwnerAccount, im.GroupSpec{ID: req.GroupID, Type: im.GroupType(req.Type), Name: req.Name})
	if err != nil {
		return nil, err
	}
	return map[string]any{"GroupId": g.GroupID}, nil
}

func (a *imREST) owner(ctx context.Context, appID uint32, groupID string) (string, error) {
	g, err := a.svc.Group(ctx, appID, groupID)
	if err != nil {
		return "", err
	}
	return g.Owner, nil
}

func (a *imREST) addGroupMember(ctx context.Context, appID uint32, body []byte) (map[string]any, error) {
	var req struct {
		GroupID    string `json:"GroupId"`
		MemberList []struct {
			MemberAccount string `json:"Member_Account"`
		} `json:"MemberList"`
	}
	if err := decodeIM(body, &req); err != nil {
		return nil, err
	}
	if len(req.MemberList) == 0 || len(req.MemberList) > 300 {
		return nil, badBody("MemberList: 1-300 members")
	}
	owner, err := a.owner(ctx, appID, req.GroupID)
	if err != nil {
		return nil, err
	}
	var results []map[string]any
	for _, m := range req.MemberList {
		result := 1 // TIM: 1 added, 2 already a member, 0 failed
		if _, err := a.svc.InviteMember(ctx, appID, owner, req.GroupID, m.MemberAccount); err != nil {
			result = 0
			if im.Code(err) == im.Code(im.ErrAlreadyMember) {
				result = 2
			}
		}
		results = append(results, map[string]any{"Member_Account": m.MemberAccount, "Result": result})
	}
	return map[string]any{"MemberList": results}, nil
}

// imMessageBody is the message part of TIM's send requests.
type imMessageBody struct {
	MsgBody         json.RawMessage `json:"MsgBody"`
	CloudCustomData string          `json:"CloudCustomData,omitempty"`
}

func (m imMessageBody) message(random uint32) (im.Message, error) {
	els, err := im.DecodeElements(m.MsgBody)
	if err != nil {
		return im.Message{}, err
	}
	return im.Message{ClientMsgID: clientMsgID(random), Elements: els, CloudCustomData: m.CloudCustomData}, nil
}

func (a *imREST) sendGroupMsg(ctx context.Context, appID uint32, body []byte) (map[string]any, error) {
	var req struct {
		GroupID     string `json:"GroupId"`
		FromAccount string `json:"From_Account"`
		Random      uint32 `json:"Random"`
		imMessageBody
	}
	if err := decodeIM(body, &req); err != nil {
		return nil, err
	}
	msg, err := req.message(req.Random)
	if err != nil {
		return nil, err
	}
	st, err := a.svc.Send(ctx, appID, req.FromAccount, im.Target{Group: req.GroupID}, msg)
	if err != nil {
		return nil, err
	}
	return map[string]any{"MsgSeq": st.Seq, "MsgTime": st.At.Unix()}, nil
}

func (a *imREST) sendC2C(ctx context.Context, appID uint32, body []byte) (map[string]any, error) {
	var req struct {
		FromAccount string `json:"From_Account"`
		ToAccount   string `json:"To_Account"`
		MsgRandom   uint32 `json:"MsgRandom"`
		imMessageBody
	}
	if err := decodeIM(body, &req); err != nil {
		return nil, err
	}
	msg, err := req.message(req.MsgRandom)
	if err != nil {
		return nil, err
	}
	st, err := a.svc.Send(ctx, appID, req.FromAccount, im.Target{User: req.ToAccount}, msg)
	if err != nil {
		return nil, err
	}
	// MsgKey identifies the message for admin_msgwithdraw.
	return map[string]any{"MsgTime": st.At.Unix(), "MsgKey": strconv.FormatInt(st.Seq, 10)}, nil
}

func records(rs []im.Record) ([]map[string]any, error) {
	out := make([]map[string]any, 0, len(rs))
	for _, r := range rs {
		body, err := im.EncodeElements(r.Elements)
		if err != nil {
			return nil, err
		}
		m := map[string]any{"From_Account": r.Sender, "MsgSeq": r.Seq, "MsgTimeStamp": r.At.Unix(),
			"MsgBody": json.RawMessage(body), "IsPlaceMsg": r.Recalled}
		if r.CloudCustomData != "" {
			m["CloudCustomData"] = r.CloudCustomData
		}
		out = append(out, m)
	}
	return out, nil
}

func (a *imREST) groupHistory(ctx context.Context, appID uint32, body []byte) (map[string]any, error) {
	var req struct {
		GroupID      string `json:"GroupId"`
		ReqMsgNumber int    `json:"ReqMsgNumber"`
		ReqMsgSeq    int64  `json:"ReqMsgSeq,omitempty"` // newest seq wanted; 0 = latest
	}
	if err := decodeIM(body, &req); err != nil {
		return nil, err
	}
	if req.ReqMsgNumber <= 0 || req.ReqMsgNumber > 20 {
		return nil, badBody("ReqMsgNumber: 1-20")
	}
	owner, err := a.owner(ctx, appID, req.GroupID)
	if err != nil {
		return nil, err
	}
	before := req.ReqMsgSeq
	if before > 0 {
		before++ // History returns seqs below beforeSeq; TIM's ReqMsgSeq is inclusive
	}
	rs, err := a.svc.History(ctx, appID, owner, im.GroupConv(req.GroupID), before, req.ReqMsgNumber)
	if err != nil {
		return nil, err
	}
	list, err := records(rs)
	if err != nil {
		return nil, err
	}
	return map[string]any{"GroupId": req.GroupID, "RspMsgList": list}, nil
}

func (a *imREST) c2cHistory(ctx context.Context, appID uint32, body []byte) (map[string]any, error) {
	var req struct {
		OperatorAccount string `json:"Operator_Account"`
		PeerAccount     string `json:"Peer_Account"`
		MaxCnt          int    `json:"MaxCnt"`
	}
	if err := decodeIM(body, &req); err != nil {
		return nil, err
	}
	if req.MaxCnt <= 0 || req.MaxCnt > 100 {
		return nil, badBody("MaxCnt: 1-100")
	}
	rs, err := a.svc.History(ctx, appID, req.OperatorAccount, im.C2CConv(req.OperatorAccount, req.PeerAccount), 0, req.MaxCnt)
	if err != nil {
		return nil, err
	}
	list, err := records(rs)
	if err != nil {
		return nil, err
	}
	return map[string]any{"MsgCnt": len(list), "MsgList": list}, nil
}

func (a *imREST) groupRecall(ctx context.Context, appID uint32, body []byte) (map[string]any, error) {
	var req struct {
		GroupID    string `json:"GroupId"`
		MsgSeqList []struct {
			MsgSeq int64 `json:"MsgSeq"`
		} `json:"MsgSeqList"`
	}
	if err := decodeIM(body, &req); err != nil {
		return nil, err
	}
	owner, err := a.owner(ctx, appID, req.GroupID)
	if err != nil {
		return nil, err
	}
	var results []map[string]any
	for _, m := range req.MsgSeqList {
		code := 0
		if _, err := a.svc.Recall(ctx, appID, owner, im.GroupConv(req.GroupID), m.MsgSeq); err != nil {
			code = im.Code(err)
		}
		results = append(results, map[string]any{"MsgSeq": m.MsgSeq, "RetCode": code})
	}
	return map[string]any{"RecallRetList": results}, nil
}

func (a *imREST) c2cRecall(ctx context.Context, appID uint32, body []byte) (map[string]any, error) {
	var req struct {
		FromAccount string `json:"From_Account"`
		ToAccount   string `json:"To_Account"`
		MsgKey      string `json:"MsgKey"`
	}
	if err := decodeIM(body, &req); err != nil {
		return nil, err
	}
	seq, err := strconv.ParseInt(req.MsgKey, 10, 64)
	if err != nil || seq <= 0 {
		return nil, badBody("MsgKey: not a key returned by sendmsg")
	}
	if _, err := a.svc.Recall(ctx, appID, req.FromAccount, im.C2CConv(req.FromAccount, req.ToAccount), seq); err != nil {
		return nil, err
	}
	return nil, nil
}
