package parley

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/parley-rtc/parley/protocol"
)

// The frames the server writes take the fast path and decode as
// encoding/json decodes them.
func TestFastIMPushMatchesEncodingJSON(t *testing.T) {
	msgs := []protocol.IMMessage{
		{Conv: "group:g", Seq: 1, Sender: "alice", At: 1760000000000, ClientMsgID: "go-X",
			Elements: json.RawMessage(`[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi \"there\" [x]"}}]`), CloudCustomData: "bench:123"},
		{Conv: "c2c:a|b", Seq: 9223372036854775807, At: -5, Recalled: true, RecalledBy: "a", Live: true, NeedReadReceipt: true, Erased: true},
	}
	frame := append([]byte(nil), imPushPrefix...)
	for i, m := range msgs {
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			frame = append(frame, ',')
		}
		frame = append(frame, b...)
	}
	frame = append(frame, "]}}"...)
	got, ok := fastIMPush(frame)
	if !ok {
		t.Fatalf("fast path refused a server frame: %s", frame)
	}
	if !reflect.DeepEqual(got, msgs) {
		t.Fatalf("fast = %+v\nwant %+v", got, msgs)
	}
	// Escapes take encoding/json.
	esc := append(append([]byte(nil), imPushPrefix...), `{"conv":"a\u003cb","seq":1,"at":1}]}}`...)
	if _, ok := fastIMPush(esc); ok {
		t.Fatal("fast path took an escaped string")
	}
	if got, ok := decodeIMPush(esc); !ok || got[0].Conv != "a<b" {
		t.Fatalf("fallback = %+v, %v", got, ok)
	}
}

// Differential fuzz: whenever the fast decoder accepts a frame,
// encoding/json accepts it too and agrees on every field.
func FuzzFastIMPush(f *testing.F) {
	for _, s := range []string{
		`{"conv":"group:g","seq":3,"sender":"u","at":17,"elements":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"x"}}]}`,
		`{"conv":"c","seq":-0,"at":01}`, `{"seq":1.5}`, `{"seq":9223372036854775808}`, `{"seq":-9223372036854775808}`,
		`{"elements":"x"}`, `{"elements":[}`, `{"live":true,"erased":false}`, `{}`, `{"Conv":"x"}`, `{"conv":null}`,
	} {
		f.Add([]byte(s))
		f.Add([]byte(s + `,` + s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		frame := append(append(append([]byte(nil), imPushPrefix...), body...), "]}}"...)
		fast, ok := fastIMPush(frame)
		if !ok {
			return
		}
		slow, sok := slowIMPush(frame)
		if !sok {
			t.Fatalf("fast accepted what encoding/json refuses: %q", frame)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("frame %q:\nfast %+v\nslow %+v", frame, fast, slow)
		}
	})
}
