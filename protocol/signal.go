package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// MaxFrameBytes bounds one signaling frame. An SDP offer with simulcast and
// many codecs stays below 16 KiB; 64 KiB leaves room without letting a
// client make the server buffer megabytes.
const MaxFrameBytes = 64 << 10

// Type names a signaling frame.
type Type string

// Client → server frame types.
const (
	TypeJoin       Type = "join"             // JoinRequest → JoinResponse
	TypeLeave      Type = "leave"            // no data → ExitRoom{Reason: 0}
	TypePublish    Type = "publish"          // PublishRequest, before the offer that carries the tracks
	TypeUnpublish  Type = "unpublish"        // UnpublishRequest
	TypeOffer      Type = "offer"            // SessionDescription for the publisher PeerConnection
	TypeAnswer     Type = "answer"           // SessionDescription for the subscriber PeerConnection
	TypeCandidate  Type = "candidate"        // Candidate (either direction)
	TypeMute       Type = "mute"             // Mute
	TypeSwitchRole Type = "switch_role"      // SwitchRole
	TypeSetLayer   Type = "set_layer"        // SetLayer (simulcast choice)
	TypePing       Type = "ping"             // no data → pong
	TypeTelemetry  Type = "telemetry"        // TelemetryReport → ok, or error -4009 naming the field
	TypeWithdraw   Type = "withdraw_consent" // WithdrawConsent → ok; the server refuses PI until fresh consent
)

// Server → client frame types.
const (
	TypeJoined           Type = "joined"            // JoinResponse
	TypeUserEnter        Type = "user_enter"        // ParticipantInfo
	TypeUserLeave        Type = "user_leave"        // UserLeave
	TypeTrackPublished   Type = "track_published"   // TrackInfo
	TypeTrackUnpublished Type = "track_unpublished" // TrackInfo
	TypeAvailability     Type = "availability"      // Availability
	TypeRoleChanged      Type = "role_changed"      // SwitchRole
	TypeExitRoom         Type = "exit_room"         // ExitRoom
	TypeError            Type = "error"             // Error
	TypePong             Type = "pong"              // no data
	TypeOK               Type = "ok"                // no data: request accepted
)

var knownTypes = map[Type]bool{
	TypeJoin: true, TypeLeave: true, TypePublish: true, TypeUnpublish: true, TypeOffer: true,
	TypeAnswer: true, TypeCandidate: true, TypeMute: true, TypeSwitchRole: true, TypeSetLayer: true,
	TypePing: true, TypeTelemetry: true, TypeWithdraw: true, TypeCustomCmd: true, TypeJoined: true, TypeUserEnter: true, TypeUserLeave: true,
	TypeTrackPublished: true, TypeTrackUnpublished: true, TypeAvailability: true,
	TypeRoleChanged: true, TypeExitRoom: true, TypeError: true, TypePong: true, TypeOK: true,
}

// Envelope is one signaling frame: {"type":…,"id":…,"data":{…}}. ID, when
// non-zero, is echoed in the reply so a client can match request and answer.
type Envelope struct {
	Type Type            `json:"type"`
	ID   uint64          `json:"id,omitempty"`
	Data json.RawMessage `json:"data,omitempty"`
}

// Sentinel decoding errors.
var (
	ErrFrameTooLarge = errors.New("frame too large")
	ErrBadFrame      = errors.New("malformed frame")
	ErrUnknownType   = errors.New("unknown frame type")
)

// DecodeEnvelope parses one frame strictly: size-limited, valid JSON, no
// unknown top-level fields, no trailing data, a known type.
func DecodeEnvelope(b []byte) (Envelope, error) {
	var e Envelope
	if len(b) > MaxFrameBytes {
		return e, fmt.Errorf("%w: %d bytes, at most %d", ErrFrameTooLarge, len(b), MaxFrameBytes)
	}
	if err := strictUnmarshal(b, &e); err != nil {
		return Envelope{}, err
	}
	if e.Type == "" {
		return Envelope{}, fmt.Errorf("%w: missing \"type\"", ErrBadFrame)
	}
	if !knownTypes[e.Type] {
		return Envelope{}, fmt.Errorf("%w: %q", ErrUnknownType, truncate(string(e.Type), 32))
	}
	return e, nil
}

// DecodeData parses an envelope's data into v strictly (unknown fields are
// an error, so a misspelt field never passes silently).
func DecodeData(e Envelope, v any) error {
	if len(e.Data) == 0 {
		return fmt.Errorf("%w: %s needs a \"data\" object", ErrBadFrame, e.Type)
	}
	if err := strictUnmarshal(e.Data, v); err != nil {
		return fmt.Errorf("%s data: %w", e.Type, err)
	}
	return nil
}

