package parley

import (
	"fmt"
	"strings"

	"github.com/parley-rtc/parley/protocol"
)

// switchOnLocked reports whether switch id is on for this client: named
// on in the init config, and — for "field.*" switches — not a minor
// (minor mode forces every optional field off, MINOR-1). Without an init
// config every extension and optional field is off. c.mu is held.
func (c *Client) switchOnLocked(id string) bool {
	if c.ageBand == protocol.AgeBandMinor && strings.HasPrefix(id, fieldPrefix) {
		return false
	}
	return c.ic != nil && c.ic.Switches[id]
}

func (c *Client) switchOn(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.switchOnLocked(id)
}

// switchesLocked is join.switches: every known switch with its state.
func (c *Client) switchesLocked() map[string]bool {
	m := map[string]bool{
		SwitchAudio:   c.audioAllowed(),
		SwitchStreams: c.ic == nil || len(c.ic.Streams) > 0,
	}
	for _, id := range KnownSwitches() {
		m[id] = c.switchOnLocked(id)
	}
	return m
}

// audioAllowed applies "audio_enable" (SWITCH-1).
func (c *Client) audioAllowed() bool { return c.ic == nil || bool(c.ic.AudioEnable) }

// checkMedia refuses what the init config switched off, before any
// capture or network use.
func (c *Client) checkMedia(kind protocol.Kind, st protocol.StreamType) error {
	if c.ic == nil {
		return nil
	}
	if kind == protocol.KindAudio {
		if !c.audioAllowed() {
			return fmt.Errorf("%w: %s: the init config's \"audio_enable\" is 0 or absent", ErrSwitchOff, elMediaAudio)
		}
		return nil
	}
	if _, ok := c.ic.stream(st); !ok {
		return fmt.Errorf("%w: %s: \"streams_config\" lists no %s stream", ErrSwitchOff, elMediaVideo, st)
	}
	return nil
}
