package parley

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parley-rtc/parley/protocol"
)

// APM telemetry (SWITCH-3 "ext.apm", COLLECT-2/4/6): while — and only
// while — the user is in a room they entered and ext.apm is on, the
// session sends a "telemetry" frame every 2 s with quality and stream
// figures, the events since the last report and, once per connection, the
// device section. Every key is an inventory id (telemetryElements); a key
// whose switch is off, whose purpose the user did not consent to, or that
// the server refused (-4009) this session is never sent. There is no
// timer outside a room.

// Event types (inventory event.type).
const (
	eventEnterRoom    = "enter_room"
	eventExitRoom     = "exit_room"
	eventEnableAudio  = "enable_audio"
	eventDisableAudio = "disable_audio"
	eventEnableVideo  = "enable_video"
	eventDisableVideo = "disable_video"
	eventMuteAudio    = "mute_audio"
	eventUnmuteAudio  = "unmute_audio"
	eventMuteVideo    = "mute_video"
	eventUnmuteVideo  = "unmute_video"
)

// Telemetry request bounds.
const (
	telemetryTimeout = 5 * time.Second
	finalTimeout     = 300 * time.Millisecond // the exit_room report before leave
)

func enableEvent(k protocol.Kind, on bool) string {
	switch {
	case k == protocol.KindAudio && on:
		return eventEnableAudio
	case k == protocol.KindAudio:
		return eventDisableAudio
	case on:
		return eventEnableVideo
	default:
		return eventDisableVideo
	}
}

func muteEvent(k protocol.Kind, muted bool) string {
	switch {
	case k == protocol.KindAudio && muted:
		return eventMuteAudio
	case k == protocol.KindAudio:
		return eventUnmuteAudio
	case muted:
		return eventMuteVideo
	default:
		return eventUnmuteVideo
	}
}

// telState is one room session's telemetry state: it lives from
// EnterRoom to the end of the room and is shared by reconnects.
type telState struct {
	mu       sync.Mutex
	seq      uint64
	events   []map[string]json.RawMessage
	rejected map[string]bool // fields the server refused (-4009)
}

func newTelState() *telState { return &telState{rejected: map[string]bool{}} }

func (t *telState) event(typ string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.events) == protocol.MaxTelemetryEvents {
		t.events = t.events[1:] // keep the newest
	}
	t.events = append(t.events, map[string]json.RawMessage{
		elEventType: raw(typ), elEventAt: raw(at.UnixMilli()),
	})
}

func (t *telState) drain() []map[string]json.RawMessage {
	t.mu.Lock()
	defer t.mu.Unlock()
	ev := t.events
	t.events = nil
	return ev
}

func (t *telState) reject(field string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rejected[field] = true
}

func (t *telState) isRejected(field string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.rejected[field]
}

func (t *telState) nextSeq() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seq++
	return t.seq
}

// telemetry returns the room's telemetry state (nil: ext.apm off).
func (c *Client) telemetry() *telState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tel
}

// event records a user-triggered event for the next report.
func (c *Client) event(typ string) {
	if tel := c.telemetry(); tel != nil {
		tel.event(typ, time.Now())
	}
}

// purposes returns the consented purposes (nil without consent).
func (c *Client) purposes() map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.consent == nil {
		return nil
	}
	m := map[string]bool{}
	for _, p := range c.consent.Purposes {
		m[p] = true
	}
	return m
}

func raw(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil { // ints and strings always encode
		return json.RawMessage(`null`)
	}
	return b
}

// telemetryLoop sends a report every telEvery until ctx ends (room left,
// Stop) or the connection drops.
func (s *session) telemetryLoop(ctx context.Context, tel *telState, done chan struct{}) {
	defer s.wg.Done()
	defer close(done)
	smp := newSampler(s.c)
	smp.sample(time.Now()) // baseline for the CPU shares
	t := time.NewTicker(s.c.telEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.sig.done:
			return
		case now := <-t.C:
			rep := s.buildReport(tel, smp, now)
			if rep != nil {
				s.sendReport(ctx, tel, rep, telemetryTimeout)
			}
		}
	}
}

// sendReport sends one report as a request. A -4009 reply names the
// refused field, which is then left out for the rest of the room session.
func (s *session) sendReport(ctx context.Context, tel *telState, rep *protocol.TelemetryReport, timeout time.Duration) {
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := s.sig.request(rctx, protocol.TypeTelemetry, rep)
	var se *ServerError
	switch {
	case err == nil:
	case errors.As(err, &se) && se.Code == protocol.ErrCodeFieldRejected:
		field := rejectedField(se.Message)
		if field != "" {
			tel.reject(field)
		}
		s.c.log.Warn("parley: the server refused a telemetry field; it is not sent again this session",
			"field", field, "message", se.Message)
	case ctx.Err() == nil:
		s.c.log.Debug("parley: telemetry report not accepted", "err", err)
	}
}