// Encode builds a frame. It only fails for values json cannot encode, which
// is a programming error reported to the caller.
func Encode(t Type, id uint64, data any) ([]byte, error) {
	e := Envelope{Type: t, ID: id}
	if data != nil {
		raw, err := json.Marshal(data)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", t, err)
		}
		e.Data = raw
	}
	return json.Marshal(e)
}

func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", ErrBadFrame, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data after JSON value", ErrBadFrame)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// JoinRequest enters a room (TRTCParams).
type JoinRequest struct {
	SDKAppID      uint32 `json:"sdkappid"`
	UserID        string `json:"user_id"`
	UserSig       string `json:"user_sig"`
	RoomID        uint32 `json:"room_id,omitempty"`
	StrRoomID     string `json:"str_room_id,omitempty"`
	Scene         Scene  `json:"scene"`
	Role          Role   `json:"role,omitempty"` // required in live scenes; anchor otherwise
	PrivateMapKey string `json:"private_map_key,omitempty"`
	SDKVersion    string `json:"sdk_version,omitempty"`
	// DeviceID is the SDK's random install id (never a hardware id).
	DeviceID string `json:"device_id,omitempty"`
	// Platform is the SDK platform: android, ios, harmony, web, pc, go.
	Platform string `json:"platform,omitempty"`
	// Consent is the consent the SDK holds; required (CONSENT-1/3/6).
	Consent *ConsentClaim `json:"consent,omitempty"`
	// Switches are the optional-field and extension switches in force
	// (inventory switch ids → on/off); absent means off.
	Switches map[string]bool `json:"switches,omitempty"`
}

// Room returns the room reference of the request.
func (j *JoinRequest) Room() RoomRef { return RoomRef{ID: j.RoomID, Str: j.StrRoomID}.Normalized() }

// Validate checks the request's shape (not its credentials) and fills the
// default role: scenes without roles treat everyone as an anchor.
func (j *JoinRequest) Validate() error {
	if j.SDKAppID == 0 {
		return errors.New("sdkappid: required")
	}
	if err := ValidateUserID(j.UserID); err != nil {
		return err
	}
	if j.UserSig == "" {
		return errors.New("user_sig: required")
	}
	if err := j.Room().Validate(); err != nil {
		return err
	}
	if !j.Scene.Valid() {
		return fmt.Errorf("scene: %d is not 0 (videocall), 1 (live), 2 (audiocall) or 3 (voicechatroom)", j.Scene)
	}
	switch {
	case j.Role == 0 && j.Scene.IsLive():
		return errors.New("role: required in live scenes (20 anchor, 21 audience)")
	case j.Role == 0:
		j.Role = RoleAnchor
	case !j.Role.Valid():
		return fmt.Errorf("role: %d is not 20 (anchor) or 21 (audience)", j.Role)
	}
	if len(j.SDKVersion) > 64 {
		return errors.New("sdk_version: at most 64 bytes")
	}
	if j.DeviceID != "" {
		if err := ValidateDeviceID(j.DeviceID); err != nil {
			return err
		}
	}
	switch j.Platform {
	case "", "android", "ios", "harmony", "web", "pc", "go":
	default:
		return fmt.Errorf("platform: %q is not android, ios, harmony, web, pc or go", truncate(j.Platform, 16))
	}
	if j.Consent != nil {
		if err := j.Consent.Validate(); err != nil {
			return err
		}
	}
	if len(j.Switches) > MaxSwitches {
		return fmt.Errorf("switches: at most %d", MaxSwitches)
	}
	for k := range j.Switches {
		if k == "" || len(k) > 64 {
			return errors.New("switches: each switch id must be 1-64 bytes")
		}
	}
	return nil
}

// MaxSwitches bounds the switches a join may carry.
const MaxSwitches = 64

// JoinResponse answers a join: Result is the join time in ms (>0), as
// TRTC's onEnterRoom(result).
type JoinResponse struct {
	Result       int64             `json:"result"`
	Room         RoomRef           `json:"room"`
	Role         Role              `json:"role"`
	Participants []ParticipantInfo `json:"participants"`
}

// ParticipantInfo describes a remote user in the room.
type ParticipantInfo struct {
	UserID string      `json:"user_id"`
	Role   Role        `json:"role"`
	Tracks []TrackInfo `json:"tracks,omitempty"`
}

