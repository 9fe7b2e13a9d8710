//go:build !linux

package bench

import (
	"fmt"
	"time"
)

// procCPU needs /proc; elsewhere the server's CPU time is not reported.
func procCPU(int) (time.Duration, error) {
	return 0, fmt.Errorf("%w: /proc is Linux-only", ErrCPU)
}

// selfCPU is not implemented off Linux; the report then omits CPU figures.
func selfCPU() (time.Duration, error) {
	return 0, fmt.Errorf("%w: not supported on this OS", ErrCPU)
}
