package bench

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestRunSFU runs the benchmark on a tiny in-process configuration: the
// test binary has no `serve`, so the server runs in this process.
func TestRunSFU(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real media for several seconds")
	}
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, tc := range []struct {
		name      string
		audioOnly bool
		streams   int
	}{
		{"audio-only", true, 2},
		{"audio+video", false, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			var progress bytes.Buffer
			res, err := RunSFU(ctx, Options{
				Spawn: true, Publishers: 1, Subscribers: 2, AudioOnly: tc.audioOnly,
				Duration: 3 * time.Second, Progress: &progress,
			})
			if err != nil {
				t.Fatalf("RunSFU: %v\nprogress:\n%s", err, progress.String())
			}
			t.Logf("%+v", res)
			if res.ServerMode != "in-process" || res.ServerCPUMethod != CPUInProcessRusage {
				t.Errorf("server mode %q, cpu method %q", res.ServerMode, res.ServerCPUMethod)
			}
			if res.Streams != tc.streams {
				t.Errorf("streams %d, want %d", res.Streams, tc.streams)
			}
			// Opus alone is 50 pkt/s per subscriber; allow for timer jitter.
			if min := uint64(2 * 50 * 3 * 8 / 10); res.DeliveredPackets < min {
				t.Errorf("delivered %d packets, want at least %d", res.DeliveredPackets, min)
			}
			if res.SDKErrors != 0 {
				t.Errorf("%d SDK errors", res.SDKErrors)
			}
			if res.LostPackets != 0 {
				t.Errorf("lost %d of %d packets", res.LostPackets, res.ExpectedPackets)
			}
			if res.BitrateKbps <= 0 || res.ServerCPUSeconds <= 0 || res.DeliveredPerServerCPUSecond <= 0 {
				t.Errorf("bitrate %v kbps, server cpu %v s, per cpu-s %v", res.BitrateKbps, res.ServerCPUSeconds, res.DeliveredPerServerCPUSecond)
			}
			if res.LatencySamples != res.DeliveredPackets {
				t.Errorf("%d latency samples for %d packets: every synthetic packet carries a stamp", res.LatencySamples, res.DeliveredPackets)
			}
			if !(res.LatencyMsP50 > 0 && res.LatencyMsP50 <= res.LatencyMsP99 && res.LatencyMsP99 <= res.LatencyMsMax) {
				t.Errorf("latency p50 %v, p99 %v, max %v: want 0 < p50 ≤ p99 ≤ max", res.LatencyMsP50, res.LatencyMsP99, res.LatencyMsMax)
			}
			if !(res.JoinMsP50 > 0 && res.JoinMsP50 <= res.JoinMsP99) || res.JoinServerMsP50 < 1 {
				t.Errorf("join p50 %v, p99 %v, server p50 %v", res.JoinMsP50, res.JoinMsP99, res.JoinServerMsP50)
			}
			if res.DurationS < 3 {
				t.Errorf("window %v s, want ≥ 3", res.DurationS)
			}
		})
	}
}

func TestRunSFURejectsOptions(t *testing.T) {
	ctx := context.Background()
	for name, o := range map[string]Options{
		"no server":      {Publishers: 1, Subscribers: 1},
		"no publisher":   {Spawn: true, Subscribers: 1},
		"nobody listens": {Spawn: true, Publishers: 1},
		"negative":       {Spawn: true, Publishers: 1, Subscribers: 1, Duration: -time.Second},
	} {
		if _, err := RunSFU(ctx, o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%s: err %v, want ErrInvalidOptions", name, err)
		}
	}
}

func TestRunSFUCancelled(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := RunSFU(ctx, Options{Spawn: true, Publishers: 1, Subscribers: 1, Duration: time.Second})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

// TestRunSFUWarmupTimeout: a subscriber cannot have its tracks a
// nanosecond after joining (ICE and DTLS alone take milliseconds), so the
// run must fail with ErrWarmup and say who was missing what.
func TestRunSFUWarmupTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and clients")
	}
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err := RunSFU(ctx, Options{Spawn: true, Publishers: 1, Subscribers: 1, AudioOnly: true, WarmupTimeout: time.Nanosecond})
	if !errors.Is(err, ErrWarmup) || !strings.Contains(err.Error(), "bench-sub-0 has 0 of 1 tracks") {
		t.Fatalf("err %v, want ErrWarmup naming bench-sub-0", err)
	}
}
