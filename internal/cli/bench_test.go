package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/parley-rtc/parley/internal/bench"
)

// benchRun runs Bench with captured output and the given environment.
func benchRun(t *testing.T, vars map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return vars[k] }}
	code = Bench(context.Background(), args, env)
	return code, out.String(), errb.String()
}

func TestBenchUsageErrors(t *testing.T) {
	const url = "ws://127.0.0.1:7880/v1/signal"
	for _, tc := range []struct {
		name string
		vars map[string]string
		args []string
		want string
	}{
		{"no benchmark", nil, nil, "Usage: parley bench"},
		{"unknown benchmark", nil, []string{"disk"}, `unknown benchmark "disk"`},
		{"missing url", nil, []string{"sfu", "--subscribers", "5"}, "--url is required (or --spawn to start a server for the run)"},
		{"bad url", nil, []string{"sfu", "--url", "http://x", "--sdkappid", "1", "--key", "k"}, "--url must be ws:// or wss://"},
		{"missing sdkappid", nil, []string{"sfu", "--url", url, "--key", "k"}, "--sdkappid is required"},
		{"missing key", nil, []string{"sfu", "--url", url, "--sdkappid", "1400000001"}, "--key or $PARLEY_SECRET_KEY is required"},
		{"spawn and url", nil, []string{"sfu", "--spawn", "--url", url}, "--spawn starts its own server"},
		{"no publishers", nil, []string{"sfu", "--spawn", "--publishers", "0"}, "--publishers must be at least 1"},
		{"nobody receives", nil, []string{"sfu", "--spawn", "--subscribers", "0"}, "nobody would receive"},
		{"zero duration", nil, []string{"sfu", "--spawn", "--duration", "0s"}, "--duration must be positive"},
		{"bad flag value", nil, []string{"sfu", "--spawn", "--duration", "soon"}, "invalid value"},
		{"stray argument", nil, []string{"sfu", "--spawn", "extra"}, `unexpected argument "extra"`},
		{"profile needs spawn", map[string]string{usSecretKeyEnv: "k"}, []string{"sfu", "--url", url, "--sdkappid", "1", "--cpuprofile", "p"}, "--cpuprofile profiles an in-process server"},
	} {
		code, out, errs := benchRun(t, tc.vars, tc.args...)
		if code != ExitUsage || out != "" || !strings.Contains(errs, tc.want) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d and %q", tc.name, code, out, errs, ExitUsage, tc.want)
		}
	}
}

func TestBenchHelp(t *testing.T) {
	code, _, errs := benchRun(t, nil, "sfu", "--help")
	if code != ExitOK || !strings.Contains(errs, "--subscribers") || !strings.Contains(errs, "--spawn") {
		t.Fatalf("exit %d, help %q", code, errs)
	}
	if strings.Contains(errs, "cpuprofile") {
		t.Fatal("the hidden --cpuprofile flag is in --help")
	}
	// After a usage error the help shows defaults, not the parsed values.
	_, _, errs = benchRun(t, nil, "sfu", "--subscribers", "3")
	if !strings.Contains(errs, "(default 10)") || strings.Contains(errs, "(default 3)") {
		t.Fatalf("help after parse shows parsed values as defaults:\n%s", errs)
	}
	if code, _, _ := benchRun(t, nil, "--help"); code != ExitOK {
		t.Fatalf("bench --help: exit %d", code)
	}
}

func TestBenchTable(t *testing.T) {
	var b bytes.Buffer
	printBenchTable(&b, bench.Result{
		Publishers: 1, Subscribers: 50, DurationS: 30, ServerMode: "child", CPUs: 2,
		Streams: 100, DeliveredPackets: 1234567, ExpectedPackets: 1234567, DeliveredPPS: 41152,
		LatencyMsP50: 0.5, LatencyMsP99: 2.25, ServerCPUSeconds: 10, DeliveredPerServerCPUSecond: 123456,
		ServerCPUMethod: bench.CPUChildProcStat,
	})
	for _, want := range []string{"1 publisher(s) → 50 subscriber(s)", "1,234,567", "0.50 / 2.25", "123,456", "child-proc-stat"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	if group(0) != "0" || group(999) != "999" || group(1000) != "1,000" {
		t.Error("group")
	}
}
