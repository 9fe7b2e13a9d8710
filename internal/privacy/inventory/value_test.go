package inventory_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/parley-rtc/parley/internal/privacy/inventory"
)

// proves COLLECT-1, COLLECT-2: the server's value check is strict and an
// un-truncated IP address is refused.
func TestValidateValue(t *testing.T) {
	inv := mustDefault(t)
	cases := []struct {
		id, raw string
		want    any    // normalised value when accepted
		err     string // substring of the error when refused
	}{
		// int
		{"quality.rtt_ms", `0`, int64(0), ""},
		{"quality.rtt_ms", ` 60000 `, int64(60000), ""},
		{"quality.rtt_ms", `60001`, nil, "out of range [0,60000]"},
		{"quality.rtt_ms", `-1`, nil, "out of range"},
		{"quality.rtt_ms", `12.0`, nil, "fraction or exponent"},
		{"quality.rtt_ms", `1e3`, nil, "fraction or exponent"},
		{"quality.rtt_ms", `"12"`, nil, "want an integer, got a string"},
		{"quality.rtt_ms", `true`, nil, "got a boolean"},
		{"quality.rtt_ms", `null`, nil, "got null"},
		{"quality.rtt_ms", `[1]`, nil, "got an array"},
		{"quality.rtt_ms", `99999999999999999999`, nil, "out of range"},
		{"quality.rtt_ms", `12 13`, nil, "not a JSON value"},
		{"quality.rtt_ms", ``, nil, "empty value"},
		{"quality.network_quality", `6`, int64(6), ""},
		{"quality.network_quality", `7`, nil, "out of range [0,6]"},
		{"event.at", `1763850000000`, int64(1763850000000), ""},
		{"event.at", `9007199254740992`, nil, "out of range"},
		// string
		{"device.model", `"Pixel 9"`, "Pixel 9", ""},
		{"device.model", `"` + strings.Repeat("x", 64) + `"`, strings.Repeat("x", 64), ""},
		{"device.model", `"` + strings.Repeat("x", 65) + `"`, nil, "65 bytes, at most 64"},
		{"device.model", `"华为 Mate 70"`, "华为 Mate 70", ""},
		{"device.model", `"\ud800"`, nil, "lone surrogate"},
		{"device.model", "\"\xff\xfe\"", nil, "not valid UTF-8"},
		{"device.model", `"a\nb"`, nil, "control characters"},
		{"device.model", `42`, nil, "want a string, got a number"},
		{"device.screen_resolution", `"1920x1080"`, "1920x1080", ""},
		{"sdk.version", `"parley-go/0.1"`, "parley-go/0.1", ""},
		// enum
		{"device.os", `"android"`, "android", ""},
		{"device.os", `"Android"`, nil, "not one of android|ios"},
		{"device.os", `"symbian"`, nil, "not one of"},
		{"stream.direction", `"recv"`, "recv", ""},
		{"network.wifi_state", `"on"`, "on", ""},
		{"event.type", `"mute_audio"`, "mute_audio", ""},
		{"event.type", `"screenshot"`, nil, "not one of"},
		// prefix: only already-truncated prefixes (COLLECT-2)
		{"network.ip_address", `"203.0.113.0/24"`, "203.0.113.0/24", ""},
		{"network.ip_address", `"203.0.0.0/16"`, "203.0.0.0/16", ""},
		{"network.ip_address", `"2001:db8:1::/48"`, "2001:db8:1::/48", ""},
		{"network.ip_address", `"2001:0db8:0001::/48"`, "2001:db8:1::/48", ""},
		{"network.ip_address", `"203.0.113.7/32"`, nil, "IPv4 /32 is not truncated"},
		{"network.ip_address", `"203.0.113.0/25"`, nil, "IPv4 /25 is not truncated"},
		{"network.ip_address", `"203.0.113.7/24"`, nil, "host bits set"},
		{"network.ip_address", `"2001:db8:1:2::/64"`, nil, "IPv6 /64 is not truncated"},
		{"network.ip_address", `"203.0.113.7"`, nil, "not an IP prefix"},
		{"network.ip_address", `"fe80::1%eth0/48"`, nil, "not an IP prefix"},
		{"network.ip_address", `24`, nil, "want a string"},
	}
	for _, c := range cases {
		e, ok := inv.Element(c.id)
		if !ok {
			t.Fatalf("no element %s", c.id)
		}
		got, err := e.ValidateValue(json.RawMessage(c.raw))
		if c.err != "" {
			if !errors.Is(err, inventory.ErrBadValue) || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s %s: err = %v, want ErrBadValue mentioning %q", c.id, c.raw, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s %s = %#v, %v; want %#v", c.id, c.raw, got, err, c.want)
		}
	}
	e, _ := inv.Element("identity.user_id")
	if _, err := e.ValidateValue(json.RawMessage(`"u1"`)); !errors.Is(err, inventory.ErrBadValue) {
		t.Errorf("non-telemetry element accepted a value: %v", err)
	}
}

// The error never echoes the value: a rejected report must not leak PI
// into logs.
func TestValidateValueErrorOmitsValue(t *testing.T) {
	inv := mustDefault(t)
	e, _ := inv.Element("network.ip_address")
	_, err := e.ValidateValue(json.RawMessage(`"198.51.100.77/32"`))
	if err == nil || strings.Contains(err.Error(), "198.51.100.77") {
		t.Fatalf("err = %v", err)
	}
	e, _ = inv.Element("device.model")
	_, err = e.ValidateValue(json.RawMessage(`"secret-model-name` + strings.Repeat("x", 80) + `"`))
	if err == nil || strings.Contains(err.Error(), "secret-model-name") {
		t.Fatalf("err = %v", err)
	}
}

func TestValidateValueFloat(t *testing.T) {
	e := &inventory.Element{ID: "x.y", Wire: &inventory.Wire{Section: "quality", Type: inventory.TypeFloat, Min: 0, Max: 1}}
	for raw, ok := range map[string]bool{`0.5`: true, `1`: true, `1e0`: true, `1.5`: false, `-0.1`: false, `"0.5"`: false, `1e400`: false} {
		_, err := e.ValidateValue(json.RawMessage(raw))
		if (err == nil) != ok {
			t.Errorf("float %s: err = %v, want ok=%t", raw, err, ok)
		}
	}
}
