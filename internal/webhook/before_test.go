package webhook

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestCallBefore(t *testing.T) {
	key := []byte("imKey7")
	msg := []byte(`{"CallbackCommand":"C2C.CallbackBeforeSendMsg","From_Account":"a","To_Account":"b","MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}}]}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil || !Verify(key, body, r.Header.Get(HeaderSign)) ||
			VerifyWithTimestamp(key, body, r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderSignature), time.Now(), 0) != nil ||
			string(body) != string(msg) || r.Header.Get(HeaderSdkAppID) != "1400000001" || r.Header.Get(HeaderEventID) == "" {
			http.Error(w, "bad request", http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/allow":
			_, _ = io.WriteString(w, `{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}`)
		case "/veto":
			_, _ = io.WriteString(w, `{"ActionStatus":"OK","ErrorCode":1,"ErrorInfo":"spam"}`)
		case "/modify":
			_, _ = io.WriteString(w, `{"ActionStatus":"OK","ErrorCode":0,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"h*"}}]}`)
		case "/slow":
			<-r.Context().Done()
		case "/error":
			http.Error(w, "boom", http.StatusInternalServerError)
		case "/garbage":
			_, _ = io.WriteString(w, `not json`)
		}
	}))
	defer srv.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	reg := prometheus.NewRegistry()
	c, err := NewCaller(&http.Client{Transport: tr}, nil, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const short = 100 * time.Millisecond

	for _, tc := range []struct {
		path         string
		defaultAllow bool
		want         Decision
		wantErr      error
	}{
		{"/allow", false, Decision{Allow: true}, nil},
		{"/veto", true, Decision{Allow: false, Reason: "spam"}, nil},
		{"/modify", false, Decision{Allow: true, Modified: []byte(`[{"MsgType":"TIMTextElem","MsgContent":{"Text":"h*"}}]`)}, nil},
		{"/slow", true, Decision{Allow: true, Reason: "timeout", TimedOut: true}, nil},
		{"/slow", false, Decision{Allow: false, Reason: "timeout", TimedOut: true}, nil},
		{"/error", true, Decision{Allow: true, Reason: "callback failed"}, ErrCallbackFailed},
		{"/garbage", false, Decision{Allow: false, Reason: "callback failed"}, ErrCallbackFailed},
	} {
		start := time.Now()
		got, err := c.CallBefore(ctx, testApp, srv.URL+tc.path, key, msg, short, tc.defaultAllow)
		elapsed := time.Since(start)
		if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
			t.Errorf("%s: err = %v, want %v", tc.path, err, tc.wantErr)
		}
		if got.Allow != tc.want.Allow || got.Reason != tc.want.Reason || got.TimedOut != tc.want.TimedOut || string(got.Modified) != string(tc.want.Modified) {
			t.Errorf("%s (default %v): decision %+v (modified %s), want %+v", tc.path, tc.defaultAllow, got, got.Modified, tc.want)
		}
		if elapsed > short+time.Second {
			t.Errorf("%s: took %v with a %v budget", tc.path, elapsed, short)
		}
	}

	// The zero timeout is the fixed 2 s budget; the zero Caller works.
	got, err := CallBefore(ctx, testApp, srv.URL+"/allow", key, msg, 0, false)
	if err != nil || !got.Allow {
		t.Fatalf("package CallBefore: %+v, %v", got, err)
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()

	// A cancelled caller gets the default and the cause.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if got, err := c.CallBefore(cctx, testApp, srv.URL+"/slow", key, msg, short, true); !errors.Is(err, context.Canceled) || !got.Allow {
		t.Fatalf("cancelled: %+v, %v", got, err)
	}
}
