package config

import "errors"

// Sentinel errors. Load and Validate wrap them with the offending key, value
// and source, so the message alone tells an operator what to fix.
var (
	// ErrUsage means the command line could not be parsed. The flag
	// package has already printed the problem and the usage text.
	ErrUsage = errors.New("config: bad command line")
	// ErrFile means the YAML configuration file could not be read or
	// decoded, including unknown keys.
	ErrFile = errors.New("config: bad configuration file")
	// ErrEnv means an environment variable holds a value of the wrong type.
	ErrEnv = errors.New("config: bad environment variable")
	// ErrInvalid means a value is well-formed but not allowed (a port out
	// of range, an unknown log level).
	ErrInvalid = errors.New("config: invalid value")
)
