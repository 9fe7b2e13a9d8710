package parley

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/parley-rtc/parley/protocol"
)

// attemptTimeout bounds one reconnect attempt (dial, join, re-publish).
const attemptTimeout = 10 * time.Second

// supervise watches the room's session. An unexpected drop starts a
// reconnect; a server exit_room (reasons 1–4) ends the room; ExitRoom
// cancels ctx and takes over.
func (c *Client) supervise(ctx context.Context, s *session, done chan struct{}) {
	defer close(done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.sig.done:
		}
		if ctx.Err() != nil || s.leaving.Load() {
			return
		}
		if reason, ok := s.exited(); ok {
			c.serverEnded(reason, nil)
			return
		}
		c.log.Info("parley: signaling lost, reconnecting", "err", s.sig.Err())
		c.mu.Lock()
		if c.sess == s {
			c.sess = nil
		}
		c.mu.Unlock()
		s.teardown()
		c.emit(func(l *Listener) {
			if l.OnConnectionLost != nil {
				l.OnConnectionLost()
			}
			if l.OnNetworkQuality != nil {
				l.OnNetworkQuality(QualityDown, nil)
			}
		})
		next, err := c.reconnect(ctx, s)
		if err != nil {
			if ctx.Err() == nil {
				// The server refused us for good (e.g. the UserSig
				// expired): the room is over for this client.
				c.serverEnded(protocol.ExitReasonKicked, err)
			}
			return
		}
		c.emit(func(l *Listener) {
			if l.OnConnectionRecovery != nil {
				l.OnConnectionRecovery()
			}
		})
		s = next
	}
}

// serverEnded ends the room on the server's initiative, unless ExitRoom
// already owns the teardown.
func (c *Client) serverEnded(reason int, cause error) {
	c.mu.Lock()
	if c.roomCancel == nil {
		c.mu.Unlock()
		return
	}
	cancel := c.roomCancel
	c.roomCancel = nil
	c.mu.Unlock()
	cancel()
	c.endRoom()
	if cause != nil {
		c.emitError(cause)
	}
	c.emit(func(l *Listener) {
		if l.OnExitRoom != nil {
			l.OnExitRoom(reason)
		}
	})
}

// reconnect retries with capped exponential backoff and full jitter until
// it is back in the room, ctx ends, or the server refuses for good.
func (c *Client) reconnect(ctx context.Context, prev *session) (*session, error) {
	backoff := c.cfg.ReconnectInitial
	for {
		// Full jitter (uniform in [backoff/2, backoff]) spreads a whole
		// room's clients after a server restart.
		d := backoff/2 + rand.N(backoff/2+1)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		s, err := c.attempt(ctx, prev)
		if err == nil {
			return s, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var se *ServerError
		if errors.As(err, &se) && !retryable(se.Code) ||
			errors.Is(err, ErrConsentRequired) || errors.Is(err, ErrGuardianRequired) {
			// Refused for good, or the gate is closed: no retry
			// reaches the network before fresh consent.
			return nil, err
		}
		c.log.Info("parley: reconnect attempt failed", "err", err, "next_in", min(backoff*2, c.cfg.ReconnectMax))
		backoff = min(backoff*2, c.cfg.ReconnectMax)
	}
}

// retryable reports server refusals that may go away on their own.
func retryable(code int) bool {
	switch code {
	case protocol.ErrCodeInternal, protocol.ErrCodeRateLimited, protocol.ErrCodeEnterRoomFailed,
		protocol.ErrCodeRoomFull, protocol.ErrCodeAlreadyInRoom:
		return true
	}
	return false
}

// attempt joins again and re-publishes every local track.
func (c *Client) attempt(ctx context.Context, prev *session) (*session, error) {
	c.mu.Lock()
	if c.room == nil {
		c.mu.Unlock()
		return nil, ErrNotInRoom
	}
	p := *c.room
	c.mu.Unlock()
	actx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	s, res, err := c.connect(actx, p)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if ctx.Err() != nil {
		c.mu.Unlock()
		s.teardown()
		return nil, ctx.Err()
	}
	c.sess, c.role = s, res.Role
	tracks := make([]*LocalTrack, 0, len(c.tracks))
	for _, t := range c.tracks {
		tracks = append(tracks, t)
	}
	c.mu.Unlock()
	s.start(res, prev)
	published := 0
	for _, t := range tracks {
		if err := s.publishTrack(actx, t); err != nil {
			var se *ServerError
			if errors.As(err, &se) {
				// e.g. the role changed while away: the track stays
				// local but unpublished, and the app hears why.
				c.emitError(err)
				continue
			}
			return nil, c.abandon(s, err)
		}
		published++
	}
	if published > 0 {
		if err := s.negotiate(actx); err != nil {
			return nil, c.abandon(s, err)
		}
	}
	return s, nil
}

// abandon drops a half-built session so the next attempt starts clean.
func (c *Client) abandon(s *session, err error) error {
	c.mu.Lock()
	if c.sess == s {
		c.sess = nil
	}
	c.mu.Unlock()
	s.teardown()
	return err
}
