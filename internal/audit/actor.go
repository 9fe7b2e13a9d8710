package audit

import (
	"context"
	"strconv"
)

// Actor is the console operator on whose request a change is made. A
// service that records its own changes (the app service's settings and
// key rotations) finds it in the context, so its record names who acted
// without every caller passing it down; changes from the CLI or the
// system carry none.
type Actor struct {
	Operator int64  // operator id
	Role     string // the operator's role at the time
}

type actorKey struct{}

// WithActor returns ctx carrying a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// actorFrom returns the actor ctx carries, if any.
func actorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}

// AddTo names the actor in a record's detail: "operator" (the id) and
// "role", the keys every record of an operator's action uses.
func (a Actor) AddTo(detail map[string]string) {
	detail["operator"] = strconv.FormatInt(a.Operator, 10)
	detail["role"] = a.Role
}

// AddActor names the actor ctx carries, if any, in detail (AddTo).
func AddActor(ctx context.Context, detail map[string]string) {
	if a, ok := actorFrom(ctx); ok {
		a.AddTo(detail)
	}
}
