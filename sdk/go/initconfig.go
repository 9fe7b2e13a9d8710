package parley

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"reflect"
	"slices"
	"strings"

	"github.com/parley-rtc/parley/protocol"
)

// ErrInitConfig reports an init config ParseInitConfig or Config
// validation refuses; the message names the key.
var ErrInitConfig = errors.New("parley: invalid init config")

// MaxInitConfigBytes bounds an init config file.
const MaxInitConfigBytes = 64 << 10

// OnOff is a seed-000 integer switch: 1 on, 0 (or absent) off. JSON
// accepts exactly 0 or 1.
type OnOff bool

// MarshalJSON writes 1 or 0.
func (o OnOff) MarshalJSON() ([]byte, error) {
	if o {
		return []byte("1"), nil
	}
	return []byte("0"), nil
}

// UnmarshalJSON accepts exactly 1 or 0.
func (o *OnOff) UnmarshalJSON(b []byte) error {
	switch string(bytes.TrimSpace(b)) {
	case "1":
		*o = true
	case "0":
		*o = false
	default:
		// An UnmarshalTypeError gets the key added by encoding/json.
		return &json.UnmarshalTypeError{Value: truncateStr(string(b), 16) + " (want 1 or 0)", Type: reflect.TypeFor[OnOff]()}
	}
	return nil
}

// InitConfig is the SDK init configuration of seed 000's industrial
// edition (REFERENCE §4): which media may be captured and sent, and — for
// the field-device agent — where to connect and the consent the device's
// operator recorded. Every optional element and extension has a switch;
// absent means off (SWITCH-1/2/3, COLLECT-5).
type InitConfig struct {
	// AudioEnable: "audio_enable": 1 allows audio capture and sending;
	// 0 or absent refuses PublishAudio with ErrSwitchOff (SWITCH-1).
	AudioEnable OnOff `json:"audio_enable,omitempty"`
	// AudioSource is the device agent's audio source: "synthetic"
	// (default) or "file:<path>.ogg" (Opus), relative to the config file.
	AudioSource string `json:"audio_source,omitempty"`
	// Streams ("streams_config") lists the video streams; absent or empty
	// means no video: PublishVideo fails with ErrSwitchOff (SWITCH-2).
	Streams []StreamConfig `json:"streams_config,omitempty"`
	// ForceLogin: 1 enters even if the same device is already in the room
	// (the server replaces the older session); 0, the default, is
	// documented in docs/device.md.
	ForceLogin OnOff `json:"force_login,omitempty"`

	// Field-device agent keys (parley device).
	ServerURL string `json:"server_url,omitempty"`
	SDKAppID  uint32 `json:"sdkappid,omitempty"`
	DeviceID  string `json:"device_id,omitempty"`
	UserID    string `json:"user_id,omitempty"`
	UserSig   string `json:"usersig,omitempty"`
	RoomID    uint32 `json:"room_id,omitempty"`
	StrRoomID string `json:"str_room_id,omitempty"`
	// Consent is the consent the device's operator obtained; without
	// "granted": true the agent makes no network connection at all.
	Consent *ConsentBlock `json:"consent,omitempty"`

	// Switches turns extensions and optional fields on (KnownSwitches):
	// "ext.apm", "field.device.model", … Absent means off.
	Switches map[string]bool `json:"switches,omitempty"`
}

// StreamConfig is one "streams_config" entry.
type StreamConfig struct {
	// StreamID names the stream (1-64 bytes of [a-zA-Z0-9_-]).
	StreamID string `json:"stream_id"`
	// StreamType is "main" (default) or "sub"; each at most once.
	StreamType protocol.StreamType `json:"stream_type,omitempty"`
	// Source (device agent): "synthetic" (default) or "file:<path>": an
	// IVF file for vp8, an Annex-B .h264 file for h264.
	Source string `json:"source,omitempty"`
	// Codec is "vp8" (default) or "h264".
	Codec string `json:"codec,omitempty"`
	// Width, Height and FPS shape a synthetic source (FPS also paces an
	// H.264 file); 0 picks the defaults.
	Width  int `json:"width,omitempty"`
	Height int `json:"height,omitempty"`
	FPS    int `json:"fps,omitempty"`
	// Simulcast sends three layers (synthetic sources only).
	Simulcast bool `json:"simulcast,omitempty"`
}

// ConsentBlock is the init config's "consent" object.
type ConsentBlock struct {
	Granted       bool     `json:"granted"`
	PolicyVersion string   `json:"policy_version,omitempty"`
	Purposes      []string `json:"purposes,omitempty"`
	// AgeBand is "adult" or "minor"; a minor needs GuardianRef (MINOR-1).
	AgeBand     string `json:"age_band,omitempty"`
	GuardianRef string `json:"guardian_ref,omitempty"`
}

// Source kinds.
const (
	SourceSynthetic  = "synthetic"
	sourceFilePrefix = "file:"
)

