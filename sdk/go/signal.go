package parley

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-rtc/parley/protocol"
)

// pingInterval keeps the connection inside the server's 30 s idle limit
// and detects a dead path: a ping without a pong within pingTimeout closes
// the connection, which starts a reconnect.
const (
	pingInterval = 10 * time.Second
	pingTimeout  = 10 * time.Second
	writeTimeout = 10 * time.Second
)

// signaler runs one signaling connection: a read loop that routes replies
// to the request that waits for them (by frame id) and hands
// server-initiated frames to events, in order.
type signaler struct {
	conn SignalConn
	log  *slog.Logger
	// refusal maps a server error reply (consent refusals close the
	// client's gate); nil keeps it as is.
	refusal func(error) error

	writeMu sync.Mutex // serialises writes: SignalConn need not be concurrent-safe

	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]chan protocol.Envelope
	err     error // why the read loop ended; set before done closes

	// exitReason is the server's exit_room reason + 1 (0 = none). The read
	// loop records it before done can close, so whoever wakes on done sees
	// it even if the event goroutine has not handled the frame yet.
	exitReason atomic.Int32

	events chan inbound
	done   chan struct{}
	wg     sync.WaitGroup
}

func newSignaler(conn SignalConn, log *slog.Logger, refusal func(error) error) *signaler {
	s := &signaler{
		conn:    conn,
		log:     log,
		refusal: refusal,
		pending: make(map[uint64]chan protocol.Envelope),
		// Events are consumed by the session's event loop; the buffer
		// absorbs bursts (a join into a busy room) without stalling reads.
		events: make(chan inbound, 256),
		done:   make(chan struct{}),
	}
	s.wg.Add(2)
	go s.readLoop()
	go s.pingLoop()
	return s
}

// Err reports why the connection ended (nil while it runs).
func (s *signaler) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *signaler) readLoop() {
	defer s.wg.Done()
	ctx := context.Background()
	var err error
	for {
		var b []byte
		b, err = s.conn.Read(ctx)
		if err != nil {
			break
		}
		if msgs, ok := decodeIMPush(b); ok {
			// The hot path under message fan-out: decoded in one pass.
			select {
			case s.events <- inbound{Envelope: protocol.Envelope{Type: protocol.TypeIMMessage}, msgs: msgs}:
			case <-s.done:
			}
			continue
		}
		env, derr := decodeServerFrame(b)
		if derr != nil {
			// A bad frame is the server's bug; one is not worth the session.
			s.log.Warn("parley: dropping bad signaling frame", "err", derr)
			continue
		}
		if env.Type == protocol.TypeExitRoom {
			var e protocol.ExitRoom
			if protocol.DecodeData(env, &e) == nil {
				s.exitReason.Store(int32(e.Reason) + 1)
			}
		}
		if env.ID != 0 {
			s.mu.Lock()
			ch, ok := s.pending[env.ID]
			delete(s.pending, env.ID)
			s.mu.Unlock()
			if ok {
				ch <- env // buffered 1, never blocks
				continue
			}
		}
		select {
		case s.events <- inbound{Envelope: env}:
		case <-s.done:
		}
	}
	s.mu.Lock()
	s.err = fmt.Errorf("%w: %w", ErrConnectionLost, err)
	s.mu.Unlock()
	close(s.done)
	_ = s.conn.Close()
}

// inbound is a server-initiated frame; msgs holds an im_message frame's
// messages, decoded on the read path (Data is then empty).
type inbound struct {
	protocol.Envelope
	msgs []protocol.IMMessage
}

// imPushPrefix starts every im_message frame the server writes (its
// batches are built byte by byte, internal/signal.batchIM).
var imPushPrefix = []byte(`{"type":"` + string(protocol.TypeIMMessage) + `","data":{"messages":[`)

// decodeIMPush decodes an im_message frame straight into its messages,
// instead of the envelope first and the data again. ok is false for any
// other frame (or one that does not parse: the general path reports it).
func decodeIMPush(b []byte) ([]protocol.IMMessage, bool) {
	if !bytes.HasPrefix(b, imPushPrefix) {
		return nil, false
	}
	if msgs, ok := fastIMPush(b); ok {
		return msgs, true
	}
	return slowIMPush(b)
}

