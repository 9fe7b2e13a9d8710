package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-rtc/parley/internal/config"
	"github.com/parley-rtc/parley/internal/im"
	"github.com/parley-rtc/parley/internal/imgw"
	"github.com/parley-rtc/parley/internal/signal"
	"github.com/parley-rtc/parley/internal/store/sqlite"
	"github.com/parley-rtc/parley/internal/webhook"
)

// messaging wires the IM service to the gateway (online delivery, push)
// and to the app backend's callbacks: before-send (synchronous, may veto
// or modify), after-send (durable before the sender's ack), membership
// and state changes, and offline pushes (the built-in Pusher).
type messaging struct {
	svc     *im.Service
	hub     *imgw.Hub
	hooks   *webhooks
	targets callbackTargets
	caller  *webhook.Caller
	cfg     config.IMConfig
	log     *slog.Logger
	now     func() time.Time
}

func newMessaging(db *sqlite.DB, cfg config.IMConfig, hooks *webhooks, targets callbackTargets,
	log *slog.Logger, reg prometheus.Registerer, now func() time.Time) (*messaging, error) {
	m := &messaging{hooks: hooks, targets: targets, cfg: cfg, log: log, now: now}
	caller, err := webhook.NewCaller(nil, nil, log, nil)
	if err != nil {
		return nil, err
	}
	m.caller = caller
	hk := im.Hooks{Publish: m.publish, PublishBatch: m.publishBatch, AfterStore: m.afterStore}
	if cfg.BeforeSendCallback {
		hk.BeforeSend = m.beforeSend
	}
	receipts := make([]im.GroupType, len(cfg.ReceiptGroupTypes))
	for i, t := range cfg.ReceiptGroupTypes {
		receipts[i] = im.GroupType(t)
	}
	m.svc, err = im.New(db, im.Options{MaxMessageBytes: cfg.MaxMessageBytes, GroupRate: cfg.GroupRate,
		RecallWindow: cfg.RecallWindow, ReceiptGroupTypes: receipts, Now: now, Logger: log, Hooks: hk})
	if err != nil {
		return nil, fmt.Errorf("im: %w", err)
	}
	m.hub, err = imgw.New(imgw.Config{Members: m.svc, Tokens: db, Pusher: webhookPusher{m}, Logger: log, Registerer: reg, Now: now})
	if err != nil {
		return nil, err
	}
	return m, nil
}

func (m *messaging) close() error {
	m.hub.Close()
	return m.svc.Close()
}

// signalMessaging is what signaling sessions need.
func (m *messaging) signalMessaging(auth signal.LoginAuthorizer) signal.Messaging {
	return signal.Messaging{Service: m.svc, Hub: m.hub, Auth: auth, OnState: m.stateChanged}
}

// publishBatch fans a committed batch out (message events only).
func (m *messaging) publishBatch(evs []im.Event) {
	if m.hub != nil {
		m.hub.PublishBatch(evs)
	}
}

func (m *messaging) publish(ev im.Event) {
	if m.hub != nil {
		m.hub.Publish(ev)
	}
	if ev.Kind == im.EventMembership {
		m.membershipCallback(ev)
	}
}

// --- Tencent IM callback bodies (https://cloud.tencent.com/document/product/269/1522) ---

type memberRef struct {
	Account string `json:"Member_Account"`
}

func memberRefs(users []string) []memberRef {
	out := make([]memberRef, len(users))
	for i, u := range users {
		out[i] = memberRef{u}
	}
	return out
}

// msgCallback is the body of the before- and after-send callbacks.
type msgCallback struct {
	CallbackCommand string          `json:"CallbackCommand"`
	EventID         string          `json:"EventId,omitempty"`
	EventTime       int64           `json:"EventTime"`
	FromAccount     string          `json:"From_Account"`
	ToAccount       string          `json:"To_Account,omitempty"`
	GroupID         string          `json:"GroupId,omitempty"`
	Type            string          `json:"Type,omitempty"`
	MsgSeq          int64           `json:"MsgSeq,omitempty"`
	MsgTime         int64           `json:"MsgTime,omitempty"`
	MsgBody         json.RawMessage `json:"MsgBody"`
	CloudCustomData string          `json:"CloudCustomData,omitempty"`
}