// ParseInitConfig parses an init config strictly: one JSON object, no
// unknown, duplicate or differently-cased keys, no nulls, no trailing
// data; every value is checked (Validate). Errors wrap ErrInitConfig and
// name the key.
func ParseInitConfig(b []byte) (InitConfig, error) {
	var ic InitConfig
	if len(b) > MaxInitConfigBytes {
		return ic, fmt.Errorf("%w: %d bytes, at most %d", ErrInitConfig, len(b), MaxInitConfigBytes)
	}
	if err := checkKeys(b); err != nil {
		return InitConfig{}, fmt.Errorf("%w: %w", ErrInitConfig, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ic); err != nil {
		return InitConfig{}, fmt.Errorf("%w: %w", ErrInitConfig, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return InitConfig{}, fmt.Errorf("%w: trailing data after the JSON object", ErrInitConfig)
	}
	if err := ic.Validate(); err != nil {
		return InitConfig{}, err
	}
	return ic, nil
}

// Allowed keys per object of an init config (exact spelling: encoding/json
// alone would accept "Audio_Enable").
func initConfigKeys() map[string][]string {
	return map[string][]string{
		"": {"audio_enable", "audio_source", "streams_config", "force_login", "server_url", "sdkappid",
			"device_id", "user_id", "usersig", "room_id", "str_room_id", "consent", "switches"},
		"streams_config[]": {"stream_id", "stream_type", "source", "codec", "width", "height", "fps", "simulcast"},
		"consent":          {"granted", "policy_version", "purposes", "age_band", "guardian_ref"},
		"switches":         nil, // any key here; Validate checks them against KnownSwitches
	}
}

// checkKeys walks the JSON tokens: the top level is an object, keys are
// exactly those allowed and unique per object, and no value is null.
func checkKeys(b []byte) error {
	allowed := initConfigKeys()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	type frame struct {
		obj  bool
		path string // schema path of this container
		seen map[string]bool
		key  string // the object's current key, "" when expecting one
	}
	var stack []*frame
	childPath := func() string {
		if len(stack) == 0 {
			return ""
		}
		top := stack[len(stack)-1]
		if top.obj {
			if top.path == "" {
				return top.key
			}
			return top.path + "." + top.key
		}
		return top.path + "[]"
	}
	where := func() string {
		p := childPath()
		if p == "" {
			return "init config"
		}
		return p
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if len(stack) != 0 {
				return errors.New("unexpected end of JSON")
			}
			return nil
		}
		if err != nil {
			return err
		}
		if len(stack) == 0 {
			if d, ok := tok.(json.Delim); !ok || d != '{' {
				return errors.New("the init config must be one JSON object")
			}
		}
		top := (*frame)(nil)
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.obj && top.key == "" {
			// Expecting a key or the end of the object.
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].obj {
					stack[len(stack)-1].key = ""
				}
				continue
			}
			k, _ := tok.(string)
			in := top.path
			if in == "" {
				in = "init config"
			}
			if top.seen[k] {
				return fmt.Errorf("duplicate key %q in %s", truncateStr(k, 64), in)
			}
			top.seen[k] = true
			if keys, ok := allowed[top.path]; ok && keys != nil && !slices.Contains(keys, k) {
				return fmt.Errorf("unknown key %q in %s", truncateStr(k, 64), in)
			}
			top.key = k
			continue
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, &frame{obj: true, path: childPath(), seen: map[string]bool{}})
			case '[':
				stack = append(stack, &frame{path: childPath()})
			case ']':
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].obj {
					stack[len(stack)-1].key = ""
				}
			}
			continue
		case nil:
			return fmt.Errorf("%s: null is not allowed", where())
		}
		if top != nil && top.obj {
			top.key = ""
		}
	}
}

