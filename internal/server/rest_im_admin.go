package server

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/parley-rtc/parley/internal/im"
)

// Limits of the app-backend IM actions. Where TIM documents a limit
// Parley uses it; the others are marked.
const (
	imMaxImportGroupMsgs = 20   // TIM now documents 7; Parley accepts its older 20
	imMaxDeleteMembers   = 500  // Parley's choice (TIM's limit unconfirmed)
	imMaxMuteMembers     = 500  // TIM forbid_send_msg: Members_Account ≤ 500
	imMaxGroupInfoIDs    = 50   // TIM get_group_info: GroupIdList ≤ 50 (unconfirmed)
	imMaxMemberPage      = 6000 // TIM get_group_member_info: Limit ≤ 6000 (unconfirmed)
	imMaxUnreadPeers     = 10   // TIM get_c2c_unread_msg_num: Peer_Account ≤ 10 (unconfirmed)
	imMaxMuteSeconds     = math.MaxUint32
)

// adminActions are the IM REST actions for app backends beyond the basic
// send/history/recall set: batch send, history import, group management
// and read/unread administration. register merges them in.
func (a *imREST) adminActions() map[string]imHandler {
	return map[string]imHandler{
		"openim/batchsendmsg":                          a.batchSendC2C,
		"openim/importmsg":                             a.importC2C,
		"openim/admin_set_msg_read":                    a.setC2CRead,
		"openim/get_c2c_unread_msg_num":                a.c2cUnread,
		"group_open_http_svc/import_group_msg":         a.importGroupMsg,
		"group_open_http_svc/destroy_group":            a.destroyGroup,
		"group_open_http_svc/delete_group_member":      a.deleteGroupMember,
		"group_open_http_svc/get_group_info":           a.groupInfo,
		"group_open_http_svc/get_group_member_info":    a.groupMemberInfo,
		"group_open_http_svc/modify_group_base_info":   a.modifyGroupBaseInfo,
		"group_open_http_svc/forbid_send_msg":          a.forbidSendMsg,
		"group_open_http_svc/modify_group_member_info": a.modifyGroupMemberInfo,
		"group_open_http_svc/get_joined_group_list":    a.joinedGroupList,
	}
}

// notModifiable refuses TIM fields an action knows but Parley does not
// implement, naming them, so a backend learns exactly what was not applied
// instead of reading a generic unknown-field error.
func notModifiable(action, allowed string, fields map[string]json.RawMessage) error {
	var set []string
	for name, v := range fields {
		if len(v) > 0 {
			set = append(set, name)
		}
	}
	if len(set) == 0 {
		return nil
	}
	slices.Sort(set)
	return badBody("%s: %q not supported: Parley modifies only %s", action, set, allowed)
}

func (a *imREST) batchSendC2C(ctx context.Context, appID uint32, body []byte) (map[string]any, error) {
	var req struct {
		FromAccount string   `json:"From_Account"`
		ToAccount   []string `json:"To_Account"`
		MsgRandom   uint32   `json:"MsgRandom"`
		imMessageBody
	}
	if err := decodeIM(body, &req); err != nil {
		return nil, err
	}
	msg, err := req.message(req.MsgRandom)
	if err != nil {
		return nil, err
	}
	results, err := a.svc.SendBatch(ctx, appID, req.FromAccount, req.ToAccount, msg)
	if err != nil {
		return nil, err
	}
	errs := []map[string]any{}
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, map[string]any{"To_Account": r.To, "ErrorCode": im.Code(r.Err)})
		}
	}
	return map[string]any{"ErrorList": errs}, nil
}

// importMsgID turns TIM's import identifiers into the dedupe key: a
// retried import of the same message is stored once. All zero disables
// deduplication, as Random 0 does for live sends.
func importMsgID(sendTime int64, ids ...uint32) string {
	key := "import-" + strconv.FormatInt(sendTime, 10)
	set := false
	for _, id := range ids {
		key += "-" + strconv.FormatUint(uint64(id), 10)
		set = set || id != 0
	}
	if !set {
		return ""
	}
	return key
}

