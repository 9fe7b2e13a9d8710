package parley

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/parley-rtc/parley/protocol"
)

// Consent lifecycle (CONSENT-1/2/5, MINOR-1; DESIGN "Consent and the
// egress gate"):
//
//	New ─► GrantConsent ─► Init ─► EnterRoom … ExitRoom ─► Stop (withdraw) / Uninit
//
// New, GrantConsent, SetAgeBand and Init perform no network I/O; the gate
// opens in Init and the first socket is EnterRoom's. Stop withdraws the
// consent: Init then fails again until the next GrantConsent.

// Withdrawal bounds (CONSENT-5: everything stops within a second).
const (
	stopBudget      = 900 * time.Millisecond // Stop as a whole
	withdrawTimeout = 500 * time.Millisecond // the withdraw_consent round trip
)

// GrantConsent records that the end user consented to policyVersion for
// purposes (protocol.Purpose*; "rtc" is needed to enter rooms, "quality"
// for APM telemetry). It is validated like protocol.ConsentClaim, recorded
// locally with method "sdk" and the current time, and sent with every
// join; it performs no I/O. Call Init next.
func (c *Client) GrantConsent(policyVersion string, purposes ...string) error {
	return c.grant(protocol.ConsentClaim{PolicyVersion: policyVersion, Purposes: purposes, Method: protocol.ConsentMethodSDK})
}

// GrantConsentFromInitConfig records the consent of Config.InitConfig's
// "consent" block (method "device_config"), including its age band. It
// fails with ErrConsentRequired unless the block says "granted": true.
func (c *Client) GrantConsentFromInitConfig() error {
	ic := c.ic
	if ic == nil || ic.Consent == nil || !ic.Consent.Granted {
		return fmt.Errorf("%w: the init config's consent block does not grant consent", ErrConsentRequired)
	}
	if ic.Consent.AgeBand != "" {
		if err := c.SetAgeBand(ic.Consent.AgeBand, ic.Consent.GuardianRef); err != nil {
			return err
		}
	}
	claim := ic.Consent.claim(0)
	claim.AgeBand, claim.GuardianRef = "", ""
	return c.grant(claim)
}

func (c *Client) grant(claim protocol.ConsentClaim) error {
	claim.Purposes = slices.Compact(slices.Sorted(slices.Values(claim.Purposes)))
	claim.GrantedAt = time.Now().UnixMilli()
	if err := claim.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	c.consent = &claim
	return nil
}

// SetAgeBand declares the end user's age band: protocol.AgeBandAdult or
// protocol.AgeBandMinor (under 14). A minor needs guardianRef, the app's
// reference to the guardian's consent; without it Init fails with
// ErrGuardianRequired (MINOR-1). Minor mode turns every "field.*" switch
// off. It performs no I/O.
func (c *Client) SetAgeBand(band, guardianRef string) error {
	if band != protocol.AgeBandAdult && band != protocol.AgeBandMinor {
		return fmt.Errorf("%w: age band %q is not %q or %q", ErrInvalidConfig, truncateStr(band, 16),
			protocol.AgeBandAdult, protocol.AgeBandMinor)
	}
	if len(guardianRef) > protocol.MaxGuardianRefBytes {
		return fmt.Errorf("%w: guardian reference: at most %d bytes", ErrInvalidConfig, protocol.MaxGuardianRefBytes)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	c.ageBand, c.guardianRef = band, guardianRef
	if band == protocol.AgeBandAdult || guardianRef != "" {
		c.guardianRequired = false
	}
	return nil
}

// Init initialises the SDK once consent is recorded: it fails with
// ErrConsentRequired before GrantConsent (and after Stop or a -4008
// refusal), with ErrGuardianRequired for a minor without a guardian
// reference. It opens the egress gate but performs no network I/O and
// collects nothing: the first socket is EnterRoom's. It loads or creates
// the device id (Config.DeviceIDFile) — local storage, after consent.
func (c *Client) Init(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	if err := c.initBlocked(); err != nil {
		c.mu.Unlock()
		return err
	}
	if c.inited {
		c.mu.Unlock()
		return nil
	}
	needID := c.deviceID == ""
	c.mu.Unlock()
	var id string
	if needID {
		var err error
		if id, err = c.loadDeviceID(); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.initBlocked(); err != nil { // Stop or Close raced us
		return err
	}
	if c.deviceID == "" {
		c.deviceID = id
	}
	c.inited = true
	c.gate.setOpen(true)
	return nil
}

// initBlocked reports why Init cannot proceed; c.mu is held.
func (c *Client) initBlocked() error {
	switch {
	case c.closed:
		return ErrClosed
	case c.consent == nil:
		return fmt.Errorf("%w: call GrantConsent after the user agreed to the privacy policy, then Init", ErrConsentRequired)
	case c.guardianRequired || c.ageBand == protocol.AgeBandMinor && c.guardianRef == "":
		return fmt.Errorf("%w: SetAgeBand(%q, guardianRef) with the guardian's consent reference", ErrGuardianRequired, protocol.AgeBandMinor)
	}
	return nil
}

// notReady reports why EnterRoom cannot use the network; c.mu is held.
func (c *Client) notReady() error {
	if c.inited {
		return nil
	}
	if err := c.initBlocked(); err != nil && !errors.Is(err, ErrClosed) {
		return fmt.Errorf("%w: %w", ErrNotInitialized, err)
	}
	return fmt.Errorf("%w: call Init before EnterRoom", ErrNotInitialized)
}

// DeviceID returns the SDK's random install id ("" before Init). It never
// derives from hardware identifiers.
func (c *Client) DeviceID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deviceID
}

// loadDeviceID returns the init config's device_id, the id persisted in
// Config.DeviceIDFile, or a fresh random id (persisted when the file is
// configured).
func (c *Client) loadDeviceID() (string, error) {
	if c.ic != nil && c.ic.DeviceID != "" {
		return c.ic.DeviceID, nil
	}
	file := c.cfg.DeviceIDFile
	if file != "" {
		b, err := os.ReadFile(file)
		switch {
		case err == nil:
			id := strings.TrimSpace(string(b))
			if protocol.ValidateDeviceID(id) == nil {
				return id, nil
			}
			c.log.Warn("parley: device id file holds no valid "+elDeviceID+"; writing a new random one", "file", file)
		case !errors.Is(err, fs.ErrNotExist):
			return "", fmt.Errorf("parley: device id: %w", err)
		}
	}
	id, err := newDeviceID()
	if err != nil {
		return "", err
	}
	if file != "" {
		if err := writeFileAtomic(file, []byte(id+"\n")); err != nil {
			return "", fmt.Errorf("parley: device id: %w", err)
		}
	}
	return id, nil
}

// newDeviceID returns "go-" and 32 hex digits from crypto/rand.
func newDeviceID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("parley: device id: %w", err)
	}
	return "go-" + hex.EncodeToString(b[:]), nil
}

