package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Instant messaging over the signaling WebSocket (issue 4). A connection
// logs in to messaging with im_login, independently of any room; after
// that it sends and receives messages, syncs what it missed by sequence
// number, reads history, marks conversations read, recalls, manages
// groups, registers a push token and exchanges peer-to-peer signals.
//
// Every IM request carries an id and is answered by im_result (data as
// listed) or by error. IM errors carry Tencent IM's positive ErrorCode
// numbers (docs/protocol.md lists them); login refusals carry the TRTC and
// Parley codes of join (-3317 sdkappid, -3319 user id, -3320 user_sig,
// -4008 consent …).
const (
	TypeIMLogin     Type = "im_login"      // IMLogin → IMLoggedIn
	TypeIMLogout    Type = "im_logout"     // no data → ok; no offline push afterwards
	TypeIMSend      Type = "im_send"       // IMSend → im_result IMSent
	TypeIMSync      Type = "im_sync"       // IMSync → im_result IMMessages (oldest first)
	TypeIMHistory   Type = "im_history"    // IMHistory → im_result IMMessages (newest first)
	TypeIMConvs     Type = "im_convs"      // no data → im_result IMConversations
	TypeIMRead      Type = "im_read"       // IMRead → im_result IMReadResult; peers get im_receipt
	TypeIMReadBy    Type = "im_read_by"    // IMRead → im_result IMReadBy
	TypeIMRecall    Type = "im_recall"     // IMRecall → im_result IMMessage (the tombstone); members get im_recalled
	TypeIMGroup     Type = "im_group"      // IMGroupOp → im_result IMGroupResult
	TypeIMExt       Type = "im_ext"        // IMExt → im_result IMExtensions
	TypeIMPushToken Type = "im_push_token" // IMPushToken → im_result IMPushRegistered
	TypeIMSignal    Type = "im_signal"     // client → server IMSignal → ok; server → client IMSignalEvent
	TypeRoomChat    Type = "room_chat"     // client → server RoomChat → im_result IMSent; server → client RoomChatEvent

	TypeIMLoggedIn   Type = "im_logged_in"   // IMLoggedIn
	TypeIMResult     Type = "im_result"      // the reply to an IM request
	TypeIMMessage    Type = "im_message"     // IMPush: new messages, in seq order per conversation
	TypeIMRecalled   Type = "im_recalled"    // IMMessage tombstone of a recalled message
	TypeIMReceipt    Type = "im_receipt"     // IMReceipt
	TypeIMGroupEvent Type = "im_group_event" // IMGroupEvent
)

func init() {
	for _, t := range []Type{TypeIMLogin, TypeIMLogout, TypeIMSend, TypeIMSync, TypeIMHistory, TypeIMConvs,
		TypeIMRead, TypeIMReadBy, TypeIMRecall, TypeIMGroup, TypeIMExt, TypeIMPushToken, TypeIMSignal,
		TypeRoomChat, TypeIMLoggedIn, TypeIMResult, TypeIMMessage, TypeIMRecalled, TypeIMReceipt, TypeIMGroupEvent} {
		knownTypes[t] = true
	}
}

// IM limits of the wire format. The message size limit itself (12 KB by
// default, REFERENCE.md §2) is the server's, configurable, and checked on
// the encoded elements plus cloud_custom_data.
const (
	MaxIMClientMsgIDBytes = 128
	MaxIMPageSize         = 100
	MaxIMSignalBytes      = 1024 // as custom_cmd (REFERENCE.md §1.3)
	MaxPushTokenBytes     = 512
	MaxDeviceModelBytes   = 64
	MaxMuteSeconds        = 1<<32 - 1 // as Tencent IM's MuteTime (about 136 years)
)

// ErrInvalidIM reports a malformed IM request.
var ErrInvalidIM = errors.New("invalid im request")

func imInvalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidIM, fmt.Sprintf(format, a...))
}

// IMLogin logs a connection in to messaging (V2TIMManager.login). Consent
// and switches work as in JoinRequest: messaging is purpose "im".
type IMLogin struct {
	SDKAppID   uint32          `json:"sdkappid"`
	UserID     string          `json:"user_id"`
	UserSig    string          `json:"user_sig"`
	SDKVersion string          `json:"sdk_version,omitempty"`
	DeviceID   string          `json:"device_id,omitempty"`
	Platform   string          `json:"platform,omitempty"`
	Consent    *ConsentClaim   `json:"consent,omitempty"`
	Switches   map[string]bool `json:"switches,omitempty"`
}

