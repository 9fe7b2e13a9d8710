package signal

import (
	"errors"
	"fmt"

	"github.com/parley-rtc/parley/protocol"
)

// Refusal is an error with a protocol code, returned by an Authorizer and
// sent to the client as an error frame.
type Refusal struct {
	Code int
	Err  error
}

func (r *Refusal) Error() string { return fmt.Sprintf("code %d: %v", r.Code, r.Err) }
func (r *Refusal) Unwrap() error { return r.Err }

// Refuse builds a Refusal.
func Refuse(code int, err error) error { return &Refusal{Code: code, Err: err} }

// codeOf maps an error to the protocol code the client sees.
func codeOf(err error) int {
	var r *Refusal
	if errors.As(err, &r) {
		return r.Code
	}
	return protocol.ErrCodeInternal
}

// ErrSlowConsumer closes a connection whose outbound queue is full.
var ErrSlowConsumer = errors.New("client is not reading its frames")