func (a *imREST) importC2C(ctx context.Context, appID uint32, body []byte) (map[string]any, error) {
	var req struct {
		SyncFromOldSystem int    `json:"SyncFromOldSystem"`
		FromAccount       string `json:"From_Account"`
		ToAccount         string `json:"To_Account"`
		MsgSeq            uint32 `json:"MsgSeq,omitempty"`
		MsgRandom         uint32 `json:"MsgRandom"`
		MsgTimeStamp      int64  `json:"MsgTimeStamp"`
		imMessageBody
	}
	if err := decodeIM(body, &req); err != nil {
		return nil, err
	}
	var opt im.ImportOptions
	switch req.SyncFromOldSystem {
	case 2: // history: not counted as unread
	case 1, 5: // TIM's old and new values for "real-time import, counted as unread"
		opt.Unread = true
	default:
		return nil, badBody("SyncFromOldSystem: 2 (history, not unread), or 1 or 5 (counted as unread; Parley never delivers imports live)")
	}
	if req.MsgTimeStamp <= 0 {
		return nil, badBody("MsgTimeStamp: the original send time in Unix seconds is required")
	}
	msg, err := req.message(0)
	if err != nil {
		return nil, err
	}
	msg.ClientMsgID = importMsgID(req.MsgTimeStamp, req.MsgSeq, req.MsgRandom)
	st, err := a.svc.Import(ctx, appID, req.FromAccount, im.Target{User: req.ToAccount}, msg, time.Unix(req.MsgTimeStamp, 0), opt)
	if err != nil {
		return nil, err
	}
	// Parley additions (TIM's reply has neither): MsgKey identifies the
	// message for admin_msgwithdraw, as sendmsg's does.
	return map[string]any{"MsgTime": st.At.Unix(), "MsgKey": strconv.FormatInt(st.Seq, 10)}, nil
}

func (a *imREST) importGroupMsg(ctx context.Context, appID uint32, body []byte) (map[string]any, error) {
	var req struct {
		GroupID string `json:"GroupId"`
		MsgList []struct {
			FromAccount string `json:"From_Account"`
			SendTime    int64  `json:"SendTime"`
			Random      uint32 `json:"Random,omitempty"`
			// MsgBody and CloudCustomData; TIM documents MsgBody here,
			// CloudCustomData is unconfirmed for group import.
			imMessageBody
		} `json:"MsgList"`
	}
	if err := decodeIM(body, &req); err != nil {
		return nil, err
	}
	if len(req.MsgList) == 0 || len(req.MsgList) > imMaxImportGroupMsgs {
		return nil, badBody("MsgList: 1-%d messages", imMaxImportGroupMsgs)
	}
	// A missing group fails the request as a whole rather than every
	// message in it.
	if _, err := a.svc.Group(ctx, appID, req.GroupID); err != nil {
		return nil, err
	}
	results := make([]map[string]any, 0, len(req.MsgList))
	for _, m := range req.MsgList {
		r := map[string]any{"MsgSeq": 0, "MsgTime": m.SendTime, "Result": 0}
		results = append(results, r)
		if m.SendTime <= 0 {
			r["Result"] = im.Code(im.ErrInvalidArgument) // TIM: 10004, invalid send time
			continue
		}
		msg, err := m.message(0)
		if err != nil {
			r["Result"] = im.Code(err)
			continue
		}
		msg.ClientMsgID = importMsgID(m.SendTime, m.Random)
		st, err := a.svc.Import(ctx, appID, m.FromAccount, im.Target{Group: req.GroupID}, msg, time.Unix(m.SendTime, 0), im.ImportOptions{})
		if err != nil {
			r["Result"] = im.Code(err)
			continue
		}
		r["MsgSeq"], r["MsgTime"] = st.Seq, st.At.Unix()
	}
	return map[string]any{"ImportMsgResult": results}, nil
}

