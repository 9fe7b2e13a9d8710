package parley

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parley-rtc/parley/protocol"
)

// fakeServer speaks docs/protocol.md just enough for protocol-level tests
// of the SDK; the real server's e2e tests live in /test.
type fakeServer struct {
	t   *testing.T
	srv *httptest.Server
	// handle answers one client frame; nil return = default behaviour.
	handle func(fc *fakeConn, env protocol.Envelope) bool
	conns  chan *fakeConn
	mu     sync.Mutex
	joins  int
}

type fakeConn struct {
	s    *fakeServer
	ws   *websocket.Conn
	ctx  context.Context
	join protocol.JoinRequest
	// frames receives every client frame after the server handled it.
	frames chan protocol.Envelope
}

func newFakeServer(t *testing.T, handle func(fc *fakeConn, env protocol.Envelope) bool) *fakeServer {
	t.Helper()
	s := &fakeServer{t: t, handle: handle, conns: make(chan *fakeConn, 16)}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *fakeServer) url() string { return "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/v1/signal" }

func (s *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer ws.CloseNow()
	fc := &fakeConn{s: s, ws: ws, ctx: r.Context(), frames: make(chan protocol.Envelope, 64)}
	s.conns <- fc
	for {
		_, b, err := ws.Read(r.Context())
		if err != nil {
			return
		}
		env, err := protocol.DecodeEnvelope(b)
		if err != nil {
			fc.send(protocol.TypeError, env.ID, protocol.Error{Code: protocol.ErrCodeBadRequest, Message: err.Error()})
			continue
		}
		if s.handle == nil || !s.handle(fc, env) {
			fc.defaultHandle(env)
		}
		select {
		case fc.frames <- env:
		default:
		}
	}
}

func (fc *fakeConn) send(t protocol.Type, id uint64, data any) {
	b, err := protocol.Encode(t, id, data)
	if err != nil {
		fc.s.t.Errorf("encode: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = fc.ws.Write(ctx, websocket.MessageText, b)
}

func (fc *fakeConn) defaultHandle(env protocol.Envelope) {
	switch env.Type {
	case protocol.TypeJoin:
		if err := protocol.DecodeData(env, &fc.join); err != nil {
			fc.send(protocol.TypeError, env.ID, protocol.Error{Code: protocol.ErrCodeBadRequest, Message: err.Error()})
			return
		}
		if err := fc.join.Validate(); err != nil {
			fc.send(protocol.TypeError, env.ID, protocol.Error{Code: protocol.ErrCodeEnterRoomFailed, Message: err.Error()})
			return
		}
		fc.s.mu.Lock()
		fc.s.joins++
		fc.s.mu.Unlock()
		fc.send(protocol.TypeJoined, env.ID, protocol.JoinResponse{Result: 42, Room: fc.join.Room(), Role: fc.join.Role,
			Participants: []protocol.ParticipantInfo{}})
	case protocol.TypePublish:
		if fc.join.Role == protocol.RoleAudience {
			fc.send(protocol.TypeError, env.ID, protocol.Error{Code: protocol.ErrCodePublishNotAllowed, Message: "audience"})
			return
		}
		fc.send(protocol.TypeOK, env.ID, nil)
	case protocol.TypePing:
		fc.send(protocol.TypePong, env.ID, nil)
	case protocol.TypeLeave:
		fc.send(protocol.TypeExitRoom, 0, protocol.ExitRoom{Reason: protocol.ExitReasonLeft})
		fc.ws.Close(websocket.StatusNormalClosure, "")
	case protocol.TypeCandidate, protocol.TypeAnswer:
	default:
		if env.ID != 0 {
			fc.send(protocol.TypeOK, env.ID, nil)
		}
	}
}

// next waits for the next accepted connection.
func (s *fakeServer) next(t *testing.T) *fakeConn {
	t.Helper()
	select {
	case fc := <-s.conns:
		return fc
	case <-time.After(10 * time.Second):
		t.Fatal("no connection")
		return nil
	}
}

// waitFrame waits for a client frame of type typ on fc.
func (fc *fakeConn) waitFrame(t *testing.T, typ protocol.Type) protocol.Envelope {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case env := <-fc.frames:
			if env.Type == typ {
				return env
			}
		case <-deadline:
			t.Fatalf("no %s frame", typ)
		}
	}
}

// events records listener callbacks as strings, in order.
type events struct {
	mu  sync.Mutex
	log []string
	ch  chan string
}

func newEvents() *events { return &events{ch: make(chan string, 256)} }

func (e *events) add(s string) {
	e.mu.Lock()
	e.log = append(e.log, s)
	e.mu.Unlock()
	select {
	case e.ch <- s:
	default:
	}
}

// wait blocks until an event equal to want arrives.
func (e *events) wait(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case got := <-e.ch:
			if got == want {
				return
			}
		case <-deadline:
			e.mu.Lock()
			defer e.mu.Unlock()
			t.Fatalf("event %q not seen; got %v", want, e.log)
		}
	}
}
