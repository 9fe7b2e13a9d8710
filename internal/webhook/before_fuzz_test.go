package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// FuzzCallBeforeReply fuzzes how CallBefore reads an app backend's
// before-send reply. One echo server, shared by the whole run, answers
// every callback with the request body, so the fuzzed body is the reply.
// Invariants: no panic; a reply that is not a JSON object with an integer
// ErrorCode gets the configured default and an error wrapping
// ErrCallbackFailed; a nonzero ErrorCode vetoes whatever the default; a
// zero ErrorCode allows, replacing the elements only with a non-null
// MsgBody.
func FuzzCallBeforeReply(f *testing.F) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read", http.StatusBadRequest)
			return
		}
		_, _ = w.Write(body)
	}))
	tr := &http.Transport{}
	f.Cleanup(func() {
		srv.Close()
		tr.CloseIdleConnections()
	})
	c := &Caller{HTTPClient: &http.Client{Transport: tr}}
	key := []byte("imKey7")

	for _, s := range []string{
		`{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}`,
		`{"ActionStatus":"OK","ErrorCode":1,"ErrorInfo":"spam"}`,
		`{"ActionStatus":"OK","ErrorCode":0,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"h*"}}]}`,
		`{"ActionStatus":"OK","ErrorCode":0,"MsgBody":null}`,
		`{"ActionStatus":"OK","ErrorCode":0,"MsgBody":[]}`,
		`{"ActionStatus":"FAIL","ErrorCode":-1}`,
		`{"ErrorCode":null}`,
		`{"ErrorCode":"1"}`,
		`{"ErrorCode":1.5}`,
		`{"ErrorCode":1e2}`,
		`{"ErrorCode":99999999999999999999}`,
		`{"errorcode":1}`,
		`{"ErrorCode":0,"ErrorCode":1}`,
		`{"ErrorCode":1,"ErrorInfo":5}`,
		`{"ActionStatus":"OK"}`,
		`{}`, `[]`, `null`, `0`, ``, `not json`, `{"ErrorCode":0}{"x":1}`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, defaultAllow bool) {
		dec, err := c.CallBefore(context.Background(), testApp, srv.URL, key, body, 5*time.Second, defaultAllow)
		if dec.TimedOut {
			t.Skip("the local echo server took over 5 s")
		}
		// What the backend said: a JSON object with an integer
		// ErrorCode decides; a malformed ErrorInfo only loses the reason
		// (it cannot turn a veto into the default), and an allow needs a
		// readable MsgBody if it has one. Case-insensitive names and the
		// last of duplicate keys count, as in encoding/json.
		reply := body[:min(len(body), maxBeforeReply)]
		var r struct {
			ErrorCode *int
			ErrorInfo string
			MsgBody   json.RawMessage
		}
		var info struct{ ErrorInfo string }
		var mb struct{ MsgBody json.RawMessage }
		parsed := json.Unmarshal(reply, &struct{ ErrorCode **int }{&r.ErrorCode}) == nil && r.ErrorCode != nil
		if json.Unmarshal(reply, &info) == nil {
			r.ErrorInfo = info.ErrorInfo
		}
		bodyOK := json.Unmarshal(reply, &mb) == nil
		r.MsgBody = mb.MsgBody
		if parsed && *r.ErrorCode == 0 && !bodyOK {
			parsed = false
		}
		switch {
		case !parsed:
			if !errors.Is(err, ErrCallbackFailed) {
				t.Fatalf("reply %q without a usable ErrorCode: err %v, want ErrCallbackFailed", body, err)
			}
			if dec.Allow != defaultAllow || dec.Modified != nil || dec.Reason != "callback failed" {
				t.Fatalf("reply %q without a usable ErrorCode: decision %+v, want the default %v", body, dec, defaultAllow)
			}
		case err != nil:
			t.Fatalf("reply %q with ErrorCode %d: unexpected error %v", body, *r.ErrorCode, err)
		case *r.ErrorCode != 0:
			if dec.Allow || dec.Modified != nil || dec.Reason != r.ErrorInfo {
				t.Fatalf("reply %q vetoes (ErrorCode %d): decision %+v", body, *r.ErrorCode, dec)
			}
		default:
			if !dec.Allow {
				t.Fatalf("reply %q allows: decision %+v", body, dec)
			}
			wantMod := len(r.MsgBody) > 0 && !bytes.Equal(r.MsgBody, []byte("null"))
			if wantMod != (dec.Modified != nil) || (wantMod && !bytes.Equal(dec.Modified, r.MsgBody)) {
				t.Fatalf("reply %q: Modified %q, want %q", body, dec.Modified, r.MsgBody)
			}
			if wantMod && !json.Valid(dec.Modified) {
				t.Fatalf("reply %q: Modified %q is not JSON", body, dec.Modified)
			}
		}
	})
}