func (a *imREST) destroyGroup(ctx context.Context, appID uint32, body []byte) (map[string]any, error) {
	var req struct {
		GroupID string `json:"GroupId"`
	}
	if err := decodeIM(body, &req); err != nil {
		return nil, err
	}
	owner, err := a.owner(ctx, appID, req.GroupID)
	if err != nil {
		return nil, err
	}
	return nil, a.svc.DismissGroup(ctx, appID, owner, req.GroupID)
}

func (a *imREST) deleteGroupMember(ctx context.Context, appID uint32, body []byte) (map[string]any, error) {
	var req struct {
		GroupID string   `json:"GroupId"`
		Members []string `json:"MemberToDel_Account"`
	}
	if err := decodeIM(body, &req); err != nil {
		return nil, err
	}
	if len(req.Members) == 0 || len(req.Members) > imMaxDeleteMembers {
		return nil, badBody("MemberToDel_Account: 1-%d members", imMaxDeleteMembers)
	}
	owner, err := a.owner(ctx, appID, req.GroupID)
	if err != nil {
		return nil, err
	}
	return nil, a.svc.KickMembers(ctx, appID, owner, req.GroupID, req.Members)
}

// roleName is TIM's spelling of a member role.
func roleName(r im.Role) string {
	switch r {
	case im.RoleOwner:
		return "Owner"
	case im.RoleAdmin:
		return "Admin"
	}
	return "Member"
}

// unixOrZero is TIM's time encoding: Unix seconds, 0 for none.
func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func (a *imREST) groupInfo(ctx context.Context, appID uint32, body []byte) (map[string]any, error) {
	var req struct {
		GroupIDList []string `json:"GroupIdList"`
	}
	if err := decodeIM(body, &req); err != nil {
		return nil, err
	}
	if len(req.GroupIDList) == 0 || len(req.GroupIDList) > imMaxGroupInfoIDs {
		return nil, badBody("GroupIdList: 1-%d groups", imMaxGroupInfoIDs)
	}
	infos := make([]map[string]any, 0, len(req.GroupIDList))
	for _, id := range req.GroupIDList {
		g, err := a.svc.Group(ctx, appID, id)
		var n int
		if err == nil {
			_, n, err = a.svc.MembersPage(ctx, appID, id, 0, 0)
		}
		if err != nil {
			// One unknown group does not fail the others (TIM reports
			// errors per group).
			infos = append(infos, map[string]any{"GroupId": id, "ErrorCode": im.Code(err), "ErrorInfo": err.Error()})
			continue
		}
		// "Type" as in create_group; one TIM client library reads
		// "GroupType" here (unconfirmed).
		infos = append(infos, map[string]any{"GroupId": id, "ErrorCode": 0, "ErrorInfo": "",
			"Type": string(g.Type), "Name": g.Name, "Owner_Account": g.Owner, "CreateTime": g.CreatedAt.Unix(), "MemberNum": n})
	}
	return map[string]any{"GroupInfo": infos}, nil
}

func (a *imREST) groupMemberInfo(ctx context.Context, appID uint32, body []byte) (map[string]any, error) {
	var req struct {
		GroupID string `json:"GroupId"`
		Limit   int    `json:"Limit,omitempty"`
		Offset  int    `json:"Offset,omitempty"`
	}
	if err := decodeIM(body, &req); err != nil {
		return nil, err
	}
	if req.Limit < 0 || req.Limit > imMaxMemberPage {
		return nil, badBody("Limit: 0-%d (0 or absent: up to %d)", imMaxMemberPage, imMaxMemberPage)
	}
	if req.Offset < 0 {
		return nil, badBody("Offset must not be negative")
	}
	limit := req.Limit
	if limit == 0 {
		limit = imMaxMemberPage
	}
	ms, total, err := a.svc.MembersPage(ctx, appID, req.GroupID, req.Offset, limit)
	if err != nil {
		return nil, err
	}
	list := make([]map[string]any, 0, len(ms))
	for _, m := range ms {
		list = append(list, map[string]any{"Member_Account": m.UserID, "Role": roleName(m.Role),
			"JoinTime": m.JoinedAt.Unix(), "ShutUpUntil": unixOrZero(m.MutedUntil)})
	}
	return map[string]any{"MemberNum": total, "MemberList": list}, nil
}

