package im_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/parley-rtc/parley/internal/im"
)

func TestDecodeElementsStrict(t *testing.T) {
	good := `[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}},
		{"MsgType":"TIMCustomElem","MsgContent":{"Data":"{\"a\":1}","Desc":"d"}},
		{"MsgType":"TIMImageElem","MsgContent":{"URL":"https://cdn.example/i.png","Size":10,"Width":2,"Height":3}},
		{"MsgType":"TIMSoundElem","MsgContent":{"URL":"https://cdn.example/s.aac","Size":10,"Second":2}},
		{"MsgType":"TIMVideoFileElem","MsgContent":{"URL":"https://cdn.example/v.mp4","Size":10,"Second":2,"ThumbURL":"https://cdn.example/t.jpg"}},
		{"MsgType":"TIMFileElem","MsgContent":{"URL":"https://cdn.example/f.pdf","FileName":"f.pdf","FileSize":10}},
		{"MsgType":"TIMLocationElem","MsgContent":{"Desc":"here","Latitude":22.5,"Longitude":114.0}},
		{"MsgType":"TIMRelayElem","MsgContent":{"Title":"chat","AbstractList":["a: hi"],"MsgList":[{"Conv":"group:g","Seq":1}]}}]`
	els, err := im.DecodeElements([]byte(good))
	if err != nil || len(els) != 8 {
		t.Fatalf("decode = %v, %v", els, err)
	}
	enc, err := im.EncodeElements(els)
	if err != nil {
		t.Fatal(err)
	}
	again, err := im.DecodeElements(enc)
	if err != nil || len(again) != 8 {
		t.Fatalf("round trip: %v", err)
	}
	for _, bad := range []string{
		``, `[]`, `null`, `{}`, `[null]`,
		`[{"MsgType":"TIMFaceElem","MsgContent":{}}]`,
		`[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi","Extra":1}}]`,
		`[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"},"X":1}]`,
		`[{"MsgType":"TIMTextElem","MsgContent":{"Text":""}}]`,
		`[{"MsgType":"TIMTextElem","MsgContent":null}]`,
		`[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}}] []`,
		`[{"MsgType":"TIMCustomElem","MsgContent":{"Data":"not json"}}]`,
		`[{"MsgType":"TIMImageElem","MsgContent":{"URL":"data:image/png;base64,AAAA","Size":1}}]`,
		`[{"MsgType":"TIMImageElem","MsgContent":{"URL":"https://x/y","Size":99999999999}}]`,
		`[{"MsgType":"TIMLocationElem","MsgContent":{"Latitude":91,"Longitude":0}}]`,
		`[{"MsgType":"TIMRelayElem","MsgContent":{"Title":"t","MsgList":[]}}]`,
		`[{"MsgType":"TIMRelayElem","MsgContent":{"Title":"t","MsgList":[{"Conv":"c2c:b|a","Seq":1}]}}]`,
	} {
		if _, err := im.DecodeElements([]byte(bad)); !errors.Is(err, im.ErrInvalidMessage) || im.Code(err) != 20001 {
			t.Errorf("DecodeElements(%s) err = %v, want ErrInvalidMessage", bad, err)
		}
	}
}

// FuzzDecodeElements: the decoder never fails open: whatever it accepts
// validates and survives an encode/decode round trip unchanged.
func FuzzDecodeElements(f *testing.F) {
	f.Add([]byte(`[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}}]`))
	f.Add([]byte(`[{"MsgType":"TIMCustomElem","MsgContent":{"Data":"{}","Ext":"e"}}]`))
	f.Add([]byte(`[{"MsgType":"TIMLocationElem","MsgContent":{"Latitude":1,"Longitude":2}}]`))
	f.Add([]byte(`[{"MsgType":"TIMRelayElem","MsgContent":{"Title":"t","MsgList":[{"Conv":"group:g","Seq":1}]}}]`))
	f.Add([]byte(`[{"MsgType":"TIMFileElem","MsgContent":{"URL":"http://h/f","FileName":"f","FileSize":0}}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		els, err := im.DecodeElements(b)
		if err != nil {
			if !errors.Is(err, im.ErrInvalidMessage) {
				t.Fatalf("error not ErrInvalidMessage: %v", err)
			}
			return
		}
		if err := im.ValidateElements(els); err != nil {
			t.Fatalf("accepted invalid elements: %v", err)
		}
		enc, err := im.EncodeElements(els)
		if err != nil {
			t.Fatal(err)
		}
		els2, err := im.DecodeElements(enc)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		enc2, err := im.EncodeElements(els2)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip changed: %s vs %s (%v)", enc, enc2, err)
		}
	})
}
