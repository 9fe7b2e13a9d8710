package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/parley-rtc/parley/internal/keyring"
)

// Validate reports every invalid value at once, one line each, so an
// operator fixes the file in one pass. Each error wraps ErrInvalid.
func (c Config) Validate() error {
	var errs []error
	bad := func(key string, value any, why string) {
		errs = append(errs, fmt.Errorf("%w: %s = %v: %s", ErrInvalid, key, value, why))
	}

	if strings.TrimSpace(c.DataDir) == "" {
		bad("data_dir", `""`, "must name a directory")
	}
	if c.KEK != "" {
		if _, err := keyring.ParseKEK(c.KEK); err != nil {
			// The value itself is a secret and is not echoed.
			errs = append(errs, fmt.Errorf("%w: %s: %w", ErrInvalid, EnvKEK, err))
		}
	}

	if msg := checkHostPort(c.HTTP.Listen); msg != "" {
		bad("http.listen", strconv.Quote(c.HTTP.Listen), msg)
	}

	if c.Media.UDPPort < 0 || c.Media.UDPPort > 65535 {
		bad("media.udp_port", c.Media.UDPPort, "must be 0-65535 (0 picks a free port)")
	}
	if _, err := netip.ParseAddr(c.Media.BindIP); err != nil {
		bad("media.bind_ip", strconv.Quote(c.Media.BindIP), "must be an IP address (0.0.0.0 for all interfaces)")
	}
	if c.Media.PublicIP != "" {
		ip, err := netip.ParseAddr(c.Media.PublicIP)
		switch {
		case err != nil:
			bad("media.public_ip", strconv.Quote(c.Media.PublicIP), "must be an IP address or empty")
		case ip.IsUnspecified() || ip.IsMulticast():
			bad("media.public_ip", c.Media.PublicIP, "must be a unicast address clients can reach")
		}
	}
	if c.Media.SocketBufferBytes < MinSocketBufferBytes {
		bad("media.socket_buffer_bytes", c.Media.SocketBufferBytes,
			fmt.Sprintf("must be at least %d (1 MiB)", MinSocketBufferBytes))
	}

	if c.Rooms.MaxParticipants <= 0 {
		bad("rooms.max_participants", c.Rooms.MaxParticipants, "must be positive")
	}

	// !(x > 0) also rejects NaN.
	if !(c.Signal.RatePerSecond > 0) || math.IsInf(c.Signal.RatePerSecond, 0) {
		bad("signal.rate_per_second", c.Signal.RatePerSecond, "must be a positive finite number")
	}
	if c.Signal.Burst <= 0 {
		bad("signal.burst", c.Signal.Burst, "must be positive")
	}
	if c.Signal.IdleTimeout <= 0 {
		bad("signal.idle_timeout", c.Signal.IdleTimeout, `must be a positive duration such as "30s"`)
	}

	if c.IM.MaxMessageBytes < 1 || c.IM.MaxMessageBytes > MaxIMMessageBytes {
		bad("im.max_message_bytes", c.IM.MaxMessageBytes, fmt.Sprintf("must be 1-%d (a message must fit one signaling frame)", MaxIMMessageBytes))
	}
	if !(c.IM.GroupRate > 0) || math.IsInf(c.IM.GroupRate, 0) {
		bad("im.group_rate", c.IM.GroupRate, "must be a positive finite number of messages per second")
	}
	if c.IM.RecallWindow <= 0 {
		bad("im.recall_window", c.IM.RecallWindow, `must be a positive duration such as "2m"`)
	}
	for _, t := range c.IM.ReceiptGroupTypes {
		if t != "Work" && t != "Public" && t != "Meeting" {
			bad("im.receipt_group_types", strconv.Quote(t), "must be Work, Public or Meeting (AVChatRoom and Community have no read receipts)")
		}
	}
	if c.IM.Retention < 24*time.Hour {
		bad("im.retention", c.IM.Retention, `must be at least "24h" (history is dropped by whole days)`)
	}
	if c.IM.PushTokenTTL < time.Hour {
		bad("im.push_token_ttl", c.IM.PushTokenTTL, `must be at least "1h"`)
	}

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", strconv.Quote(c.Log.Level), "must be debug, info, warn or error")
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", strconv.Quote(c.Log.Format), "must be text or json")
	}
	return errors.Join(errs...)
}

// checkHostPort returns why s is not a usable listen address, or "".
func checkHostPort(s string) string {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return "must be host:port, e.g. 127.0.0.1:7880 or :7880"
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return "port must be a number"
	}
	if p < 0 || p > 65535 {
		return "port must be 0-65535 (0 picks a free port)"
	}
	return ""
}
