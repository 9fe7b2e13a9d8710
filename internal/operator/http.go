package operator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/parley-rtc/parley/internal/audit"
)

// CookieName is the console session cookie.
const CookieName = "parley_session"

// cookiePath limits the cookie to the console API.
const cookiePath = "/v1/console"

// Auditor appends audit-log records; *audit.Log implements it.
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) (int64, error)
}

// Console is the HTTP side: login, logout, me, the role check and the
// audited-read wrapper.
type Console struct {
	svc   *Service
	audit Auditor
	log   *slog.Logger
}

// NewConsole builds the console middleware over svc; reads of personal
// data are recorded in a.
func NewConsole(svc *Service, a Auditor, log *slog.Logger) (*Console, error) {
	if svc == nil || a == nil {
		return nil, errors.New("operator: console needs the service and an audit log")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Console{svc: svc, audit: a, log: log.With("component", "console")}, nil
}

type ctxKey struct{}

// FromContext returns the operator RequireRole admitted.
func FromContext(ctx context.Context) (Operator, bool) {
	o, ok := ctx.Value(ctxKey{}).(Operator)
	return o, ok
}

// Error is a console API error: an HTTP status, a stable code and a
// message that says precisely what is wrong.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf builds an *Error.
func Errorf(status int, code, format string, a ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, a...)}
}

// WriteJSON writes v with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError writes {"error": {"code", "message"}}.
func WriteError(w http.ResponseWriter, e *Error) {
	WriteJSON(w, e.Status, map[string]*Error{"error": e})
}

// sessionToken returns the request's token: "Authorization: Bearer T",
// else the session cookie.
func sessionToken(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(t)
		}
		return ""
	}
	if c, err := r.Cookie(CookieName); err == nil {
		return c.Value
	}
	return ""
}

// authError maps an authentication failure to a response.
func (c *Console) authError(err error) *Error {
	switch {
	case errors.Is(err, ErrSessionExpired):
		return Errorf(http.StatusUnauthorized, "session_expired", "%v", err)
	case errors.Is(err, ErrUnauthenticated):
		return Errorf(http.StatusUnauthorized, "unauthenticated", "%v", err)
	default:
		c.log.Error("console: session check failed", "err", err)
		return Errorf(http.StatusInternalServerError, "internal", "session check failed; retry")
	}
}

// authenticate returns the request's operator.
func (c *Console) authenticate(r *http.Request) (Operator, *Error) {
	tok := sessionToken(r)
	if tok == "" {
		return Operator{}, Errorf(http.StatusUnauthorized, "unauthenticated",
			"%v: send the session token as 'Authorization: Bearer <token>' or the %s cookie (POST /v1/console/login)", ErrUnauthenticated, CookieName)
	}
	op, err := c.svc.Authenticate(r.Context(), tok)
	if err != nil {
		return Operator{}, c.authError(err)
	}
	return op, nil
}

// RequireRole admits a request only with a valid session whose role has
// p: 401 without one, 403 with a message naming the role, the permission
// and the roles that have it. The admitted operator is in the request's
// context (FromContext).
func (c *Console) RequireRole(p Permission) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			op, e := c.authenticate(r)
			if e != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="parley-console"`)
				WriteError(w, e)
				return
			}
			if err := op.Role.Check(p); err != nil {
				c.log.Info("console: forbidden", "operator_id", op.ID, "role", op.Role, "permission", p)
				WriteError(w, Errorf(http.StatusForbidden, "forbidden", "%v", err))
				return
			}
			// The actor lets services that audit their own changes name
			// the operator (audit.AddActor).
			ctx := audit.WithActor(context.WithValue(r.Context(), ctxKey{}, op), op.Actor())
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// operatorJSON is the API shape of an operator (never the hash).
type operatorJSON struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Role       Role       `json:"role"`
	CreatedAt  time.Time  `json:"created_at"`
	DisabledAt *time.Time `json:"disabled_at,omitempty"`
}

// JSON returns the API shape of o.
func (o Operator) JSON() any {
	out := operatorJSON{ID: o.ID, Name: o.Name, Role: o.Role, CreatedAt: o.CreatedAt.UTC()}
	if o.Disabled() {
		t := o.DisabledAt.UTC()
		out.DisabledAt = &t
	}
	return out
}

// Actor is how audit records name o as the one who acted.
func (o Operator) Actor() audit.Actor { return audit.Actor{Operator: o.ID, Role: string(o.Role)} }

// Login serves POST /v1/console/login: {"name", "password"} → the session
// token (also set as an HttpOnly, SameSite=Strict cookie), the operator
// and the expiry.
func (c *Console) Login() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxLoginBody+1))
		if err != nil {
			WriteError(w, Errorf(http.StatusBadRequest, "invalid_body", "reading body: %v", err))
			return
		}
		req, err := DecodeLogin(body)
		if err != nil {
			WriteError(w, Errorf(http.StatusBadRequest, "invalid_body", "%v", err))
			return
		}
		sess, err := c.svc.Login(r.Context(), req.Name, req.Password)
		var rl *RateLimitError
		switch {
		case errors.As(err, &rl):
			w.Header().Set("Retry-After", strconv.Itoa(int(rl.RetryAfter/time.Second)))
			WriteError(w, Errorf(http.StatusTooManyRequests, "rate_limited", "%v", err))
			return
		case errors.Is(err, ErrBadCredentials):
			WriteError(w, Errorf(http.StatusUnauthorized, "bad_credentials", "%v", err))
			return
		case err != nil:
			c.log.Error("console: login failed", "err", err)
			WriteError(w, Errorf(http.StatusInternalServerError, "internal", "login failed; retry"))
			return
		}
		http.SetCookie(w, &http.Cookie{
			Name: CookieName, Value: sess.Token, Path: cookiePath,
			Expires: sess.ExpiresAt, MaxAge: int(SessionTTL / time.Second),
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
		})
		WriteJSON(w, http.StatusOK, map[string]any{
			"token": sess.Token, "token_type": "Bearer", "expires_at": sess.ExpiresAt.UTC(), "operator": sess.Operator.JSON(),
		})
	})
}

// Logout serves POST /v1/console/logout: ends the session and clears the
// cookie. Mount it behind RequireRole(PermSession).
func (c *Console) Logout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := c.svc.Logout(r.Context(), sessionToken(r)); err != nil {
			c.log.Error("console: logout failed", "err", err)
			WriteError(w, Errorf(http.StatusInternalServerError, "internal", "logout failed; retry"))
			return
		}
		http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: cookiePath, MaxAge: -1,
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
		WriteJSON(w, http.StatusOK, map[string]bool{"logged_out": true})
	})
}

// Me serves GET /v1/console/me: the session's operator and its
// permissions. Mount it behind RequireRole(PermSession).
func (c *Console) Me() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op, ok := FromContext(r.Context())
		if !ok {
			WriteError(w, Errorf(http.StatusUnauthorized, "unauthenticated", "%v", ErrUnauthenticated))
			return
		}
		var perms []Permission
		for _, p := range Permissions() {
			if op.Role.Allows(p) {
				perms = append(perms, p)
			}
		}
		WriteJSON(w, http.StatusOK, map[string]any{"operator": op.JSON(), "permissions": perms})
	})
}
