package dsr

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/parley-rtc/parley/internal/audit"
	"github.com/parley-rtc/parley/internal/privacy/inventory"
	"github.com/parley-rtc/parley/internal/privacy/workdays"
	"github.com/parley-rtc/parley/internal/store"
)

// DeadlineWorkdays is the answer deadline (RIGHTS-4).
const DeadlineWorkdays = 15

// RepeatWindow and RepeatLimit define "unreasonably repeated" for the
// requests that cost work but change nothing (access, export): more than
// RepeatLimit of one type for one subject within RepeatWindow.
const (
	RepeatWindow = 24 * time.Hour
	RepeatLimit  = 3
)

// Handler covers one inventory store: what it holds about a subject.
type Handler interface {
	// Store is the inventory store name ("messages", "quality_logs" …).
	Store() string
	// Export returns the subject's records, readable, JSON-encodable.
	Export(ctx context.Context, s Subject) ([]any, error)
	// Erase removes the subject's records; it returns how many.
	Erase(ctx context.Context, s Subject) (int64, error)
	// EraseDevice removes what the SDK reported for s.DeviceID.
	EraseDevice(ctx context.Context, s Subject) (int64, error)
	// Readable counts the subject's records still readable.
	Readable(ctx context.Context, s Subject) (int64, error)
}

// Keys is the subject-key store.
type Keys interface {
	SubjectCommitKey(ctx context.Context, sdkAppID uint32, userID string) ([]byte, error)
	ShredSubject(ctx context.Context, sdkAppID uint32, userID string) ([]string, error)
}

// Auditor appends to the audit log.
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) (int64, error)
}

// Holds reports legal holds (RETAIN-4) on a user or their app.
type Holds interface {
	Held(ctx context.Context, sdkAppID uint32, userID string) (bool, error)
}

// ConsentRecorder records a withdrawal of every consent the user gave,
// on every device (CONSENT-5).
type ConsentRecorder interface {
	WithdrawAll(ctx context.Context, sdkAppID uint32, userID string) (int, error)
}

// Corrector applies corrections of user-declared fields.
type Corrector interface {
	Correct(ctx context.Context, sdkAppID uint32, userID string, c []Correction) (int64, error)
}

// Config wires an Engine.
type Config struct {
	Inventory *inventory.Inventory
	Handlers  []Handler
	Keys      Keys
	Requests  store.DSRStore
	Audit     Auditor         // required: every state change is logged
	Holds     Holds           // optional
	Consent   ConsentRecorder // required for withdraw and cancel
	Corrector Corrector       // optional; without it correct is refused
	// Kick ends the user's live sessions (cancel, delete); optional.
	Kick func(sdkAppID uint32, userID string)
	// Flush writes out data still queued for storage (telemetry batches)
	// before an erasure, so nothing received before it lands after it.
	Flush      func(ctx context.Context) error
	Calendar   *workdays.Calendar
	ReceiptKey ed25519.PrivateKey
	Now        func() time.Time
	Logger     *slog.Logger
}

// Engine answers data-subject requests. Safe for concurrent use.
type Engine struct {
	cfg Config
}

