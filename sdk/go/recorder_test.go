package parley

import (
	"context"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pion/transport/v5"
	"github.com/pion/webrtc/v4"

	"github.com/parley-rtc/parley/protocol"
)

// recorder is a Transport that wraps the default one and records every
// network operation the SDK asks of it: each DialSignal, each Net() call
// and each method called on the nets it returned (sockets, dials, name
// resolution, interface enumeration), and every byte written on
// signaling connections.
type recorder struct {
	inner Transport

	mu     sync.Mutex
	calls  []string
	bytes  int
	frames []protocol.Type
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	dt, err := NewDefaultTransport()
	if err != nil {
		t.Fatal(err)
	}
	return &recorder{inner: dt}
}

func (r *recorder) record(call string) {
	r.mu.Lock()
	r.calls = append(r.calls, call)
	r.mu.Unlock()
}

// snapshot returns the calls, bytes and frame types recorded so far.
func (r *recorder) snapshot() ([]string, int, []protocol.Type) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls), r.bytes, slices.Clone(r.frames)
}

func (r *recorder) count(prefix string) int {
	calls, _, _ := r.snapshot()
	n := 0
	for _, c := range calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// requireSilent fails unless nothing at all was recorded.
func (r *recorder) requireSilent(t *testing.T, when string) {
	t.Helper()
	calls, n, _ := r.snapshot()
	if len(calls) != 0 || n != 0 {
		t.Fatalf("%s: network use before consent: calls %v, %d bytes", when, calls, n)
	}
}

func (r *recorder) DialSignal(ctx context.Context, url string) (SignalConn, error) {
	r.record("DialSignal " + url)
	c, err := r.inner.DialSignal(ctx, url)
	if err != nil {
		return nil, err
	}
	return &recConn{r: r, c: c}, nil
}

func (r *recorder) Net() transport.Net {
	r.record("Net")
	return &recNet{r: r, n: r.inner.Net()}
}

type recConn struct {
	r *recorder
	c SignalConn
}

func (c *recConn) Read(ctx context.Context) ([]byte, error) { return c.c.Read(ctx) }

func (c *recConn) Write(ctx context.Context, msg []byte) error {
	c.r.mu.Lock()
	c.r.bytes += len(msg)
	if env, err := protocol.DecodeEnvelope(msg); err == nil {
		c.r.frames = append(c.r.frames, env.Type)
	}
	c.r.mu.Unlock()
	return c.c.Write(ctx, msg)
}

func (c *recConn) Close() error { return c.c.Close() }

type recNet struct {
	r *recorder
	n transport.Net
}

func (n *recNet) ListenPacket(network, address string) (net.PacketConn, error) {
	n.r.record("Net.ListenPacket")
	return n.n.ListenPacket(network, address)
}

func (n *recNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	n.r.record("Net.ListenUDP")
	return n.n.ListenUDP(network, laddr)
}

func (n *recNet) ListenTCP(network string, laddr *net.TCPAddr) (transport.TCPListener, error) {
	n.r.record("Net.ListenTCP")
	return n.n.ListenTCP(network, laddr)
}

func (n *recNet) Dial(network, address string) (net.Conn, error) {
	n.r.record("Net.Dial")
	return n.n.Dial(network, address)
}

func (n *recNet) DialUDP(network string, laddr, raddr *net.UDPAddr) (transport.UDPConn, error) {
	n.r.record("Net.DialUDP")
	return n.n.DialUDP(network, laddr, raddr)
}

func (n *recNet) DialTCP(network string, laddr, raddr *net.TCPAddr) (transport.TCPConn, error) {
	n.r.record("Net.DialTCP")
	return n.n.DialTCP(network, laddr, raddr)
}

func (n *recNet) ResolveIPAddr(network, address string) (*net.IPAddr, error) {
	n.r.record("Net.ResolveIPAddr")
	return n.n.ResolveIPAddr(network, address)
}

func (n *recNet) ResolveUDPAddr(network, address string) (*net.UDPAddr, error) {
	n.r.record("Net.ResolveUDPAddr")
	return n.n.ResolveUDPAddr(network, address)
}

func (n *recNet) ResolveTCPAddr(network, address string) (*net.TCPAddr, error) {
	n.r.record("Net.ResolveTCPAddr")
	return n.n.ResolveTCPAddr(network, address)
}

func (n *recNet) Interfaces() ([]*transport.Interface, error) {
	n.r.record("Net.Interfaces")
	return n.n.Interfaces()
}

func (n *recNet) InterfaceByIndex(index int) (*transport.Interface, error) {
	n.r.record("Net.InterfaceByIndex")
	return n.n.InterfaceByIndex(index)
}

func (n *recNet) InterfaceByName(name string) (*transport.Interface, error) {
	n.r.record("Net.InterfaceByName")
	return n.n.InterfaceByName(name)
}

func (n *recNet) CreateDialer(d *net.Dialer) transport.Dialer {
	n.r.record("Net.CreateDialer")
	return n.n.CreateDialer(d)
}

func (n *recNet) CreateListenConfig(lc *net.ListenConfig) transport.ListenConfig {
	n.r.record("Net.CreateListenConfig")
	return n.n.CreateListenConfig(lc)
}

// frameLog records every client frame a fake server receives, in order.
type frameLog struct {
	mu     sync.Mutex
	frames []protocol.Envelope
	ch     chan protocol.Envelope
}

func newFrameLog() *frameLog { return &frameLog{ch: make(chan protocol.Envelope, 1024)} }

func (l *frameLog) add(env protocol.Envelope) {
	l.mu.Lock()
	l.frames = append(l.frames, env)
	l.mu.Unlock()
	select {
	case l.ch <- env:
	default:
	}
}

func (l *frameLog) all() []protocol.Envelope {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.frames)
}

