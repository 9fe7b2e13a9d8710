package signal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/parley-rtc/parley/internal/im"
	"github.com/parley-rtc/parley/internal/imgw"
	"github.com/parley-rtc/parley/internal/store"
	"github.com/parley-rtc/parley/protocol"
)

// deviceModelSwitch is the inventory switch of im.device_model: the model
// may be sent (to choose the push vendor) only when the app turned it on.
const deviceModelSwitch = "field.im.device_model"

// pushTokenSwitch is the inventory switch of im.push_token: an app that
// does not use offline push never sends (or has stored) a token.
const pushTokenSwitch = "field.im.push_token"

// LoginAuthorizer checks an IM login's SDKAppID and UserSig. Errors should
// be *Refusal with the TRTC code the client gets (-3317, -3320 …).
type LoginAuthorizer interface {
	AuthorizeLogin(ctx context.Context, sdkAppID uint32, userID, userSig string) error
}

// Messaging connects sessions to instant messaging (issue 4).
type Messaging struct {
	Service *im.Service
	Hub     *imgw.Hub
	Auth    LoginAuthorizer
	// OnState reports logins, logouts and disconnects (Tencent IM's
	// State.StateChange callback); optional, must not block.
	OnState func(app uint32, user, action string)
}

// State actions of Messaging.OnState (Tencent IM's Action values).
const (
	StateLogin      = "Login"
	StateLogout     = "Logout"
	StateDisconnect = "Disconnect"
)

// EnableMessaging turns on the im_* frames. Call it before serving.
func (h *Handler) EnableMessaging(m Messaging) { h.im = &m }

// imState is a session's messaging login.
type imState struct {
	app    uint32
	user   string
	device string
	scope  Scope
	sigs   *rtsLimits // im_signal budget, as custom_cmd
}

// imConn adapts a session to imgw.Conn.
type imConn struct{ s *session }

func (c imConn) DeliverIM(b []byte) { c.s.enqueue(outFrame{b: b, im: true}) }

func (c imConn) NotifyIM(t protocol.Type, data any) { c.s.send(t, 0, data, false) }

func (s *session) handleIM(ctx context.Context, env protocol.Envelope) {
	if s.h.im == nil {
		s.replyError(env.ID, protocol.ErrCodeUnknownType, "messaging is not enabled on this server")
		return
	}
	if env.Type == protocol.TypeIMLogin {
		s.handleIMLogin(ctx, env)
		return
	}
	st, ok := s.imLoggedIn(env.ID)
	if !ok {
		return
	}
	var (
		out any
		err error
	)
	switch env.Type {
	case protocol.TypeIMLogout:
		s.handleIMLogout(ctx, env, st)
		return
	case protocol.TypeIMSend:
		out, err = s.imSend(ctx, env, st)
	case protocol.TypeIMSync:
		out, err = s.imSync(ctx, env, st)
	case protocol.TypeIMHistory:
		out, err = s.imHistory(ctx, env, st)
	case protocol.TypeIMConvs:
		out, err = s.imConvs(ctx, st)
	case protocol.TypeIMRead, protocol.TypeIMReadBy, protocol.TypeIMRecall:
		out, err = s.imMessageOp(ctx, env, st)
	case protocol.TypeIMGroup:
		out, err = s.imGroup(ctx, env, st)
	case protocol.TypeIMExt:
		out, err = s.imExt(ctx, env, st)
	case protocol.TypeIMPushToken:
		out, err = s.imPushToken(ctx, env, st)
	case protocol.TypeIMSignal:
		if err = s.imSignal(env, st); err == nil {
			s.send(protocol.TypeOK, env.ID, nil, false)
			return
		}
	}
	if err != nil {
		s.replyIMErr(env.ID, err)
		return
	}
	s.send(protocol.TypeIMResult, env.ID, out, false)
}