func (a *imREST) modifyGroupBaseInfo(ctx context.Context, appID uint32, body []byte) (map[string]any, error) {
	var req struct {
		GroupID string  `json:"GroupId"`
		Name    *string `json:"Name"`
		// TIM base-info fields Parley does not store; refused by name.
		Introduction    json.RawMessage `json:"Introduction"`
		Notification    json.RawMessage `json:"Notification"`
		FaceURL         json.RawMessage `json:"FaceUrl"`
		MaxMemberNum    json.RawMessage `json:"MaxMemberNum"`
		ApplyJoinOption json.RawMessage `json:"ApplyJoinOption"`
		InviteJoin      json.RawMessage `json:"InviteJoinOption"`
		ShutUpAllMember json.RawMessage `json:"ShutUpAllMember"`
		MuteAllMember   json.RawMessage `json:"MuteAllMember"`
		AppDefinedData  json.RawMessage `json:"AppDefinedData"`
	}
	if err := decodeIM(body, &req); err != nil {
		return nil, err
	}
	if err := notModifiable("modify_group_base_info", "Name", map[string]json.RawMessage{
		"Introduction": req.Introduction, "Notification": req.Notification, "FaceUrl": req.FaceURL,
		"MaxMemberNum": req.MaxMemberNum, "ApplyJoinOption": req.ApplyJoinOption, "InviteJoinOption": req.InviteJoin,
		"ShutUpAllMember": req.ShutUpAllMember, "MuteAllMember": req.MuteAllMember, "AppDefinedData": req.AppDefinedData,
	}); err != nil {
		return nil, err
	}
	if req.Name == nil {
		return nil, badBody("Name is required: it is the only base-info field Parley modifies")
	}
	owner, err := a.owner(ctx, appID, req.GroupID)
	if err != nil {
		return nil, err
	}
	return nil, a.svc.RenameGroup(ctx, appID, owner, req.GroupID, *req.Name)
}

func (a *imREST) forbidSendMsg(ctx context.Context, appID uint32, body []byte) (map[string]any, error) {
	var req struct {
		GroupID string   `json:"GroupId"`
		Members []string `json:"Members_Account"`
		// TIM's current name; older TIM clients send ShutUpTime
		// (unconfirmed whether TIM still accepts it), which is refused.
		MuteTime *int64 `json:"MuteTime"`
	}
	if err := decodeIM(body, &req); err != nil {
		return nil, err
	}
	if len(req.Members) == 0 || len(req.Members) > imMaxMuteMembers {
		return nil, badBody("Members_Account: 1-%d members", imMaxMuteMembers)
	}
	// Required: an absent MuteTime must not silently unmute.
	if req.MuteTime == nil || *req.MuteTime < 0 || *req.MuteTime > imMaxMuteSeconds {
		return nil, badBody("MuteTime: seconds 0-%d is required (0 unmutes)", uint64(imMaxMuteSeconds))
	}
	owner, err := a.owner(ctx, appID, req.GroupID)
	if err != nil {
		return nil, err
	}
	return nil, a.svc.MuteMembers(ctx, appID, owner, req.GroupID, req.Members, time.Duration(*req.MuteTime)*time.Second)
}