// Validate checks the shape (not the credentials).
func (l *IMLogin) Validate() error {
	if l.SDKAppID == 0 {
		return errors.New("sdkappid: required")
	}
	if err := ValidateUserID(l.UserID); err != nil {
		return err
	}
	if l.UserSig == "" {
		return errors.New("user_sig: required")
	}
	return nil
}

// JoinRequest views the login as a join for the checks both share
// (UserSig, consent). It has no room.
func (l *IMLogin) JoinRequest() JoinRequest {
	return JoinRequest{SDKAppID: l.SDKAppID, UserID: l.UserID, UserSig: l.UserSig, SDKVersion: l.SDKVersion,
		DeviceID: l.DeviceID, Platform: l.Platform, Consent: l.Consent, Switches: l.Switches}
}

// IMLoggedIn answers a login. ServerTime is Unix ms.
type IMLoggedIn struct {
	ServerTime int64 `json:"server_time"`
}

// IMSend sends a message to exactly one of ToUser (C2C) or GroupID.
// Elements is Tencent IM's MsgBody array
// ([{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}}]); the server
// validates it element by element.
type IMSend struct {
	ClientMsgID     string          `json:"client_msg_id,omitempty"`
	ToUser          string          `json:"to_user,omitempty"`
	GroupID         string          `json:"group_id,omitempty"`
	Elements        json.RawMessage `json:"elements"`
	CloudCustomData string          `json:"cloud_custom_data,omitempty"`
	NeedReadReceipt bool            `json:"need_read_receipt,omitempty"`
}

// Validate checks the envelope of a send; the elements are the server's.
func (m *IMSend) Validate() error {
	if (m.ToUser == "") == (m.GroupID == "") {
		return imInvalid("exactly one of to_user and group_id is required")
	}
	if len(m.ClientMsgID) > MaxIMClientMsgIDBytes {
		return imInvalid("client_msg_id is over %d bytes", MaxIMClientMsgIDBytes)
	}
	if len(m.Elements) == 0 {
		return imInvalid("elements: required")
	}
	return nil
}

// IMSent acknowledges a send: the message is stored (except AVChatRoom
// and room chat, which keep no history). Duplicate reports a retried
// client_msg_id; seq and at are then the original's.
type IMSent struct {
	Conv      string `json:"conv"`
	Seq       int64  `json:"seq"`
	At        int64  `json:"at"` // Unix ms
	Duplicate bool   `json:"duplicate,omitempty"`
}

// IMMessage is one message as pushed, synced and paged. A recalled or
// erased message is a tombstone without elements.
type IMMessage struct {
	Conv            string          `json:"conv"`
	Seq             int64           `json:"seq"`
	Sender          string          `json:"sender,omitempty"`
	At              int64           `json:"at"` // Unix ms
	ClientMsgID     string          `json:"client_msg_id,omitempty"`
	Elements        json.RawMessage `json:"elements,omitempty"`
	CloudCustomData string          `json:"cloud_custom_data,omitempty"`
	NeedReadReceipt bool            `json:"need_read_receipt,omitempty"`
	Recalled        bool            `json:"recalled,omitempty"`
	RecalledBy      string          `json:"recalled_by,omitempty"`
	Erased          bool            `json:"erased,omitempty"`
	// Live marks an AVChatRoom message: numbered in memory, not stored,
	// so it cannot be synced; receivers take it in arrival order.
	Live bool `json:"live,omitempty"`
}

// IMPush carries new messages. The server batches what is queued for a
// connection into one frame; per conversation they are in seq order.
type IMPush struct {
	Messages []json.RawMessage `json:"messages"`
}

// IMSync asks for the messages of Conv after AfterSeq, oldest first.
type IMSync struct {
	Conv     string `json:"conv"`
	AfterSeq int64  `json:"after_seq"`
	Limit    int    `json:"limit,omitempty"`
}

// IMHistory pages backwards from BeforeSeq (0 = newest).
type IMHistory struct {
	Conv      string `json:"conv"`
	BeforeSeq int64  `json:"before_seq,omitempty"`
	Limit     int    `json:"limit,omitempty"`
}

func checkPage(conv string, seq int64, limit int) error {
	if conv == "" {
		return imInvalid("conv: required")
	}
	if seq < 0 {
		return imInvalid("seq %d is negative", seq)
	}
	if limit < 0 || limit > MaxIMPageSize {
		return imInvalid("limit %d is not 0-%d", limit, MaxIMPageSize)
	}
	return nil
}

// Validate checks the request.
func (r *IMSync) Validate() error { return checkPage(r.Conv, r.AfterSeq, r.Limit) }

// Validate checks the request.
func (r *IMHistory) Validate() error { return checkPage(r.Conv, r.BeforeSeq, r.Limit) }