// replyIMErr answers with Tencent IM's code for service errors and the
// signaling code for protocol ones; store faults never reach the client.
func (s *session) replyIMErr(id uint64, err error) {
	var r *Refusal
	switch {
	case errors.As(err, &r):
		s.replyErr(id, err)
	case errors.Is(err, protocol.ErrInvalidIM), errors.Is(err, protocol.ErrBadFrame):
		s.replyError(id, protocol.ErrCodeBadRequest, err.Error())
	case im.Code(err) == im.CodeInternal:
		s.h.log.Error("im request failed", "cause", im.Cause(err)) // no ids in logs
		s.replyError(id, im.CodeInternal, "internal error; retry")
	default:
		s.replyError(id, im.Code(err), err.Error())
	}
}

// imLoggedIn returns the login, or replies why there is none usable.
func (s *session) imLoggedIn(id uint64) (*imState, bool) {
	s.mu.Lock()
	st, withdrawn := s.im, s.withdrawn
	s.mu.Unlock()
	switch {
	case st == nil:
		s.replyError(id, protocol.ErrCodeNotLoggedIn, "log in to messaging first (im_login)")
		return nil, false
	case withdrawn:
		s.replyError(id, protocol.ErrCodeConsentRequired, "consent withdrawn: no messages are accepted from this device")
		return nil, false
	}
	return st, true
}

func (s *session) handleIMLogin(ctx context.Context, env protocol.Envelope) {
	var req protocol.IMLogin
	if err := protocol.DecodeData(env, &req); err != nil {
		s.replyError(env.ID, protocol.ErrCodeBadRequest, err.Error())
		return
	}
	if err := req.Validate(); err != nil {
		code := protocol.ErrCodeBadRequest
		switch {
		case req.SDKAppID == 0:
			code = protocol.ErrCodeSDKAppIDInvalid
		case errors.Is(err, protocol.ErrInvalidUserID):
			code = protocol.ErrCodeUserIDInvalid
		}
		s.replyError(env.ID, code, err.Error())
		return
	}
	s.mu.Lock()
	already := s.im != nil
	s.mu.Unlock()
	if already {
		s.replyError(env.ID, protocol.ErrCodeAlreadyLoggedIn, "this connection is already logged in to messaging")
		return
	}
	if err := s.h.im.Auth.AuthorizeLogin(ctx, req.SDKAppID, req.UserID, req.UserSig); err != nil {
		s.replyErr(env.ID, err)
		return
	}
	// As for rooms: consent after authentication, before anything is
	// processed (CONSENT-1); messaging is purpose "im" (CONSENT-3).
	join := req.JoinRequest()
	scope, err := s.h.privacy.Consent.AdmitJoin(ctx, &join)
	if err != nil {
		s.replyErr(env.ID, err)
		return
	}
	if !scope.Purposes[protocol.PurposeIM] {
		s.replyError(env.ID, protocol.ErrCodeConsentRequired, `consent required: the consent does not cover purpose "im"`)
		return
	}
	st := &imState{app: req.SDKAppID, user: req.UserID, device: req.DeviceID, scope: scope}
	s.mu.Lock()
	if s.im != nil {
		s.mu.Unlock()
		s.replyError(env.ID, protocol.ErrCodeAlreadyLoggedIn, "this connection is already logged in to messaging")
		return
	}
	s.im = st
	s.mu.Unlock()
	s.send(protocol.TypeIMLoggedIn, env.ID, protocol.IMLoggedIn{ServerTime: s.h.cfg.Now().UnixMilli()}, false)
	// Attached after the reply so the first pushed message follows it.
	s.h.im.Hub.Attach(st.app, st.user, st.device, imConn{s})
	s.imState(st, StateLogin)
}

func (s *session) imState(st *imState, action string) {
	if s.h.im.OnState != nil {
		s.h.im.OnState(st.app, st.user, action)
	}
}

// handleIMLogout ends the login and forgets the device's push token, so
// nothing is pushed to it afterwards.
func (s *session) handleIMLogout(ctx context.Context, env protocol.Envelope, st *imState) {
	s.mu.Lock()
	s.im = nil
	s.mu.Unlock()
	s.h.im.Hub.Detach(st.app, st.user, imConn{s})
	if err := s.h.im.Hub.Logout(ctx, st.app, st.user, st.device); err != nil {
		s.replyIMErr(env.ID, err)
		return
	}
	s.imState(st, StateLogout)
	s.send(protocol.TypeOK, env.ID, nil, false)
}

