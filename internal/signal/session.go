package signal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/parley-rtc/parley/internal/room"
	"github.com/parley-rtc/parley/internal/sfu"
	"github.com/parley-rtc/parley/protocol"
)

// session is one signaling connection. It implements room.Endpoint and
// sfu.Signaler.
type session struct {
	h       *Handler
	conn    *websocket.Conn
	limiter *rate.Limiter
	out     chan outFrame
	done    chan struct{} // closed when the session ends

	closeOnce sync.Once

	mu          sync.Mutex // guards the fields below
	participant *room.Participant
	peer        *sfu.Peer
	grant       Grant
	appID       uint32
	declared    map[string]struct{} // track ids announced with "publish"
	deviceID    string
	scope       Scope
	withdrawn   bool // the user withdrew consent: no further PI accepted
	rts         *rtsLimits
	exiting     bool     // an exit_room was queued; stop accepting requests
	im          *imState // messaging login, nil when logged out
	chatSeq     int64    // room chat messages sent on this connection
	// While a join is being processed, frames the room or the media peer
	// emit are held so the client sees "joined" first.
	holding bool
	held    []outFrame
}

type outFrame struct {
	b     []byte
	close bool // close the connection after writing b
	im    bool // b is one encoded IMMessage, batched into an im_message frame
}

func newSession(h *Handler, conn *websocket.Conn) *session {
	return &session{
		h:        h,
		conn:     conn,
		limiter:  rate.NewLimiter(rate.Limit(h.cfg.RatePerSecond), h.cfg.Burst),
		out:      make(chan outFrame, h.cfg.QueueFrames),
		done:     make(chan struct{}),
		declared: make(map[string]struct{}),
	}
}

// run serves the connection until it closes, then leaves the room and
// releases the media peer.
func (s *session) run(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.writeLoop(ctx)
	}()
	s.readLoop(ctx)
	close(s.done)
	cancel()
	<-writerDone
	s.cleanup()
	_ = s.conn.CloseNow()
}

func (s *session) readLoop(ctx context.Context) {
	buf := make([]byte, protocol.MaxFrameBytes+1)
	// One timer closes a connection idle for IdleTimeout, reset per frame:
	// cheaper than a context per frame, and the reads below use a context
	// that never ends so the WebSocket sets no watcher per read either.
	// The session's own end closes the connection (writeLoop).
	idle := time.AfterFunc(s.h.cfg.IdleTimeout, func() { _ = s.conn.CloseNow() })
	defer idle.Stop()
	for {
		typ, r, err := s.conn.Reader(context.Background())
		if err != nil {
			return
		}
		n, err := io.ReadFull(r, buf)
		if err == nil { // more than MaxFrameBytes: discard the rest, reply
			if _, err = io.Copy(io.Discard, r); err != nil {
				return
			}
			idle.Reset(s.h.cfg.IdleTimeout)
			s.replyError(0, protocol.ErrCodeBadRequest, fmt.Sprintf("frame too large: over %d bytes", protocol.MaxFrameBytes))
			continue
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			return
		}
		idle.Reset(s.h.cfg.IdleTimeout)
		if typ != websocket.MessageText {
			s.replyError(0, protocol.ErrCodeBadRequest, "binary frames are not part of the protocol")
			continue
		}
		if !s.limiter.Allow() {
			s.replyError(0, protocol.ErrCodeRateLimited, "too many frames: slow down")
			continue
		}
		s.handleFrame(ctx, buf[:n])
	}
}

// writeTimeout bounds one frame's write to a client that stopped reading.
const writeTimeout = 10 * time.Second

func (s *session) writeLoop(ctx context.Context) {
	var (
		batch   []byte    // the im_message frame being built
		pending *outFrame // a frame read while batching, written next
	)
	// Writes use a context that never ends, so the WebSocket sets no
	// watcher per write (a measurable share of fan-out CPU); one timer
	// bounds each write instead, and the session's end closes the
	// connection, which also ends a write in progress.
	stall := time.AfterFunc(writeTimeout, func() { _ = s.conn.CloseNow() })
	stall.Stop()
	defer stall.Stop()
	defer context.AfterFunc(ctx, func() { _ = s.conn.CloseNow() })()
	// Messages to a busy connection are coalesced: an IM message that
	// arrives within IMCoalesce of the previous write waits out the rest
	// of that interval, and everything queued by then goes in one frame.
	// A connection that was quiet writes at once, so the delay is only
	// paid under load, where one write per message would cost far more
	// (each is a syscall here and a read and parse at the client).
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	defer linger.Stop()
	var lastIM time.Time
	for {
		var f outFrame
		if pending != nil {
			f, pending = *pending, nil
		} else {
			select {
			case f = <-s.out:
			case <-ctx.Done():
				return
			}
		}
		if f.im && s.h.cfg.IMCoalesce > 0 {
			if wait := s.h.cfg.IMCoalesce - time.Since(lastIM); wait > 0 {
				linger.Reset(wait)
				select {
				case <-linger.C:
				case <-ctx.Done():
					return
				}
			}
			lastIM = time.Now()
		}
		if f.im {
			// Messages queued behind this one go out in the same frame:
			// under fan-out load a connection gets one write for many
			// messages (REFERENCE §2 throughput; the bytes were encoded
			// once for all recipients).
			batch, pending = s.batchIM(batch[:0], f.b)
			f = outFrame{b: batch}
		}
		stall.Reset(writeTimeout)
		err := s.conn.Write(context.Background(), websocket.MessageText, f.b)
		stall.Stop()
		if err != nil {
			_ = s.conn.CloseNow()
			return
		}
		if f.close {
			_ = s.conn.Close(websocket.StatusNormalClosure, "exit room")
			return
		}
	}
}