// IMMessages is a page of messages. More reports that a sync page was
// full: ask again after the last seq.
type IMMessages struct {
	Messages []IMMessage `json:"messages"`
	More     bool        `json:"more,omitempty"`
}

// IMConversation is one entry of the conversation list.
type IMConversation struct {
	Conv    string `json:"conv"`
	LastSeq int64  `json:"last_seq"`
	ReadSeq int64  `json:"read_seq"`
	Unread  int64  `json:"unread"`
}

// IMConversations lists the user's conversations.
type IMConversations struct {
	Conversations []IMConversation `json:"conversations"`
}

// IMRead marks Conv read up to Seq (im_read), or asks who read Seq
// (im_read_by).
type IMRead struct {
	Conv string `json:"conv"`
	Seq  int64  `json:"seq"`
}

// Validate checks the request.
func (r *IMRead) Validate() error {
	if r.Conv == "" || r.Seq < 1 {
		return imInvalid("conv and a seq ≥ 1 are required")
	}
	return nil
}

// IMReadResult is the reader's cursor after im_read.
type IMReadResult struct {
	ReadSeq int64 `json:"read_seq"`
}

// IMReadBy lists who read a message (read receipts).
type IMReadBy struct {
	Users []string `json:"users"`
}

// IMReceipt tells the other party of a conversation that User read up to
// ReadSeq.
type IMReceipt struct {
	Conv    string `json:"conv"`
	User    string `json:"user"`
	ReadSeq int64  `json:"read_seq"`
}

// IMRecall recalls a message.
type IMRecall = IMRead

// Group operations of im_group.
const (
	GroupOpCreate   = "create"
	GroupOpJoin     = "join"
	GroupOpLeave    = "leave"
	GroupOpInvite   = "invite"
	GroupOpKick     = "kick"
	GroupOpMute     = "mute"
	GroupOpSetRole  = "set_role"
	GroupOpApprove  = "approve"
	GroupOpReject   = "reject"
	GroupOpDismiss  = "dismiss"
	GroupOpMembers  = "members"
	GroupOpInfo     = "info"
	GroupOpRequests = "requests"
)

// IMGroupOp is one group operation. Fields used: create (type, name,
// group_id optional); join, leave, dismiss, members, info, requests
// (group_id); invite, kick, approve, reject (group_id, user_id); mute
// (group_id, user_id, mute_seconds, 0 unmutes); set_role (group_id,
// user_id, role "admin" or "member").
type IMGroupOp struct {
	Op          string `json:"op"`
	GroupID     string `json:"group_id,omitempty"`
	Type        string `json:"type,omitempty"`
	Name        string `json:"name,omitempty"`
	UserID      string `json:"user_id,omitempty"`
	Role        string `json:"role,omitempty"`
	MuteSeconds int64  `json:"mute_seconds,omitempty"`
}

// Validate checks that the op is known and has its fields.
func (g *IMGroupOp) Validate() error {
	needUser := false
	switch g.Op {
	case GroupOpCreate:
		if g.Type == "" {
			return imInvalid("create: type is required")
		}
		return nil
	case GroupOpJoin, GroupOpLeave, GroupOpDismiss, GroupOpMembers, GroupOpInfo, GroupOpRequests:
	case GroupOpInvite, GroupOpKick, GroupOpApprove, GroupOpReject, GroupOpMute, GroupOpSetRole:
		needUser = true
	default:
		return imInvalid("op %q is unknown", truncate(g.Op, 32))
	}
	if g.GroupID == "" {
		return imInvalid("%s: group_id is required", g.Op)
	}
	if needUser && g.UserID == "" {
		return imInvalid("%s: user_id is required", g.Op)
	}
	if g.MuteSeconds < 0 || g.MuteSeconds > MaxMuteSeconds {
		return imInvalid("mute_seconds %d is not 0-%d", g.MuteSeconds, MaxMuteSeconds)
	}
	return nil
}

// IMGroupInfo describes a group.
type IMGroupInfo struct {
	GroupID   string `json:"group_id"`
	Type      string `json:"type"`
	Name      string `json:"name,omitempty"`
	Owner     string `json:"owner"`
	CreatedAt int64  `json:"created_at"` // Unix ms
}

// IMGroupMember is one member.
type IMGroupMember struct {
	UserID     string `json:"user_id"`
	Role       string `json:"role"`
	MutedUntil int64  `json:"muted_until,omitempty"` // Unix ms
}

// IMGroupResult answers im_group. Pending reports an application to a
// Public group awaiting approval.
type IMGroupResult struct {
	Group    *IMGroupInfo    `json:"group,omitempty"`
	Members  []IMGroupMember `json:"members,omitempty"`
	Requests []string        `json:"requests,omitempty"`
	Pending  bool            `json:"pending,omitempty"`
}