func writeFileAtomic(name string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".device-id-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

// Stop withdraws the end user's consent (CONSENT-5): the gate closes (no
// new connection), the telemetry loop stops, "withdraw_consent" is sent on
// the open signaling connection if there is one (waiting at most 500 ms
// for the server's answer), and the client leaves the room, which stops
// every local track's capture and closes the PeerConnections — all within
// a second. Afterwards Init fails with ErrConsentRequired until
// GrantConsent is called again. Processing done before stays valid.
func (c *Client) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, stopBudget)
	defer cancel()
	c.mu.Lock()
	c.consent, c.inited = nil, false
	c.gate.setOpen(false)
	s := c.sess
	inRoom := c.room != nil && c.roomCancel != nil
	c.mu.Unlock()
	withdraw := func(sig *signaler) {
		wctx, wcancel := context.WithTimeout(ctx, withdrawTimeout)
		_, err := sig.request(wctx, protocol.TypeWithdraw, protocol.WithdrawConsent{Reason: "the user withdrew consent"})
		wcancel()
		if err != nil {
			c.log.Info("parley: withdraw_consent not confirmed by the server", "err", err)
		}
	}
	withdrawn := s != nil
	if s != nil {
		s.stopTelemetry()
		withdraw(s.sig)
	}
	// Messaging stops too: the withdrawal goes out on a messaging
	// connection when there is no room connection, and every Messenger
	// closes (no more messages, no more offline pushes to this device).
	for _, m := range c.takeMessengers() {
		if sig := m.liveSig(); sig != nil && !withdrawn {
			withdraw(sig)
			withdrawn = true
		}
		_ = m.Close()
	}
	if inRoom {
		if err := c.exitRoom(ctx, false); err != nil && !errors.Is(err, ErrNotInRoom) {
			// The room is torn down locally either way; the server
			// times the session out.
			c.log.Info("parley: leave after withdrawal", "err", err)
		}
	}
	return nil
}

// Uninit releases the client: it leaves the room, closes the gate and
// waits for pending callbacks (Close). It does not tell the server that
// consent was withdrawn — call Stop for that. The client cannot be used
// afterwards.
func (c *Client) Uninit() error {
	c.mu.Lock()
	c.consent, c.inited = nil, false
	c.mu.Unlock()
	return c.Close()
}

// mapRefusal turns the server's consent refusals into the SDK's errors:
// -4008 closes the gate (ErrConsentRequired), -4010 too
// (ErrGuardianRequired); both end a room in progress and reach
// Listener.OnConsentRequired. Other errors pass through.
func (c *Client) mapRefusal(err error) error {
	var se *ServerError
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code {
	case protocol.ErrCodeConsentRequired:
		err = fmt.Errorf("%w: %w", ErrConsentRequired, se)
	case protocol.ErrCodeGuardianRequired:
		err = fmt.Errorf("%w: %w", ErrGuardianRequired, se)
	default:
		return err
	}
	c.revoke(se, err)
	return err
}

func (c *Client) revoke(se *ServerError, err error) {
	guardian := se.Code == protocol.ErrCodeGuardianRequired
	c.mu.Lock()
	changed := c.inited || (!guardian && c.consent != nil)
	c.inited = false
	if guardian {
		c.guardianRequired = true
	} else {
		c.consent = nil
	}
	c.gate.setOpen(false)
	inRoom := c.roomCancel != nil && !c.closed
	if inRoom {
		c.bg.Add(1)
	}
	c.mu.Unlock()
	if changed {
		c.log.Warn("parley: the server requires fresh consent; the egress gate is closed", "code", se.Code, "reason", se.Message)
		c.emit(func(l *Listener) {
			if l.OnConsentRequired != nil {
				l.OnConsentRequired(se.Code, se.Message)
			}
		})
	}
	if inRoom {
		// Off the calling goroutine: it may be a session loop that the
		// teardown waits for.
		go func() {
			defer c.bg.Done()
			c.serverEnded(protocol.ExitReasonKicked, err)
		}()
	}
}
