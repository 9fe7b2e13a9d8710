package test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/app"
	"github.com/parley-rtc/parley/internal/config"
	"github.com/parley-rtc/parley/internal/server"
	"github.com/parley-rtc/parley/internal/webhook"
	"github.com/parley-rtc/parley/protocol"
	parley "github.com/parley-rtc/parley/sdk/go"
)

// inbox collects what a Messenger's listener delivers.
type inbox struct {
	msgs     chan parley.IMMessage
	recalled chan parley.IMMessage
	receipts chan protocol.IMReceipt
	groups   chan protocol.IMGroupEvent
	signals  chan string
}

func newInbox() *inbox {
	return &inbox{msgs: make(chan parley.IMMessage, 4096), recalled: make(chan parley.IMMessage, 64),
		receipts: make(chan protocol.IMReceipt, 64), groups: make(chan protocol.IMGroupEvent, 64), signals: make(chan string, 64)}
}

func (in *inbox) listener(t *testing.T) parley.IMListener {
	return parley.IMListener{
		OnMessage:  func(m parley.IMMessage) { in.msgs <- m },
		OnRecalled: func(m parley.IMMessage) { in.recalled <- m },
		OnReceipt: func(conv, user string, seq int64) {
			in.receipts <- protocol.IMReceipt{Conv: conv, User: user, ReadSeq: seq}
		},
		OnGroupEvent: func(ev protocol.IMGroupEvent) { in.groups <- ev },
		OnSignal:     func(from string, data []byte) { in.signals <- from + ":" + string(data) },
		OnError: func(err error) {
			if !errors.Is(err, parley.ErrConnectionLost) && !strings.Contains(err.Error(), "connection lost") {
				t.Logf("im listener error: %v", err)
			}
		},
	}
}

// next returns the next n messages.
func (in *inbox) next(t *testing.T, ctx context.Context, n int) []parley.IMMessage {
	t.Helper()
	out := make([]parley.IMMessage, 0, n)
	for len(out) < n {
		out = append(out, waitFor(t, ctx, in.msgs, fmt.Sprintf("message %d of %d", len(out)+1, n)))
	}
	return out
}

// imClient is an SDK client of user consenting to rtc, im and signaling.
func (e *testEnv) imClient(t *testing.T, user string, cfg parley.Config) *parley.Client {
	t.Helper()
	return e.clientWith(t, user, cfg, testPolicyVersion, protocol.PurposeRTC, protocol.PurposeIM, protocol.PurposeSignaling)
}