// rejectedField finds the inventory id a -4009 message names: a JSON
// protocol.FieldRejection, or the first known id in the text ("<field> in
// <section>: <reason>: <detail>"; the longest one at that position).
func rejectedField(msg string) string {
	var fr protocol.FieldRejection
	if json.Unmarshal([]byte(msg), &fr) == nil && fr.Field != "" {
		return fr.Field
	}
	best, at := "", len(msg)+1
	for _, e := range telemetryElements() {
		i := strings.Index(msg, e.id)
		if i >= 0 && (i < at || i == at && len(e.id) > len(best)) {
			best, at = e.id, i
		}
	}
	return best
}

// flushEvents sends the pending events (exit_room) before leave.
func (s *session) flushEvents(ctx context.Context, tel *telState) {
	rep := &protocol.TelemetryReport{At: time.Now().UnixMilli(), Events: tel.drain()}
	if !s.filter(tel, rep, s.c.purposes()) {
		return
	}
	rep.Seq = tel.nextSeq()
	s.sendReport(ctx, tel, rep, finalTimeout)
}

// buildReport assembles one report; nil when there is nothing to send.
func (s *session) buildReport(tel *telState, smp *sampler, now time.Time) *protocol.TelemetryReport {
	purposes := s.c.purposes()
	rep := &protocol.TelemetryReport{At: now.UnixMilli()}
	if purposes[protocol.PurposeQuality] {
		st, local, _ := s.collect(now, &s.telPrev)
		rep.Quality = qualitySection(st, local, smp.sample(now))
		rep.Streams = streamsSection(st)
		rep.Events = tel.drain()
	}
	s.mu.Lock()
	first := !s.deviceSent
	s.deviceSent = true
	s.mu.Unlock()
	if first {
		rep.Device = s.deviceSection(purposes)
	}
	if !s.filter(tel, rep, purposes) {
		return nil
	}
	rep.Seq = tel.nextSeq()
	return rep
}

