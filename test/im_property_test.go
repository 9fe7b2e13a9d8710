package test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/config"
	"github.com/parley-rtc/parley/protocol"
	parley "github.com/parley-rtc/parley/sdk/go"
)

// Property: under random disconnects of receivers and senders, every
// receiver gets every message of the conversation exactly once, in seq
// order, with no gap (live delivery plus sequence-based sync), and every
// sender's retries store each message once. The seed is logged and can
// be fixed with PARLEY_IM_SEED to replay a failure.
func TestIMSyncPropertyUnderDisconnects(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("PARLEY_IM_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))

	env := startServer(t, func(c *config.Config) { c.IM.GroupRate = 10000 })
	ctx := testCtx(t, 90*time.Second)
	base, err := parley.NewDefaultTransport()
	if err != nil {
		t.Fatal(err)
	}
	fast := func(tr *cuttableTransport) parley.Config {
		return parley.Config{Transport: tr, ReconnectInitial: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond}
	}
	const receivers, senders, perSender = 3, 2, 400
	owner := env.login(t, ctx, env.imClient(t, "owner", parley.Config{}), newInbox(), nil)
	mustGroup(t, ctx, owner, protocol.IMGroupOp{Op: protocol.GroupOpCreate, GroupID: "prop", Type: "Meeting"})

	var trs []*cuttableTransport
	var inboxes []*inbox
	for i := range receivers {
		tr := &cuttableTransport{Transport: base}
		in := newInbox()
		m := env.login(t, ctx, env.imClient(t, fmt.Sprintf("rx%d", i), fast(tr)), in, nil)
		mustGroup(t, ctx, m, protocol.IMGroupOp{Op: protocol.GroupOpJoin, GroupID: "prop"})
		trs, inboxes = append(trs, tr), append(inboxes, in)
	}
	var sendTrs []*cuttableTransport
	var wg sync.WaitGroup
	for s := range senders {
		tr := &cuttableTransport{Transport: base}
		user := fmt.Sprintf("tx%d", s)
		m := env.login(t, ctx, env.imClient(t, user, fast(tr)), newInbox(), nil)
		mustGroup(t, ctx, m, protocol.IMGroupOp{Op: protocol.GroupOpJoin, GroupID: "prop"})
		sendTrs = append(sendTrs, tr)
		wg.Go(func() {
			for n := range perSender {
				if _, err := m.Send(ctx, parley.IMTarget{Group: "prop"}, parley.OutMessage{
					ClientMsgID: fmt.Sprintf("%s-%d", user, n), Elements: parley.TextElements(fmt.Sprintf("%s-%d", user, n))}); err != nil {
					t.Errorf("%s #%d: %v", user, n, err)
					return
				}
			}
		})
	}
	// The chaos: cut random connections at random moments until the
	// senders are done.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	cuts := 0
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-time.After(time.Duration(2+rng.IntN(15)) * time.Millisecond):
			all := append(append([]*cuttableTransport{}, trs...), sendTrs...)
			all[rng.IntN(len(all))].cut()
			cuts++
		}
	}
	t.Logf("%d connections cut", cuts)
	total := senders * perSender
	for i, in := range inboxes {
		next := map[string]int{}
		for seq := 1; seq <= total; seq++ {
			m := waitFor(t, ctx, in.msgs, fmt.Sprintf("rx%d message #%d", i, seq))
			if m.Seq != int64(seq) {
				t.Fatalf("rx%d: got #%d, want #%d (gap or duplicate)", i, m.Seq, seq)
			}
			if want := fmt.Sprintf("%s-%d", m.Sender, next[m.Sender]); m.Text() != want {
				t.Fatalf("rx%d: #%d is %q, want %q (a sender's retry stored twice or out of order)", i, m.Seq, m.Text(), want)
			}
			next[m.Sender]++
		}
		select {
		case m := <-in.msgs:
			t.Fatalf("rx%d: extra message #%d after all %d", i, m.Seq, total)
		default:
		}
	}
}
