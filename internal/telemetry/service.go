package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/parley-rtc/parley/internal/keyring"
	"github.com/parley-rtc/parley/internal/privacy/inventory"
	"github.com/parley-rtc/parley/internal/store"
	"github.com/parley-rtc/parley/protocol"
)

// Store is what the service needs of the store.
type Store interface {
	store.TelemetryStore
	store.AuditStore
}

// Config configures the service.
type Config struct {
	Inventory *inventory.Inventory
	Store     Store
	// PseudonymKey keys the per-app HMAC pseudonyms of user and device
	// ids (at least 32 bytes; derived from the key-encryption key).
	PseudonymKey []byte
	Logger       *slog.Logger
	Now          func() time.Time
	// Batching: a batch is written when it holds BatchSize records or
	// has waited FlushInterval. QueueRecords bounds memory.
	BatchSize     int
	FlushInterval time.Duration
	QueueRecords  int
	IPv4Bits      int // default 24
	IPv6Bits      int // default 48
}

// Service validates, pseudonymises and stores telemetry.
type Service struct {
	cfg   Config
	dec   decoder
	log   *slog.Logger
	index *keyring.BlindIndex // pseudonyms: the store's blind index

	queue   chan store.TelemetryRecord
	flushes chan chan struct{} // Flush requests, answered by the writer
	wg      sync.WaitGroup

	mu     sync.Mutex
	closed bool
}

// New builds the service and starts its writer.
func New(cfg Config) (*Service, error) {
	if cfg.Inventory == nil || cfg.Store == nil {
		return nil, errors.New("telemetry: inventory and store are required")
	}
	if err := checkIdentities(cfg.Inventory); err != nil {
		return nil, err
	}
	index, err := keyring.NewBlindIndexKey(cfg.PseudonymKey)
	if err != nil {
		return nil, errors.New("telemetry: pseudonym key must be at least 32 bytes")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 2000
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = 100 * time.Millisecond
	}
	if cfg.QueueRecords <= 0 {
		cfg.QueueRecords = 100_000
	}
	if cfg.IPv4Bits <= 0 || cfg.IPv4Bits > 24 {
		cfg.IPv4Bits = 24
	}
	if cfg.IPv6Bits <= 0 || cfg.IPv6Bits > 48 {
		cfg.IPv6Bits = 48
	}
	s := &Service{
		cfg:     cfg,
		index:   index,
		dec:     decoder{inv: cfg.Inventory, ipv4Bits: cfg.IPv4Bits, ipv6Bits: cfg.IPv6Bits},
		log:     cfg.Logger.With("component", "telemetry"),
		queue:   make(chan store.TelemetryRecord, cfg.QueueRecords),
		flushes: make(chan chan struct{}),
	}
	s.wg.Add(1)
	go s.writer()
	return s, nil
}

// checkIdentities makes the service refuse to run unless the inventory
// declares the identifiers a stored record carries, with the protection
// this service applies: the user id pseudonymised and the room id kept
// with the quality data (COLLECT-1: nothing stored that is not declared).
func checkIdentities(inv *inventory.Inventory) error {
	user, ok := inv.Element("identity.user_id")
	if !ok || user.AtRest != "pseudonymise" {
		return errors.New("telemetry: the inventory must declare identity.user_id, pseudonymised at rest")
	}
	room, ok := inv.Element("identity.room_id")
	if !ok || !room.Stored || room.Store != "quality_logs" {
		return errors.New("telemetry: the inventory must declare identity.room_id, stored with the quality logs")
	}
	return nil
}

// Session identifies a report's source.
type Session struct {
	SDKAppID uint32
	Room     protocol.RoomRef
	UserID   string
	DeviceID string
	Scope    Scope
}

// Pseudonym is the per-app pseudonym of an identifier: HMAC-SHA256 under
// the service key of (app, kind, id), truncated to 16 bytes. The same user
// has unrelated pseudonyms in different apps.
func (s *Service) Pseudonym(sdkAppID uint32, kind, id string) []byte {
	return s.index.Sum(sdkAppID, kind, id)
}