// login logs user in to messaging; the Messenger closes when the test ends.
func (e *testEnv) login(t *testing.T, ctx context.Context, c *parley.Client, in *inbox, cursors map[string]int64) *parley.Messenger {
	t.Helper()
	m, err := c.LoginIM(ctx, parley.IMOptions{Listener: in.listener(t), Cursors: cursors})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func serverCode(err error) int {
	var se *parley.ServerError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

func mustGroup(t *testing.T, ctx context.Context, m *parley.Messenger, op protocol.IMGroupOp) protocol.IMGroupResult {
	t.Helper()
	r, err := m.Group(ctx, op)
	if err != nil {
		t.Fatalf("group %s: %v", op.Op, err)
	}
	return r
}

// checkRun asserts msgs are conv's seqs first..first+len-1 with texts
// prefix-0.., in order.
func checkRun(t *testing.T, msgs []parley.IMMessage, conv string, first int64, prefix string) {
	t.Helper()
	for i, m := range msgs {
		want := fmt.Sprintf("%s-%d", prefix, i)
		if m.Conv != conv || m.Seq != first+int64(i) || m.Text() != want {
			t.Fatalf("message %d = %s #%d %q; want %s #%d %q", i, m.Conv, m.Seq, m.Text(), conv, first+int64(i), want)
		}
	}
}

// C2C and group messages arrive in order, once, over real WebSockets with
// the SQLite store; the sender's own messages are not echoed to it.
func TestIMDeliveryInOrder(t *testing.T) {
	env := startServer(t, func(c *config.Config) { c.IM.GroupRate = 1000 })
	ctx := testCtx(t, 60*time.Second)
	ain, bin, cin := newInbox(), newInbox(), newInbox()
	alice := env.login(t, ctx, env.imClient(t, "alice", parley.Config{}), ain, nil)
	bob := env.login(t, ctx, env.imClient(t, "bob", parley.Config{}), bin, nil)
	carol := env.login(t, ctx, env.imClient(t, "carol", parley.Config{}), cin, nil)

	const n = 30
	for i := range n {
		if _, err := alice.SendText(ctx, parley.IMTarget{User: "bob"}, fmt.Sprintf("c2c-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	checkRun(t, bin.next(t, ctx, n), "c2c:alice|bob", 1, "c2c")

	mustGroup(t, ctx, alice, protocol.IMGroupOp{Op: protocol.GroupOpCreate, GroupID: "team", Type: "Work", Name: "Team"})
	mustGroup(t, ctx, alice, protocol.IMGroupOp{Op: protocol.GroupOpInvite, GroupID: "team", UserID: "bob"})
	mustGroup(t, ctx, bob, protocol.IMGroupOp{Op: protocol.GroupOpInvite, GroupID: "team", UserID: "carol"}) // Work: any member invites
	// Senders interleave; the group's seq orders them for everyone.
	var wg sync.WaitGroup
	for _, s := range []*parley.Messenger{alice, bob} {
		wg.Go(func() {
			for i := range n {
				if _, err := s.SendText(ctx, parley.IMTarget{Group: "team"}, fmt.Sprint(i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got := cin.next(t, ctx, 2*n)
	perSender := map[string]int{}
	for i, m := range got {
		if m.Conv != "group:team" || m.Seq != int64(i+1) {
			t.Fatalf("carol's message %d is %s #%d, want group:team #%d", i, m.Conv, m.Seq, i+1)
		}
		if m.Text() != fmt.Sprint(perSender[m.Sender]) {
			t.Fatalf("message from %s out of order: %q, want %d", m.Sender, m.Text(), perSender[m.Sender])
		}
		perSender[m.Sender]++
	}
	// Bob gets alice's n, not his own.
	for _, m := range bin.next(t, ctx, n) {
		if m.Sender != "alice" {
			t.Fatalf("bob got his own message %s #%d", m.Conv, m.Seq)
		}
	}
	select {
	case m := <-ain.msgs:
		if m.Sender == "alice" {
			t.Fatalf("alice got her own message back: %s #%d", m.Conv, m.Seq)
		}
	default:
	}
	hist, err := carol.History(ctx, "group:team", 0, 5)
	if err != nil || len(hist) != 5 || hist[0].Seq != 2*n {
		t.Fatalf("history = %d messages (first %+v), %v", len(hist), hist, err)
	}
}

// An offline client logs in again and receives exactly the messages it
// missed, once, in order, then live ones (sequence-based sync).
func TestIMOfflineSync(t *testing.T) {
	env := startServer(t)
	ctx := testCtx(t, 60*time.Second)
	alice := env.login(t, ctx, env.imClient(t, "alice", parley.Config{}), newInbox(), nil)
	bobClient := env.imClient(t, "bob", parley.Config{})
	bin := newInbox()
	bob := env.login(t, ctx, bobClient, bin, nil)
	for i := range 3 {
		if _, err := alice.SendText(ctx, parley.IMTarget{User: "bob"}, fmt.Sprintf("m-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	checkRun(t, bin.next(t, ctx, 3), "c2c:alice|bob", 1, "m")
	cursors := bob.Cursors()
	if err := bob.Close(); err != nil {
		t.Fatal(err)
	}
	for i := 3; i < 10; i++ {
		if _, err := alice.SendText(ctx, parley.IMTarget{User: "bob"}, fmt.Sprintf("m-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	bin2 := newInbox()
	env.login(t, ctx, bobClient, bin2, cursors)
	missed := bin2.next(t, ctx, 7)
	for i, m := range missed {
		if m.Seq != int64(4+i) || m.Text() != fmt.Sprintf("m-%d", 3+i) {
			t.Fatalf("missed message %d = #%d %q", i, m.Seq, m.Text())
		}
	}
	if _, err := alice.SendText(ctx, parley.IMTarget{User: "bob"}, "live"); err != nil {
		t.Fatal(err)
	}
	// The next delivery is the live one: nothing was delivered twice.
	if m := bin2.next(t, ctx, 1)[0]; m.Seq != 11 || m.Text() != "live" {
		t.Fatalf("after sync got #%d %q, want #11 live", m.Seq, m.Text())
	}
}

// Recall works inside the window (the receiver gets the tombstone and the
// content is gone from history) and fails outside it with 20016 (TIM's C2C code).
func TestIMRecall(t *testing.T) {
	var skew atomic.Int64 // the server clock runs this far ahead of real time
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	env := startServerOpts(t, server.Options{Now: now})
	ctx := testCtx(t, 60*time.Second)
	bin := newInbox()
	alice := env.login(t, ctx, env.imClient(t, "alice", parley.Config{}), newInbox(), nil)
	bob := env.login(t, ctx, env.imClient(t, "bob", parley.Config{}), bin, nil)
	first, err := alice.SendText(ctx, parley.IMTarget{User: "bob"}, "oops")
	if err != nil {
		t.Fatal(err)
	}
	bin.next(t, ctx, 1)
	if _, err := bob.Recall(ctx, first.Conv, first.Seq); serverCode(err) != 10007 {
		t.Fatalf("bob recalling alice's message: %v, want 10007", err)
	}
	tomb, err := alice.Recall(ctx, first.Conv, first.Seq)
	if err != nil || !tomb.Recalled || len(tomb.Elements) != 0 {
		t.Fatalf("recall = %+v, %v", tomb, err)
	}
	if r := waitFor(t, ctx, bin.recalled, "recall notice"); r.Seq != first.Seq || !r.Recalled {
		t.Fatalf("bob's recall notice = %+v", r)
	}
	hist, err := bob.History(ctx, first.Conv, 0, 10)
	if err != nil || len(hist) != 1 || !hist[0].Recalled || hist[0].Text() != "" {
		t.Fatalf("history after recall = %+v, %v", hist, err)
	}
	late, err := alice.SendText(ctx, parley.IMTarget{User: "bob"}, "kept")
	if err != nil {
		t.Fatal(err)
	}
	// Two minutes and a second later on the server's clock.
	skew.Store(int64(2*time.Minute + time.Second))
	if _, err := alice.Recall(ctx, late.Conv, late.Seq); serverCode(err) != 20016 {
		t.Fatalf("recall after the window: %v, want 20016", err)
	}
}

// Read receipts reach the sender; unread counts follow the read cursor.
func TestIMReceiptsAndUnread(t *testing.T) {
	env := startServer(t)
	ctx := testCtx(t, 60*time.Second)
	ain, bin := newInbox(), newInbox()
	alice := env.login(t, ctx, env.imClient(t, "alice", parley.Config{}), ain, nil)
	bob := env.login(t, ctx, env.imClient(t, "bob", parley.Config{}), bin, nil)
	for i := range 4 {
		if _, err := alice.Send(ctx, parley.IMTarget{User: "bob"}, parley.OutMessage{Elements: parley.TextElements(fmt.Sprint(i)), NeedReadReceipt: true}); err != nil {
			t.Fatal(err)
		}
	}
	bin.next(t, ctx, 4)
	unread := func(m *parley.Messenger) int64 {
		cs, err := m.Conversations(ctx)
		if err != nil || len(cs) != 1 {
			t.Fatalf("conversations = %+v, %v", cs, err)
		}
		return cs[0].Unread
	}
	if u := unread(bob); u != 4 {
		t.Fatalf("bob unread = %d, want 4", u)
	}
	if cur, err := bob.MarkRead(ctx, "c2c:alice|bob", 3); err != nil || cur != 3 {
		t.Fatalf("mark read = %d, %v", cur, err)
	}
	r := waitFor(t, ctx, ain.receipts, "read receipt")
	if r.User != "bob" || r.ReadSeq != 3 || r.Conv != "c2c:alice|bob" {
		t.Fatalf("receipt = %+v", r)
	}
	if u := unread(bob); u != 1 {
		t.Fatalf("bob unread after reading 3 = %d, want 1", u)
	}
	if u := unread(alice); u != 0 {
		t.Fatalf("alice's own messages count as unread: %d", u)
	}
	readers, err := alice.ReadBy(ctx, "c2c:alice|bob", 3)
	if err != nil || len(readers) != 1 || readers[0] != "bob" {
		t.Fatalf("read by = %v, %v", readers, err)
	}
	if readers, _ := alice.ReadBy(ctx, "c2c:alice|bob", 4); len(readers) != 0 {
		t.Fatalf("message 4 read by %v", readers)
	}
}

// An oversized message gets 80002 and a group over its rate gets 10023,
// each with a message that says what the limit is.
func TestIMLimits(t *testing.T) {
	env := startServer(t, func(c *config.Config) { c.IM.GroupRate = 5 })
	ctx := testCtx(t, 60*time.Second)
	alice := env.login(t, ctx, env.imClient(t, "alice", parley.Config{}), newInbox(), nil)
	_, err := alice.SendText(ctx, parley.IMTarget{User: "bob"}, strings.Repeat("x", 13<<10))
	if serverCode(err) != 80002 || !strings.Contains(err.Error(), "limit 12288") {
		t.Fatalf("oversized: %v, want 80002 naming the 12288-byte limit", err)
	}
	mustGroup(t, ctx, alice, protocol.IMGroupOp{Op: protocol.GroupOpCreate, GroupID: "busy", Type: "Meeting"})
	var limited error
	for i := range 20 {
		if _, err := alice.SendText(ctx, parley.IMTarget{Group: "busy"}, fmt.Sprint(i)); err != nil {
			limited = err
			break
		}
	}
	if serverCode(limited) != 10023 || !strings.Contains(limited.Error(), "allows 5 messages/s") {
		t.Fatalf("burst over the group rate: %v, want 10023 naming 5 messages/s", limited)
	}
	// Nothing was lost or half-stored: the history holds exactly the
	// accepted messages, numbered without gaps.
	hist, err := alice.History(ctx, "group:busy", 0, 100)
	if err != nil || len(hist) != 5 || hist[0].Seq != 5 || hist[4].Seq != 1 {
		t.Fatalf("history after the limit = %d messages, %v", len(hist), err)
	}
}

// imReceiver is an app backend: it verifies every callback's signature
// and records the bodies by command; before-send callbacks are answered
// by verdict.
type imReceiver struct {
	t       *testing.T
	key     string
	mu      sync.Mutex
	byCmd   map[string][]map[string]any
	arrived chan map[string]any
	verdict func(body map[string]any) string // before-send reply JSON
}

func newIMReceiver(t *testing.T, env *testEnv, key string) *imReceiver {
	r := &imReceiver{t: t, key: key, byCmd: map[string][]map[string]any{}, arrived: make(chan map[string]any, 256)}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	if err := env.srv.Callbacks().Set(context.Background(), env.appID, app.Callback{URL: srv.URL, Key: key}); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *imReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	raw, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	req.Body = io.NopCloser(strings.NewReader(string(raw)))
	if _, _, err := webhook.VerifyRequest(req, []byte(r.key), time.Now(), time.Minute); err != nil {
		r.t.Errorf("callback signature: %v", err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		r.t.Errorf("callback body: %v", err)
	}
	cmd, _ := body["CallbackCommand"].(string)
	r.mu.Lock()
	r.byCmd[cmd] = append(r.byCmd[cmd], body)
	r.mu.Unlock()
	reply := `{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}`
	if strings.HasSuffix(cmd, "CallbackBeforeSendMsg") && r.verdict != nil {
		reply = r.verdict(body)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(reply))
	r.arrived <- body
}

func (r *imReceiver) count(cmd string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byCmd[cmd])
}

// waitCmd waits for the next callback with command cmd that satisfies
// match (nil: any) and returns its body.
func (r *imReceiver) waitCmd(t *testing.T, ctx context.Context, cmd string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	for {
		body := waitFor(t, ctx, r.arrived, "callback "+cmd)
		if body["CallbackCommand"] == cmd && (match == nil || match(body)) {
			return body
		}
	}
}

// stateIs matches a State.StateChange of user with action.
func stateIs(user, action string) func(map[string]any) bool {
	return func(b map[string]any) bool {
		info, _ := b["Info"].(map[string]any)
		return info["To_Account"] == user && info["Action"] == action
	}
}

// metric reads one sample of the server's Prometheus endpoint.
func (e *testEnv) metric(t *testing.T, sample string) string {
	t.Helper()
	resp, err := http.Get("http://" + e.srv.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			return v
		}
	}
	return ""
}

// The app's before-send callback vetoes a message (the sender gets 20006,
// or the app's own code from its range, and nobody receives it), drops it
// silently (ErrorCode 2) or rewrites it; after-send callbacks follow
// stored messages; every callback's signature verifies.
func TestIMBeforeSendCallback(t *testing.T) {
	env := startServer(t, func(c *config.Config) { c.IM.BeforeSendCallback = true })
	ctx := testCtx(t, 60*time.Second)
	recv := newIMReceiver(t, env, "ImCallbackKey")
	recv.verdict = func(body map[string]any) string {
		b, _ := json.Marshal(body["MsgBody"])
		switch {
		case strings.Contains(string(b), "forbidden"):
			return `{"ActionStatus":"OK","ErrorCode":1,"ErrorInfo":"contains a forbidden word"}`
		case strings.Contains(string(b), "discard me"):
			return `{"ActionStatus":"OK","ErrorCode":2,"ErrorInfo":"dropped"}`
		case strings.Contains(string(b), "custom code"):
			return `{"ActionStatus":"OK","ErrorCode":120005,"ErrorInfo":"blocked by the app"}`
		case strings.Contains(string(b), "rewrite me"):
			return `{"ActionStatus":"OK","ErrorCode":0,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"rewritten"}}]}`
		}
		return `{"ActionStatus":"OK","ErrorCode":0}`
	}
	bin := newInbox()
	alice := env.login(t, ctx, env.imClient(t, "alice", parley.Config{}), newInbox(), nil)
	env.login(t, ctx, env.imClient(t, "bob", parley.Config{}), bin, nil)
	_, err := alice.SendText(ctx, parley.IMTarget{User: "bob"}, "a forbidden thing")
	if serverCode(err) != 20006 || !strings.Contains(err.Error(), "forbidden word") {
		t.Fatalf("vetoed send: %v, want 20006 with the backend's reason", err)
	}
	if _, err := alice.SendText(ctx, parley.IMTarget{User: "bob"}, "custom code"); serverCode(err) != 120005 || !strings.Contains(err.Error(), "blocked by the app") {
		t.Fatalf("app-range veto: %v, want the app's own 120005", err)
	}
	// ErrorCode 2: the sender is told it was sent; nobody gets it and
	// it takes no seq.
	if sent, err := alice.SendText(ctx, parley.IMTarget{User: "bob"}, "discard me"); err != nil || sent.Seq != 0 {
		t.Fatalf("silent discard = %+v, %v", sent, err)
	}
	if _, err := alice.SendText(ctx, parley.IMTarget{User: "bob"}, "rewrite me"); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.SendText(ctx, parley.IMTarget{User: "bob"}, "fine"); err != nil {
		t.Fatal(err)
	}
	got := bin.next(t, ctx, 2)
	if got[0].Seq != 1 || got[0].Text() != "rewritten" || got[1].Text() != "fine" {
		t.Fatalf("bob got %q #%d, %q", got[0].Text(), got[0].Seq, got[1].Text())
	}
	recv.waitCmd(t, ctx, "C2C.CallbackAfterSendMsg", nil)
	recv.waitCmd(t, ctx, "C2C.CallbackAfterSendMsg", nil)
	if n := recv.count("C2C.CallbackBeforeSendMsg"); n != 5 {
		t.Fatalf("%d before-send callbacks, want 5", n)
	}
	recv.mu.Lock()
	after := recv.byCmd["C2C.CallbackAfterSendMsg"]
	recv.mu.Unlock()
	if len(after) != 2 || after[0]["From_Account"] != "alice" || after[0]["To_Account"] != "bob" {
		t.Fatalf("after-send callbacks = %v", after)
	}
}

// An offline recipient with a registered token triggers exactly one signed
// push callback naming the vendor chosen from its device model; after an
// explicit logout, none.
func TestIMOfflinePush(t *testing.T) {
	env := startServer(t)
	ctx := testCtx(t, 60*time.Second)
	recv := newIMReceiver(t, env, "PushKey")
	alice := env.login(t, ctx, env.imClient(t, "alice", parley.Config{}), newInbox(), nil)
	bobCfg := parley.Config{InitConfig: &parley.InitConfig{Switches: map[string]bool{"field.im.device_model": true, "field.im.push_token": true}}}
	pushOnly := parley.Config{InitConfig: &parley.InitConfig{Switches: map[string]bool{"field.im.push_token": true}}}
	bobClient := env.imClient(t, "bob", bobCfg)
	bob := env.login(t, ctx, bobClient, newInbox(), nil)
	vendor, err := bob.RegisterPushToken(ctx, "xm-token-1", "Xiaomi 2211133C", "")
	if err != nil || vendor != "xiaomi" {
		t.Fatalf("register = %q, %v", vendor, err)
	}
	// Carol names her vendor herself (no device model).
	carol := env.login(t, ctx, env.imClient(t, "carol", pushOnly), newInbox(), nil)
	if v, err := carol.RegisterPushToken(ctx, "t", "", "vivo"); err != nil || v != "vivo" {
		t.Fatalf("carol's explicit vendor = %q, %v", v, err)
	}
	if err := bob.Close(); err != nil { // offline, still logged in
		t.Fatal(err)
	}
	recv.waitCmd(t, ctx, "State.StateChange", stateIs("bob", "Disconnect")) // the server saw it
	if _, err := alice.SendText(ctx, parley.IMTarget{User: "bob"}, "are you there?"); err != nil {
		t.Fatal(err)
	}
	push := recv.waitCmd(t, ctx, "Parley.OfflinePush", nil)
	if push["To_Account"] != "bob" || push["Vendor"] != "xiaomi" || push["PushToken"] != "xm-token-1" || push["From_Account"] != "alice" {
		t.Fatalf("push = %v", push)
	}
	if _, ok := push["MsgBody"]; ok {
		t.Fatal("the push carries the message content")
	}

	// Bob comes back and logs out explicitly: no push afterwards.
	bob2 := env.login(t, ctx, bobClient, newInbox(), nil)
	if err := bob2.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	recv.waitCmd(t, ctx, "State.StateChange", stateIs("bob", "Logout"))
	if _, err := alice.SendText(ctx, parley.IMTarget{User: "bob"}, "after logout"); err != nil {
		t.Fatal(err)
	}
	// Offline pushes are handled in message order, so once a push for a
	// later message (to carol) arrives, bob's would have been queued.
	if err := carol.Close(); err != nil {
		t.Fatal(err)
	}
	recv.waitCmd(t, ctx, "State.StateChange", stateIs("carol", "Disconnect"))
	if _, err := alice.SendText(ctx, parley.IMTarget{User: "carol"}, "marker"); err != nil {
		t.Fatal(err)
	}
	if p := recv.waitCmd(t, ctx, "Parley.OfflinePush", nil); p["To_Account"] != "carol" || p["Vendor"] != "vivo" {
		t.Fatalf("second push = %v; want carol's (none to bob after logout)", p)
	}
	if n := env.metric(t, `parley_im_push_total{result="queued"}`); n != "2" {
		t.Fatalf("pushes queued = %s, want 2 (bob before logout, carol)", n)
	}
}

// Push tokens and the device model go to the server only with their
// switches (SWITCH-1, COLLECT-5).
// proves SWITCH-1
func TestIMDeviceModelNeedsSwitch(t *testing.T) {
	env := startServer(t)
	ctx := testCtx(t, 30*time.Second)
	none := env.login(t, ctx, env.imClient(t, "erin", parley.Config{}), newInbox(), nil)
	if _, err := none.RegisterPushToken(ctx, "tok", "", "fcm"); !errors.Is(err, parley.ErrSwitchOff) {
		t.Fatalf("push token without field.im.push_token: %v", err)
	}
	c := env.imClient(t, "dave", parley.Config{InitConfig: &parley.InitConfig{Switches: map[string]bool{"field.im.push_token": true}}})
	m := env.login(t, ctx, c, newInbox(), nil)
	// The SDK does not send the model without its switch: the vendor
	// falls back to FCM.
	if v, err := m.RegisterPushToken(ctx, "tok", "Xiaomi 13", ""); err != nil || v != "fcm" {
		t.Fatalf("register without the model switch = %q, %v; want fcm (model not sent)", v, err)
	}
}

// Messaging needs purpose "im": without it the SDK sends nothing.
// proves CONSENT-3
func TestIMLoginNeedsIMConsent(t *testing.T) {
	env := startServer(t)
	ctx := testCtx(t, 30*time.Second)
	c := env.clientWith(t, "erin", parley.Config{}, testPolicyVersion, protocol.PurposeRTC)
	if _, err := c.LoginIM(ctx, parley.IMOptions{}); !errors.Is(err, parley.ErrConsentRequired) {
		t.Fatalf("login without im consent: %v", err)
	}
}

// Peer-to-peer signals reach the online peer; a reliable one to an
// offline peer fails with -4013; the in-room chat channel relays to the
// room.
func TestIMSignalAndRoomChat(t *testing.T) {
	env := startServer(t)
	ctx := testCtx(t, 60*time.Second)
	rts := &parley.InitConfig{Switches: map[string]bool{"ext.rts": true}}
	ain, bin := newInbox(), newInbox()
	alice := env.login(t, ctx, env.imClient(t, "alice", parley.Config{InitConfig: rts}), ain, nil)
	env.login(t, ctx, env.imClient(t, "bob", parley.Config{InitConfig: rts}), bin, nil)
	if err := alice.SendSignal(ctx, "bob", []byte("ring"), true); err != nil {
		t.Fatal(err)
	}
	if s := waitFor(t, ctx, bin.signals, "signal"); s != "alice:ring" {
		t.Fatalf("signal = %q", s)
	}
	if err := alice.SendSignal(ctx, "nobody", []byte("x"), true); serverCode(err) != protocol.ErrCodePeerOffline {
		t.Fatalf("reliable signal to an offline peer: %v", err)
	}
	if err := alice.SendSignal(ctx, "nobody", []byte("x"), false); err != nil {
		t.Fatalf("unreliable signal to an offline peer: %v", err)
	}
}

// The room's chat channel relays to the others in the room (any role,
// audience too), numbered per sender, and needs purpose "im".
func TestRoomChat(t *testing.T) {
	env := startServer(t)
	ctx := testCtx(t, 60*time.Second)
	chats := make(chan protocol.RoomChatEvent, 8)
	alice := env.imClient(t, "alice", parley.Config{})
	bob := env.imClient(t, "bob", parley.Config{Listener: parley.Listener{OnRecvRoomChat: func(ev protocol.RoomChatEvent) { chats <- ev }}})
	noIM := env.client(t, "carol", parley.Listener{})
	room := parley.EnterParams{RoomID: 42, Scene: protocol.SceneLive, Role: protocol.RoleAudience}
	for _, c := range []*parley.Client{alice, bob, noIM} {
		if _, err := c.EnterRoom(ctx, room); err != nil {
			t.Fatal(err)
		}
	}
	sent, err := alice.SendRoomChat(ctx, parley.TextElements("hello room"), "")
	if err != nil || sent.Seq != 1 {
		t.Fatalf("room chat = %+v, %v", sent, err)
	}
	ev := waitFor(t, ctx, chats, "room chat")
	var els []protocol.IMElement
	if err := json.Unmarshal(ev.Elements, &els); err != nil || ev.UserID != "alice" || ev.Seq != 1 || len(els) != 1 {
		t.Fatalf("bob got %+v (%v)", ev, err)
	}
	if _, err := noIM.SendRoomChat(ctx, parley.TextElements("x"), ""); !errors.Is(err, parley.ErrConsentRequired) {
		t.Fatalf("room chat without im consent: %v", err)
	}
	if _, err := alice.SendRoomChat(ctx, []protocol.IMElement{{MsgType: "TIMBogusElem", MsgContent: json.RawMessage(`{}`)}}, ""); serverCode(err) != 20001 {
		t.Fatalf("bad element: %v, want 20001", err)
	}
}

// Withdrawing consent (Stop) ends messaging on the server as a logout
// does: the connection closes, the push token is forgotten, so nothing is
// pushed to the device any more, and the SDK cannot log in again without
// fresh consent.
// proves CONSENT-5
func TestIMStopWithdrawsMessaging(t *testing.T) {
	env := startServer(t)
	ctx := testCtx(t, 60*time.Second)
	recv := newIMReceiver(t, env, "StopKey")
	push := parley.Config{InitConfig: &parley.InitConfig{Switches: map[string]bool{"field.im.push_token": true}}}
	alice := env.login(t, ctx, env.imClient(t, "alice", parley.Config{}), newInbox(), nil)
	bobClient := env.imClient(t, "bob", push)
	bob := env.login(t, ctx, bobClient, newInbox(), nil)
	if _, err := bob.RegisterPushToken(ctx, "bob-token", "", "honor"); err != nil {
		t.Fatal(err)
	}
	carol := env.login(t, ctx, env.imClient(t, "carol", push), newInbox(), nil)
	if _, err := carol.RegisterPushToken(ctx, "carol-token", "", "oppo"); err != nil {
		t.Fatal(err)
	}
	if err := bobClient.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	recv.waitCmd(t, ctx, "State.StateChange", stateIs("bob", "Logout"))
	if _, err := bob.SendText(ctx, parley.IMTarget{User: "alice"}, "still here?"); !errors.Is(err, parley.ErrNotLoggedIn) {
		t.Fatalf("send after Stop: %v", err)
	}
	if _, err := bobClient.LoginIM(ctx, parley.IMOptions{}); !errors.Is(err, parley.ErrConsentRequired) {
		t.Fatalf("login after Stop: %v", err)
	}
	if _, err := alice.SendText(ctx, parley.IMTarget{User: "bob"}, "hello?"); err != nil {
		t.Fatal(err)
	}
	if err := carol.Close(); err != nil {
		t.Fatal(err)
	}
	recv.waitCmd(t, ctx, "State.StateChange", stateIs("carol", "Disconnect"))
	if _, err := alice.SendText(ctx, parley.IMTarget{User: "carol"}, "marker"); err != nil {
		t.Fatal(err)
	}
	if p := recv.waitCmd(t, ctx, "Parley.OfflinePush", nil); p["To_Account"] != "carol" {
		t.Fatalf("push = %v; want carol's only", p)
	}
	if n := env.metric(t, `parley_im_push_total{result="queued"}`); n != "1" {
		t.Fatalf("pushes queued = %s, want 1 (none to bob after withdrawal)", n)
	}
}

// A message an app backend sends through the REST API reaches the online
// recipient live, like one sent from an SDK.
func TestIMRESTSendReachesOnlineUser(t *testing.T) {
	env := startServer(t)
	ctx := testCtx(t, 30*time.Second)
	bin := newInbox()
	env.login(t, ctx, env.imClient(t, "bob", parley.Config{}), bin, nil)
	mustOK(t, "sendmsg", env.imCall(t, "openim/sendmsg", map[string]any{"From_Account": "system", "To_Account": "bob",
		"MsgRandom": 7, "MsgBody": textBody("your order shipped")}, ""))
	if m := bin.next(t, ctx, 1)[0]; m.Sender != "system" || m.Text() != "your order shipped" || m.Conv != "c2c:bob|system" {
		t.Fatalf("bob got %+v", m)
	}
}

// Messaging leaves no user id, group id or message text in the server's
// logs at the production level, errors and callbacks included.
func TestIMLeavesNoPersonalDataInLogs(t *testing.T) {
	var logs syncBuffer
	env := startServerWithLogger(t, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		func(c *config.Config) { c.IM.BeforeSendCallback = true })
	ctx := testCtx(t, 30*time.Second)
	recv := newIMReceiver(t, env, "LogKey")
	recv.verdict = func(map[string]any) string { return `{"ActionStatus":"OK","ErrorCode":0}` }
	const a, b, group, text = "pi-im-8d2f1a", "pi-im-c0ffee", "pi-group-5e6b", "pi-text-91aa"
	push := parley.Config{InitConfig: &parley.InitConfig{Switches: map[string]bool{"field.im.push_token": true}}}
	alice := env.login(t, ctx, env.imClient(t, a, parley.Config{}), newInbox(), nil)
	bobIn := newInbox()
	bob := env.login(t, ctx, env.imClient(t, b, push), bobIn, nil)
	if _, err := bob.RegisterPushToken(ctx, "pi-token-1234", "", "vivo"); err != nil {
		t.Fatal(err)
	}
	mustGroup(t, ctx, alice, protocol.IMGroupOp{Op: protocol.GroupOpCreate, GroupID: group, Type: "Work"})
	mustGroup(t, ctx, alice, protocol.IMGroupOp{Op: protocol.GroupOpInvite, GroupID: group, UserID: b})
	if _, err := alice.SendText(ctx, parley.IMTarget{Group: group}, text); err != nil {
		t.Fatal(err)
	}
	bobIn.next(t, ctx, 1)
	if _, err := bob.Recall(ctx, "group:"+group, 1); err == nil { // refused: not the sender
		t.Fatal("bob recalled alice's message")
	}
	if err := bob.Close(); err != nil {
		t.Fatal(err)
	}
	recv.waitCmd(t, ctx, "State.StateChange", stateIs(b, "Disconnect"))
	if _, err := alice.SendText(ctx, parley.IMTarget{User: b}, text); err != nil {
		t.Fatal(err)
	}
	recv.waitCmd(t, ctx, "Parley.OfflinePush", nil)
	mustGroup(t, ctx, alice, protocol.IMGroupOp{Op: protocol.GroupOpDismiss, GroupID: group})
	for _, s := range []string{a, b, group, text, "pi-token-1234"} {
		if bytes.Contains(logs.Bytes(), []byte(s)) {
			t.Errorf("%q appears in the server logs", s)
		}
	}
	if len(logs.Bytes()) == 0 {
		t.Fatal("no logs captured: the check above proved nothing")
	}
}