func (l *frameLog) ofType(typ protocol.Type) []protocol.Envelope {
	var out []protocol.Envelope
	for _, e := range l.all() {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// wait blocks until a frame of typ arrives (or was already logged after
// index from).
func (l *frameLog) wait(t *testing.T, typ protocol.Type, match func(protocol.Envelope) bool) protocol.Envelope {
	t.Helper()
	ctx := testCtx(t)
	for {
		select {
		case env := <-l.ch:
			if env.Type == typ && (match == nil || match(env)) {
				return env
			}
		case <-ctx.Done():
			t.Fatalf("no %s frame; got %d frames", typ, len(l.all()))
			return protocol.Envelope{}
		}
	}
}

// answeringServer is a fake server that logs every client frame, answers
// publisher offers with a pion peer (one per connection) and applies
// extra first (extra returning true handles the frame).
func answeringServer(t *testing.T, log *frameLog, extra func(fc *fakeConn, env protocol.Envelope) bool) *fakeServer {
	t.Helper()
	api := testPeerAPI(t)
	var mu sync.Mutex
	peers := map[*fakeConn]*mediaPeer{}
	peerFor := func(fc *fakeConn) *mediaPeer {
		mu.Lock()
		defer mu.Unlock()
		p := peers[fc]
		if p == nil {
			p = &mediaPeer{}
			peers[fc] = p
		}
		return p
	}
	return newFakeServer(t, func(fc *fakeConn, env protocol.Envelope) bool {
		if log != nil {
			log.add(env)
		}
		if extra != nil && extra(fc, env) {
			return true
		}
		switch env.Type {
		case protocol.TypeCandidate:
			peerFor(fc).addCandidate(t, env)
			return true
		case protocol.TypeOffer:
		default:
			return false
		}
		mp := peerFor(fc)
		pc := mp.get()
		if pc == nil {
			var err error
			if pc, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
				t.Error(err)
				return true
			}
			pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
				for {
					if _, _, err := tr.ReadRTP(); err != nil {
						return
					}
				}
			})
			mp.mu.Lock()
			mp.pc = pc
			mp.mu.Unlock()
			t.Cleanup(func() { _ = pc.Close() })
		}
		var sd protocol.SessionDescription
		_ = protocol.DecodeData(env, &sd)
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sd.SDP}); err != nil {
			t.Error(err)
			return true
		}
		answer, err := pc.CreateAnswer(nil)
		if err != nil {
			t.Error(err)
			return true
		}
		fc.send(protocol.TypeAnswer, env.ID, protocol.SessionDescription{Type: "answer", SDP: completeLocal(t, pc, answer)})
		return true
	})
}