// imBatchBytes bounds the messages of one im_message frame, leaving room
// for the envelope under protocol.MaxFrameBytes (a message is at most
// im.MaxMessageBytesLimit plus its fields).
const imBatchBytes = 32 << 10

var (
	imBatchHead = []byte(`{"type":"` + string(protocol.TypeIMMessage) + `","data":{"messages":[`)
	imBatchTail = []byte(`]}}`)
)

// batchIM builds an im_message frame from first and whatever IM messages
// are already queued, up to imBatchBytes. A non-IM frame met on the way is
// returned to be written after the batch, keeping the queue's order.
func (s *session) batchIM(buf, first []byte) ([]byte, *outFrame) {
	buf = append(append(buf, imBatchHead...), first...)
	size := len(first)
	for size < imBatchBytes {
		select {
		case f := <-s.out:
			if !f.im || size+len(f.b) > imBatchBytes {
				return append(buf, imBatchTail...), &f
			}
			buf = append(append(buf, ','), f.b...)
			size += len(f.b)
		default:
			return append(buf, imBatchTail...), nil
		}
	}
	return append(buf, imBatchTail...), nil
}

// send queues a frame without blocking. A full queue means the client is
// not reading: the connection is dropped (bounded memory per client).
func (s *session) send(t protocol.Type, id uint64, data any, closeAfter bool) {
	b, err := protocol.Encode(t, id, data)
	if err != nil {
		s.h.log.Error("encode frame", "type", t, "err", err)
		return
	}
	s.mu.Lock()
	if s.holding && id == 0 {
		s.held = append(s.held, outFrame{b: b, close: closeAfter})
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.enqueue(outFrame{b: b, close: closeAfter})
}

func (s *session) enqueue(f outFrame) {
	// A two-way select with default is a plain non-blocking send: this
	// runs once per message per recipient under fan-out.
	select {
	case s.out <- f:
		return
	default:
	}
	select {
	case <-s.done: // the session ended: nobody reads the queue
	default:
		s.h.log.Warn("dropping slow signaling client", "err", ErrSlowConsumer)
		s.closeWith(websocket.StatusPolicyViolation, ErrSlowConsumer.Error())
	}
}

func (s *session) closeWith(code websocket.StatusCode, reason string) {
	s.closeOnce.Do(func() {
		go func() { _ = s.conn.Close(code, reason) }()
	})
}

func (s *session) replyError(id uint64, code int, msg string) {
	s.h.metrics.errors.WithLabelValues(strconv.Itoa(code)).Inc()
	s.send(protocol.TypeError, id, protocol.Error{Code: code, Message: msg}, false)
}

// replyErr answers with the error's protocol code; the message is the
// cause alone, since the code travels in its own field.
func (s *session) replyErr(id uint64, err error) {
	msg := err.Error()
	var r *Refusal
	if errors.As(err, &r) {
		msg = r.Err.Error()
	}
	s.replyError(id, codeOf(err), msg)
}

// cleanup leaves the room (if still in it) and closes the media peer.
func (s *session) cleanup() {
	if s.h.im != nil {
		s.imCleanup()
	}
	s.mu.Lock()
	p, peer := s.participant, s.peer
	s.participant, s.peer = nil, nil
	s.mu.Unlock()
	if p != nil {
		s.h.rooms.Drop(p)
	}
	if peer != nil {
		_ = peer.Close()
	}
}

// --- room.Endpoint ---

func (s *session) Notify(t protocol.Type, data any) { s.send(t, 0, data, false) }

func (s *session) Exit(reason int, detail string) {
	s.mu.Lock()
	s.exiting = true
	s.mu.Unlock()
	s.send(protocol.TypeExitRoom, 0, protocol.ExitRoom{Reason: reason, Detail: detail}, true)
}

func (s *session) Subscribe(t *room.Track) {
	pt, ok := t.Media.(*sfu.PublishedTrack)
	peer := s.currentPeer()
	if !ok || peer == nil {
		return
	}
	if err := peer.Subscribe(pt); err != nil {
		s.h.log.Warn("subscribe failed", "track_kind", t.Info.Kind, "err", err)
	}
}

func (s *session) Unsubscribe(t *room.Track) {
	pt, ok := t.Media.(*sfu.PublishedTrack)
	peer := s.currentPeer()
	if !ok || peer == nil {
		return
	}
	peer.Unsubscribe(pt)
}

func (s *session) StopPublishing(t *room.Track) {
	if peer := s.currentPeer(); peer != nil {
		peer.RemoveTrack(t.Info.TrackID)
	}
}

// --- sfu.Signaler ---

func (s *session) SendOffer(sdp string) {
	s.send(protocol.TypeOffer, 0, protocol.SessionDescription{Type: "offer", SDP: sdp}, false)
}

func (s *session) SendCandidate(c protocol.Candidate) { s.send(protocol.TypeCandidate, 0, c, false) }

func (s *session) currentPeer() *sfu.Peer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peer
}
