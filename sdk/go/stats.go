package parley

import (
	"sort"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parley-rtc/parley/protocol"
)

// Statistics is TRTC's TRTCStatistics (REFERENCE §1.3), reported every
// StatsInterval. Rates cover the last interval; byte counts are totals.
type Statistics struct {
	RTT           uint32        `json:"rtt"`      // ms, ICE round trip to the server
	UpLoss        uint32        `json:"upLoss"`   // %, reported by the server's receiver reports
	DownLoss      uint32        `json:"downLoss"` // %, from sequence gaps on received tracks
	SentBytes     uint64        `json:"sentBytes"`
	ReceivedBytes uint64        `json:"receivedBytes"`
	Local         []LocalStats  `json:"localArray"`
	Remote        []RemoteStats `json:"remoteArray"`
}

// Stream types in statistics, as TRTC names them.
const (
	StatsStreamBig   = "big"
	StatsStreamSmall = "small"
	StatsStreamSub   = "sub"
)

// LocalStats describes one locally published stream (TRTCLocalStatistics).
// Audio is reported on the big stream.
type LocalStats struct {
	StreamType      string `json:"streamType"`
	Width           uint32 `json:"width"`
	Height          uint32 `json:"height"`
	FrameRate       uint32 `json:"frameRate"`
	VideoBitrate    uint32 `json:"videoBitrate"` // kbps
	AudioSampleRate uint32 `json:"audioSampleRate"`
	AudioBitrate    uint32 `json:"audioBitrate"` // kbps
}

// RemoteStats describes one received stream (TRTCRemoteStatistics).
// JitterBufferDelay is the RTP interarrival jitter in ms: the SDK has no
// playout buffer, and the jitter is what such a buffer would absorb.
type RemoteStats struct {
	UserID            string `json:"userId"`
	StreamType        string `json:"streamType"`
	AudioPacketLoss   uint32 `json:"audioPacketLoss"` // %
	VideoPacketLoss   uint32 `json:"videoPacketLoss"` // %
	Width             uint32 `json:"width"`
	Height            uint32 `json:"height"`
	FrameRate         uint32 `json:"frameRate"`
	VideoBitrate      uint32 `json:"videoBitrate"` // kbps
	AudioBitrate      uint32 `json:"audioBitrate"` // kbps
	JitterBufferDelay uint32 `json:"jitterBufferDelay"`
}

// statsBaseline keeps the previous round's counters so rates are deltas.
type statsBaseline struct {
	at     time.Time
	local  map[*layerStats][2]uint64 // bytes, frames
	remote map[*RemoteTrack]remoteSnap
}

// statsLoop reports statistics and network quality on a ticker while the
// session lives (COLLECT-6: only inside a room the user entered).
func (s *session) statsLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.c.cfg.StatsInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.sig.done:
			return
		case now := <-t.C:
			st, local, remote := s.collect(now, &s.statPrev)
			s.c.emit(func(l *Listener) {
				if l.OnStatistics != nil {
					l.OnStatistics(st)
				}
				if l.OnNetworkQuality != nil {
					l.OnNetworkQuality(local, remote)
				}
			})
		}
	}
}

// collect builds one statistics round; rates are relative to *base,
// which it advances (guarded by s.mu).
func (s *session) collect(now time.Time, base *statsBaseline) (Statistics, Quality, []RemoteQuality) {
	var st Statistics
	rtt, upLoss := -1.0, -1.0
	connected := true
	for _, p := range []*peer{s.pub, s.sub} {
		if p.pc.ConnectionState() == webrtc.PeerConnectionStateFailed {
			connected = false
		}
		for _, v := range p.pc.GetStats() {
			switch r := v.(type) {
			case webrtc.TransportStats:
				st.SentBytes += r.BytesSent
				st.ReceivedBytes += r.BytesReceived
			case webrtc.ICECandidatePairStats:
				if r.Nominated && r.CurrentRoundTripTime > 0 {
					rtt = max(rtt, r.CurrentRoundTripTime)
				}
			case webrtc.RemoteInboundRTPStreamStats:
				upLoss = max(upLoss, r.FractionLost*100)
				if rtt < 0 && r.RoundTripTime > 0 {
					rtt = r.RoundTripTime
				}
			}
		}
	}
	if rtt >= 0 {
		st.RTT = uint32(rtt*1000 + 0.5)
	}
	if upLoss >= 0 {
		st.UpLoss = uint32(upLoss + 0.5)
	}

	s.mu.Lock()
	prev := *base
	secs := now.Sub(prev.at).Seconds()
	if prev.at.IsZero() || secs <= 0 {
		secs = s.c.cfg.StatsInterval.Seconds()
	}
	next := statsBaseline{at: now, local: map[*layerStats][2]uint64{}, remote: map[*RemoteTrack]remoteSnap{}}
	senders := make([]*sender, 0, len(s.senders))
	for _, snd := range s.senders {
		senders = append(senders, snd)
	}
	remotes := make([]*RemoteTrack, 0, len(s.remotes))
	for _, rt := range s.remotes {
		remotes = append(remotes, rt)
	}
	s.mu.Unlock()

	st.Local = localStats(senders, prev, next, secs)
	var downLoss float64
	st.Remote, downLoss = aggregateRemote(remotes, prev, next, secs)
	st.DownLoss = uint32(max(downLoss, 0) + 0.5)

	s.mu.Lock()
	*base = next
	s.mu.Unlock()

	rttD := time.Duration(-1)
	if rtt >= 0 {
		rttD = time.Duration(rtt * float64(time.Second))
	}
	local := QualityFor(connected, rttD, upLoss)
	var rq []RemoteQuality
	for _, r := range st.Remote {
		loss := float64(max(r.AudioPacketLoss, r.VideoPacketLoss))
		rq = append(rq, RemoteQuality{UserID: r.UserID, Quality: QualityFor(connected, rttD, loss)})
	}
	return st, local, rq
}

