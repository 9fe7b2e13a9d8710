package parley

import (
	"bytes"
	"testing"

	"github.com/parley-rtc/parley/protocol"
)

// decodeServerFrame never panics and accepts exactly the JSON objects
// with a type that fit the frame budget.
func FuzzDecodeServerFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"im_message","data":{"messages":[{"conv":"c2c:a|b","seq":1,"at":1}]}}`,
		`{"type":"pong","id":3}`, `{"type":""}`, `{}`, `[]`, `{"type":"x","data":`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if msgs, ok := decodeIMPush(b); ok && len(msgs) > 0 && !bytes.HasPrefix(b, imPushPrefix) {
			t.Fatalf("decoded %d messages from a frame that is not im_message: %q", len(msgs), b)
		}
		env, err := decodeServerFrame(b)
		if err == nil && (env.Type == "" || len(b) > protocol.MaxFrameBytes+1024) {
			t.Fatalf("accepted %q as %+v", b, env)
		}
	})
}
