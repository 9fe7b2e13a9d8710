package protocol

import (
	"errors"
	"strings"
	"testing"
)

func TestDecodeEnvelopeRejectsBadFrames(t *testing.T) {
	cases := []struct {
		name, frame string
		want        error
		msg         string
	}{
		{"not json", `{"type":`, ErrBadFrame, "unexpected EOF"},
		{"missing type", `{"id":1}`, ErrBadFrame, `missing "type"`},
		{"unknown type", `{"type":"launch_missiles"}`, ErrUnknownType, "launch_missiles"},
		{"unknown field", `{"type":"ping","extra":1}`, ErrBadFrame, `unknown field "extra"`},
		{"trailing data", `{"type":"ping"}{"type":"ping"}`, ErrBadFrame, "trailing data"},
		{"wrong id type", `{"type":"ping","id":"one"}`, ErrBadFrame, "cannot unmarshal"},
		{"too large", `{"type":"ping","data":"` + strings.Repeat("x", MaxFrameBytes) + `"}`, ErrFrameTooLarge, "at most 65536"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeEnvelope([]byte(c.frame))
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %q does not say %q", err, c.msg)
			}
		})
	}
}

func TestDecodeDataIsStrict(t *testing.T) {
	env, err := DecodeEnvelope([]byte(`{"type":"join","id":7,"data":{"sdkappid":1,"user_id":"a","user_sig":"s","room_id":1,"scene":0,"rol":20}}`))
	if err != nil {
		t.Fatal(err)
	}
	var j JoinRequest
	if err := DecodeData(env, &j); err == nil || !strings.Contains(err.Error(), `unknown field "rol"`) {
		t.Fatalf("misspelt field accepted: %v", err)
	}
	if err := DecodeData(Envelope{Type: TypeJoin}, &j); err == nil || !strings.Contains(err.Error(), `needs a "data" object`) {
		t.Fatalf("missing data accepted: %v", err)
	}
}

