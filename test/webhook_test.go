package test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/app"
	"github.com/parley-rtc/parley/internal/webhook"
	"github.com/parley-rtc/parley/protocol"
	parley "github.com/parley-rtc/parley/sdk/go"
)

// TestRoomEventWebhooks: a call produces TRTC room and media events
// (101 create, 103 enter, 203/204 audio, 104 exit, 102 dismiss) delivered
// to the app's callback, each signed so the receiver verifies the raw
// bytes and the timestamp, each with a unique event id.
func TestRoomEventWebhooks(t *testing.T) {
	env := startServer(t)
	ctx := testCtx(t, 30*time.Second)
	const key = "WebhookKey42"
	var mu sync.Mutex
	seen := map[int]int{}
	ids := map[string]bool{}
	arrived := make(chan int, 64)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, id, err := webhook.VerifyRequest(r, []byte(key), time.Now(), time.Minute)
		if err != nil {
			t.Errorf("webhook verification: %v", err)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var ev struct {
			EventGroupId int
			EventType    int
			EventInfo    struct {
				RoomId json.Number
				UserId string
			}
		}
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		mu.Lock()
		seen[ev.EventType]++
		if ids[id] {
			t.Errorf("event id %s delivered twice", id)
		}
		ids[id] = true
		mu.Unlock()
		_, _ = w.Write([]byte(`{"code":0}`))
		arrived <- ev.EventType
	}))
	defer recv.Close()
	if err := env.srv.Callbacks().Set(ctx, env.appID, app.Callback{URL: recv.URL, Key: key}); err != nil {
		t.Fatal(err)
	}
	alice := env.client(t, "alice", parley.Listener{})
	if _, err := alice.EnterRoom(ctx, parley.EnterParams{RoomID: 70, Scene: protocol.SceneVideoCall}); err != nil {
		t.Fatal(err)
	}
	publishClips(t, ctx, alice, false, true)
	want := map[int]bool{101: true, 103: true, 203: true}
	for len(want) > 0 {
		delete(want, waitFor(t, ctx, arrived, "room webhooks"))
	}
	if err := alice.ExitRoom(ctx); err != nil {
		t.Fatal(err)
	}
	want = map[int]bool{204: true, 104: true, 102: true}
	for len(want) > 0 {
		delete(want, waitFor(t, ctx, arrived, "exit webhooks"))
	}
	mu.Lock()
	defer mu.Unlock()
	if seen[103] != 1 || seen[104] != 1 {
		t.Fatalf("events seen %v, want one enter and one exit", seen)
	}
}
