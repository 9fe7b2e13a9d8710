package dsr

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/parley-rtc/parley/internal/audit"
)

// run is one request in flight.
type run struct {
	e         *Engine
	s         Subject
	commitKey []byte
	req       Request
	auditSeq  int64
}

// step records a state: the request row, then an audit record. The
// subject appears in the audit record only as the commitment.
func (r *run) step(ctx context.Context, st State) error {
	r.req.State = st
	if st != StateReceived {
		if err := r.e.cfg.Requests.UpdateDSR(ctx, toRecord(r.req, r.auditSeq)); err != nil {
			return fmt.Errorf("dsr: record %s: %w", st, err)
		}
	}
	detail := map[string]string{"id": r.req.ID, "type": string(r.req.Type), "state": string(st), "source": string(r.req.Source)}
	if r.req.Ground != "" {
		detail["ground"] = string(r.req.Ground)
	}
	if _, err := r.e.cfg.Audit.Append(ctx, audit.Entry{Kind: audit.KindDSRState, SDKAppID: r.s.SDKAppID,
		SubjectKey: r.commitKey, Subject: r.s.UserID, Detail: detail}); err != nil {
		return fmt.Errorf("dsr: audit %s: %w", st, err)
	}
	return nil
}

func (r *run) refuse(ctx context.Context, g Ground, msg string) (Result, error) {
	r.req.Ground, r.req.Message, r.req.FinishedAt = g, msg, r.e.cfg.Now()
	if err := r.step(ctx, StateRefused); err != nil {
		return Result{}, err
	}
	return Result{Request: r.req}, nil
}

func (r *run) complete(ctx context.Context, res Result) (Result, error) {
	r.req.FinishedAt = r.e.cfg.Now()
	if err := r.step(ctx, StateCompleted); err != nil {
		return Result{}, err
	}
	res.Request = r.req
	return res, nil
}

func (r *run) process(ctx context.Context, corrections []Correction) (Result, error) {
	switch r.req.Type {
	case TypeAccess:
		stores, err := r.count(ctx)
		if err != nil {
			return Result{}, err
		}
		return r.complete(ctx, Result{Stores: stores})
	case TypeExport:
		b, stores, err := r.export(ctx)
		if err != nil {
			return Result{}, err
		}
		return r.complete(ctx, Result{Export: b, Stores: stores})
	case TypeCorrect:
		n, err := r.e.cfg.Corrector.Correct(ctx, r.s.SDKAppID, r.s.UserID, corrections)
		if err != nil {
			return r.refuse(ctx, GroundImpractical, err.Error())
		}
		return r.complete(ctx, Result{Stores: []StoreCount{{Store: "consent_ledger", Label: StoreLabel("consent_ledger"), Rows: n}}})
	default:
		return r.erase(ctx)
	}
}

// count is the access answer: how many readable records each store has.
func (r *run) count(ctx context.Context) ([]StoreCount, error) {
	var out []StoreCount
	for _, h := range r.e.cfg.Handlers {
		n, err := h.Readable(ctx, r.s)
		if err != nil {
			return nil, fmt.Errorf("dsr: %s: %w", h.Store(), err)
		}
		out = append(out, StoreCount{Store: h.Store(), Label: StoreLabel(h.Store()), Rows: n})
	}
	return out, nil
}

func (r *run) export(ctx context.Context) (*Bundle, []StoreCount, error) {
	b := &Bundle{Format: "parley.dsr.export/v1", SDKAppID: r.s.SDKAppID, UserID: r.s.UserID, At: r.e.cfg.Now().UTC()}
	var counts []StoreCount
	for _, h := range r.e.cfg.Handlers {
		recs, err := h.Export(ctx, r.s)
		if err != nil {
			return nil, nil, fmt.Errorf("dsr: export %s: %w", h.Store(), err)
		}
		if recs == nil {
			recs = []any{}
		}
		b.Stores = append(b.Stores, Section{Store: h.Store(), Label: StoreLabel(h.Store()),
			Elements: r.elements(h.Store()), Records: recs})
		counts = append(counts, StoreCount{Store: h.Store(), Label: StoreLabel(h.Store()), Rows: int64(len(recs))})
	}
	return b, counts, nil
}

// keeps reports whether a store survives a request type: a withdrawal
// keeps the consent ledger (it must record the withdrawal) and the key
// that seals it.
func keeps(t Type, storeName string) bool {
	return t == TypeWithdraw && (storeName == "consent_ledger" || storeName == "keystore")
}