func TestJoinValidate(t *testing.T) {
	ok := JoinRequest{SDKAppID: 1400000001, UserID: "alice_1-x", UserSig: "sig", RoomID: 123, Scene: SceneVideoCall}
	if err := ok.Validate(); err != nil || ok.Role != RoleAnchor {
		t.Fatalf("valid join: err=%v role=%d (want anchor default)", err, ok.Role)
	}
	cases := map[string]func(j *JoinRequest){
		"user id too long":  func(j *JoinRequest) { j.UserID = strings.Repeat("a", 33) },
		"user id bad char":  func(j *JoinRequest) { j.UserID = "al ice" },
		"no room":           func(j *JoinRequest) { j.RoomID = 0 },
		"str room bad char": func(j *JoinRequest) { j.RoomID, j.StrRoomID = 0, "room/1" },
		"str room too long": func(j *JoinRequest) { j.RoomID, j.StrRoomID = 0, strings.Repeat("r", 65) },
		"live needs role":   func(j *JoinRequest) { j.Scene = SceneLive },
		"bad role":          func(j *JoinRequest) { j.Role = 22 },
		"bad scene":         func(j *JoinRequest) { j.Scene = 9 },
		"no sdkappid":       func(j *JoinRequest) { j.SDKAppID = 0 },
		"no usersig":        func(j *JoinRequest) { j.UserSig = "" },
	}
	for name, mutate := range cases {
		j := ok
		j.Role = 0
		mutate(&j)
		if err := j.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	allowed := JoinRequest{SDKAppID: 1, UserID: "u", UserSig: "s", StrRoomID: "a-Z 0!#$%&()+-:;<=.>?@[]^_{}|~,", Scene: SceneLive, Role: RoleAudience}
	if err := allowed.Validate(); err != nil {
		t.Fatalf("every allowed strRoomId character: %v", err)
	}
}

func TestRoomKeysSeparateNamespaces(t *testing.T) {
	if (RoomRef{ID: 123}).Key() == (RoomRef{Str: "123"}).Key() {
		t.Fatal("numeric room 123 and string room \"123\" share a key")
	}
	if (RoomRef{ID: 5, Str: "x"}).Normalized() != (RoomRef{ID: 5}) {
		t.Fatal("numeric id must win over str id")
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	b, err := Encode(TypeJoined, 9, JoinResponse{Result: 12, Room: RoomRef{Str: "r"}, Role: RoleAnchor, Participants: []ParticipantInfo{}})
	if err != nil {
		t.Fatal(err)
	}
	env, err := DecodeEnvelope(b)
	if err != nil || env.ID != 9 || env.Type != TypeJoined {
		t.Fatalf("round trip: %+v, %v", env, err)
	}
	var jr JoinResponse
	if err := DecodeData(env, &jr); err != nil || jr.Result != 12 || jr.Room.Str != "r" {
		t.Fatalf("data round trip: %+v, %v", jr, err)
	}
}

// FuzzDecodeFrame feeds arbitrary bytes through the decoder and every
// payload type the server accepts: it must never panic, and whatever it
// accepts must re-encode.
func FuzzDecodeFrame(f *testing.F) {
	seeds := []string{
		`{"type":"join","id":1,"data":{"sdkappid":1400000001,"user_id":"alice","user_sig":"eJx","room_id":123,"scene":0}}`,
		`{"type":"publish","id":2,"data":{"track_id":"v","kind":"video","layers":["q","h","f"]}}`,
		`{"type":"offer","id":3,"data":{"type":"offer","sdp":"v=0\r\n"}}`,
		`{"type":"candidate","data":{"target":"publisher","candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0","sdpMLineIndex":0}}`,
		`{"type":"mute","data":{"kind":"audio","muted":true}}`,
		`{"type":"switch_role","data":{"role":21}}`,
		`{"type":"set_layer","data":{"user_id":"a","track_id":"v","layer":"q"}}`,
		`{"type":"ping"}`, `{}`, `[]`, `null`, "\x00",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"type":"telemetry","id":9,"data":{"seq":1,"at":1,"quality":{"quality.rtt_ms":3}}}`))
	f.Add([]byte(`{"type":"telemetry","id":1}`))
	f.Add([]byte(`{"type":"custom_cmd","id":3,"data":{"cmd_id":1,"data":"aGk=","reliable":true}}`))
	f.Add([]byte(`{"type":"telemetry","data":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		// The one-pass telemetry decoder never accepts what the general
		// path would refuse.
		if id, _, ok := DecodeTelemetryFrame(b); ok {
			env, err := DecodeEnvelope(b)
			var rep TelemetryReport
			if err != nil || env.Type != TypeTelemetry || env.ID != id || DecodeData(env, &rep) != nil {
				t.Fatalf("one-pass telemetry decode accepted a frame the general path refuses: %v", err)
			}
		}
		env, err := DecodeEnvelope(b)
		if err != nil {
			return
		}
		targets := map[Type]any{
			TypeJoin: &JoinRequest{}, TypePublish: &PublishRequest{}, TypeUnpublish: &UnpublishRequest{},
			TypeOffer: &SessionDescription{}, TypeAnswer: &SessionDescription{}, TypeCandidate: &Candidate{},
			TypeMute: &Mute{}, TypeSwitchRole: &SwitchRole{}, TypeSetLayer: &SetLayer{},
			TypeCustomCmd: &CustomCmd{},
		}
		if v, ok := targets[env.Type]; ok && DecodeData(env, v) == nil {
			switch x := v.(type) {
			case *JoinRequest:
				_ = x.Validate()
				_ = x.Room().Key()
			case *PublishRequest:
				_ = x.Validate()
			case *CustomCmd:
				_ = x.Validate()
			}
		}
		if _, err := Encode(env.Type, env.ID, env.Data); err != nil {
			t.Fatalf("accepted frame does not re-encode: %v", err)
		}
	})
}