func (m *messaging) msgBody(command string, app uint32, sender string, conv im.Conv, gtype im.GroupType, body []byte, custom string) msgCallback {
	cb := msgCallback{FromAccount: sender, EventTime: m.now().UnixMilli(), MsgBody: body, CloudCustomData: custom}
	if gid, ok := conv.Group(); ok {
		cb.CallbackCommand, cb.GroupID, cb.Type = "Group."+command, gid, string(gtype)
	} else if a, b, ok := conv.Peers(); ok {
		cb.CallbackCommand, cb.ToAccount = "C2C."+command, a
		if a == sender {
			cb.ToAccount = b
		}
	}
	return cb
}

// beforeSend asks the app backend (C2C/Group.CallbackBeforeSendMsg, 2 s
// fixed budget, REFERENCE.md §2). A veto is ErrVetoed (10016) in groups and ErrVetoedC2C (20006) in C2C; a reply MsgBody
// replaces the elements; on timeout or failure the configured default
// applies.
func (m *messaging) beforeSend(ctx context.Context, app uint32, sender string, conv im.Conv, msg im.Message) (im.Message, error) {
	tgt, ok, err := m.targets.Target(ctx, app)
	if err != nil {
		return im.Message{}, fmt.Errorf("before-send callback target: %w", err)
	}
	if !ok {
		return msg, nil
	}
	body, err := im.EncodeElements(msg.Elements)
	if err != nil {
		return im.Message{}, err
	}
	var gtype im.GroupType
	if gid, ok := conv.Group(); ok {
		if g, err := m.svc.Group(ctx, app, gid); err == nil {
			gtype = g.Type
		}
	}
	raw, err := json.Marshal(m.msgBody("CallbackBeforeSendMsg", app, sender, conv, gtype, body, msg.CloudCustomData))
	if err != nil {
		return im.Message{}, err
	}
	dec, err := m.caller.CallBefore(ctx, app, tgt.URL, tgt.Key, raw, webhook.DefaultBeforeTimeout, m.cfg.BeforeSendDefaultAllow)
	if err != nil && !errors.Is(err, webhook.ErrCallbackFailed) {
		return im.Message{}, err
	}
	veto := im.ErrVetoed // groups: 10016
	if _, group := conv.Group(); !group {
		veto = im.ErrVetoedC2C // 20006
	}
	if !dec.Allow {
		return im.Message{}, vetoErr(dec, veto, conv)
	}
	if dec.Modified != nil {
		els, err := im.DecodeElements(dec.Modified)
		if err != nil {
			return im.Message{}, fmt.Errorf("%w: the callback's MsgBody: %w", veto, err)
		}
		msg.Elements = els
	}
	return msg, nil
}

// vetoErr maps the backend's ErrorCode as Tencent IM does: 2 discards
// silently; a code in the app's range (10100–10200 for group messages,
// 120001–130000 for C2C) reaches the sender as is; anything else is
// 10016 (group) or 20006 (C2C).
func vetoErr(dec webhook.Decision, veto *im.Error, conv im.Conv) error {
	_, group := conv.Group()
	switch {
	case dec.Code == 2 && !dec.TimedOut:
		return im.ErrDiscarded
	case group && dec.Code >= 10100 && dec.Code <= 10200, !group && dec.Code >= 120001 && dec.Code <= 130000:
		return im.VetoError(dec.Code, dec.Reason, veto)
	}
	return fmt.Errorf("%w: %s", veto, dec.Reason)
}

// afterStoreEventID names a message's after-send callback so that a
// retried send (after a crash between storing and acknowledging) enqueues
// it at most once.
func afterStoreEventID(app uint32, conv im.Conv, seq int64) string {
	h := sha256.Sum256([]byte(strconv.FormatUint(uint64(app), 10) + "\x00" + string(conv) + "\x00" + strconv.FormatInt(seq, 10)))
	return "im-after-" + hex.EncodeToString(h[:16])
}