// Kind is a media kind.
type Kind string

// Media kinds.
const (
	KindAudio Kind = "audio"
	KindVideo Kind = "video"
)

// StreamType distinguishes the main camera stream from the sub-stream
// (screen share), as TRTCVideoStreamType.
type StreamType string

// Stream types.
const (
	StreamMain StreamType = "main"
	StreamSub  StreamType = "sub"
)

// TrackInfo describes one published track.
type TrackInfo struct {
	TrackID    string     `json:"track_id"`
	UserID     string     `json:"user_id"`
	Kind       Kind       `json:"kind"`
	StreamType StreamType `json:"stream_type"`
	Muted      bool       `json:"muted,omitempty"`
	Layers     []string   `json:"layers,omitempty"` // simulcast RIDs, lowest first
}

// PublishRequest announces a track before the offer that carries it. The
// TrackID must equal the WebRTC track id in the offer's msid.
type PublishRequest struct {
	TrackID    string     `json:"track_id"`
	Kind       Kind       `json:"kind"`
	StreamType StreamType `json:"stream_type,omitempty"`
	Layers     []string   `json:"layers,omitempty"`
}

// MaxTrackIDBytes bounds track identifiers.
const MaxTrackIDBytes = 64

// Validate checks a publish request.
func (p *PublishRequest) Validate() error {
	if p.TrackID == "" || len(p.TrackID) > MaxTrackIDBytes {
		return fmt.Errorf("track_id: 1-%d bytes required", MaxTrackIDBytes)
	}
	if p.Kind != KindAudio && p.Kind != KindVideo {
		return fmt.Errorf("kind: %q is not \"audio\" or \"video\"", truncate(string(p.Kind), 16))
	}
	if p.StreamType == "" {
		p.StreamType = StreamMain
	}
	if p.StreamType != StreamMain && p.StreamType != StreamSub {
		return fmt.Errorf("stream_type: %q is not \"main\" or \"sub\"", truncate(string(p.StreamType), 16))
	}
	if len(p.Layers) > 3 {
		return errors.New("layers: at most 3 simulcast layers")
	}
	for _, l := range p.Layers {
		if l == "" || len(l) > 16 {
			return errors.New("layers: each RID must be 1-16 bytes")
		}
	}
	return nil
}

// UnpublishRequest withdraws a track.
type UnpublishRequest struct {
	TrackID string `json:"track_id"`
}

// SessionDescription carries SDP.
type SessionDescription struct {
	Type string `json:"type"` // "offer" or "answer"
	SDP  string `json:"sdp"`
}

// Target names which of a client's two PeerConnections a candidate is for.
type Target string

// PeerConnection targets: the client publishes on one and subscribes on
// the other, so each direction negotiates independently.
const (
	TargetPublisher  Target = "publisher"
	TargetSubscriber Target = "subscriber"
)

// Candidate is a trickled ICE candidate (RTCIceCandidateInit).
type Candidate struct {
	Target        Target  `json:"target"`
	Candidate     string  `json:"candidate"`
	SDPMid        *string `json:"sdpMid,omitempty"`
	SDPMLineIndex *uint16 `json:"sdpMLineIndex,omitempty"`
}

// Mute reports a local mute change; the server relays it as Availability.
type Mute struct {
	Kind       Kind       `json:"kind"`
	StreamType StreamType `json:"stream_type,omitempty"`
	Muted      bool       `json:"muted"`
}

// SwitchRole changes the role in a live scene.
type SwitchRole struct {
	UserID string `json:"user_id,omitempty"` // set by the server when relaying
	Role   Role   `json:"role"`
}

// SetLayer picks the simulcast layer a subscriber wants for a track.
type SetLayer struct {
	UserID  string `json:"user_id"`
	TrackID string `json:"track_id"`
	Layer   string `json:"layer"` // a RID from TrackInfo.Layers
}

// UserLeave announces a remote user leaving (onRemoteUserLeaveRoom).
type UserLeave struct {
	UserID string `json:"user_id"`
	Reason int    `json:"reason"`
}

// Availability announces remote audio/video availability
// (onUserAudioAvailable / onUserVideoAvailable / onUserSubStreamAvailable).
type Availability struct {
	UserID     string     `json:"user_id"`
	Kind       Kind       `json:"kind"`
	StreamType StreamType `json:"stream_type"`
	Available  bool       `json:"available"`
}

// ExitRoom tells the client it is out of the room and why.
type ExitRoom struct {
	Reason int    `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

// Error answers a request that failed.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}
