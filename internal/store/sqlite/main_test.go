package sqlite

import (
	"bytes"
	"testing"

	"go.uber.org/goleak"
)

// Every test must leave no goroutine behind: a pool that is not closed
// keeps its connection opener running.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testKEK is the tests' key-encryption key.
var testKEK = bytes.Repeat([]byte{0x5a}, 32)

// testOptions opens a test database with testKEK and the default keystore
// beside it.
func testOptions() Options { return Options{KEK: testKEK} }
