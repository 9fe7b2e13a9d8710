package operator

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/parley-rtc/parley/internal/audit"
	"github.com/parley-rtc/parley/internal/store"
)

// Read is what an audited endpoint read: the app it belongs to, how many
// records it returns, which filters narrowed it (names only, never their
// values, which may be identifiers) and the response body.
type Read struct {
	SDKAppID uint32
	Records  int
	Filters  []string
	// Body is the answer: written as JSON, unless it is a BodyWriter.
	Body any
}

// BodyWriter is a Read.Body that writes its own 200 answer (a chart, a
// file), after the audit record is appended like any other.
type BodyWriter interface {
	WriteBody(w http.ResponseWriter)
}

// ReadFunc performs an audited read for op. Return an *Error for a
// client mistake (it is sent as is, nothing is returned and nothing is
// logged); any other error is a 500.
type ReadFunc func(r *http.Request, op Operator) (Read, error)

// Audited serves an endpoint whose response contains personal data
// (SEC-2). It runs read, then appends an operator.read record to the
// audit log — operator id and role, endpoint pattern, app, record count
// and filter names, never the data — and only then writes the response.
// If the append fails the data is not returned (503). The operator must
// have PermPersonalDataRead; mount it behind RequireRole, which this
// checks again so that a wrapper cannot be mounted unprotected.
func (c *Console) Audited(endpoint string, read ReadFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op, ok := FromContext(r.Context())
		if !ok {
			var e *Error
			if op, e = c.authenticate(r); e != nil {
				WriteError(w, e)
				return
			}
		}
		if err := op.Role.Check(PermPersonalDataRead); err != nil {
			WriteError(w, Errorf(http.StatusForbidden, "forbidden", "%v", err))
			return
		}
		res, err := read(r, op)
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				WriteError(w, e)
				return
			}
			c.log.Error("console: read failed", "endpoint", endpoint, "operator_id", op.ID, "err", err)
			WriteError(w, Errorf(http.StatusInternalServerError, "internal", "read failed; retry"))
			return
		}
		filters := append([]string(nil), res.Filters...)
		sort.Strings(filters)
		detail := map[string]string{"endpoint": endpoint, "records": strconv.Itoa(res.Records)}
		op.Actor().AddTo(detail)
		if len(filters) > 0 {
			detail["filters"] = strings.Join(filters, ",")
		}
		if _, err := appendRetry(r.Context(), c.audit, audit.Entry{Kind: audit.KindOperatorRead, SDKAppID: res.SDKAppID, Detail: detail}); err != nil {
			c.log.Error("console: audit append failed; read refused", "endpoint", endpoint, "operator_id", op.ID, "err", err)
			WriteError(w, Errorf(http.StatusServiceUnavailable, "audit_unavailable",
				"%v: the read was not recorded, so its data is not returned (SEC-2); retry", ErrAudit))
			return
		}
		if bw, ok := res.Body.(BodyWriter); ok {
			bw.WriteBody(w)
			return
		}
		WriteJSON(w, http.StatusOK, res.Body)
	})
}

// appendRetry appends e, retrying when another process appended the same
// seq first (store.ErrConflict: the CLI also appends, e.g. incidents).
func appendRetry(ctx context.Context, a Auditor, e audit.Entry) (int64, error) {
	var err error
	for range 3 {
		var seq int64
		if seq, err = a.Append(ctx, e); !errors.Is(err, store.ErrConflict) {
			return seq, err
		}
	}
	return 0, err
}
