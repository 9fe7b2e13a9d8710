package cli

import "context"

// Placeholders replaced by each subcommand's own file as it lands.

// Bench runs benchmarks.
func Bench(_ context.Context, _ []string, env Env) int { return fail(env, "bench: not built yet") }