// imCleanup detaches a login whose connection ended (no logout: the
// device keeps its push token and gets pushes while offline).
func (s *session) imCleanup() {
	s.mu.Lock()
	st := s.im
	s.im = nil
	s.mu.Unlock()
	if st != nil {
		s.h.im.Hub.Detach(st.app, st.user, imConn{s})
		s.imState(st, StateDisconnect)
	}
}

func (s *session) imSend(ctx context.Context, env protocol.Envelope, st *imState) (any, error) {
	var req protocol.IMSend
	if err := decodeRequest(env, &req); err != nil {
		return nil, err
	}
	els, err := im.DecodeElements(req.Elements)
	if err != nil {
		return nil, err
	}
	stored, err := s.h.im.Service.Send(ctx, st.app, st.user, im.Target{User: req.ToUser, Group: req.GroupID}, im.Message{
		ClientMsgID: req.ClientMsgID, Elements: els, CloudCustomData: req.CloudCustomData, NeedReadReceipt: req.NeedReadReceipt,
	})
	if err != nil {
		return nil, err
	}
	return protocol.IMSent{Conv: string(stored.Conv), Seq: stored.Seq, At: stored.At.UnixMilli(), Duplicate: stored.Duplicate}, nil
}

// request is an IM request with a shape check.
type request interface{ Validate() error }

// decodeRequest decodes env's data into req strictly and checks its shape.
func decodeRequest(env protocol.Envelope, req request) error {
	if err := protocol.DecodeData(env, req); err != nil {
		return err
	}
	return req.Validate()
}

func wireRecords(rs []im.Record) []protocol.IMMessage {
	out := make([]protocol.IMMessage, len(rs))
	for i, r := range rs {
		out[i] = imgw.Wire(r, nil, "")
	}
	return out
}

func (s *session) imSync(ctx context.Context, env protocol.Envelope, st *imState) (any, error) {
	var req protocol.IMSync
	if err := decodeRequest(env, &req); err != nil {
		return nil, err
	}
	conv, err := im.ParseConv(req.Conv)
	if err != nil {
		return nil, err
	}
	limit := req.Limit
	if limit == 0 {
		limit = protocol.MaxIMPageSize
	}
	rs, err := s.h.im.Service.Sync(ctx, st.app, st.user, conv, req.AfterSeq, limit)
	if err != nil {
		return nil, err
	}
	return protocol.IMMessages{Messages: wireRecords(rs), More: len(rs) == limit}, nil
}

func (s *session) imHistory(ctx context.Context, env protocol.Envelope, st *imState) (any, error) {
	var req protocol.IMHistory
	if err := decodeRequest(env, &req); err != nil {
		return nil, err
	}
	conv, err := im.ParseConv(req.Conv)
	if err != nil {
		return nil, err
	}
	rs, err := s.h.im.Service.History(ctx, st.app, st.user, conv, req.BeforeSeq, req.Limit)
	if err != nil {
		return nil, err
	}
	return protocol.IMMessages{Messages: wireRecords(rs)}, nil
}

func (s *session) imConvs(ctx context.Context, st *imState) (any, error) {
	cs, err := s.h.im.Service.Conversations(ctx, st.app, st.user)
	if err != nil {
		return nil, err
	}
	out := protocol.IMConversations{Conversations: make([]protocol.IMConversation, len(cs))}
	for i, c := range cs {
		out.Conversations[i] = protocol.IMConversation{Conv: string(c.Conv), LastSeq: c.LastSeq, ReadSeq: c.ReadSeq, Unread: c.Unread}
	}
	return out, nil
}

