package parley

import "time"

// Quality is TRTC's network quality (TRTCQuality).
type Quality int

// Quality levels, numbered as TRTC's.
const (
	QualityUnknown   Quality = 0
	QualityExcellent Quality = 1
	QualityGood      Quality = 2
	QualityPoor      Quality = 3
	QualityBad       Quality = 4
	QualityVeryBad   Quality = 5
	QualityDown      Quality = 6
)

// RemoteQuality is one remote user's downlink quality as seen by this
// client.
type RemoteQuality struct {
	UserID  string  `json:"userId"`
	Quality Quality `json:"quality"`
}

// qualityStep is one row of the threshold table: a link is at this level
// when both rtt and loss are strictly below the bounds.
type qualityStep struct {
	q       Quality
	rtt     time.Duration
	lossPct float64
}

// Thresholds. TRTC calls rtt < 50 ms good and > 200 ms high (REFERENCE
// §1.3); loss bounds follow the usual audio-robustness steps (Opus FEC
// hides ~1 %, NACK repairs a few %, beyond 15 % video stalls).
//
//	Excellent  rtt <  50 ms and loss <  1 %
//	Good       rtt < 100 ms and loss <  3 %
//	Poor       rtt < 200 ms and loss <  8 %
//	Bad        rtt < 400 ms and loss < 15 %
//	VeryBad    anything worse while connected
//	Down       not connected
//	Unknown    connected but nothing measured yet
func qualitySteps() [4]qualityStep {
	return [4]qualityStep{
		{QualityExcellent, 50 * time.Millisecond, 1},
		{QualityGood, 100 * time.Millisecond, 3},
		{QualityPoor, 200 * time.Millisecond, 8},
		{QualityBad, 400 * time.Millisecond, 15},
	}
}

// QualityFor maps a link's round-trip time and loss percentage to a
// Quality. rtt < 0 means "not measured"; the level is then decided by loss
// alone, and Unknown if loss is also unmeasured (lossPct < 0).
func QualityFor(connected bool, rtt time.Duration, lossPct float64) Quality {
	if !connected {
		return QualityDown
	}
	if rtt < 0 && lossPct < 0 {
		return QualityUnknown
	}
	for _, s := range qualitySteps() {
		if (rtt < 0 || rtt < s.rtt) && (lossPct < 0 || lossPct < s.lossPct) {
			return s.q
		}
	}
	return QualityVeryBad
}