// Group events of im_group_event.
const (
	GroupEventJoined    = "joined"
	GroupEventLeft      = "left"
	GroupEventKicked    = "kicked"
	GroupEventDismissed = "dismissed"
)

// IMGroupEvent tells online members that membership changed.
type IMGroupEvent struct {
	GroupID string   `json:"group_id"`
	Event   string   `json:"event"`
	Users   []string `json:"users,omitempty"`
}

// IMExt sets message KV extensions (first writer wins) and returns the
// message's extensions; an empty Set only reads.
type IMExt struct {
	Conv string            `json:"conv"`
	Seq  int64             `json:"seq"`
	Set  map[string]string `json:"set,omitempty"`
}

// IMExtensions are a message's extensions.
type IMExtensions struct {
	Extensions map[string]string `json:"extensions"`
}

// IMPushToken registers the device's offline-push token. The vendor
// channel (apns, fcm, huawei, honor, xiaomi, oppo, vivo, meizu) is chosen
// by the server from DeviceModel, which is sent only when the app turned
// on field.im.device_model (inventory im.device_model); without it the
// SDK names Vendor itself, or FCM is used.
type IMPushToken struct {
	Token       string `json:"token"`
	DeviceModel string `json:"device_model,omitempty"`
	Vendor      string `json:"vendor,omitempty"`
}

// Validate checks sizes.
func (p *IMPushToken) Validate() error {
	if p.Token == "" || len(p.Token) > MaxPushTokenBytes {
		return imInvalid("token must be 1-%d bytes", MaxPushTokenBytes)
	}
	if len(p.DeviceModel) > MaxDeviceModelBytes {
		return imInvalid("device_model is over %d bytes", MaxDeviceModelBytes)
	}
	return nil
}

// IMPushRegistered names the vendor channel chosen.
type IMPushRegistered struct {
	Vendor string `json:"vendor"`
}

// IMSignal is a peer-to-peer custom signal (RTS), never stored. Reliable
// asks for an error when the peer is not online; otherwise an offline
// peer's signal is dropped silently.
type IMSignal struct {
	ToUser   string `json:"to_user"`
	Data     []byte `json:"data"` // base64 in JSON
	Reliable bool   `json:"reliable,omitempty"`
}

// Validate checks the recipient and size.
func (s *IMSignal) Validate() error {
	if err := ValidateUserID(s.ToUser); err != nil {
		return err
	}
	if len(s.Data) == 0 || len(s.Data) > MaxIMSignalBytes {
		return imInvalid("data is %d bytes, want 1-%d", len(s.Data), MaxIMSignalBytes)
	}
	return nil
}

// IMSignalEvent delivers a signal. Seq counts the sender connection's
// signals from 1.
type IMSignalEvent struct {
	From string `json:"from"`
	Seq  uint64 `json:"seq"`
	Data []byte `json:"data"`
}

// RoomChat is a chat message to the sender's current room: relayed to the
// participants, numbered per sender connection, not stored (like
// AVChatRoom).
type RoomChat struct {
	Elements        json.RawMessage `json:"elements"`
	CloudCustomData string          `json:"cloud_custom_data,omitempty"`
}

// RoomChatEvent delivers a room chat message.
type RoomChatEvent struct {
	UserID          string          `json:"user_id"`
	Seq             int64           `json:"seq"`
	At              int64           `json:"at"`
	Elements        json.RawMessage `json:"elements"`
	CloudCustomData string          `json:"cloud_custom_data,omitempty"`
}

// IMElement is one element of a Tencent IM MsgBody.
type IMElement struct {
	MsgType    string          `json:"MsgType"`
	MsgContent json.RawMessage `json:"MsgContent"`
}

// Element types of MsgType (REFERENCE.md §2).
const (
	IMElemText     = "TIMTextElem"
	IMElemCustom   = "TIMCustomElem"
	IMElemImage    = "TIMImageElem"
	IMElemSound    = "TIMSoundElem"
	IMElemVideo    = "TIMVideoFileElem"
	IMElemFile     = "TIMFileElem"
	IMElemLocation = "TIMLocationElem"
	IMElemMerger   = "TIMRelayElem"
)

// Text returns the concatenated text elements of a message.
func (m *IMMessage) Text() string {
	var els []IMElement
	if json.Unmarshal(m.Elements, &els) != nil {
		return ""
	}
	var out string
	for _, e := range els {
		if e.MsgType != IMElemText {
			continue
		}
		var t struct{ Text string }
		if json.Unmarshal(e.MsgContent, &t) == nil {
			out += t.Text
		}
	}
	return out
}