// Validate checks every key's value. ParseInitConfig calls it; New calls
// it for Config.InitConfig.
func (ic *InitConfig) Validate() error {
	bad := func(key, format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInitConfig, key, fmt.Sprintf(format, a...))
	}
	if ic.AudioSource != "" {
		if err := checkSource(ic.AudioSource, []string{".ogg", ".opus"}); err != nil {
			return bad("audio_source", "%v", err)
		}
	}
	if len(ic.Streams) > 2 {
		return bad("streams_config", "at most 2 streams (one main, one sub), got %d", len(ic.Streams))
	}
	types := map[protocol.StreamType]bool{}
	ids := map[string]bool{}
	for i := range ic.Streams {
		s := &ic.Streams[i]
		key := fmt.Sprintf("streams_config[%d]", i)
		if err := protocol.ValidateDeviceID(s.StreamID); err != nil {
			return bad(key+".stream_id", "1-64 bytes of [a-zA-Z0-9_-] required")
		}
		if ids[s.StreamID] {
			return bad(key+".stream_id", "%q listed twice", s.StreamID)
		}
		ids[s.StreamID] = true
		st := s.StreamType
		if st == "" {
			st = protocol.StreamMain
		}
		if st != protocol.StreamMain && st != protocol.StreamSub {
			return bad(key+".stream_type", "%q is not main or sub", truncateStr(string(st), 16))
		}
		if types[st] {
			return bad(key+".stream_type", "a second %s stream", st)
		}
		types[st] = true
		codec := s.Codec
		if codec == "" {
			codec = CodecVP8
		}
		exts := map[string][]string{CodecVP8: {".ivf"}, CodecH264: {".h264", ".264"}}[codec]
		if exts == nil {
			return bad(key+".codec", "%q is not vp8 or h264", truncateStr(codec, 16))
		}
		if s.Source != "" {
			if err := checkSource(s.Source, exts); err != nil {
				return bad(key+".source", "%v", err)
			}
		}
		if s.Width < 0 || s.Width > 16384 || s.Height < 0 || s.Height > 16384 {
			return bad(key+".width/height", "0-16384 required")
		}
		if s.FPS < 0 || s.FPS > 240 {
			return bad(key+".fps", "0-240 required")
		}
		if s.Simulcast && (s.Source != "" && s.Source != SourceSynthetic || codec != CodecVP8) {
			return bad(key+".simulcast", "needs a synthetic vp8 source")
		}
	}
	if ic.ServerURL != "" && !strings.HasPrefix(ic.ServerURL, "ws://") && !strings.HasPrefix(ic.ServerURL, "wss://") {
		return bad("server_url", "%q is not ws:// or wss://", truncateStr(ic.ServerURL, 64))
	}
	if ic.DeviceID != "" {
		if err := protocol.ValidateDeviceID(ic.DeviceID); err != nil {
			return bad("device_id", "%v", err)
		}
	}
	if ic.UserID != "" {
		if err := protocol.ValidateUserID(ic.UserID); err != nil {
			return bad("user_id", "%v", err)
		}
	}
	if ic.RoomID != 0 || ic.StrRoomID != "" {
		if ic.RoomID != 0 && ic.StrRoomID != "" {
			return bad("room_id", "set room_id or str_room_id, not both")
		}
		ref := protocol.RoomRef{ID: ic.RoomID, Str: ic.StrRoomID}.Normalized()
		if err := ref.Validate(); err != nil {
			return bad("room_id/str_room_id", "%v", err)
		}
	}
	if c := ic.Consent; c != nil {
		if c.Granted {
			claim := c.claim(0)
			if err := claim.Validate(); err != nil {
				return bad("consent", "%v", err)
			}
		} else if c.AgeBand != "" && c.AgeBand != protocol.AgeBandAdult && c.AgeBand != protocol.AgeBandMinor {
			return bad("consent.age_band", "%q is not adult or minor", truncateStr(c.AgeBand, 16))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(ic.Switches)) {
		switch {
		case k == SwitchAudio || k == SwitchStreams:
			return bad("switches", "%q is set by the top-level %q key", k, k)
		case !isKnownSwitch(k):
			return bad("switches", "unknown switch %q (known: %s)", truncateStr(k, 64), strings.Join(KnownSwitches(), ", "))
		}
	}
	return nil
}

// claim is the consent claim the block records (method device_config).
func (c *ConsentBlock) claim(grantedAt int64) protocol.ConsentClaim {
	return protocol.ConsentClaim{
		PolicyVersion: c.PolicyVersion, Purposes: slices.Clone(c.Purposes),
		Method: protocol.ConsentMethodConfig, GrantedAt: grantedAt,
		AgeBand: c.AgeBand, GuardianRef: c.GuardianRef,
	}
}

// checkSource checks "synthetic" or "file:<path>" with one of exts.
func checkSource(src string, exts []string) error {
	if src == SourceSynthetic {
		return nil
	}
	p, ok := strings.CutPrefix(src, sourceFilePrefix)
	if !ok || p == "" || len(p) > 1024 {
		return fmt.Errorf("%q is not %q or %q", truncateStr(src, 64), SourceSynthetic, "file:<path>")
	}
	ext := strings.ToLower(path.Ext(p))
	if !slices.Contains(exts, ext) {
		return fmt.Errorf("%q: want a %s file", truncateStr(p, 64), strings.Join(exts, " or "))
	}
	return nil
}

// clone deep-copies ic so the client keeps its own.
func (ic *InitConfig) clone() *InitConfig {
	out := *ic
	out.Streams = slices.Clone(ic.Streams)
	out.Switches = maps.Clone(ic.Switches)
	if ic.Consent != nil {
		c := *ic.Consent
		c.Purposes = slices.Clone(c.Purposes)
		out.Consent = &c
	}
	return &out
}

// stream returns the listed stream of type st.
func (ic *InitConfig) stream(st protocol.StreamType) (StreamConfig, bool) {
	for _, s := range ic.Streams {
		t := s.StreamType
		if t == "" {
			t = protocol.StreamMain
		}
		if t == st {
			return s, true
		}
	}
	return StreamConfig{}, false
}

func truncateStr(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