// afterStore durably enqueues C2C/Group.CallbackAfterSendMsg before the
// sender is acknowledged (issue 4 item 7: an accepted event is delivered
// across restarts). Apps without a callback skip it.
func (m *messaging) afterStore(ctx context.Context, ev im.Event) error {
	cb := m.msgBody("CallbackAfterSendMsg", ev.App, ev.Message.Sender, ev.Conv, ev.GroupType, ev.Body, ev.Message.CloudCustomData)
	cb.MsgSeq, cb.MsgTime = ev.Message.Seq, ev.Message.At.Unix()
	cb.EventID = afterStoreEventID(ev.App, ev.Conv, ev.Message.Seq)
	raw, err := json.Marshal(cb)
	if err != nil {
		return err
	}
	_, err = m.hooks.dispatcher.Enqueue(ctx, ev.App, cb.EventID, raw)
	return err
}

// membershipCallback enqueues Group.CallbackAfterNewMemberJoin,
// CallbackAfterMemberExit or CallbackAfterGroupDestroyed.
func (m *messaging) membershipCallback(ev im.Event) {
	body := map[string]any{"GroupId": ev.Group, "EventTime": ev.At.UnixMilli()}
	switch ev.Change {
	case im.ChangeJoined:
		body["CallbackCommand"], body["NewMemberList"] = "Group.CallbackAfterNewMemberJoin", memberRefs(ev.Users)
	case im.ChangeLeft, im.ChangeKicked:
		exit := "Quit"
		if ev.Change == im.ChangeKicked {
			exit = "Kicked"
		}
		body["CallbackCommand"], body["ExitType"], body["ExitMemberList"] = "Group.CallbackAfterMemberExit", exit, memberRefs(ev.Users)
	case im.ChangeDismissed:
		body["CallbackCommand"] = "Group.CallbackAfterGroupDestroyed"
	default:
		return
	}
	m.enqueue(ev.App, body)
}

// stateChanged enqueues State.StateChange for logins, logouts and
// disconnects.
func (m *messaging) stateChanged(app uint32, user, action string) {
	reason := map[string]string{signal.StateLogin: "Register", signal.StateLogout: "Unregister", signal.StateDisconnect: "LinkClose"}[action]
	m.enqueue(app, map[string]any{"CallbackCommand": "State.StateChange", "EventTime": m.now().UnixMilli(),
		"Info": map[string]string{"Action": action, "To_Account": user, "Reason": reason}})
}

func (m *messaging) enqueue(app uint32, body map[string]any) {
	id := webhook.NewEventID(m.now())
	body["EventId"] = id
	raw, err := json.Marshal(body)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = m.hooks.dispatcher.Enqueue(ctx, app, id, raw)
		cancel()
	}
	if err != nil {
		m.log.Warn("im: callback not enqueued", "sdkappid", app, "command", body["CallbackCommand"], "cause", im.Cause(err))
	}
}

// webhookPusher is the built-in imgw.Pusher: a signed, durable callback
// (Parley.OfflinePush) to the app's backend, which forwards it to the
// vendor's gateway. It names the message, not its content.
type webhookPusher struct{ m *messaging }

func (p webhookPusher) Push(ctx context.Context, n imgw.Notice) error {
	h := sha256.Sum256([]byte(fmt.Sprintf("%d\x00%s\x00%s\x00%s\x00%d", n.App, n.User, n.DeviceID, n.Conv, n.Seq)))
	id := "im-push-" + hex.EncodeToString(h[:16])
	body := map[string]any{"CallbackCommand": "Parley.OfflinePush", "EventId": id, "EventTime": p.m.now().UnixMilli(),
		"To_Account": n.User, "Vendor": n.Vendor, "PushToken": n.Token, "From_Account": n.Sender,
		"MsgSeq": n.Seq, "MsgTime": n.At.Unix()}
	if n.GroupID != "" {
		body["GroupId"] = n.GroupID
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	_, err = p.m.hooks.dispatcher.Enqueue(ctx, n.App, id, raw)
	return err
}
