package test

import (
	"net"
	"sync"

	"github.com/pion/transport/v5"

	parley "github.com/parley-rtc/parley/sdk/go"
)

// lossyTransport is the SDK's real transport with a switch that drops
// incoming RTP packets of one payload type at the UDP socket, below
// DTLS-SRTP: the loss a real network would cause.
type lossyTransport struct {
	parley.Transport
	net *lossyNet
}

func newLossyTransport(pt uint8) (*lossyTransport, *dropper, error) {
	base, err := parley.NewDefaultTransport()
	if err != nil {
		return nil, nil, err
	}
	d := &dropper{pt: pt}
	return &lossyTransport{Transport: base, net: &lossyNet{Net: base.Net(), d: d}}, d, nil
}

func (l *lossyTransport) Net() transport.Net { return l.net }

type lossyNet struct {
	transport.Net
	d *dropper
}

func (n *lossyNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return &lossyConn{UDPConn: c, d: n.d}, nil
}

type lossyConn struct {
	transport.UDPConn
	d *dropper
}

func (c *lossyConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.UDPConn.ReadFrom(b)
		if err != nil || !c.d.drop(b[:n]) {
			return n, addr, err
		}
	}
}

// dropper drops the next `armed` RTP packets of payload type pt and
// remembers their sequence numbers (the RTP header is not encrypted by
// SRTP, RFC 3711 §3.1).
type dropper struct {
	pt      uint8
	mu      sync.Mutex
	armed   int
	dropped []uint16
	done    chan struct{}
}

// arm drops the next n packets; the returned channel closes after the nth.
func (d *dropper) arm(n int) <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.armed = n
	d.done = make(chan struct{})
	return d.done
}

func (d *dropper) drop(p []byte) bool {
	// RFC 7983 demultiplexing: RTP and RTCP start with 128–191. RTCP
	// packet types 192–223 show as payload types 64–95 (RFC 5761 §4).
	if len(p) < 12 || p[0] < 128 || p[0] > 191 {
		return false
	}
	if p[1]&0x7f != d.pt {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.armed == 0 {
		return false
	}
	d.armed--
	d.dropped = append(d.dropped, uint16(p[2])<<8|uint16(p[3]))
	if d.armed == 0 {
		close(d.done)
	}
	return true
}

func (d *dropper) droppedSeqs() []uint16 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]uint16(nil), d.dropped...)
}