// erase is delete, delete_device, withdraw and cancel: record the
// withdrawal where the type needs it, crypto-shred, delete rows, verify,
// sign a receipt.
func (r *run) erase(ctx context.Context) (Result, error) {
	t := r.req.Type
	if t == TypeWithdraw || t == TypeCancel {
		if _, err := r.e.cfg.Consent.WithdrawAll(ctx, r.s.SDKAppID, r.s.UserID); err != nil {
			return Result{}, fmt.Errorf("dsr: record withdrawal: %w", err)
		}
	}
	if (t == TypeCancel || t == TypeDelete) && r.e.cfg.Kick != nil {
		r.e.cfg.Kick(r.s.SDKAppID, r.s.UserID)
	}
	if r.e.cfg.Flush != nil {
		if err := r.e.cfg.Flush(ctx); err != nil {
			return Result{}, fmt.Errorf("dsr: flush queued data: %w", err)
		}
	}
	var res Result
	var destroyed []string
	start := time.Now()
	if t == TypeDelete || t == TypeCancel {
		ids, err := r.e.cfg.Keys.ShredSubject(ctx, r.s.SDKAppID, r.s.UserID)
		if err != nil {
			return Result{}, fmt.Errorf("dsr: shred: %w", err)
		}
		destroyed = ids
	}
	res.ShredMS = ms(time.Since(start))
	start = time.Now()
	for _, h := range r.e.cfg.Handlers {
		if keeps(t, h.Store()) {
			continue
		}
		var n int64
		var err error
		if t == TypeDeleteDevice {
			n, err = h.EraseDevice(ctx, r.s)
		} else {
			n, err = h.Erase(ctx, r.s)
		}
		if err != nil {
			return Result{}, fmt.Errorf("dsr: erase %s: %w", h.Store(), err)
		}
		res.Stores = append(res.Stores, StoreCount{Store: h.Store(), Label: StoreLabel(h.Store()), Rows: n})
	}
	res.RowsMS = ms(time.Since(start))
	if err := r.verify(ctx, res.Stores); err != nil {
		return Result{}, err
	}
	if err := r.sign(ctx, res.Stores, destroyed); err != nil {
		return Result{}, err
	}
	return r.complete(ctx, res)
}

// verify asks every erased store again (issue 5: "completion is
// verified"). delete_device is verified by its handlers' own erasure
// counts: the user's other devices legitimately keep their data.
func (r *run) verify(ctx context.Context, stores []StoreCount) error {
	if r.req.Type == TypeDeleteDevice {
		return nil
	}
	for i := range stores {
		h := r.e.handler(stores[i].Store)
		n, err := h.Readable(ctx, r.s)
		if err != nil {
			return fmt.Errorf("dsr: verify %s: %w", h.Store(), err)
		}
		stores[i].Readable = n
		if n != 0 {
			return fmt.Errorf("%w: %s still has %d readable records", ErrNotErased, h.Store(), n)
		}
	}
	return nil
}

func (r *run) sign(ctx context.Context, stores []StoreCount, destroyed []string) error {
	rc := Receipt{Format: ReceiptFormat, RequestID: r.req.ID, SDKAppID: r.s.SDKAppID, Type: r.req.Type,
		Subject: r.req.Subject, ReceivedAt: r.req.ReceivedAt.UTC(), CompletedAt: r.e.cfg.Now().UTC(),
		Stores: stores, DestroyedKeys: destroyed}
	if rc.DestroyedKeys == nil {
		rc.DestroyedKeys = []string{}
	}
	signed, sum, err := SignReceipt(rc, r.e.cfg.ReceiptKey)
	if err != nil {
		return err
	}
	seq, err := r.e.cfg.Audit.Append(ctx, audit.Entry{Kind: audit.KindDSRReceipt, SDKAppID: r.s.SDKAppID,
		SubjectKey: r.commitKey, Subject: r.s.UserID,
		Detail: map[string]string{"id": r.req.ID, "receipt_sha256": sum, "keys_destroyed": strconv.Itoa(len(destroyed))}})
	if err != nil {
		return fmt.Errorf("dsr: audit receipt: %w", err)
	}
	r.req.Receipt, r.auditSeq, r.req.AuditSeq = signed, seq, seq
	return nil
}

func (e *Engine) handler(storeName string) Handler {
	for _, h := range e.cfg.Handlers {
		if h.Store() == storeName {
			return h
		}
	}
	return nil
}

func (r *run) elements(storeName string) []Element {
	var out []Element
	for _, e := range r.e.cfg.Inventory.Elements {
		if e.Stored && e.Store == storeName {
			out = append(out, Element{ID: e.ID, Label: e.Label.En})
		}
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// StoreLabel names an inventory store for people.
func StoreLabel(storeName string) string {
	switch storeName {
	case "quality_logs":
		return "Call-quality and device telemetry (14 days)"
	case "consent_ledger":
		return "Consent records"
	case "messages":
		return "Messages, conversations and groups"
	case "im_sessions":
		return "Messaging sessions and push tokens"
	case "troubleshooting":
		return "Troubleshooting data"
	case "whiteboards":
		return "Whiteboards"
	case "app_console":
		return "Developer console data"
	case "keystore":
		return "Per-user data keys"
	case "recordings":
		return "Recordings"
	case "webhook_outbox":
		return "Pending event callbacks to the app's backend"
	}
	return storeName
}
