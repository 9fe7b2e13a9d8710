package operator

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeLogin: any body either decodes to a valid name and password
// or fails with ErrInvalid, never panics, and an error never quotes the
// password.
func FuzzDecodeLogin(f *testing.F) {
	for _, s := range []string{
		`{"name":"owner","password":"correct horse battery staple"}`,
		`{"name":"owner","password":""}`, `{"name":"","password":"x"}`, `{}`, ``, `null`, `[]`,
		`{"name":"owner","password":"x","role":"owner"}`, `{"name":"owner","password":"x"}{}`,
		`{"name":1,"password":2}`, `{"name":"ow ner","password":"p"}`, `{"name":"owner","password":"\ud800"}`,
		`{"NAME":"owner","Password":"pw"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeLogin(body)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			if req != (LoginRequest{}) {
				t.Fatalf("error with a request %+v", req)
			}
			return
		}
		if ValidateName(req.Name) != nil {
			t.Fatalf("accepted name %q", req.Name)
		}
		if req.Password == "" || len(req.Password) > MaxPasswordLen || !utf8.ValidString(req.Password) {
			t.Fatalf("accepted password of %d bytes", len(req.Password))
		}
		// A second field with the password as its name is refused
		// without echoing it back.
		bad := `{"name":"` + req.Name + `","password":"x","zz` + strings.Repeat("q", 200) + `":1}`
		if _, err := DecodeLogin([]byte(bad)); err == nil {
			t.Fatal("unknown field accepted")
		}
	})
}
