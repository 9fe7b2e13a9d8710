package sqlite

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test must leave no goroutine behind: a pool that is not closed
// keeps its connection opener running.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
