package parley

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/parley-rtc/parley/protocol"
)

func TestParseInitConfigExample(t *testing.T) {
	b, err := os.ReadFile("../../testdata/device/example.json")
	if err != nil {
		t.Fatal(err)
	}
	ic, err := ParseInitConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bool(ic.AudioEnable) || !bool(ic.ForceLogin) || len(ic.Streams) != 2 || ic.StrRoomID != "yard-3" ||
		ic.Consent == nil || !ic.Consent.Granted || !ic.Switches[SwitchAPM] || ic.DeviceID != "crane-07-cab" {
		t.Errorf("parsed %+v", ic)
	}
	if s, ok := ic.stream(protocol.StreamSub); !ok || s.StreamID != "hook" || s.FPS != 15 {
		t.Errorf("sub stream = %+v", s)
	}
}

// proves SWITCH-1
// proves SWITCH-2
func TestParseInitConfigDefaultsOff(t *testing.T) {
	ic, err := ParseInitConfig([]byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if bool(ic.AudioEnable) || ic.Streams != nil || bool(ic.ForceLogin) || ic.Consent != nil || ic.Switches != nil {
		t.Errorf("empty config = %+v", ic)
	}
	ic, err = ParseInitConfig([]byte(`{"audio_enable": 0, "streams_config": []}`))
	if err != nil || bool(ic.AudioEnable) || len(ic.Streams) != 0 {
		t.Fatalf("= %+v, %v", ic, err)
	}
	c, err := New(Config{URL: "ws://x", SDKAppID: 1, UserID: "u", UserSig: "s", InitConfig: &ic})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.checkMedia(protocol.KindAudio, protocol.StreamMain) == nil || c.checkMedia(protocol.KindVideo, protocol.StreamMain) == nil {
		t.Error("audio or video allowed with audio_enable 0 and no streams")
	}
}

func TestParseInitConfigRejects(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"audio_enable": 1, "video_enable": 1}`, `unknown key "video_enable"`},
		{`{"Audio_Enable": 1}`, `unknown key "Audio_Enable"`},
		{`{"audio_enable": 1, "audio_enable": 0}`, `duplicate key "audio_enable"`},
		{`{"audio_enable": null}`, `audio_enable: null`},
		{`{"audio_enable": 2}`, `audio_enable`},
		{`{"audio_enable": true}`, `audio_enable`},
		{`{"audio_enable": "1"}`, `audio_enable`},
		{`{"force_login": 3}`, `force_login`},
		{`{"streams_config": [{"codec": "vp8"}]}`, `streams_config[0].stream_id`},
		{`{"streams_config": [{"stream_id": "a", "codec": "av1"}]}`, `streams_config[0].codec`},
		{`{"streams_config": [{"stream_id": "a", "resolution": "hd"}]}`, `unknown key "resolution" in streams_config[]`},
		{`{"streams_config": [{"stream_id": "a"}, {"stream_id": "b"}]}`, `a second main stream`},
		{`{"streams_config": [{"stream_id": "a"}, {"stream_id": "a", "stream_type": "sub"}]}`, `listed twice`},
		{`{"streams_config": [{"stream_id": "a", "source": "file:cam.mp4"}]}`, `streams_config[0].source`},
		{`{"streams_config": [{"stream_id": "a", "source": "rtsp://cam"}]}`, `streams_config[0].source`},
		{`{"streams_config": [{"stream_id": "a", "codec": "h264", "source": "file:a.ivf"}]}`, `streams_config[0].source`},
		{`{"streams_config": [{"stream_id": "a", "source": "file:a.ivf", "simulcast": true}]}`, `simulcast`},
		{`{"streams_config": [{"stream_id": "a", "fps": 500}]}`, `fps`},
		{`{"streams_config": [{"stream_id": "a", "width": -1}]}`, `width`},
		{`{"streams_config": {"stream_id": "a"}}`, `streams_config`},
		{`{"audio_source": "file:a.wav"}`, `audio_source`},
		{`{"switches": {"ext.telemetry": true}}`, `unknown switch "ext.telemetry"`},
		{`{"switches": {"audio_enable": true}}`, `top-level "audio_enable"`},
		{`{"switches": {"ext.apm": 1}}`, `switches`},
		{`{"consent": {"granted": true, "purposes": ["rtc"]}}`, `consent: `},
		{`{"consent": {"granted": true, "policy_version": "v1", "purposes": ["ads"]}}`, `"ads" is not a known purpose`},
		{`{"consent": {"granted": "yes"}}`, `consent`},
		{`{"consent": {"granted": true, "policy_version": "v1", "purposes": ["rtc"], "scope": 1}}`, `unknown key "scope" in consent`},
		{`{"room_id": 1, "str_room_id": "a"}`, `not both`},
		{`{"server_url": "http://x"}`, `server_url`},
		{`{"sdkappid": -1}`, `sdkappid`},
		{`{"device_id": "aa:bb:cc:dd:ee:ff"}`, `device_id`},
		{`{"user_id": ""}`, ``},
		{`{} {}`, `trailing data`},
		{`[]`, `one JSON object`},
		{`"x"`, `one JSON object`},
		{``, ``},
		{`{"audio_enable": 1`, ``},
	} {
		_, err := ParseInitConfig([]byte(tc.in))
		if tc.in == `{"user_id": ""}` {
			if err != nil {
				t.Errorf("%s: %v", tc.in, err)
			}
			continue
		}
		if !errors.Is(err, ErrInitConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseInitConfig(%s) = %v, want ErrInitConfig naming %q", tc.in, err, tc.want)
		}
	}
	if _, err := ParseInitConfig(bytes.Repeat([]byte(" "), MaxInitConfigBytes+1)); !errors.Is(err, ErrInitConfig) {
		t.Errorf("oversized config accepted: %v", err)
	}
}

func TestNewRejectsBadInitConfig(t *testing.T) {
	ic := &InitConfig{Switches: map[string]bool{"field.device.imei": true}}
	if _, err := New(Config{URL: "ws://x", SDKAppID: 1, UserID: "u", UserSig: "s", InitConfig: ic}); !errors.Is(err, ErrInvalidConfig) || !errors.Is(err, ErrInitConfig) {
		t.Errorf("New = %v", err)
	}
}

func TestInitConfigIsCopied(t *testing.T) {
	ic := &InitConfig{AudioEnable: true, Switches: map[string]bool{}}
	c, err := New(Config{URL: "ws://x", SDKAppID: 1, UserID: "u", UserSig: "s", InitConfig: ic})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ic.AudioEnable = false
	ic.Switches[SwitchAPM] = true
	if !c.audioAllowed() || c.switchOn(SwitchAPM) {
		t.Error("the client follows later changes to the caller's InitConfig")
	}
}

func FuzzParseInitConfig(f *testing.F) {
	if b, err := os.ReadFile("../../testdata/device/example.json"); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		`{}`, `{"audio_enable":1}`, `{"audio_enable":0,"streams_config":[]}`,
		`{"streams_config":[{"stream_id":"a","codec":"h264","source":"file:x.h264","fps":25}]}`,
		`{"consent":{"granted":true,"policy_version":"v1","purposes":["rtc","quality"],"age_band":"minor","guardian_ref":"g"}}`,
		`{"switches":{"ext.apm":true,"field.device.model":false}}`,
		`{"room_id":12,"force_login":1,"sdkappid":1400000001}`,
		`{"a":{"b":[1,{"c":null}]}}`, `{"audio_enable":1,"audio_enable":1}`, `[{}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ic, err := ParseInitConfig(b)
		if err != nil {
			if !errors.Is(err, ErrInitConfig) {
				t.Fatalf("error does not wrap ErrInitConfig: %v", err)
			}
			return
		}
		// What parses re-encodes to a config that parses to the same.
		out, err := json.Marshal(ic)
		if err != nil {
			t.Fatal(err)
		}
		ic2, err := ParseInitConfig(out)
		if err != nil {
			t.Fatalf("re-encoded config %s refused: %v", out, err)
		}
		out2, err := json.Marshal(ic2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, out2) {
			t.Fatalf("not stable:\n%s\n%s", out, out2)
		}
		c, err := New(Config{URL: "ws://x", SDKAppID: 1, UserID: "u", UserSig: "s", InitConfig: &ic})
		if err != nil {
			t.Fatalf("New refused a parsed config: %v", err)
		}
		_ = c.Close()
	})
}