// imMessageOp serves im_read, im_read_by and im_recall, which all name
// one message.
func (s *session) imMessageOp(ctx context.Context, env protocol.Envelope, st *imState) (any, error) {
	var req protocol.IMRead
	if err := decodeRequest(env, &req); err != nil {
		return nil, err
	}
	conv, err := im.ParseConv(req.Conv)
	if err != nil {
		return nil, err
	}
	svc := s.h.im.Service
	switch env.Type {
	case protocol.TypeIMRead:
		cur, err := svc.MarkRead(ctx, st.app, st.user, conv, req.Seq)
		if err != nil {
			return nil, err
		}
		return protocol.IMReadResult{ReadSeq: cur}, nil
	case protocol.TypeIMReadBy:
		users, err := svc.ReadByAs(ctx, st.app, st.user, conv, req.Seq)
		if err != nil {
			return nil, err
		}
		return protocol.IMReadBy{Users: users}, nil
	default:
		r, err := svc.Recall(ctx, st.app, st.user, conv, req.Seq)
		if err != nil {
			return nil, err
		}
		return imgw.Wire(r, nil, ""), nil
	}
}

func (s *session) imExt(ctx context.Context, env protocol.Envelope, st *imState) (any, error) {
	var req protocol.IMExt
	if err := protocol.DecodeData(env, &req); err != nil {
		return nil, err
	}
	conv, err := im.ParseConv(req.Conv)
	if err != nil {
		return nil, err
	}
	svc := s.h.im.Service
	var setErr error
	if len(req.Set) > 0 {
		// A conflict still stores the other keys; the reply is the
		// conflict error (23001 naming the keys that lost), and a read
		// shows what was stored.
		setErr = svc.SetExtensions(ctx, st.app, st.user, conv, req.Seq, req.Set)
		if setErr != nil && !errors.Is(setErr, im.ErrExtensionConflict) {
			return nil, setErr
		}
	}
	kv, err := svc.Extensions(ctx, st.app, st.user, conv, req.Seq)
	if err != nil {
		return nil, err
	}
	if setErr != nil {
		return nil, setErr
	}
	return protocol.IMExtensions{Extensions: kv}, nil
}

func (s *session) imPushToken(ctx context.Context, env protocol.Envelope, st *imState) (any, error) {
	var req protocol.IMPushToken
	if err := decodeRequest(env, &req); err != nil {
		return nil, err
	}
	if !st.scope.Switches[pushTokenSwitch] {
		return nil, Refuse(protocol.ErrCodeFieldRejected, errors.New(`im.push_token: switch "`+pushTokenSwitch+`" is off`))
	}
	if req.DeviceModel != "" && !st.scope.Switches[deviceModelSwitch] {
		// SWITCH-1: an optional field the app did not turn on is refused,
		// not silently used.
		return nil, Refuse(protocol.ErrCodeFieldRejected, errors.New(`im.device_model: switch "`+deviceModelSwitch+`" is off`))
	}
	if st.device == "" {
		return nil, Refuse(protocol.ErrCodeBadRequest, errors.New("push tokens are per device: log in with a device_id"))
	}
	vendor, err := imgw.VendorFor(req.DeviceModel, st.scope.Platform, req.Vendor)
	if err != nil {
		return nil, Refuse(protocol.ErrCodeBadRequest, err)
	}
	// The model chose the vendor and is dropped here: only the vendor and
	// token are stored.
	if err := s.h.im.Hub.RegisterToken(ctx, store.IMPushToken{SDKAppID: st.app, UserID: st.user, DeviceID: st.device,
		Vendor: vendor, Token: req.Token}); err != nil {
		if errors.Is(err, imgw.ErrNoPush) {
			return nil, Refuse(protocol.ErrCodeBadRequest, err)
		}
		return nil, err
	}
	return protocol.IMPushRegistered{Vendor: vendor}, nil
}

