//go:build !linux

package bench

import "os/exec"

// raiseFileLimit is left to the Go runtime, which raises the soft limit
// at start-up where the OS allows it.
func raiseFileLimit(uint64) error { return nil }

// killWithParent has no portable equivalent of PR_SET_PDEATHSIG.
func killWithParent(*exec.Cmd) {}