// New checks that every inventory store with stored elements has a
// handler (ErrUncovered otherwise) and returns the engine.
func New(cfg Config) (*Engine, error) {
	if cfg.Inventory == nil || cfg.Keys == nil || cfg.Requests == nil || cfg.Audit == nil ||
		cfg.Calendar == nil || len(cfg.ReceiptKey) != ed25519.PrivateKeySize || cfg.Consent == nil {
		return nil, errors.New("dsr: inventory, keys, requests, audit, consent, calendar and receipt key are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	for _, s := range StoredStores(cfg.Inventory) {
		if !slices.ContainsFunc(cfg.Handlers, func(h Handler) bool { return h.Store() == s }) {
			return nil, fmt.Errorf("%w: %q", ErrUncovered, s)
		}
	}
	return &Engine{cfg: cfg}, nil
}

// StoredStores lists the stores the inventory keeps elements in, sorted.
func StoredStores(inv *inventory.Inventory) []string {
	var out []string
	for _, e := range inv.Elements {
		if e.Stored && e.Store != "" && e.Store != "none" && !slices.Contains(out, e.Store) {
			out = append(out, e.Store)
		}
	}
	slices.Sort(out)
	return out
}

// Submit runs a request through its lifecycle and returns the outcome.
// The requester's identity was verified by the caller (the app's admin
// UserSig, the user's own UserSig, or operator access to the data
// directory), which source names. A refusal is a completed answer, not
// an error: Result.Request.State is refused with its ground.
func (e *Engine) Submit(ctx context.Context, t Type, s Subject, src Source, corrections []Correction) (Result, error) {
	if err := validate(t, s, corrections); err != nil {
		return Result{}, err
	}
	commitKey, err := e.cfg.Keys.SubjectCommitKey(ctx, s.SDKAppID, s.UserID)
	if err != nil {
		return Result{}, fmt.Errorf("dsr: subject key: %w", err)
	}
	if commitKey == nil {
		// Nothing is stored about the user: a one-off key makes the
		// request's commitment unlinkable from the start.
		commitKey = make([]byte, 32)
		if _, err := rand.Read(commitKey); err != nil {
			return Result{}, fmt.Errorf("dsr: commitment key: %w", err)
		}
	}
	subject, err := audit.Commit(commitKey, s.UserID)
	if err != nil {
		return Result{}, err
	}
	now := e.cfg.Now()
	due, err := e.deadline(now)
	if err != nil {
		return Result{}, err
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return Result{}, fmt.Errorf("dsr: request id: %w", err)
	}
	r := &run{e: e, s: s, commitKey: commitKey, auditSeq: -1, req: Request{
		ID: hex.EncodeToString(id), SDKAppID: s.SDKAppID, Type: t, State: StateReceived, Source: src,
		Subject: subject, ReceivedAt: now, DueAt: due, AuditSeq: -1,
	}}
	if err := e.cfg.Requests.InsertDSR(ctx, toRecord(r.req, -1)); err != nil {
		return Result{}, fmt.Errorf("dsr: record request: %w", err)
	}
	if err := r.step(ctx, StateReceived); err != nil {
		return Result{}, err
	}
	r.req.VerifiedAt = e.cfg.Now()
	if err := r.step(ctx, StateVerified); err != nil {
		return Result{}, err
	}
	if ground, msg, err := e.refusal(ctx, r.req, s); err != nil {
		return Result{}, err
	} else if ground != "" {
		return r.refuse(ctx, ground, msg)
	}
	r.req.ProcessingAt = e.cfg.Now()
	if err := r.step(ctx, StateProcessing); err != nil {
		return Result{}, err
	}
	return r.process(ctx, corrections)
}

// deadline is 15 working days after now. When the calendar lacks a year
// the deadline reaches into, it falls back to 15 calendar days — never
// later than the true deadline — and logs the calendar's warning.
func (e *Engine) deadline(now time.Time) (time.Time, error) {
	due, err := e.cfg.Calendar.AddWorkdays(now, DeadlineWorkdays)
	if errors.Is(err, workdays.ErrYearMissing) {
		e.cfg.Logger.Warn("dsr: deadline falls back to calendar days", "err", err)
		y, m, d := now.In(workdays.CST).Date()
		return time.Date(y, m, d+DeadlineWorkdays, 23, 59, 59, 999999999, workdays.CST), nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("dsr: deadline: %w", err)
	}
	return due, nil
}

func validate(t Type, s Subject, corrections []Correction) error {
	if !slices.Contains(Types, t) {
		return fmt.Errorf("%w: unknown type %q", ErrInvalid, t)
	}
	if s.SDKAppID == 0 || s.UserID == "" || len(s.UserID) > 32 {
		return fmt.Errorf("%w: sdkappid and a user id of 1-32 bytes are required", ErrInvalid)
	}
	if (t == TypeDeleteDevice) != (s.DeviceID != "") {
		return fmt.Errorf("%w: a device id is required for delete_device and only there", ErrInvalid)
	}
	if len(s.DeviceID) > 64 {
		return fmt.Errorf("%w: device id over 64 bytes", ErrInvalid)
	}
	if (t == TypeCorrect) != (len(corrections) > 0) {
		return fmt.Errorf("%w: corrections are required for correct and only there", ErrInvalid)
	}
	return nil
}

// refusal decides whether a listed ground applies (RIGHTS-5).
func (e *Engine) refusal(ctx context.Context, req Request, s Subject) (Ground, string, error) {
	if req.Type.erases() && e.cfg.Holds != nil {
		held, err := e.cfg.Holds.Held(ctx, s.SDKAppID, s.UserID)
		if err != nil {
			return "", "", fmt.Errorf("dsr: legal holds: %w", err)
		}
		if held {
			return GroundLegal, "the data is under a legal hold (law, court, authority or dispute); it is erased when the hold ends", nil
		}
	}
	if req.Type == TypeAccess || req.Type == TypeExport {
		n, err := e.cfg.Requests.CountDSR(ctx, s.SDKAppID, req.Subject, string(req.Type), req.ReceivedAt.Add(-RepeatWindow))
		if err != nil {
			return "", "", err
		}
		if n > RepeatLimit {
			return GroundRepeated, fmt.Sprintf("more than %d %s requests for this user within %v", RepeatLimit, req.Type, RepeatWindow), nil
		}
	}
	if req.Type == TypeCorrect && e.cfg.Corrector == nil {
		return GroundImpractical, "this server keeps no user-declared field that can be corrected", nil
	}
	return "", "", nil
}

// Get returns a request.
func (e *Engine) Get(ctx context.Context, id string) (Request, error) {
	rec, err := e.cfg.Requests.GetDSR(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Request{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return Request{}, err
	}
	return fromRecord(rec), nil
}

// List returns an app's requests, newest first (all apps if 0).
func (e *Engine) List(ctx context.Context, sdkAppID uint32, limit int) ([]Request, error) {
	recs, err := e.cfg.Requests.ListDSR(ctx, sdkAppID, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Request, len(recs))
	for i, r := range recs {
		out[i] = fromRecord(r)
	}
	return out, nil
}

// PublicKey is the receipt-verification key.
func (e *Engine) PublicKey() ed25519.PublicKey {
	return e.cfg.ReceiptKey.Public().(ed25519.PublicKey)
}

func toRecord(r Request, auditSeq int64) store.DSRRecord {
	return store.DSRRecord{ID: r.ID, SDKAppID: r.SDKAppID, Type: string(r.Type), State: string(r.State),
		Source: string(r.Source), Subject: r.Subject, Ground: string(r.Ground), Message: r.Message,
		ReceivedAt: r.ReceivedAt, VerifiedAt: r.VerifiedAt, ProcessingAt: r.ProcessingAt, FinishedAt: r.FinishedAt,
		DueAt: r.DueAt, Receipt: r.Receipt, AuditSeq: auditSeq}
}

func fromRecord(r store.DSRRecord) Request {
	return Request{ID: r.ID, SDKAppID: r.SDKAppID, Type: Type(r.Type), State: State(r.State), Source: Source(r.Source),
		Subject: r.Subject, Ground: Ground(r.Ground), Message: r.Message, ReceivedAt: r.ReceivedAt,
		VerifiedAt: r.VerifiedAt, ProcessingAt: r.ProcessingAt, FinishedAt: r.FinishedAt, DueAt: r.DueAt,
		Receipt: r.Receipt, AuditSeq: r.AuditSeq}
}
