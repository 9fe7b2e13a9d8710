package parley

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Data-subject request types (RIGHTS-1, RIGHTS-2, RIGHTS-6).
const (
	RightsAccess       = "access"
	RightsExport       = "export"
	RightsDelete       = "delete"
	RightsDeleteDevice = "delete_device"
	RightsWithdraw     = "withdraw"
	RightsCancel       = "cancel"
)

// RightsResult is the server's answer to a data-subject request: the
// request with its lifecycle timestamps, per-store counts, the export
// bundle (export) and, for an erasure, the signed receipt.
type RightsResult struct {
	Request struct {
		ID         string          `json:"id"`
		Type       string          `json:"type"`
		State      string          `json:"state"`
		Ground     string          `json:"ground"`
		Message    string          `json:"message"`
		ReceivedAt time.Time       `json:"received_at"`
		FinishedAt time.Time       `json:"finished_at"`
		DueAt      time.Time       `json:"due_at"`
		Receipt    json.RawMessage `json:"receipt"`
	} `json:"Request"`
	Stores []struct {
		Store    string `json:"store"`
		Label    string `json:"label"`
		Rows     int64  `json:"rows"`
		Readable int64  `json:"readable_after"`
	} `json:"Stores"`
	// Export is the portable JSON bundle (export only).
	Export json.RawMessage `json:"Export"`
}

// ErrRightsRefused is returned with a result whose request was refused
// on a listed ground (RIGHTS-5).
var ErrRightsRefused = errors.New("parley: data-subject request refused")

// RequestDataRights asks the server, as the signed-in user, to answer a
// data-subject request about this user: RightsAccess, RightsExport,
// RightsDelete, RightsDeleteDevice (this device), RightsWithdraw or
// RightsCancel. It goes through the client's transport like all other
// traffic, so it needs consent and Init; after Stop, the app's backend
// forwards the user's request with the REST API instead (RIGHTS-7).
func (c *Client) RequestDataRights(ctx context.Context, requestType string) (RightsResult, error) {
	var res RightsResult
	endpoint, err := rightsURL(c.cfg.URL, c.cfg.SDKAppID, c.cfg.UserID, c.cfg.UserSig)
	if err != nil {
		return res, err
	}
	body := map[string]string{"Type": requestType}
	if requestType == RightsDeleteDevice {
		body["DeviceId"] = c.deviceID
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(b))
	if err != nil {
		return res, fmt.Errorf("parley: data-subject request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	nt := c.gate.Net()
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(_ context.Context, network, addr string) (net.Conn, error) { return nt.Dial(network, addr) },
	}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		return res, fmt.Errorf("parley: data-subject request: %w", err)
	}
	defer resp.Body.Close()
	var envelope struct {
		Response json.RawMessage
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&envelope); err != nil {
		return res, fmt.Errorf("parley: data-subject request: HTTP %d: %w", resp.StatusCode, err)
	}
	var apiErr struct {
		Error *struct{ Code, Message string }
	}
	if json.Unmarshal(envelope.Response, &apiErr) == nil && apiErr.Error != nil {
		return res, fmt.Errorf("parley: data-subject request: %s: %s", apiErr.Error.Code, apiErr.Error.Message)
	}
	if err := json.Unmarshal(envelope.Response, &res); err != nil {
		return res, fmt.Errorf("parley: data-subject request: %w", err)
	}
	if res.Request.State == "refused" {
		return res, fmt.Errorf("%w: %s: %s", ErrRightsRefused, res.Request.Ground, res.Request.Message)
	}
	return res, nil
}

// rightsURL turns the signaling URL (ws[s]://host/v1/signal) into the
// self-service endpoint (http[s]://host/v1/self/dsr?…).
func rightsURL(signalURL string, sdkAppID uint32, userID, userSig string) (string, error) {
	u, err := url.Parse(signalURL)
	if err != nil {
		return "", fmt.Errorf("parley: signaling URL: %w", err)
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return "", fmt.Errorf("parley: signaling URL scheme %q: want ws or wss", u.Scheme)
	}
	u.Path = strings.TrimSuffix(u.Path, "/v1/signal") + "/v1/self/dsr"
	u.RawQuery = url.Values{"sdkappid": {strconv.FormatUint(uint64(sdkAppID), 10)}, "identifier": {userID}, "usersig": {userSig}}.Encode()
	return u.String(), nil
}
