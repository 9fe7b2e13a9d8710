//go:build linux

package bench

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// procCPU returns the CPU time of process pid, all threads.
func procCPU(pid int) (cpuTimes, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return cpuTimes{}, fmt.Errorf("%w: %w", ErrCPU, err)
	}
	ut, st, err := parseProcStatCPU(string(b))
	if err != nil {
		return cpuTimes{}, err
	}
	hz := time.Duration(clockTicks())
	return cpuTimes{user: time.Duration(ut) * time.Second / hz, system: time.Duration(st) * time.Second / hz}, nil
}

// atClkTck is the auxiliary-vector key of USER_HZ (linux/auxvec.h).
const atClkTck = 17

// clockTicks returns USER_HZ, the unit of the times in /proc/<pid>/stat.
// glibc's sysconf(_SC_CLK_TCK) reads it from the auxiliary vector; without
// cgo the same vector is in /proc/self/auxv. Linux has used 100 on every
// mainstream architecture for decades, which is the fallback.
func clockTicks() uint64 {
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return 100
	}
	word := strconv.IntSize / 8
	for i := 0; i+2*word <= len(b); i += 2 * word {
		key, val := auxWord(b[i:], word), auxWord(b[i+word:], word)
		if key == 0 { // AT_NULL ends the vector
			break
		}
		if key == atClkTck && val > 0 {
			return val
		}
	}
	return 100
}

func auxWord(b []byte, word int) uint64 {
	if word == 4 {
		return uint64(binary.NativeEndian.Uint32(b))
	}
	return binary.NativeEndian.Uint64(b)
}

// selfCPU returns this process's CPU time (getrusage).
func selfCPU() (cpuTimes, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return cpuTimes{}, fmt.Errorf("%w: getrusage: %w", ErrCPU, err)
	}
	return cpuTimes{user: time.Duration(ru.Utime.Nano()), system: time.Duration(ru.Stime.Nano())}, nil
}
