package parley

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/parley-rtc/parley/protocol"
)

// IMTarget is where a message goes: exactly one of User (C2C) or Group.
type IMTarget struct {
	User  string
	Group string
}

// OutMessage is a message to send. Elements is Tencent IM's MsgBody
// (TextElements and CustomElements build the common ones).
type OutMessage struct {
	// ClientMsgID deduplicates retries; empty gets a random one. Send
	// retries across a reconnect with the same id, so the receiver sees
	// the message once.
	ClientMsgID     string
	Elements        []protocol.IMElement
	CloudCustomData string
	NeedReadReceipt bool
}

// TextElements is a body of one text element.
func TextElements(text string) []protocol.IMElement {
	c, _ := json.Marshal(map[string]string{"Text": text})
	return []protocol.IMElement{{MsgType: protocol.IMElemText, MsgContent: c}}
}

// CustomElements is a body of one custom element; data is the app's JSON.
func CustomElements(data, desc string) []protocol.IMElement {
	c, _ := json.Marshal(map[string]string{"Data": data, "Desc": desc})
	return []protocol.IMElement{{MsgType: protocol.IMElemCustom, MsgContent: c}}
}

// Send sends a message and returns once the server stored it (for an
// AVChatRoom: numbered it). A lost connection does not lose or duplicate
// it: Send waits for the reconnect and retries with the same client
// message id until ctx ends. Server refusals are *ServerError with Tencent
// IM's ErrorCode (80002 too large, 10023 rate limited, 80001 vetoed by the
// app's before-send callback …).
func (m *Messenger) Send(ctx context.Context, to IMTarget, msg OutMessage) (protocol.IMSent, error) {
	if msg.ClientMsgID == "" {
		msg.ClientMsgID = newClientMsgID()
	}
	els, err := json.Marshal(msg.Elements)
	if err != nil {
		return protocol.IMSent{}, fmt.Errorf("parley: elements: %w", err)
	}
	m.ownIDs.add(msg.ClientMsgID)
	var out protocol.IMSent
	err = m.request(ctx, protocol.TypeIMSend, protocol.IMSend{ClientMsgID: msg.ClientMsgID, ToUser: to.User, GroupID: to.Group,
		Elements: els, CloudCustomData: msg.CloudCustomData, NeedReadReceipt: msg.NeedReadReceipt}, &out, true)
	return out, err
}

// SendText sends one text element.
func (m *Messenger) SendText(ctx context.Context, to IMTarget, text string) (protocol.IMSent, error) {
	return m.Send(ctx, to, OutMessage{Elements: TextElements(text)})
}

// History pages backwards from beforeSeq (0: the newest), newest first.
func (m *Messenger) History(ctx context.Context, conv string, beforeSeq int64, limit int) ([]IMMessage, error) {
	var out protocol.IMMessages
	err := m.request(ctx, protocol.TypeIMHistory, protocol.IMHistory{Conv: conv, BeforeSeq: beforeSeq, Limit: limit}, &out, true)
	return out.Messages, err
}

// Sync returns messages after afterSeq, oldest first, and whether more
// follow. OnMessage already delivers everything; Sync is for apps that
// keep their own cursors.
func (m *Messenger) Sync(ctx context.Context, conv string, afterSeq int64, limit int) ([]IMMessage, bool, error) {
	var out protocol.IMMessages
	err := m.request(ctx, protocol.TypeIMSync, protocol.IMSync{Conv: conv, AfterSeq: afterSeq, Limit: limit}, &out, true)
	return out.Messages, out.More, err
}

// Conversations lists the user's conversations with unread counts.
func (m *Messenger) Conversations(ctx context.Context) ([]protocol.IMConversation, error) {
	var out protocol.IMConversations
	err := m.request(ctx, protocol.TypeIMConvs, nil, &out, true)
	return out.Conversations, err
}

// MarkRead moves the read cursor of conv to seq (never back) and sends a
// receipt to the other party; it returns the cursor.
func (m *Messenger) MarkRead(ctx context.Context, conv string, seq int64) (int64, error) {
	var out protocol.IMReadResult
	err := m.request(ctx, protocol.TypeIMRead, protocol.IMRead{Conv: conv, Seq: seq}, &out, true)
	return out.ReadSeq, err
}

// ReadBy lists who, other than the sender, read message seq.
func (m *Messenger) ReadBy(ctx context.Context, conv string, seq int64) ([]string, error) {
	var out protocol.IMReadBy
	err := m.request(ctx, protocol.TypeIMReadBy, protocol.IMRead{Conv: conv, Seq: seq}, &out, true)
	return out.Users, err
}

// Recall recalls a message (within the window; owners and admins may
// recall others' group messages). It returns the tombstone.
func (m *Messenger) Recall(ctx context.Context, conv string, seq int64) (IMMessage, error) {
	var out IMMessage
	err := m.request(ctx, protocol.TypeIMRecall, protocol.IMRecall{Conv: conv, Seq: seq}, &out, false)
	return out, err
}

// Group runs a group operation (protocol.GroupOp*).
func (m *Messenger) Group(ctx context.Context, op protocol.IMGroupOp) (protocol.IMGroupResult, error) {
	var out protocol.IMGroupResult
	err := m.request(ctx, protocol.TypeIMGroup, op, &out, false)
	return out, err
}

// SetExtensions sets KV extensions on a message (first writer wins: a key
// someone else set first fails with code 23001, the others are stored) and
// returns the message's extensions.
func (m *Messenger) SetExtensions(ctx context.Context, conv string, seq int64, kv map[string]string) (map[string]string, error) {
	var out protocol.IMExtensions
	err := m.request(ctx, protocol.TypeIMExt, protocol.IMExt{Conv: conv, Seq: seq, Set: kv}, &out, true)
	return out.Extensions, err
}

// RegisterPushToken registers this device's offline-push token; it needs
// the field.im.push_token switch (inventory im.push_token). The device
// model goes to the server only if the init config turned on
// field.im.device_model (the server then picks the vendor channel from
// it); otherwise vendor names the channel ("" = FCM, APNs on iOS). It
// returns the vendor chosen.
func (m *Messenger) RegisterPushToken(ctx context.Context, token, deviceModel, vendor string) (string, error) {
	if !m.c.switchOn(fieldPrefix + elIMPushToken) {
		return "", fmt.Errorf("%w: push tokens need the %q switch", ErrSwitchOff, fieldPrefix+elIMPushToken)
	}
	req := protocol.IMPushToken{Token: token, Vendor: vendor}
	if m.c.switchOn(fieldPrefix + elIMDevice) {
		req.DeviceModel = deviceModel
	}
	var out protocol.IMPushRegistered
	err := m.request(ctx, protocol.TypeIMPushToken, req, &out, true)
	return out.Vendor, err
}

// SendSignal sends a peer-to-peer custom signal (RTS extension, ext.rts):
// not stored; reliable fails when the peer is offline, otherwise the
// signal is dropped for an offline peer.
func (m *Messenger) SendSignal(ctx context.Context, toUser string, data []byte, reliable bool) error {
	return m.request(ctx, protocol.TypeIMSignal, protocol.IMSignal{ToUser: toUser, Data: data, Reliable: reliable}, nil, false)
}
