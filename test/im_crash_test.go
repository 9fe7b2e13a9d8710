package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/auth"
	"github.com/parley-rtc/parley/internal/webhook"
	"github.com/parley-rtc/parley/protocol"
	parley "github.com/parley-rtc/parley/sdk/go"
)

// freeAddr reserves a loopback port for a server that must come back on
// the same address after a restart (clients reconnect to their URL).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// The server is killed (SIGKILL) while clients send: after a restart on
// the same data directory every acknowledged message is stored exactly
// once with the seq it was acknowledged with, the senders' retries of
// unacknowledged ones produce no duplicates, the receiver gets each
// message once, and the after-send callbacks pending at the kill are
// delivered by the restarted process.
func TestIMSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	ctx := testCtx(t, 150*time.Second)
	bin := buildParley(t)
	data, addr := t.TempDir(), freeAddr(t)
	p := startServe(t, ctx, bin, data, addr)

	// The app backend never answers the first process: every callback
	// it attempts is still pending when it dies, and only callbacks the
	// restarted process sends count.
	const key = "CrashKey"
	killed := make(chan struct{})
	var mu sync.Mutex
	held := 0
	delivered := map[string]bool{} // "sender#seq" of after-send callbacks
	arrived := make(chan struct{}, 4096)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-killed:
		default:
			mu.Lock()
			held++
			mu.Unlock()
			select {
			case <-killed:
			case <-r.Context().Done():
			}
			http.Error(w, "from the killed process", http.StatusServiceUnavailable)
			return
		}
		body, _, err := webhook.VerifyRequest(r, []byte(key), time.Now(), time.Minute)
		if err != nil {
			t.Errorf("callback signature: %v", err)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var cb struct {
			CallbackCommand, From_Account string
			MsgSeq                        int64
		}
		_ = json.Unmarshal(body, &cb)
		if cb.CallbackCommand == "C2C.CallbackAfterSendMsg" {
			mu.Lock()
			delivered[fmt.Sprintf("%s#%d", cb.From_Account, cb.MsgSeq)] = true
			mu.Unlock()
			arrived <- struct{}{}
		}
		_, _ = io.WriteString(w, `{"ActionStatus":"OK","ErrorCode":0}`)
	}))
	defer recv.Close()
	if out, err := exec.Command(bin, "app", "callback", "--data", data, "--sdkappid", strconv.FormatUint(uint64(p.appID), 10),
		"--url", recv.URL, "--key", key).CombinedOutput(); err != nil {
		t.Fatalf("app callback: %v\n%s", err, out)
	}

	messenger := func(user string, l parley.IMListener) *parley.Messenger {
		sig, _ := auth.GenerateUserSig(p.appID, p.key, user, time.Hour, time.Now())
		c, err := parley.New(parley.Config{URL: "ws://" + addr + "/v1/signal", SDKAppID: p.appID, UserID: user, UserSig: sig,
			ReconnectInitial: 100 * time.Millisecond, ReconnectMax: 500 * time.Millisecond, Logger: testLogger().With("client", user)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if err := c.GrantConsent(testPolicyVersion, protocol.PurposeIM); err != nil {
			t.Fatal(err)
		}
		if err := c.Init(ctx); err != nil {
			t.Fatal(err)
		}
		m, err := c.LoginIM(ctx, parley.IMOptions{Listener: l})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.Close() })
		return m
	}
	got := make(chan parley.IMMessage, 1024)
	sink := messenger("sink", parley.IMListener{OnMessage: func(m parley.IMMessage) { got <- m }})

	const senders, perSender = 4, 60
	type ack struct {
		sender string
		n      int
		seq    int64
	}
	acks := make(chan ack, senders*perSender)
	var wg sync.WaitGroup
	for s := range senders {
		user := fmt.Sprintf("sender%d", s)
		m := messenger(user, parley.IMListener{})
		wg.Go(func() {
			for n := range perSender {
				// Send retries across the crash with the same client
				// message id until the server acknowledges.
				sent, err := m.Send(ctx, parley.IMTarget{User: "sink"}, parley.OutMessage{
					ClientMsgID: fmt.Sprintf("%s-%d", user, n), Elements: parley.TextElements(strconv.Itoa(n))})
				if err != nil {
					t.Errorf("%s message %d: %v", user, n, err)
					return
				}
				acks <- ack{user, n, sent.Seq}
			}
		})
	}
	// Kill the server once a third of the messages are acknowledged,
	// while the senders keep going.
	acked := map[string]int64{} // "sender/n" → acknowledged seq
	for len(acked) < senders*perSender/3 {
		a := waitFor(t, ctx, acks, "acknowledgements before the kill")
		acked[fmt.Sprintf("%s/%d", a.sender, a.n)] = a.seq
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, p.exited, "the killed process")
	close(killed)
	mu.Lock()
	if held == 0 {
		t.Fatal("no callback was in flight at the kill")
	}
	mu.Unlock()
	startServe(t, ctx, bin, data, addr)
	wg.Wait()
	close(acks)
	for a := range acks {
		acked[fmt.Sprintf("%s/%d", a.sender, a.n)] = a.seq
	}
	if len(acked) != senders*perSender {
		t.Fatalf("%d of %d messages acknowledged", len(acked), senders*perSender)
	}

	// History: each sender's conversation holds 0..perSender-1 once, in
	// order, at the acknowledged seqs.
	for s := range senders {
		user := fmt.Sprintf("sender%d", s)
		conv := "c2c:" + "sender" + strconv.Itoa(s) + "|sink"
		hist, err := sink.History(ctx, conv, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(hist) != perSender {
			t.Fatalf("%s: %d messages stored, want %d (lost or duplicated)", user, len(hist), perSender)
		}
		for i, m := range hist {
			n := perSender - 1 - i // newest first
			if m.Seq != int64(n+1) || m.Text() != strconv.Itoa(n) || acked[fmt.Sprintf("%s/%d", user, n)] != m.Seq {
				t.Fatalf("%s: history[%d] = #%d %q, acknowledged as #%d", user, i, m.Seq, m.Text(), acked[fmt.Sprintf("%s/%d", user, n)])
			}
		}
	}
	// The receiver, reconnected, got every message exactly once.
	seen := map[string]bool{}
	for len(seen) < senders*perSender {
		m := waitFor(t, ctx, got, "messages at the sink")
		k := fmt.Sprintf("%s/%d", m.Sender, m.Seq)
		if seen[k] {
			t.Fatalf("sink got %s twice", k)
		}
		seen[k] = true
	}
	// Every message's after-send callback arrives, including the ones
	// pending when the first process died.
	for {
		mu.Lock()
		n := len(delivered)
		mu.Unlock()
		if n == senders*perSender {
			break
		}
		waitFor(t, ctx, arrived, fmt.Sprintf("after-send callbacks (%d of %d)", n, senders*perSender))
	}
}