// imSignal relays a peer-to-peer custom signal: not stored, not logged,
// with custom_cmd's switch, purpose and budget (REFERENCE.md §1.3).
func (s *session) imSignal(env protocol.Envelope, st *imState) error {
	var req protocol.IMSignal
	if err := protocol.DecodeData(env, &req); err != nil {
		return err
	}
	if err := req.Validate(); err != nil {
		return Refuse(protocol.ErrCodeBadRequest, err)
	}
	switch {
	case !st.scope.Switches["ext.rts"]:
		return Refuse(protocol.ErrCodeFieldRejected, errors.New(rtsElement+`: switch "ext.rts" is off`))
	case !st.scope.Purposes[protocol.PurposeSignaling]:
		return Refuse(protocol.ErrCodeConsentRequired, errors.New(rtsElement+`: consent does not cover purpose "signaling"`))
	}
	s.mu.Lock()
	if st.sigs == nil {
		st.sigs = newRTSLimits()
	}
	lim := st.sigs
	s.mu.Unlock()
	if !lim.msgs.Allow() || !lim.bytes.AllowN(s.h.cfg.Now(), len(req.Data)) {
		return Refuse(protocol.ErrCodeRateLimited, errors.New("signals: at most 30 per second and 8 KB per second"))
	}
	conns := s.h.im.Hub.Online(st.app, req.ToUser)
	if len(conns) == 0 {
		if req.Reliable {
			return Refuse(protocol.ErrCodePeerOffline, errors.New("the peer is not online; the signal was not delivered"))
		}
		return nil
	}
	s.mu.Lock()
	lim.seq++
	ev := protocol.IMSignalEvent{From: st.user, Seq: lim.seq, Data: req.Data}
	s.mu.Unlock()
	for _, c := range conns {
		c.NotifyIM(protocol.TypeIMSignal, ev)
	}
	return nil
}

