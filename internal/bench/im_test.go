package bench

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestRunIM runs the IM benchmark on a handful of clients against an
// in-process server (the test binary has no `serve`) and checks that the
// counts add up: every acknowledged send reaches every other member of
// its group exactly once.
func TestRunIM(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and logs in clients")
	}
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var progress bytes.Buffer
	// 7 clients in 2 groups: members 4 and 3, so the per-group sums are
	// checked, not just clients × (clients/groups − 1).
	res, err := RunIM(ctx, IMOptions{Spawn: true, Clients: 7, Groups: 2, Rate: 60, Duration: time.Second, Progress: &progress})
	if err != nil {
		t.Fatalf("RunIM: %v\nprogress:\n%s", err, progress.String())
	}
	t.Logf("%+v", res)
	if res.ServerMode != "in-process" || res.ServerCPUMethod != CPUInProcessRusage || res.ServerRSSMethod != "in-process-self" {
		t.Errorf("server mode %q, cpu method %q, rss method %q", res.ServerMode, res.ServerCPUMethod, res.ServerRSSMethod)
	}
	if len(res.SendErrors) != 0 || res.SDKErrors != 0 || res.Reconnects != 0 {
		t.Fatalf("send errors %v, SDK errors %d, reconnects %d\nprogress:\n%s", res.SendErrors, res.SDKErrors, res.Reconnects, progress.String())
	}
	// 60 send slots in 1 s: each is sent, or unsent because its client
	// was still waiting for the previous acknowledgement at the end.
	if res.SentMessages+res.UnsentMessages != 60 || res.SentMessages < 40 {
		t.Errorf("sent %d + unsent %d messages, want 60 slots, most sent", res.SentMessages, res.UnsentMessages)
	}
	// Group 0 holds clients 0,2,4,6 (4 members) and group 1 clients
	// 1,3,5 (3 members). Slot j belongs to client j mod 7, so clients 0-3
	// have 9 slots and 4-6 have 8: group 0 sends 34 messages (3 copies
	// each), group 1 26 (2 copies each).
	if res.UnsentMessages == 0 && res.ExpectedDeliveries != 34*3+26*2 {
		t.Errorf("expected deliveries %d, want %d", res.ExpectedDeliveries, 34*3+26*2)
	}
	if lo, hi := res.SentMessages*2, res.SentMessages*3; res.ExpectedDeliveries < lo || res.ExpectedDeliveries > hi {
		t.Errorf("expected deliveries %d, want between %d and %d", res.ExpectedDeliveries, lo, hi)
	}
	if res.DeliveredMessages != res.ExpectedDeliveries || res.MissingDeliveries != 0 {
		t.Errorf("delivered %d, expected %d (missing %d)", res.DeliveredMessages, res.ExpectedDeliveries, res.MissingDeliveries)
	}
	if res.DeliveredPerSecond <= 0 || res.DeliverySeconds < 0.9 {
		t.Errorf("delivered/s %v over %v s", res.DeliveredPerSecond, res.DeliverySeconds)
	}
	if !(res.LatencyMsP50 > 0 && res.LatencyMsP50 <= res.LatencyMsP99 && res.LatencyMsP99 <= res.LatencyMsMax) {
		t.Errorf("latency p50 %v, p99 %v, max %v", res.LatencyMsP50, res.LatencyMsP99, res.LatencyMsMax)
	}
	if res.ServerCPUSeconds <= 0 || res.ServerCPUSecondsPer100k <= 0 || res.ServerRSSBytesAfter == 0 {
		t.Errorf("server cpu %v s (%v per 100k), rss %d", res.ServerCPUSeconds, res.ServerCPUSecondsPer100k, res.ServerRSSBytesAfter)
	}
	if res.Clients != 7 || res.Groups != 2 || res.OfferedPerSecond != 60 || res.LoginMsP50 <= 0 {
		t.Errorf("result echoes %+v", res)
	}
}

func TestRunIMRejectsOptions(t *testing.T) {
	ctx := context.Background()
	for name, o := range map[string]IMOptions{
		"no server":      {Clients: 4, Groups: 1},
		"one client":     {Spawn: true, Clients: 1, Groups: 1},
		"thin groups":    {Spawn: true, Clients: 5, Groups: 3},
		"negative rate":  {Spawn: true, Clients: 4, Groups: 1, Rate: -1},
		"huge message":   {Spawn: true, Clients: 4, Groups: 1, MessageBytes: 1 << 20},
		"negative drain": {Spawn: true, Clients: 4, Groups: 1, DrainTimeout: -time.Second},
	} {
		if _, err := RunIM(ctx, o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%s: err %v, want ErrInvalidOptions", name, err)
		}
	}
}

func TestParseVmRSS(t *testing.T) {
	status := "Name:\tparley\nVmPeak:\t  200000 kB\nVmRSS:\t   51234 kB\nThreads:\t9\n"
	if v, err := parseVmRSS(status); err != nil || v != 51234<<10 {
		t.Fatalf("got %d, %v; want %d", v, err, 51234<<10)
	}
	for _, bad := range []string{"", "VmRSS:\tlots kB\n", "VmRSS:\t12 MB\n"} {
		if _, err := parseVmRSS(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestIMHistQuantiles(t *testing.T) {
	var h imHist
	if h.quantile(0.5) != 0 {
		t.Fatal("empty histogram")
	}
	for range 98 {
		h.record(1500 * time.Microsecond) // fine bucket (1.5, 1.6] ms
	}
	h.record(250 * time.Millisecond) // coarse bucket (250, 251] ms
	h.record(20 * time.Second)       // overflow
	if got := h.quantile(0.5); got != 1600*time.Microsecond {
		t.Errorf("p50 %v, want 1.6ms", got)
	}
	if got := h.quantile(0.99); got != 251*time.Millisecond {
		t.Errorf("p99 %v, want 251ms", got)
	}
	if got := h.quantile(1); got != 20*time.Second {
		t.Errorf("p100 %v, want the maximum 20s", got)
	}
}

// cancelOn cancels when a progress line contains the marker.
type cancelOn struct {
	marker string
	cancel context.CancelFunc
	buf    bytes.Buffer
}

func (c *cancelOn) Write(p []byte) (int, error) {
	c.buf.Write(p)
	if bytes.Contains(c.buf.Bytes(), []byte(c.marker)) {
		c.cancel()
	}
	return len(p), nil
}

// TestRunIMCancelled: cancelling during the window stops the senders at
// once (the sends in flight finish), tears down and reports the
// cancellation instead of running out the window.
func TestRunIMCancelled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and logs in clients")
	}
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	progress := &cancelOn{marker: "sending for", cancel: cancel}
	start := time.Now()
	_, err := RunIM(ctx, IMOptions{Spawn: true, Clients: 4, Groups: 1, Rate: 20, Duration: time.Minute, Progress: progress})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled\nprogress:\n%s", err, progress.buf.String())
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("returned after %s: the window was not cut short", d)
	}
}