// slowIMPush is decodeIMPush through encoding/json.
func slowIMPush(b []byte) ([]protocol.IMMessage, bool) {
	var f struct {
		Data struct {
			Messages []protocol.IMMessage `json:"messages"`
		} `json:"data"`
	}
	if json.Unmarshal(b, &f) != nil {
		return nil, false
	}
	return f.Data.Messages, true
}

// decodeServerFrame parses a frame from the server in one pass. The
// server's own decoder is strict because its input is untrusted; frames
// the server sends are decoded leniently (an unknown field from a newer
// server is ignored) and their data strictly where it matters, by the
// handler that reads it. Under message fan-out this parse is the SDK's
// hottest path.
func decodeServerFrame(b []byte) (protocol.Envelope, error) {
	var env protocol.Envelope
	if len(b) > protocol.MaxFrameBytes+1024 {
		return env, fmt.Errorf("%w: %d bytes", protocol.ErrFrameTooLarge, len(b))
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return env, fmt.Errorf("%w: %w", protocol.ErrBadFrame, err)
	}
	if env.Type == "" {
		return env, fmt.Errorf("%w: missing \"type\"", protocol.ErrBadFrame)
	}
	return env, nil
}

func (s *signaler) pingLoop() {
	defer s.wg.Done()
	t := time.NewTicker(pingInterval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
		_, err := s.request(ctx, protocol.TypePing, nil)
		cancel()
		if err != nil && !errors.Is(err, ErrConnectionLost) {
			s.log.Warn("parley: signaling ping failed, dropping connection", "err", err)
			_ = s.conn.Close()
			return
		}
	}
}

// write sends one frame.
func (s *signaler) write(ctx context.Context, t protocol.Type, id uint64, data any) error {
	b, err := protocol.Encode(t, id, data)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("parley: %s: %w", t, err)
	}
	// The WebSocket closes the connection when a write's context ends
	// mid-frame, so a caller that gives up on its request (Stop ending
	// the telemetry loop) must not cut the connection: the write runs to
	// completion, bounded by writeTimeout only.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	select {
	case <-s.done:
		return s.Err()
	default:
	}
	if err := s.conn.Write(ctx, b); err != nil {
		return fmt.Errorf("%w: write %s: %w", ErrConnectionLost, t, err)
	}
	return nil
}

// send writes a frame that expects no reply.
func (s *signaler) send(ctx context.Context, t protocol.Type, data any) error {
	return s.write(ctx, t, 0, data)
}

// request writes a frame with a fresh id and waits for the reply carrying
// that id. An `error` reply becomes a *ServerError.
func (s *signaler) request(ctx context.Context, t protocol.Type, data any) (protocol.Envelope, error) {
	ch := make(chan protocol.Envelope, 1)
	s.mu.Lock()
	s.nextID++
	id := s.nextID
	s.pending[id] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.pending, id)
		s.mu.Unlock()
	}()
	if err := s.write(ctx, t, id, data); err != nil {
		return protocol.Envelope{}, err
	}
	select {
	case env := <-ch:
		if env.Type == protocol.TypeError {
			err := decodeServerError(env)
			if s.refusal != nil {
				err = s.refusal(err)
			}
			return env, err
		}
		return env, nil
	case <-s.done:
		return protocol.Envelope{}, s.Err()
	case <-ctx.Done():
		return protocol.Envelope{}, fmt.Errorf("parley: %s: %w", t, ctx.Err())
	}
}

func decodeServerError(env protocol.Envelope) error {
	var e protocol.Error
	if err := json.Unmarshal(env.Data, &e); err != nil {
		return fmt.Errorf("%w: error frame: %w", ErrProtocol, err)
	}
	return &ServerError{Code: e.Code, Message: e.Message}
}

// close ends the connection and waits for its goroutines.
func (s *signaler) close() {
	_ = s.conn.Close()
	s.wg.Wait()
}
