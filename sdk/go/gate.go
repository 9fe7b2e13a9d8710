package parley

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/pion/transport/v5"
)

// gate is the egress gate of CONSENT-1/2: the Transport the client uses,
// wrapping Config.Transport. While it is closed every network operation —
// the signaling dial and every method of Net (sockets, dials, name
// resolution, interface enumeration) — fails with ErrConsentRequired
// without touching the wrapped transport at all. Init opens it; a -4008 or
// -4010 refusal, Stop, Uninit and Close close it.
type gate struct {
	inner Transport // Config.Transport; nil builds the default one on first use
	open  atomic.Bool

	mu  sync.Mutex
	def Transport // the lazily built default transport
}

func newGate(inner Transport) *gate { return &gate{inner: inner} }

func (g *gate) setOpen(open bool) { g.open.Store(open) }

// transport returns the wrapped transport, or ErrConsentRequired while the
// gate is closed. The default transport (whose construction enumerates
// the host's interfaces) is built only once the gate is open.
func (g *gate) transport(op string) (Transport, error) {
	if !g.open.Load() {
		return nil, fmt.Errorf("%w: %s refused: the egress gate is closed until consent and Init", ErrConsentRequired, op)
	}
	if g.inner != nil {
		return g.inner, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.def == nil {
		dt, err := NewDefaultTransport()
		if err != nil {
			return nil, err
		}
		g.def = dt
	}
	return g.def, nil
}

// DialSignal implements Transport.
func (g *gate) DialSignal(ctx context.Context, url string) (SignalConn, error) {
	tr, err := g.transport("signaling dial")
	if err != nil {
		return nil, err
	}
	return tr.DialSignal(ctx, url)
}

// Net implements Transport. It returns the gated network without asking
// the wrapped transport for anything.
func (g *gate) Net() transport.Net { return gatedNet{g: g} }

// gatedNet is the transport.Net ICE sees.
type gatedNet struct{ g *gate }

func (n gatedNet) net(op string) (transport.Net, error) {
	tr, err := n.g.transport(op)
	if err != nil {
		return nil, err
	}
	return tr.Net(), nil
}

func (n gatedNet) ListenPacket(network, address string) (net.PacketConn, error) {
	in, err := n.net("ListenPacket")
	if err != nil {
		return nil, err
	}
	return in.ListenPacket(network, address)
}

func (n gatedNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	in, err := n.net("ListenUDP")
	if err != nil {
		return nil, err
	}
	return in.ListenUDP(network, laddr)
}

func (n gatedNet) ListenTCP(network string, laddr *net.TCPAddr) (transport.TCPListener, error) {
	in, err := n.net("ListenTCP")
	if err != nil {
		return nil, err
	}
	return in.ListenTCP(network, laddr)
}

func (n gatedNet) Dial(network, address string) (net.Conn, error) {
	in, err := n.net("Dial")
	if err != nil {
		return nil, err
	}
	return in.Dial(network, address)
}

func (n gatedNet) DialUDP(network string, laddr, raddr *net.UDPAddr) (transport.UDPConn, error) {
	in, err := n.net("DialUDP")
	if err != nil {
		return nil, err
	}
	return in.DialUDP(network, laddr, raddr)
}

func (n gatedNet) DialTCP(network string, laddr, raddr *net.TCPAddr) (transport.TCPConn, error) {
	in, err := n.net("DialTCP")
	if err != nil {
		return nil, err
	}
	return in.DialTCP(network, laddr, raddr)
}

func (n gatedNet) ResolveIPAddr(network, address string) (*net.IPAddr, error) {
	in, err := n.net("ResolveIPAddr")
	if err != nil {
		return nil, err
	}
	return in.ResolveIPAddr(network, address)
}

func (n gatedNet) ResolveUDPAddr(network, address string) (*net.UDPAddr, error) {
	in, err := n.net("ResolveUDPAddr")
	if err != nil {
		return nil, err
	}
	return in.ResolveUDPAddr(network, address)
}

func (n gatedNet) ResolveTCPAddr(network, address string) (*net.TCPAddr, error) {
	in, err := n.net("ResolveTCPAddr")
	if err != nil {
		return nil, err
	}
	return in.ResolveTCPAddr(network, address)
}

func (n gatedNet) Interfaces() ([]*transport.Interface, error) {
	in, err := n.net("Interfaces")
	if err != nil {
		return nil, err
	}
	return in.Interfaces()
}

func (n gatedNet) InterfaceByIndex(index int) (*transport.Interface, error) {
	in, err := n.net("InterfaceByIndex")
	if err != nil {
		return nil, err
	}
	return in.InterfaceByIndex(index)
}

func (n gatedNet) InterfaceByName(name string) (*transport.Interface, error) {
	in, err := n.net("InterfaceByName")
	if err != nil {
		return nil, err
	}
	return in.InterfaceByName(name)
}

// CreateDialer returns a dialer that checks the gate on every Dial.
func (n gatedNet) CreateDialer(d *net.Dialer) transport.Dialer { return gatedDialer{n: n, d: d} }

// CreateListenConfig returns a listen config that checks the gate on
// every Listen and ListenPacket.
func (n gatedNet) CreateListenConfig(lc *net.ListenConfig) transport.ListenConfig {
	return gatedListenConfig{n: n, lc: lc}
}

type gatedDialer struct {
	n gatedNet
	d *net.Dialer
}

func (d gatedDialer) Dial(network, address string) (net.Conn, error) {
	in, err := d.n.net("Dialer.Dial")
	if err != nil {
		return nil, err
	}
	return in.CreateDialer(d.d).Dial(network, address)
}

type gatedListenConfig struct {
	n  gatedNet
	lc *net.ListenConfig
}

func (l gatedListenConfig) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	in, err := l.n.net("ListenConfig.Listen")
	if err != nil {
		return nil, err
	}
	return in.CreateListenConfig(l.lc).Listen(ctx, network, address)
}

func (l gatedListenConfig) ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error) {
	in, err := l.n.net("ListenConfig.ListenPacket")
	if err != nil {
		return nil, err
	}
	return in.CreateListenConfig(l.lc).ListenPacket(ctx, network, address)
}
