package operator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// MaxLoginBody bounds the login request body.
const MaxLoginBody = 4 << 10

// LoginRequest is the body of POST /v1/console/login.
type LoginRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

// DecodeLogin decodes a login body strictly: one JSON object with
// exactly the fields name and password (unknown fields and trailing data
// are refused), a valid operator name and a password of 1-MaxPasswordLen
// bytes of UTF-8. Errors wrap ErrInvalid and never quote the password.
func DecodeLogin(body []byte) (LoginRequest, error) {
	if len(body) > MaxLoginBody {
		return LoginRequest{}, fmt.Errorf("%w: body over %d bytes", ErrInvalid, MaxLoginBody)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req LoginRequest
	if err := dec.Decode(&req); err != nil {
		return LoginRequest{}, fmt.Errorf("%w: body: want {\"name\": ..., \"password\": ...}: %s", ErrInvalid, jsonProblem(err))
	}
	if dec.More() {
		return LoginRequest{}, fmt.Errorf("%w: body: trailing data after the JSON object", ErrInvalid)
	}
	if err := ValidateName(req.Name); err != nil {
		return LoginRequest{}, err
	}
	if req.Password == "" || len(req.Password) > MaxPasswordLen || !utf8.ValidString(req.Password) {
		return LoginRequest{}, fmt.Errorf("%w: password must be 1-%d bytes of UTF-8", ErrInvalid, MaxPasswordLen)
	}
	return req, nil
}

// jsonProblem describes a decode error without echoing input (which
// could be a password).
func jsonProblem(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return fmt.Sprintf("malformed JSON at byte %d", e.Offset)
	case *json.UnmarshalTypeError:
		return fmt.Sprintf("field %q must be a %s", e.Field, e.Type)
	}
	msg := err.Error()
	// "json: unknown field \"x\"" names a field, not a value.
	if len(msg) > 6 && msg[:6] == "json: " {
		if n := len(msg); n < 120 {
			return msg[6:]
		}
	}
	return "not a JSON object"
}
