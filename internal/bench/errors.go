package bench

import "errors"

// Sentinel errors; callers test them with errors.Is. Each is wrapped with
// detail using %w.
var (
	// ErrInvalidOptions reports Options that cannot describe a run.
	ErrInvalidOptions = errors.New("bench: invalid options")
	// ErrServer reports a spawned server that failed to start or stop.
	ErrServer = errors.New("bench: server")
	// ErrJoin reports a client that could not enter the room or publish.
	ErrJoin = errors.New("bench: join")
	// ErrWarmup reports subscribers that did not receive every track in
	// time, so the measured window would not be steady state.
	ErrWarmup = errors.New("bench: warm-up timed out")
	// ErrCPU reports a CPU time that could not be read.
	ErrCPU = errors.New("bench: cpu time")
)