// handleRoomChat relays a chat message to the sender's room (the room's
// chat channel): validated as an IM message, numbered per sender
// connection, never stored (like AVChatRoom). It needs purpose "im".
func (s *session) handleRoomChat(env protocol.Envelope) {
	p, _, ok := s.joined(env.ID)
	if !ok {
		return
	}
	var req protocol.RoomChat
	if err := protocol.DecodeData(env, &req); err != nil {
		s.replyError(env.ID, protocol.ErrCodeBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	scope, withdrawn := s.scope, s.withdrawn
	s.mu.Unlock()
	switch {
	case withdrawn:
		s.replyError(env.ID, protocol.ErrCodeConsentRequired, "consent withdrawn: no messages are accepted from this device")
		return
	case !scope.Purposes[protocol.PurposeIM]:
		s.replyError(env.ID, protocol.ErrCodeConsentRequired, `room chat: consent does not cover purpose "im"`)
		return
	}
	els, err := im.DecodeElements(req.Elements)
	if err == nil {
		err = im.ValidateElements(els)
	}
	if err != nil {
		s.replyIMErr(env.ID, err)
		return
	}
	limit := im.DefaultMaxMessageBytes
	if s.h.im != nil {
		limit = s.h.im.Service.MaxMessageBytes()
	}
	if n := len(req.Elements) + len(req.CloudCustomData); n > limit {
		s.replyError(env.ID, im.Code(im.ErrTooLarge), fmt.Sprintf("room chat: %d bytes, limit %d", n, limit))
		return
	}
	now := s.h.cfg.Now()
	s.mu.Lock()
	s.chatSeq++
	seq := s.chatSeq
	s.mu.Unlock()
	ev := protocol.RoomChatEvent{UserID: p.UserID, Seq: seq, At: now.UnixMilli(), Elements: json.RawMessage(req.Elements), CloudCustomData: req.CloudCustomData}
	if err := p.Room().Chat(p, protocol.TypeRoomChat, ev); err != nil {
		s.replyError(env.ID, protocol.ErrCodeNotInRoom, "room chat: "+err.Error())
		return
	}
	s.send(protocol.TypeIMResult, env.ID, protocol.IMSent{Conv: "room:" + p.Room().Ref.String(), Seq: seq, At: now.UnixMilli()}, false)
}

// imGroup serves im_group operations.
func (s *session) imGroup(ctx context.Context, env protocol.Envelope, st *imState) (any, error) {
	var req protocol.IMGroupOp
	if err := decodeRequest(env, &req); err != nil {
		return nil, err
	}
	svc, app, me := s.h.im.Service, st.app, st.user
	switch req.Op {
	case protocol.GroupOpCreate:
		g, err := svc.CreateGroup(ctx, app, me, im.GroupSpec{ID: req.GroupID, Type: im.GroupType(req.Type), Name: req.Name})
		if err != nil {
			return nil, err
		}
		return protocol.IMGroupResult{Group: groupInfo(g)}, nil
	case protocol.GroupOpJoin:
		res, err := svc.JoinGroup(ctx, app, me, req.GroupID)
		if err != nil {
			return nil, err
		}
		return protocol.IMGroupResult{Pending: res == im.Pending}, nil
	case protocol.GroupOpLeave:
		return protocol.IMGroupResult{}, svc.LeaveGroup(ctx, app, me, req.GroupID)
	case protocol.GroupOpInvite:
		_, err := svc.InviteMember(ctx, app, me, req.GroupID, req.UserID)
		return protocol.IMGroupResult{}, err
	case protocol.GroupOpKick:
		return protocol.IMGroupResult{}, svc.KickMember(ctx, app, me, req.GroupID, req.UserID)
	case protocol.GroupOpMute:
		return protocol.IMGroupResult{}, svc.MuteMember(ctx, app, me, req.GroupID, req.UserID, time.Duration(req.MuteSeconds)*time.Second)
	case protocol.GroupOpSetRole:
		return protocol.IMGroupResult{}, svc.SetRole(ctx, app, me, req.GroupID, req.UserID, im.Role(req.Role))
	case protocol.GroupOpApprove:
		_, err := svc.ApproveJoin(ctx, app, me, req.GroupID, req.UserID)
		return protocol.IMGroupResult{}, err
	case protocol.GroupOpReject:
		return protocol.IMGroupResult{}, svc.RejectJoin(ctx, app, me, req.GroupID, req.UserID)
	case protocol.GroupOpDismiss:
		return protocol.IMGroupResult{}, svc.DismissGroup(ctx, app, me, req.GroupID)
	case protocol.GroupOpRequests:
		reqs, err := svc.JoinRequests(ctx, app, me, req.GroupID)
		if err != nil {
			return nil, err
		}
		out := protocol.IMGroupResult{Requests: make([]string, len(reqs))}
		for i, r := range reqs {
			out.Requests[i] = r.UserID
		}
		return out, nil
	default: // members, info: members only
		g, err := svc.Group(ctx, app, req.GroupID)
		if err != nil {
			return nil, err
		}
		ms, err := svc.Members(ctx, app, req.GroupID)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(ms, func(m im.Member) bool { return m.UserID == me }) {
			return nil, im.ErrNotMember
		}
		out := protocol.IMGroupResult{Group: groupInfo(g)}
		if req.Op == protocol.GroupOpMembers {
			out.Members = make([]protocol.IMGroupMember, len(ms))
			for i, m := range ms {
				out.Members[i] = protocol.IMGroupMember{UserID: m.UserID, Role: string(m.Role)}
				if !m.MutedUntil.IsZero() {
					out.Members[i].MutedUntil = m.MutedUntil.UnixMilli()
				}
			}
		}
		return out, nil
	}
}

func groupInfo(g im.Group) *protocol.IMGroupInfo {
	return &protocol.IMGroupInfo{GroupID: g.GroupID, Type: string(g.Type), Name: g.Name, Owner: g.Owner, CreatedAt: g.CreatedAt.UnixMilli()}
}

// EndIMLogins ends every messaging login of user in app and closes those
// connections after an error frame (ErrCodeConsentRequired, with why as
// its message). The rights service calls it when the user's account is
// cancelled or their data deleted: nothing more may be delivered to the
// old connections, and the SDKs treat the code as "log in again only
// after fresh consent" instead of reconnecting. No state-change callback
// is sent, since the user id is being erased. It returns how many
// connections it closed.
func (h *Handler) EndIMLogins(app uint32, user, why string) int {
	if h.im == nil {
		return 0
	}
	h.mu.Lock()
	sessions := make([]*session, 0, len(h.sessions))
	for s := range h.sessions {
		sessions = append(sessions, s)
	}
	h.mu.Unlock()
	ended := 0
	for _, s := range sessions {
		s.mu.Lock()
		st := s.im
		mine := st != nil && st.app == app && st.user == user
		if mine {
			s.im = nil
		}
		s.mu.Unlock()
		if !mine {
			continue
		}
		h.im.Hub.Detach(st.app, st.user, imConn{s})
		s.send(protocol.TypeError, 0, protocol.Error{Code: protocol.ErrCodeConsentRequired, Message: why}, true)
		ended++
	}
	return ended
}
