package cli

import "context"

// Placeholders replaced by each subcommand's own file as it lands.

// Serve runs the server.
func Serve(_ context.Context, _ []string, env Env) int { return fail(env, "serve: not built yet") }

// App manages apps.
func App(_ context.Context, _ []string, env Env) int { return fail(env, "app: not built yet") }

// UserSig generates and verifies UserSigs.
func UserSig(_ context.Context, _ []string, env Env) int { return fail(env, "usersig: not built yet") }

// Bench runs benchmarks.
func Bench(_ context.Context, _ []string, env Env) int { return fail(env, "bench: not built yet") }