// filter drops every key that is not a declared element of its section,
// whose switch is off, whose purpose is not consented or that the server
// refused; it reports whether anything is left.
func (s *session) filter(tel *telState, rep *protocol.TelemetryReport, purposes map[string]bool) bool {
	allowed := map[string]bool{}
	s.c.mu.Lock()
	for _, e := range telemetryElements() {
		if (e.sw == "" || s.c.switchOnLocked(e.sw)) && s.c.switchOnLocked(SwitchAPM) && purposes[e.purpose] {
			allowed[e.section+"/"+e.id] = true
		}
	}
	s.c.mu.Unlock()
	keep := func(section string, m map[string]json.RawMessage) map[string]json.RawMessage {
		for k := range m {
			if !allowed[section+"/"+k] || tel.isRejected(k) {
				delete(m, k)
			}
		}
		if len(m) == 0 {
			return nil
		}
		return m
	}
	keepAll := func(section string, list []map[string]json.RawMessage) []map[string]json.RawMessage {
		out := list[:0]
		for _, m := range list {
			if m = keep(section, m); m != nil {
				out = append(out, m)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	rep.Quality = keep(protocol.SectionQuality, rep.Quality)
	rep.Device = keep(protocol.SectionDevice, rep.Device)
	rep.Streams = keepAll(protocol.SectionStreams, rep.Streams)
	rep.Events = keepAll(protocol.SectionEvents, rep.Events)
	if len(rep.Streams) > protocol.MaxTelemetryStreams {
		rep.Streams = rep.Streams[:protocol.MaxTelemetryStreams]
	}
	return rep.Quality != nil || rep.Device != nil || rep.Streams != nil || rep.Events != nil
}

func clampInt(v, lo, hi int) int { return max(lo, min(hi, v)) }

// qualitySection maps a statistics round to quality.* (int ranges of the
// inventory).
func qualitySection(st Statistics, local Quality, load loadSample) map[string]json.RawMessage {
	jitter := uint32(0)
	for _, r := range st.Remote {
		jitter = max(jitter, r.JitterBufferDelay)
	}
	m := map[string]json.RawMessage{
		elRTT:        raw(clampInt(int(st.RTT), 0, 60000)),
		elUpLoss:     raw(clampInt(int(st.UpLoss), 0, 100)),
		elDownLoss:   raw(clampInt(int(st.DownLoss), 0, 100)),
		elJitter:     raw(clampInt(int(jitter), 0, 60000)),
		elNetQuality: raw(clampInt(int(local), 0, 6)),
		elMemApp:     raw(clampInt(load.memMB, 0, 1<<20)),
	}
	if load.appOK {
		m[elCPUApp] = raw(clampInt(load.appPct, 0, 100))
	}
	if load.sysOK {
		m[elCPUSystem] = raw(clampInt(load.sysPct, 0, 100))
	}
	return m
}

// streamsSection maps local and remote statistics to stream entries. No
// user id travels: entries are per direction, kind and stream type.
// stream.volume is not reported: the SDK sends and receives encoded
// audio only and never measures its level.
func streamsSection(st Statistics) []map[string]json.RawMessage {
	var out []map[string]json.RawMessage
	typ := func(t string) string {
		switch t {
		case StatsStreamSmall:
			return "small"
		case StatsStreamSub:
			return string(protocol.StreamSub)
		}
		return string(protocol.StreamMain)
	}
	video := func(dir, t string, w, h, fps, kbps, loss uint32) map[string]json.RawMessage {
		return map[string]json.RawMessage{
			elDirection: raw(dir), elKind: raw(string(protocol.KindVideo)), elStreamType: raw(typ(t)),
			elWidth: raw(clampInt(int(w), 0, 16384)), elHeight: raw(clampInt(int(h), 0, 16384)),
			elFPS: raw(clampInt(int(fps), 0, 240)), elBitrate: raw(clampInt(int(kbps), 0, 1000000)),
			elLoss: raw(clampInt(int(loss), 0, 100)),
		}
	}
	audio := func(dir string, kbps, loss uint32) map[string]json.RawMessage {
		return map[string]json.RawMessage{
			elDirection: raw(dir), elKind: raw(string(protocol.KindAudio)), elStreamType: raw(string(protocol.StreamMain)),
			elBitrate: raw(clampInt(int(kbps), 0, 1000000)), elLoss: raw(clampInt(int(loss), 0, 100)),
		}
	}
	for _, l := range st.Local {
		if l.AudioSampleRate > 0 {
			out = append(out, audio("send", l.AudioBitrate, st.UpLoss))
		}
		if l.Width > 0 || l.VideoBitrate > 0 || l.FrameRate > 0 {
			out = append(out, video("send", l.StreamType, l.Width, l.Height, l.FrameRate, l.VideoBitrate, st.UpLoss))
		}
	}
	for _, r := range st.Remote {
		if r.AudioBitrate > 0 {
			out = append(out, audio("recv", r.AudioBitrate, r.AudioPacketLoss))
		}
		if r.Width > 0 || r.VideoBitrate > 0 || r.FrameRate > 0 {
			out = append(out, video("recv", r.StreamType, r.Width, r.Height, r.FrameRate, r.VideoBitrate, r.VideoPacketLoss))
		}
	}
	return out
}

// deviceSection is sent once per connection: the required facts (SDK
// version, OS, OS version, the truncated IP) and each optional fact whose
// switch is on. An optional fact's collector is called only when its
// switch is on: an off switch means the fact is never read (COLLECT-4/5).
func (s *session) deviceSection(purposes map[string]bool) map[string]json.RawMessage {
	c := s.c
	m := map[string]json.RawMessage{}
	ip, haveIP := s.localIP()
	if purposes[protocol.PurposeRTC] {
		m[elSDKVersion] = raw(truncateStr(SDKVersion, 64))
		if os := osName(); os != "" {
			m[elOS] = raw(os)
		}
		if v := c.osVersion(); v != "" {
			m[elOSVersion] = raw(v)
		}
		if haveIP {
			m[elIPAddress] = raw(truncateIP(ip, c.cfg.IPPrefixBits).String())
		}
	}
	if !purposes[protocol.PurposeQuality] {
		return m
	}
	env := &factEnv{readFile: c.readFile, glob: c.glob, net: c.gate.Net(), localIP: ip}
	for _, f := range c.facts {
		if !c.switchOn(fieldPrefix + f.id) {
			continue // never read
		}
		if v, ok := f.read(env); ok {
			m[f.id] = raw(v)
		}
	}
	return m
}

// localIP is the local address of the selected ICE candidate pair, or
// else of the signaling connection. It stays in memory: only the
// truncated prefix is reported.
func (s *session) localIP() (netip.Addr, bool) {
	for _, p := range []*peer{s.pub, s.sub} {
		stats := p.pc.GetStats()
		ids := make([]string, 0, len(stats))
		for id := range stats {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			pair, ok := stats[id].(webrtc.ICECandidatePairStats)
			if !ok || !pair.Nominated {
				continue
			}
			if cand, ok := stats[pair.LocalCandidateID].(webrtc.ICECandidateStats); ok {
				if a, err := netip.ParseAddr(cand.IP); err == nil {
					return a.Unmap(), true
				}
			}
		}
	}
	if la, ok := s.sig.conn.(interface{ LocalAddr() net.Addr }); ok {
		if tcp, ok := la.LocalAddr().(*net.TCPAddr); ok {
			if a, ok := netip.AddrFromSlice(tcp.IP); ok {
				return a.Unmap(), true
			}
		}
	}
	return netip.Addr{}, false
}
