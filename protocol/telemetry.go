package protocol

import "encoding/json"

// Telemetry wire format (frame "telemetry", client → server). Every key in
// every section is an inventory element id (internal/privacy/inventory):
// the server accepts a key only if the inventory declares it for that
// section, its switch is on for the session and its purpose is consented.
//
//	{"type":"telemetry","data":{
//	  "seq": 7, "at": 1763850000000,
//	  "quality": {"quality.rtt_ms": 12, "quality.up_loss_pct": 0, …},
//	  "streams": [{"stream.direction": "send", "stream.kind": "video", "stream.type": "main",
//	               "stream.width": 640, "stream.height": 360, "stream.fps": 15, "stream.bitrate_kbps": 480}],
//	  "device":  {"device.brand": "…", "device.model": "…", "network.ip_address": "203.0.113.0/24", …},
//	  "events":  [{"event.type": "mute_audio", "event.at": 1763850000000}]}}
//
// quality and streams come every 2 s while the user is in a session;
// device comes once per session; events as they happen.
type TelemetryReport struct {
	Seq     uint64                       `json:"seq"`
	At      int64                        `json:"at"` // Unix ms on the device
	Quality map[string]json.RawMessage   `json:"quality,omitempty"`
	Streams []map[string]json.RawMessage `json:"streams,omitempty"`
	Device  map[string]json.RawMessage   `json:"device,omitempty"`
	Events  []map[string]json.RawMessage `json:"events,omitempty"`
}

// Telemetry sections, as named in inventory elements' wire.section.
const (
	SectionQuality = "quality"
	SectionStreams = "streams"
	SectionDevice  = "device"
	SectionEvents  = "events"
)

// Telemetry limits per report.
const (
	MaxTelemetryStreams = 16
	MaxTelemetryEvents  = 32
)

// FieldRejection names the field a telemetry report was refused for.
type FieldRejection struct {
	Section string `json:"section"`
	Field   string `json:"field"`
	Reason  string `json:"reason"` // "undeclared", "switched_off", "not_consented", "bad_value", "platform"
}

// telemetryFrame is a whole "telemetry" frame, decoded in one pass.
type telemetryFrame struct {
	Type Type             `json:"type"`
	ID   uint64           `json:"id,omitempty"`
	Data *TelemetryReport `json:"data"`
}

// DecodeTelemetryFrame decodes a frame that is a telemetry report,
// envelope and report strictly in one pass: telemetry is the one frame
// every client sends every 2 s, so it skips DecodeEnvelope's second scan
// of the data. ok is false when b is not a well-formed telemetry frame;
// the caller then decodes it the general way, which reports the precise
// error.
func DecodeTelemetryFrame(b []byte) (id uint64, rep TelemetryReport, ok bool) {
	if len(b) > MaxFrameBytes {
		return 0, rep, false
	}
	var f telemetryFrame
	if strictUnmarshal(b, &f) != nil || f.Type != TypeTelemetry || f.Data == nil {
		return 0, rep, false
	}
	return f.ID, *f.Data, true
}
