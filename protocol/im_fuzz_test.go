package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"unicode/utf8"
)

// imRequestTarget returns a fresh value of the data type of an IM frame a
// client sends, or nil for a type without data (im_logout, im_convs) or
// not an IM request.
func imRequestTarget(t Type) any {
	switch t {
	case TypeIMLogin:
		return &IMLogin{}
	case TypeIMSend:
		return &IMSend{}
	case TypeIMSync:
		return &IMSync{}
	case TypeIMHistory:
		return &IMHistory{}
	case TypeIMRead, TypeIMReadBy:
		return &IMRead{}
	case TypeIMRecall:
		return &IMRecall{}
	case TypeIMGroup:
		return &IMGroupOp{}
	case TypeIMExt:
		return &IMExt{}
	case TypeIMPushToken:
		return &IMPushToken{}
	case TypeIMSignal:
		return &IMSignal{}
	case TypeRoomChat:
		return &RoomChat{}
	}
	return nil
}

// imPushTargets are the data types a client decodes from the IM frames the
// server sends (im_signal and room_chat go both ways, so they appear in
// both lists).
func imPushTargets(t Type) []any {
	switch t {
	case TypeIMLoggedIn:
		return []any{&IMLoggedIn{}}
	case TypeIMMessage:
		return []any{&IMPush{}}
	case TypeIMRecalled:
		return []any{&IMMessage{}}
	case TypeIMReceipt:
		return []any{&IMReceipt{}}
	case TypeIMGroupEvent:
		return []any{&IMGroupEvent{}}
	case TypeIMSignal:
		return []any{&IMSignalEvent{}}
	case TypeRoomChat:
		return []any{&RoomChatEvent{}}
	case TypeIMResult:
		return []any{&IMSent{}, &IMMessages{}, &IMConversations{}, &IMReadResult{}, &IMReadBy{},
			&IMMessage{}, &IMGroupResult{}, &IMExtensions{}, &IMPushRegistered{}}
	}
	return nil
}

