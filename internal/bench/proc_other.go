//go:build !linux

package bench

import "fmt"

// procCPU needs /proc; elsewhere the server's CPU time is not reported.
func procCPU(int) (cpuTimes, error) {
	return cpuTimes{}, fmt.Errorf("%w: /proc is Linux-only", ErrCPU)
}

// selfCPU is not implemented off Linux; the report then omits CPU figures.
func selfCPU() (cpuTimes, error) {
	return cpuTimes{}, fmt.Errorf("%w: not supported on this OS", ErrCPU)
}