func kbps(bytes uint64, secs float64) uint32 { return uint32(float64(bytes)*8/1000/secs + 0.5) }

func localStats(senders []*sender, prev, next statsBaseline, secs float64) []LocalStats {
	byType := map[string]*LocalStats{}
	get := func(t string) *LocalStats {
		if byType[t] == nil {
			byType[t] = &LocalStats{StreamType: t}
		}
		return byType[t]
	}
	for _, snd := range senders {
		t := snd.track
		for i, l := range t.layers {
			b, f := l.bytes.Load(), l.frames.Load()
			next.local[l] = [2]uint64{b, f}
			old := prev.local[l]
			db, df := b-old[0], f-old[1]
			if t.kind == protocol.KindAudio {
				ls := get(StatsStreamBig)
				ls.AudioSampleRate, ls.AudioBitrate = 48000, kbps(db, secs)
				continue
			}
			typ := StatsStreamBig
			switch {
			case t.streamType == protocol.StreamSub:
				typ = StatsStreamSub
			case t.rids != nil && i < len(t.rids)-1:
				typ = StatsStreamSmall // every lower simulcast layer
			}
			ls := get(typ)
			ls.Width, ls.Height = uint32(l.width.Load()), uint32(l.height.Load())
			ls.FrameRate = uint32(float64(df)/secs + 0.5)
			ls.VideoBitrate += kbps(db, secs)
		}
	}
	return sortedLocal(byType)
}

func sortedLocal(m map[string]*LocalStats) []LocalStats {
	out := make([]LocalStats, 0, len(m))
	for _, v := range m {
		out = append(out, *v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StreamType < out[j].StreamType })
	return out
}

// aggregateRemote aggregates received tracks per (user, stream type) and
// returns the overall downlink loss percentage (−1 when nothing expected).
func aggregateRemote(remotes []*RemoteTrack, prev, next statsBaseline, secs float64) ([]RemoteStats, float64) {
	type key struct{ user, typ string }
	byKey := map[key]*RemoteStats{}
	var lost, expected uint64
	for _, rt := range remotes {
		cur := rt.stats.snap()
		next.remote[rt] = cur
		old := prev.remote[rt]
		dexp, dpk := cur.expected-old.expected, cur.packets-old.packets
		dlost := uint64(0)
		if dexp > dpk { // retransmissions can make packets exceed expected
			dlost = dexp - dpk
		}
		lost, expected = lost+dlost, expected+dexp
		pct := uint32(0)
		if dexp > 0 {
			pct = uint32(float64(dlost)*100/float64(dexp) + 0.5)
		}
		typ := StatsStreamBig
		if rt.trackID == string(protocol.KindVideo)+"-"+string(protocol.StreamSub) {
			typ = StatsStreamSub
		}
		k := key{rt.userID, typ}
		if byKey[k] == nil {
			byKey[k] = &RemoteStats{UserID: rt.userID, StreamType: typ}
		}
		r := byKey[k]
		jitter := uint32(cur.jitterMs + 0.5)
		r.JitterBufferDelay = max(r.JitterBufferDelay, jitter)
		if rt.kind == protocol.KindAudio {
			r.AudioPacketLoss, r.AudioBitrate = pct, kbps(cur.bytes-old.bytes, secs)
			continue
		}
		r.VideoPacketLoss, r.VideoBitrate = pct, kbps(cur.bytes-old.bytes, secs)
		r.Width, r.Height = uint32(cur.width), uint32(cur.height)
		r.FrameRate = uint32(float64(cur.frames-old.frames)/secs + 0.5)
	}
	out := make([]RemoteStats, 0, len(byKey))
	for _, v := range byKey {
		out = append(out, *v)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].UserID != out[j].UserID {
			return out[i].UserID < out[j].UserID
		}
		return out[i].StreamType < out[j].StreamType
	})
	if expected == 0 {
		return out, -1
	}
	return out, float64(lost) * 100 / float64(expected)
}
