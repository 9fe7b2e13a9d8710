//go:build linux

package bench

import (
	"fmt"
	"os/exec"
	"syscall"
)

// raiseFileLimit raises the soft RLIMIT_NOFILE to at least want (up to
// the hard limit). Setting it explicitly also makes child processes
// inherit the raised limit: Go otherwise restores the original soft
// limit in children.
func raiseFileLimit(want uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("bench: file limit: %w", err)
	}
	if lim.Max < want {
		return fmt.Errorf("%w: %d open files needed, hard limit is %d (raise it with ulimit -Hn or limits.conf)",
			ErrInvalidOptions, want, lim.Max)
	}
	lim.Cur = max(lim.Cur, want)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("bench: raise file limit to %d: %w", want, err)
	}
	return nil
}

// killWithParent makes the kernel kill the child server if the bench
// process dies without stopping it.
func killWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
