package parley

import (
	"sort"

	"github.com/parley-rtc/parley/protocol"
)

// The SDK's view of the personal-information inventory (docs/inventory.md,
// internal/privacy/inventory): the switch ids an init config may name and
// the elements a telemetry report may carry, each with its wire section,
// switch and purpose. A test keeps both lists equal to the contract.

// Extension switches (SWITCH-3). Absent means off.
const (
	SwitchAPM        = "ext.apm"        // quality, stream and event telemetry
	SwitchRTS        = "ext.rts"        // real-time signaling messages
	SwitchWhiteboard = "ext.whiteboard" // whiteboard strokes
)

// Seed-000 init keys that act as switches in join.switches (SWITCH-1/2).
const (
	SwitchAudio   = "audio_enable"
	SwitchStreams = "streams_config"
)

// fieldPrefix starts every optional-field switch: "field." + element id.
const fieldPrefix = "field."

// Telemetry element ids (inventory ids; the wire keys).
const (
	elIPAddress    = "network.ip_address"
	elSDKVersion   = "sdk.version"
	elOS           = "device.os"
	elOSVersion    = "device.os_version"
	elRTT          = "quality.rtt_ms"
	elUpLoss       = "quality.up_loss_pct"
	elDownLoss     = "quality.down_loss_pct"
	elJitter       = "quality.jitter_ms"
	elCPUApp       = "quality.cpu_app_pct"
	elCPUSystem    = "quality.cpu_system_pct"
	elMemApp       = "quality.mem_app_mb"
	elNetQuality   = "quality.network_quality"
	elDirection    = "stream.direction"
	elKind         = "stream.kind"
	elStreamType   = "stream.type"
	elWidth        = "stream.width"
	elHeight       = "stream.height"
	elFPS          = "stream.fps"
	elBitrate      = "stream.bitrate_kbps"
	elLoss         = "stream.loss_pct"
	elVolume       = "stream.volume"
	elEventType    = "event.type"
	elEventAt      = "event.at"
	elBrand        = "device.brand"
	elModel        = "device.model"
	elCPU          = "device.cpu"
	elMemoryMB     = "device.memory_mb"
	elBatteryPct   = "device.battery_pct"
	elScreenRes    = "device.screen_resolution"
	elThreadCount  = "device.thread_count"
	elNetworkType  = "network.type"
	elWifiState    = "network.wifi_state"
	elAccelerom    = "sensor.accelerometer"
	elFeedbackText = "feedback.text"
	elAudioDump    = "debug.audio_dump"
	elIMDevice     = "im.device_model"
	elIMPushToken  = "im.push_token"
)

// Non-telemetry elements the SDK handles: the media the init config
// switches (SWITCH-1/2) and the random install id.
const (
	elMediaAudio = "media.audio"
	elMediaVideo = "media.video"
	elDeviceID   = "identity.device_id"
)

// element is one inventory element the Go SDK may put into telemetry:
// those the inventory declares with a wire section for platform "go".
type element struct {
	id      string
	section string // protocol.Section*
	sw      string // switch id, "" when always on with the report
	purpose string // protocol.Purpose*
}

// telemetryElements lists every element the SDK may report.
func telemetryElements() []element {
	q := func(id, section, sw string) element {
		return element{id: id, section: section, sw: sw, purpose: protocol.PurposeQuality}
	}
	rtc := func(id string) element {
		return element{id: id, section: protocol.SectionDevice, purpose: protocol.PurposeRTC}
	}
	return []element{
		rtc(elIPAddress), rtc(elSDKVersion), rtc(elOS), rtc(elOSVersion),
		q(elRTT, protocol.SectionQuality, SwitchAPM),
		q(elUpLoss, protocol.SectionQuality, SwitchAPM),
		q(elDownLoss, protocol.SectionQuality, SwitchAPM),
		q(elJitter, protocol.SectionQuality, SwitchAPM),
		q(elCPUApp, protocol.SectionQuality, SwitchAPM),
		q(elCPUSystem, protocol.SectionQuality, SwitchAPM),
		q(elMemApp, protocol.SectionQuality, SwitchAPM),
		q(elNetQuality, protocol.SectionQuality, SwitchAPM),
		q(elDirection, protocol.SectionStreams, SwitchAPM),
		q(elKind, protocol.SectionStreams, SwitchAPM),
		q(elStreamType, protocol.SectionStreams, SwitchAPM),
		q(elWidth, protocol.SectionStreams, SwitchAPM),
		q(elHeight, protocol.SectionStreams, SwitchAPM),
		q(elFPS, protocol.SectionStreams, SwitchAPM),
		q(elBitrate, protocol.SectionStreams, SwitchAPM),
		q(elLoss, protocol.SectionStreams, SwitchAPM),
		q(elVolume, protocol.SectionStreams, SwitchAPM),
		q(elEventType, protocol.SectionEvents, SwitchAPM),
		q(elEventAt, protocol.SectionEvents, SwitchAPM),
		q(elBrand, protocol.SectionDevice, fieldPrefix+elBrand),
		q(elModel, protocol.SectionDevice, fieldPrefix+elModel),
		q(elCPU, protocol.SectionDevice, fieldPrefix+elCPU),
		q(elMemoryMB, protocol.SectionDevice, fieldPrefix+elMemoryMB),
		q(elThreadCount, protocol.SectionDevice, fieldPrefix+elThreadCount),
		q(elNetworkType, protocol.SectionDevice, fieldPrefix+elNetworkType),
		q(elWifiState, protocol.SectionDevice, fieldPrefix+elWifiState),
	}
}

// optionalElements are the optional inventory elements: each has the
// switch "field." + id (COLLECT-5). An init config may name every one of
// them and join.switches reports them, but the Go SDK collects only those
// in telemetryElements: battery and screen resolution are not declared
// for platform "go", and the last six are not telemetry (the Go SDK has
// no feedback, sensor or audio-dump function; the two IM elements go with
// Messenger.RegisterPushToken).
func optionalElements() []string {
	return []string{elBrand, elModel, elCPU, elMemoryMB, elBatteryPct, elScreenRes, elThreadCount,
		elNetworkType, elWifiState, elAccelerom, elFeedbackText, elAudioDump, elIMDevice, elIMPushToken}
}

// KnownSwitches returns, sorted, every switch id an init config's
// "switches" object may name: the extensions and one "field.<id>" per
// optional inventory element. audio_enable and streams_config are
// top-level init keys, not members of "switches".
func KnownSwitches() []string {
	out := []string{SwitchAPM, SwitchRTS, SwitchWhiteboard}
	for _, id := range optionalElements() {
		out = append(out, fieldPrefix+id)
	}
	sort.Strings(out)
	return out
}

func isKnownSwitch(id string) bool {
	for _, s := range KnownSwitches() {
		if s == id {
			return true
		}
	}
	return false
}