func (a *imREST) modifyGroupMemberInfo(ctx context.Context, appID uint32, body []byte) (map[string]any, error) {
	var req struct {
		GroupID       string `json:"GroupId"`
		MemberAccount string `json:"Member_Account"`
		Role          string `json:"Role"`
		// TIM member fields Parley does not store or sets elsewhere.
		NameCard    json.RawMessage `json:"NameCard"`
		MsgFlag     json.RawMessage `json:"MsgFlag"`
		ShutUpTime  json.RawMessage `json:"ShutUpTime"`
		AppMemberDD json.RawMessage `json:"AppMemberDefinedData"`
	}
	if err := decodeIM(body, &req); err != nil {
		return nil, err
	}
	if err := notModifiable("modify_group_member_info", "Role (mute with forbid_send_msg)", map[string]json.RawMessage{
		"NameCard": req.NameCard, "MsgFlag": req.MsgFlag, "ShutUpTime": req.ShutUpTime, "AppMemberDefinedData": req.AppMemberDD,
	}); err != nil {
		return nil, err
	}
	var role im.Role
	switch req.Role {
	case "Admin":
		role = im.RoleAdmin
	case "Member":
		role = im.RoleMember
	default:
		return nil, badBody("Role: %q, want Admin or Member (ownership transfer is not supported)", req.Role)
	}
	owner, err := a.owner(ctx, appID, req.GroupID)
	if err != nil {
		return nil, err
	}
	return nil, a.svc.SetRole(ctx, appID, owner, req.GroupID, req.MemberAccount, role)
}

func (a *imREST) joinedGroupList(ctx context.Context, appID uint32, body []byte) (map[string]any, error) {
	var req struct {
		MemberAccount string `json:"Member_Account"`
		Limit         int    `json:"Limit,omitempty"`
		Offset        int    `json:"Offset,omitempty"`
	}
	if err := decodeIM(body, &req); err != nil {
		return nil, err
	}
	if req.Limit < 0 || req.Offset < 0 {
		return nil, badBody("Limit and Offset must not be negative")
	}
	gs, err := a.svc.JoinedGroups(ctx, appID, req.MemberAccount)
	if err != nil {
		return nil, err
	}
	page := gs[min(req.Offset, len(gs)):]
	if req.Limit > 0 && req.Limit < len(page) {
		page = page[:req.Limit]
	}
	list := make([]map[string]any, 0, len(page))
	for _, g := range page {
		list = append(list, map[string]any{"GroupId": g.GroupID, "Type": string(g.Type), "Name": g.Name})
	}
	// "GroupIdList" as in TIM's samples; one TIM client library reads
	// "GroupIds" (unconfirmed).
	return map[string]any{"TotalCount": len(gs), "GroupIdList": list}, nil
}

func (a *imREST) setC2CRead(ctx context.Context, appID uint32, body []byte) (map[string]any, error) {
	var req struct {
		ReportAccount string `json:"Report_Account"`
		PeerAccount   string `json:"Peer_Account"`
	}
	if err := decodeIM(body, &req); err != nil {
		return nil, err
	}
	if _, err := a.svc.MarkC2CRead(ctx, appID, req.ReportAccount, req.PeerAccount); err != nil {
		return nil, err
	}
	return nil, nil
}

func (a *imREST) c2cUnread(ctx context.Context, appID uint32, body []byte) (map[string]any, error) {
	var req struct {
		ToAccount   string   `json:"To_Account"`
		PeerAccount []string `json:"Peer_Account,omitempty"`
	}
	if err := decodeIM(body, &req); err != nil {
		return nil, err
	}
	if len(req.PeerAccount) > imMaxUnreadPeers {
		return nil, badBody("Peer_Account: at most %d peers", imMaxUnreadPeers)
	}
	total, peers, err := a.svc.C2CUnread(ctx, appID, req.ToAccount, req.PeerAccount)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"AllC2CUnreadMsgNum": total}
	if len(req.PeerAccount) > 0 {
		list, errs := []map[string]any{}, []map[string]any{}
		for _, p := range peers {
			if p.Err != nil {
				errs = append(errs, map[string]any{"Peer_Account": p.Peer, "ErrorCode": im.Code(p.Err)})
				continue
			}
			list = append(list, map[string]any{"Peer_Account": p.Peer, "C2CUnreadMsgNum": p.Unread})
		}
		out["C2CUnreadMsgNumList"] = list
		if len(errs) > 0 {
			out["ErrorList"] = errs
		}
	}
	return out, nil
}