// FuzzDecodeIMFrame feeds arbitrary bytes through the envelope decoder and
// the strict decoder of every IM payload. Nothing may panic; a request
// that passes its Validate must survive an encode/decode round trip
// unchanged (JSON fields compared by meaning, empty maps as absent), and
// still pass Validate afterwards.
func FuzzDecodeIMFrame(f *testing.F) {
	seeds := []string{
		// One valid frame of each type.
		`{"type":"im_login","id":1,"data":{"sdkappid":1400000001,"user_id":"alice","user_sig":"eJx","sdk_version":"1.0","device_id":"d-1","platform":"go","consent":{"policy_version":"v1","purposes":["im"],"method":"tap","granted_at":1700000000000},"switches":{"field.im.device_model":true}}}`,
		`{"type":"im_logout","id":2}`,
		`{"type":"im_send","id":3,"data":{"client_msg_id":"c1","to_user":"bob","elements":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}}],"cloud_custom_data":"x","need_read_receipt":true}}`,
		`{"type":"im_send","id":4,"data":{"group_id":"@TGS#1","elements":[{"MsgType":"TIMCustomElem","MsgContent":{"Data":"{}"}}]}}`,
		`{"type":"im_sync","id":5,"data":{"conv":"c2c:alice|bob","after_seq":3,"limit":100}}`,
		`{"type":"im_history","id":6,"data":{"conv":"group:g","before_seq":10,"limit":20}}`,
		`{"type":"im_convs","id":7}`,
		`{"type":"im_read","id":8,"data":{"conv":"c2c:alice|bob","seq":4}}`,
		`{"type":"im_read_by","id":9,"data":{"conv":"group:g","seq":1}}`,
		`{"type":"im_recall","id":10,"data":{"conv":"group:g","seq":2}}`,
		`{"type":"im_group","id":11,"data":{"op":"create","type":"Work","name":"team","group_id":"team"}}`,
		`{"type":"im_group","id":12,"data":{"op":"mute","group_id":"team","user_id":"bob","mute_seconds":60}}`,
		`{"type":"im_group","id":13,"data":{"op":"set_role","group_id":"team","user_id":"bob","role":"admin"}}`,
		`{"type":"im_group","id":14,"data":{"op":"members","group_id":"team"}}`,
		`{"type":"im_ext","id":15,"data":{"conv":"group:g","seq":1,"set":{"vote":"yes"}}}`,
		`{"type":"im_push_token","id":16,"data":{"token":"tok","device_model":"Pixel 8","vendor":"fcm"}}`,
		`{"type":"im_signal","id":17,"data":{"to_user":"bob","data":"aGk=","reliable":true}}`,
		`{"type":"room_chat","id":18,"data":{"elements":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi room"}}],"cloud_custom_data":"c"}}`,
		// What the server sends.
		`{"type":"im_logged_in","id":1,"data":{"server_time":1700000000000}}`,
		`{"type":"im_result","id":3,"data":{"conv":"c2c:alice|bob","seq":1,"at":1700000000000,"duplicate":true}}`,
		`{"type":"im_message","data":{"messages":[{"conv":"c2c:alice|bob","seq":1,"sender":"alice","at":1,"elements":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}}]}]}}`,
		`{"type":"im_recalled","data":{"conv":"group:g","seq":2,"at":1,"recalled":true,"recalled_by":"alice"}}`,
		`{"type":"im_receipt","data":{"conv":"c2c:alice|bob","user":"bob","read_seq":4}}`,
		`{"type":"im_group_event","data":{"group_id":"team","event":"joined","users":["bob"]}}`,
		`{"type":"im_signal","data":{"from":"alice","seq":1,"data":"aGk="}}`,
		`{"type":"room_chat","data":{"user_id":"alice","seq":1,"at":1,"elements":[]}}`,
		// Edge cases: huge and negative numbers, unknown fields, nulls,
		// wrong types, empty and non-object data.
		`{"type":"im_sync","data":{"conv":"c","after_seq":9223372036854775807,"limit":100}}`,
		`{"type":"im_sync","data":{"conv":"c","after_seq":9223372036854775808}}`,
		`{"type":"im_history","data":{"conv":"c","before_seq":-1,"limit":-1}}`,
		`{"type":"im_read","data":{"conv":"c","seq":1e3}}`,
		`{"type":"im_login","data":{"sdkappid":4294967296,"user_id":"a","user_sig":"s"}}`,
		`{"type":"im_group","data":{"op":"mute","group_id":"g","user_id":"u","mute_seconds":-9223372036854775808}}`,
		`{"type":"im_send","data":{"to_user":"bob","elements":[],"extra":1}}`,
		`{"type":"im_send","data":{"to_user":"bob","elements":null}}`,
		`{"type":"im_send","data":{"to_user":"bob","group_id":"g","elements":"<&>"}}`,
		`{"type":"im_send","data":{"to_user":"bob","elements":  [ 1 , {"a" : "\u2028<"} ] }}`,
		`{"type":"im_ext","data":{"conv":"c","seq":1,"set":{}}}`,
		`{"type":"im_ext","data":{"conv":"c","seq":1,"set":{"k":null}}}`,
		`{"type":"im_login","data":{"sdkappid":1,"user_id":"a","user_sig":"s","switches":{},"consent":null}}`,
		`{"type":"im_signal","data":{"to_user":"bob","data":"not base64!"}}`,
		`{"type":"im_signal","data":{"to_user":"bob","data":""}}`,
		`{"type":"im_push_token","data":{"token":123}}`,
		`{"type":"im_push_token","data":null}`,
		`{"type":"im_group","data":[]}`,
		`{"type":"im_group","data":"create"}`,
		`{"type":"room_chat","data":{"elements":{"MsgType":"TIMTextElem"}}}`,
		`{"type":"im_message","data":{"messages":null}}`,
		`{"type":"im_send","data":{"to_user":"\ud800","elements":["\xff"]}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := DecodeEnvelope(b)
		if err != nil {
			return
		}
		for _, v := range imPushTargets(env.Type) {
			if DecodeData(env, v) == nil {
				if m, ok := v.(*IMMessage); ok {
					_ = m.Text()
				}
				if _, err := json.Marshal(v); err != nil {
					t.Fatalf("%s: decoded %T does not re-encode: %v", env.Type, v, err)
				}
			}
		}
		v := imRequestTarget(env.Type)
		if v == nil || DecodeData(env, v) != nil || validateIM(v) != nil {
			return
		}
		frame, err := Encode(env.Type, env.ID, v)
		if err != nil {
			t.Fatalf("%s: valid %T does not encode: %v", env.Type, v, err)
		}
		env2, err := DecodeEnvelope(frame)
		if errors.Is(err, ErrFrameTooLarge) && len(frame) > len(b) {
			return // json.Marshal escapes <, > and & (×6): not a decoder fault
		}
		if err != nil {
			t.Fatalf("%s: re-encoded frame refused: %v\n%s", env.Type, err, frame)
		}
		back := imRequestTarget(env.Type)
		if err := DecodeData(env2, back); err != nil {
			t.Fatalf("%s: re-encoded data refused: %v\n%s", env.Type, err, frame)
		}
		if err := validateIM(back); err != nil {
			t.Fatalf("%s: valid request no longer valid after a round trip: %v\n%s", env.Type, err, frame)
		}
		if a, z := normalizeIM(reflect.ValueOf(v).Elem()), normalizeIM(reflect.ValueOf(back).Elem()); !reflect.DeepEqual(a, z) {
			t.Fatalf("%s: round trip changed the request:\n got %#v\nwant %#v\nframe %s", env.Type, z, a, frame)
		}
	})
}

// validateIM calls the request's Validate, where it has one.
func validateIM(v any) error {
	switch x := v.(type) {
	case *IMLogin:
		j := x.JoinRequest()
		_ = j.Room()
		return x.Validate()
	case *IMSend:
		return x.Validate()
	case *IMSync:
		return x.Validate()
	case *IMHistory:
		return x.Validate()
	case *IMRead:
		return x.Validate()
	case *IMGroupOp:
		return x.Validate()
	case *IMPushToken:
		return x.Validate()
	case *IMSignal:
		return x.Validate()
	case *IMExt, *RoomChat:
		m := IMMessage{}
		if r, ok := x.(*RoomChat); ok {
			m.Elements = r.Elements
		}
		_ = m.Text()
		return nil
	}
	return nil
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// normalizeIM returns a comparable copy of a decoded value in which the
// differences an encode/decode round trip may legitimately introduce are
// gone: a json.RawMessage becomes its meaning (json.Marshal compacts it
// and escapes HTML), and empty maps and byte slices, which omitempty
// drops, become nil.
func normalizeIM(v reflect.Value) any {
	switch {
	case v.Type() == rawMessageType:
		if v.Len() == 0 {
			return nil
		}
		dec := json.NewDecoder(bytes.NewReader(v.Bytes()))
		dec.UseNumber()
		var x any
		if err := dec.Decode(&x); err != nil {
			return "invalid: " + err.Error()
		}
		return x
	case v.Kind() == reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return []any{normalizeIM(v.Elem())}
	case v.Kind() == reflect.Struct:
		out := map[string]any{}
		for i := range v.NumField() {
			out[v.Type().Field(i).Name] = normalizeIM(v.Field(i))
		}
		return out
	case v.Kind() == reflect.Map:
		if v.Len() == 0 {
			return nil
		}
		out := map[string]any{}
		for it := v.MapRange(); it.Next(); {
			out[it.Key().String()] = normalizeIM(it.Value())
		}
		return out
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8:
		if v.Len() == 0 {
			return nil
		}
		return string(v.Bytes())
	case v.Kind() == reflect.Slice:
		if v.Len() == 0 {
			return nil
		}
		out := make([]any, v.Len())
		for i := range v.Len() {
			out[i] = normalizeIM(v.Index(i))
		}
		return out
	}
	return v.Interface()
}

// FuzzIMMessageText: Text never panics on arbitrary elements, returns
// valid UTF-8, and finds text only in valid JSON.
func FuzzIMMessageText(f *testing.F) {
	for _, s := range []string{
		`[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}},{"MsgType":"TIMTextElem","MsgContent":{"Text":" there"}}]`,
		`[{"MsgType":"TIMCustomElem","MsgContent":{"Data":"x"}},{"MsgType":"TIMTextElem","MsgContent":{"Text":"t"}}]`,
		`[{"MsgType":"TIMTextElem","MsgContent":null}]`,
		`[{"MsgType":"TIMTextElem","MsgContent":{"Text":5}}]`,
		`[{"MsgType":"TIMTextElem","MsgContent":{"text":"case"}}]`,
		`[{"MsgType":"TIMTextElem"}]`,
		`[null]`, `null`, `{}`, `[]`, `"x"`, ``, `[`, "[\"\xff\"]",
		`[{"MsgType":"TIMTextElem","MsgContent":{"Text":"\ud800\u00e9"}}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m := &IMMessage{Elements: b}
		s := m.Text()
		if !utf8.ValidString(s) {
			t.Fatalf("Text returned invalid UTF-8 %q", s)
		}
		if s != "" && !json.Valid(b) {
			t.Fatalf("Text found %q in invalid JSON", s)
		}
		if s2 := (&IMMessage{Elements: b}).Text(); s2 != s {
			t.Fatalf("Text is not deterministic: %q then %q", s, s2)
		}
	})
}
