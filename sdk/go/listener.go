package parley

import (
	"sync"

	"github.com/parley-rtc/parley/protocol"
)

// Listener receives the client's events, named after TRTC's
// TRTCCloudListener. Every field is optional. Callbacks run one at a time,
// in event order, on an SDK goroutine that is separate from the network
// loops, so a callback may call Client methods (even ExitRoom) without
// deadlocking; a slow callback only delays later callbacks.
type Listener struct {
	// OnEnterRoom reports a successful join with the join time in ms (>0).
	// A failed join is reported by EnterRoom's error instead.
	OnEnterRoom func(result int64)
	// OnExitRoom reports leaving the room: 0 ExitRoom, 1 removed by the
	// REST API, 2 room dismissed, 3 replaced by a newer login, 4 server
	// shutdown (protocol.ExitReason*).
	OnExitRoom func(reason int)
	// OnRemoteUserEnter / OnRemoteUserLeave report other users (audience
	// members of live scenes are invisible). Leave reasons: 0 left,
	// 1 timeout, 2 kicked.
	OnRemoteUserEnter func(userID string)
	OnRemoteUserLeave func(userID string, reason int)
	// Availability of a remote user's audio, main video and sub-stream.
	OnUserAudioAvailable     func(userID string, available bool)
	OnUserVideoAvailable     func(userID string, available bool)
	OnUserSubStreamAvailable func(userID string, available bool)
	// OnRemoteTrack delivers a newly received remote track.
	OnRemoteTrack func(t *RemoteTrack)
	// OnStatistics reports statistics every StatsInterval (2 s).
	OnStatistics func(s Statistics)
	// OnNetworkQuality reports the local and per-remote-user quality with
	// each statistics round.
	OnNetworkQuality func(local Quality, remote []RemoteQuality)
	// OnKeyframeRequest reports a PLI or FIR for a local track.
	OnKeyframeRequest func(trackID string)
	// OnConnectionLost fires when the signaling connection drops
	// unexpectedly; the client then reconnects on its own.
	OnConnectionLost func()
	// OnConnectionRecovery fires when the client is back in the room with
	// its tracks re-published.
	OnConnectionRecovery func()
	// OnError reports asynchronous failures (failed negotiation, a
	// reconnect the server refused, a source that failed).
	OnError func(err error)
	// OnRecvCustomCmdMsg delivers another user's custom message
	// (SendCustomCmdMsg); seq counts that user's messages from 1.
	OnRecvCustomCmdMsg func(userID string, cmdID int, seq uint64, data []byte)
	// OnRecvRoomChat delivers another user's room chat message
	// (SendRoomChat); not stored by the server.
	OnRecvRoomChat func(ev protocol.RoomChatEvent)
	// OnConsentRequired reports that the server refused the session's
	// consent: code -4008 (consent missing, withdrawn or for an outdated
	// policy version: ask the user again, GrantConsent, Init) or -4010
	// (a minor without guardian consent: SetAgeBand with the guardian
	// reference, Init). reason is the server's explanation. The egress
	// gate is closed and a room in progress ends.
	OnConsentRequired func(code int, reason string)
}

// dispatcher runs callbacks in order on one goroutine that exists only
// while callbacks are queued, so an idle client holds no goroutine.
type dispatcher struct {
	mu      sync.Mutex
	queue   []func()
	running bool
	wg      sync.WaitGroup
}

func (d *dispatcher) post(f func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.queue = append(d.queue, f)
	if !d.running {
		d.running = true
		d.wg.Add(1)
		go d.run()
	}
}

func (d *dispatcher) run() {
	defer d.wg.Done()
	for {
		d.mu.Lock()
		if len(d.queue) == 0 {
			d.running = false
			d.mu.Unlock()
			return
		}
		f := d.queue[0]
		d.queue[0] = nil
		d.queue = d.queue[1:]
		d.mu.Unlock()
		f()
	}
}

// wait blocks until the queue is drained; never call it from a callback.
func (d *dispatcher) wait() { d.wg.Wait() }

func (c *Client) emitUserEnter(userID string) {
	c.emit(func(l *Listener) {
		if l.OnRemoteUserEnter != nil {
			l.OnRemoteUserEnter(userID)
		}
	})
}

func (c *Client) emitUserLeave(userID string, reason int) {
	c.emit(func(l *Listener) {
		if l.OnRemoteUserLeave != nil {
			l.OnRemoteUserLeave(userID, reason)
		}
	})
}

// emitAvailability maps a track's kind and stream type to TRTC's three
// availability callbacks.
func (c *Client) emitAvailability(userID string, kind protocol.Kind, st protocol.StreamType, available bool) {
	c.emit(func(l *Listener) {
		var f func(string, bool)
		switch {
		case kind == protocol.KindAudio:
			f = l.OnUserAudioAvailable
		case st == protocol.StreamSub:
			f = l.OnUserSubStreamAvailable
		default:
			f = l.OnUserVideoAvailable
		}
		if f != nil {
			f(userID, available)
		}
	})
}
