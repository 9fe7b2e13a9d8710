package sfu

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-rtc/parley/internal/pionlog"
)

// minSocketBuffer is the smallest UDP socket buffer the SFU asks for
// (REFERENCE §8.3: 212 KB lost 14–18% in bursts, 4 MiB lost none).
const minSocketBuffer = 4 << 20

// reportTick drives NACK (50 ms), TWCC feedback (100 ms) and RTCP reports (1 s).
const reportTick = 50 * time.Millisecond

// Config configures an Engine.
type Config struct {
	BindIP            string // e.g. "127.0.0.1"; empty = all interfaces
	UDPPort           int    // one UDP port for all peers; 0 = ephemeral
	PublicIP          string // optional NAT 1:1 IP advertised in candidates
	SocketBufferBytes int    // SO_RCVBUF/SO_SNDBUF; raised to at least 4 MiB
	Logger            *slog.Logger
	Registerer        prometheus.Registerer // optional
}

// Engine owns the UDP socket, the ICE mux and every Peer.
type Engine struct {
	cfg     Config
	log     *slog.Logger
	lf      logging.LoggerFactory
	conn    *net.UDPConn
	mux     ice.UDPMux
	metrics *metrics
	pool    *fanoutPool

	mu     sync.Mutex
	peers  map[*Peer]struct{}
	closed bool

	done chan struct{}
	wg   sync.WaitGroup
}

// NewEngine binds the UDP port and starts the report loop.
func NewEngine(cfg Config) (*Engine, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.SocketBufferBytes = max(cfg.SocketBufferBytes, minSocketBuffer)
	var ip net.IP
	if cfg.BindIP != "" {
		if ip = net.ParseIP(cfg.BindIP); ip == nil {
			return nil, fmt.Errorf("%w: BindIP %q", ErrBadConfig, cfg.BindIP)
		}
	}
	if cfg.PublicIP != "" && net.ParseIP(cfg.PublicIP) == nil {
		return nil, fmt.Errorf("%w: PublicIP %q", ErrBadConfig, cfg.PublicIP)
	}
	if cfg.UDPPort < 0 || cfg.UDPPort > 65535 {
		return nil, fmt.Errorf("%w: UDPPort %d", ErrBadConfig, cfg.UDPPort)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: cfg.UDPPort})
	if err != nil {
		return nil, fmt.Errorf("sfu: listen udp: %w", err)
	}
	log := cfg.Logger.With("component", "sfu")
	setSocketBuffers(conn, cfg.SocketBufferBytes, log)
	lf := pionlog.NewFactory(log)
	e := &Engine{
		cfg: cfg, log: log, lf: lf, conn: conn, metrics: m,
		mux:   webrtc.NewICEUDPMux(lf.NewLogger("udpmux"), conn),
		pool:  newFanoutPool(max(runtime.NumCPU()-1, 1)),
		peers: map[*Peer]struct{}{},
		done:  make(chan struct{}),
	}
	e.wg.Add(1)
	go e.reportLoop()
	return e, nil
}

// setSocketBuffers raises SO_RCVBUF/SO_SNDBUF and warns when the kernel
// caps them (net.core.rmem_max / wmem_max).
func setSocketBuffers(conn *net.UDPConn, want int, log *slog.Logger) {
	if err := conn.SetReadBuffer(want); err != nil {
		log.Warn("set UDP receive buffer", "err", err)
	}
	if err := conn.SetWriteBuffer(want); err != nil {
		log.Warn("set UDP send buffer", "err", err)
	}
	raw, err := conn.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		for _, opt := range []struct {
			name string
			opt  int
		}{{"SO_RCVBUF", syscall.SO_RCVBUF}, {"SO_SNDBUF", syscall.SO_SNDBUF}} {
			got, err := syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, opt.opt) //nolint:gosec // fd fits int
			// Linux reports twice the requested size (bookkeeping overhead).
			if err == nil && got < want {
				log.Warn("kernel capped UDP socket buffer; raise net.core.rmem_max/wmem_max",
					"option", opt.name, "want", want, "got", got)
			}
		}
	})
}

// UDPAddr is the local address of the media socket.
func (e *Engine) UDPAddr() *net.UDPAddr {
	addr, _ := e.conn.LocalAddr().(*net.UDPAddr)
	return addr
}

// Close closes every peer, the mux and the socket.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	peers := make([]*Peer, 0, len(e.peers))
	for p := range e.peers {
		peers = append(peers, p)
	}
	e.mu.Unlock()
	close(e.done)
	e.wg.Wait()
	for _, p := range peers {
		_ = p.Close()
	}
	e.pool.close()
	// The ICE UDP mux owns the socket and closes it; closing it again
	// would only report net.ErrClosed.
	err := e.mux.Close()
	if cerr := e.conn.Close(); err == nil && !errors.Is(cerr, net.ErrClosed) {
		err = cerr
	}
	return err
}

func (e *Engine) removePeer(p *Peer) {
	e.mu.Lock()
	delete(e.peers, p)
	e.mu.Unlock()
}

func (e *Engine) snapshot() []*Peer {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*Peer, 0, len(e.peers))
	for p := range e.peers {
		out = append(out, p)
	}
	return out
}

// reportLoop sends NACKs, TWCC feedback and RTCP reports for all peers.
// It is a fixed-rate protocol timer (RFC 3550 §6.2, RFC 4585 §3.4), not
// a polling loop: nothing waits on it for data.
func (e *Engine) reportLoop() {
	defer e.wg.Done()
	t := time.NewTicker(reportTick)
	defer t.Stop()
	for n := uint64(1); ; n++ {
		select {
		case <-e.done:
			return
		case <-t.C:
		}
		now := time.Now().UnixNano()
		for _, p := range e.snapshot() {
			p.tick(now, n)
		}
	}
}