// Ingest validates a report and queues its sections for storage. A
// rejected report stores nothing and leaves an audit entry naming the
// field (never its value).
func (s *Service) Ingest(ctx context.Context, sess Session, rep *protocol.TelemetryReport) error {
	dr, err := s.dec.report(rep, sess.Scope)
	if err != nil {
		var rej *RejectError
		if errors.As(err, &rej) {
			s.audit(ctx, sess.SDKAppID, rej)
		}
		return err
	}
	now := s.cfg.Now()
	userRef := s.Pseudonym(sess.SDKAppID, "user", sess.UserID)
	deviceRef := s.Pseudonym(sess.SDKAppID, "device", sess.DeviceID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	for _, sec := range dr.sections {
		rec := store.TelemetryRecord{At: now, SDKAppID: sess.SDKAppID, RoomKey: sess.Room.Key(), UserRef: userRef, DeviceRef: deviceRef, Section: sec.name, Data: sec.data}
		if sec.name == store.SealedSection {
			rec.UserID = sess.UserID // the store seals device facts under the user's key
		}
		select {
		case s.queue <- rec:
		default:
			return fmt.Errorf("%w: %d records waiting", ErrOverload, cap(s.queue))
		}
	}
	return nil
}

func (s *Service) audit(ctx context.Context, appID uint32, rej *RejectError) {
	detail, _ := json.Marshal(protocol.FieldRejection{Section: rej.Section, Field: rej.Field, Reason: rej.Reason})
	if err := s.cfg.Store.AppendAudit(ctx, store.AuditEvent{At: s.cfg.Now(), SDKAppID: appID, Kind: "telemetry_rejected", Detail: detail}); err != nil {
		s.log.Error("audit telemetry rejection", "err", err)
	}
}

// writer drains the queue in batches (group commit).
func (s *Service) writer() {
	defer s.wg.Done()
	batch := make([]store.TelemetryRecord, 0, s.cfg.BatchSize)
	timer := time.NewTimer(s.cfg.FlushInterval)
	defer timer.Stop()
	flush := func() {
		if len(batch) == 0 {
			return
		}
		// A context without a Done channel: with one, modernc/sqlite
		// starts an interrupt watcher per statement, measured at ~5 % of
		// ingest CPU. A batch is one short local transaction; the
		// busy_timeout bounds any wait for the write lock.
		if err := s.cfg.Store.InsertTelemetry(context.Background(), batch); err != nil {
			s.log.Error("store telemetry batch", "records", len(batch), "err", err)
		}
		clear(batch)
		batch = batch[:0]
	}
	for {
		select {
		case rec, ok := <-s.queue:
			if !ok {
				flush()
				return
			}
			batch = append(batch, rec)
			if len(batch) >= s.cfg.BatchSize {
				flush()
			}
		case <-timer.C:
			flush()
			timer.Reset(s.cfg.FlushInterval)
		case ack := <-s.flushes:
			for drained := false; !drained; {
				select {
				case rec, ok := <-s.queue:
					if !ok {
						drained = true
						break
					}
					batch = append(batch, rec)
					if len(batch) >= s.cfg.BatchSize {
						flush()
					}
				default:
					drained = true
				}
			}
			flush()
			close(ack)
		}
	}
}

// Flush waits until every record queued before the call is stored
// (tests, benchmarks). The writer answers it, so there is no polling.
func (s *Service) Flush(ctx context.Context) error {
	ack := make(chan struct{})
	select {
	case s.flushes <- ack:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting reports and writes what is queued.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.queue)
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// Query selects stored telemetry for the dashboard: one app, optionally
// one room and one user (by user id, pseudonymised here), one section.
type Query struct {
	Room     *protocol.RoomRef
	UserID   string
	Section  string
	Sections []string // any of these, when set (Section empty)
	From, To time.Time
	Limit    int
}

// Point is one stored section with its decoded fields.
type Point struct {
	At   time.Time `json:"at"`
	Room string    `json:"room"`
	// User is the sender's per-app pseudonym in its stored text form
	// ("~" and 22 base64url characters, as keyring.RefText): it tells one
	// participant's points from another's without naming the user (the
	// rows hold only the pseudonym).
	User    string         `json:"user"`
	Section string         `json:"section"`
	Fields  map[string]any `json:"fields"`
}

// Query returns the app's telemetry matching q, oldest first.
func (s *Service) Query(ctx context.Context, sdkAppID uint32, q Query) ([]Point, error) {
	recs, err := s.cfg.Store.QueryTelemetry(ctx, s.storeQuery(sdkAppID, q))
	if err != nil {
		return nil, err
	}
	out := make([]Point, 0, len(recs))
	for _, r := range recs {
		p, err := toPoint(r)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// scanPage is how many rows Scan reads from the store at a time.
const scanPage = 4096

// Scan calls fn with each point matching q, oldest first, reading the
// store a page at a time, so memory stays at one page however long the
// range. q.Limit caps the rows read in all, erased ones included (0: no
// cap). An error from fn ends the scan and is returned.
func (s *Service) Scan(ctx context.Context, sdkAppID uint32, q Query, fn func(Point) error) error {
	sq := s.storeQuery(sdkAppID, q)
	sq.KeepErased = true // the cursor must pass them; fn never sees them
	for read := 0; q.Limit <= 0 || read < q.Limit; {
		sq.Limit = scanPage
		if q.Limit > 0 {
			sq.Limit = min(scanPage, q.Limit-read)
		}
		recs, err := s.cfg.Store.QueryTelemetry(ctx, sq)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if r.Data == nil {
				continue // erased: unreadable for good
			}
			p, err := toPoint(r)
			if err != nil {
				return err
			}
			if err := fn(p); err != nil {
				return err
			}
		}
		read += len(recs)
		if len(recs) < sq.Limit {
			return nil
		}
		sq.After = recs[len(recs)-1].ID
	}
	return nil
}

func (s *Service) storeQuery(sdkAppID uint32, q Query) store.TelemetryQuery {
	sq := store.TelemetryQuery{SDKAppID: sdkAppID, Section: q.Section, Sections: q.Sections, From: q.From, To: q.To, Limit: q.Limit}
	if q.Room != nil {
		sq.RoomKey = q.Room.Key()
	}
	if q.UserID != "" {
		sq.UserRef = s.Pseudonym(sdkAppID, "user", q.UserID)
	}
	return sq
}

func toPoint(r store.TelemetryRecord) (Point, error) {
	p := Point{At: r.At, Room: r.RoomKey, Section: r.Section}
	if len(r.UserRef) > 0 {
		p.User = keyring.RefText(r.UserRef)
	}
	if err := json.Unmarshal(r.Data, &p.Fields); err != nil {
		return Point{}, fmt.Errorf("telemetry: stored record: %w", err)
	}
	return p, nil
}
