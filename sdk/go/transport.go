package parley

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"

	"github.com/coder/websocket"
	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"

	"github.com/parley-rtc/parley/protocol"
)

// Transport is the single door through which the SDK reaches the network:
// the signaling WebSocket is dialed with DialSignal and every ICE/UDP socket
// and name lookup of the PeerConnections goes through Net (it is installed
// with webrtc.SettingEngine.SetNet, and mDNS is disabled so ICE never opens
// multicast sockets of its own). Wrapping a Transport therefore sees, and can
// gate, every byte the SDK sends — the consent gate of CONSENT-1 and the
// byte-recording test transport are such wrappers.
type Transport interface {
	// DialSignal opens the signaling connection to url (ws:// or wss://).
	DialSignal(ctx context.Context, url string) (SignalConn, error)
	// Net is the network ICE uses for sockets, interfaces and resolution.
	Net() transport.Net
}

// SignalConn is one message-oriented signaling connection. The SDK
// serialises its writes and reads from one goroutine, so implementations
// need not be safe for concurrent Write calls, but Close may be called
// concurrently with Read and Write and must unblock them.
type SignalConn interface {
	// Read returns the next text message.
	Read(ctx context.Context) ([]byte, error)
	// Write sends one text message.
	Write(ctx context.Context, msg []byte) error
	// Close closes the connection; it is idempotent.
	Close() error
}

// DefaultTransport uses the operating system network: the standard library
// for the WebSocket (through github.com/coder/websocket) and pion's stdnet
// for ICE.
type DefaultTransport struct {
	net  transport.Net
	http *http.Client
}

// NewDefaultTransport builds the operating-system transport.
func NewDefaultTransport() (*DefaultTransport, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, fmt.Errorf("parley: stdnet: %w", err)
	}
	dialer := &net.Dialer{}
	return &DefaultTransport{
		net: n,
		// Proxy is nil on purpose: the SDK talks only to the configured
		// server, never to a proxy picked up from the environment.
		http: &http.Client{Transport: &http.Transport{
			Proxy:             nil,
			DialContext:       dialer.DialContext,
			ForceAttemptHTTP2: false,
		}},
	}, nil
}

// Net implements Transport.
func (t *DefaultTransport) Net() transport.Net { return t.net }

// DialSignal implements Transport.
func (t *DefaultTransport) DialSignal(ctx context.Context, url string) (SignalConn, error) {
	// Remember the local address of the connection the WebSocket runs on:
	// telemetry reports it, truncated, when ICE has not selected a pair.
	var local net.Addr
	var mu sync.Mutex
	base := t.http.Transport.(*http.Transport).Clone()
	dial := base.DialContext
	base.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err == nil {
			mu.Lock()
			local = conn.LocalAddr()
			mu.Unlock()
		}
		return conn, err
	}
	hc := &http.Client{Transport: base}
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc}) //nolint:bodyclose // coder/websocket closes it
	base.CloseIdleConnections()
	if err != nil {
		return nil, fmt.Errorf("parley: dial %s: %w", url, err)
	}
	// A little headroom over MaxFrameBytes so an oversized server frame is
	// reported by protocol decoding, not as a read error.
	c.SetReadLimit(protocol.MaxFrameBytes + 1024)
	mu.Lock()
	defer mu.Unlock()
	return &wsConn{c: c, local: local}, nil
}

// wsConn adapts a coder/websocket connection to SignalConn.
type wsConn struct {
	c     *websocket.Conn
	local net.Addr
}

// LocalAddr is the connection's local address (nil if unknown).
func (w *wsConn) LocalAddr() net.Addr { return w.local }

func (w *wsConn) Read(ctx context.Context) ([]byte, error) {
	typ, b, err := w.c.Read(ctx)
	if err != nil {
		return nil, err
	}
	if typ != websocket.MessageText {
		return nil, fmt.Errorf("%w: binary signaling message", ErrProtocol)
	}
	return b, nil
}

func (w *wsConn) Write(ctx context.Context, msg []byte) error {
	return w.c.Write(ctx, websocket.MessageText, msg)
}

func (w *wsConn) Close() error {
	err := w.c.Close(websocket.StatusNormalClosure, "")
	// Closing twice, or after the peer closed, is not a failure for the SDK.
	if errors.Is(err, net.ErrClosed) || websocket.CloseStatus(err) != -1 {
		return nil
	}
	return err
}
