package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/parley-rtc/parley/internal/store"
)

// ErrReadOnly means the log was opened without a signer.
var ErrReadOnly = errors.New("audit: log opened without a signer")

// ErrNoCheckpoint means the log has no checkpoint covering the request.
var ErrNoCheckpoint = errors.New("audit: no checkpoint")

// Log is the append-only audit log over a store.AuditLogStore.
//
// Every Append writes a new signed checkpoint for the new tree size in the
// same transaction as the record and its hashes, so each record is provable
// the moment Append returns and the latest checkpoint always covers the
// whole log. One process appends (the server); others, such as `parley
// audit verify`, only read. A second writer's append fails with
// store.ErrConflict rather than forking the tree.
//
// The checks here make changes to stored data detectable; they cannot
// notice the newest records being cut off together with their hashes and
// checkpoints. Checkpoints given out to tenants (and witnesses) are what
// catch that: a later checkpoint must be consistent with every earlier one.
type Log struct {
	st       store.AuditLogStore
	signer   note.Signer   // nil: read-only
	verifier note.Verifier // checks checkpoints
	now      func() time.Time

	mu sync.Mutex // serialises Append and Checkpoint
}

// Checkpoint is a signed tree head.
type Checkpoint struct {
	Size int64
	Hash tlog.Hash
	Note []byte // signed note text: tlog.FormatTree plus signature lines
	At   time.Time
}

// Open returns the log kept in st. signer may be nil for a log that is only
// verified and proved from; verifier checks checkpoints and must match the
// signer. clock nil means time.Now.
func Open(st store.AuditLogStore, signer note.Signer, verifier note.Verifier, clock func() time.Time) (*Log, error) {
	if st == nil || verifier == nil {
		return nil, errors.New("audit: open: store and verifier are required")
	}
	if signer != nil && (signer.Name() != verifier.Name() || signer.KeyHash() != verifier.KeyHash()) {
		return nil, fmt.Errorf("audit: open: signer %s+%08x does not match verifier %s+%08x",
			signer.Name(), signer.KeyHash(), verifier.Name(), verifier.KeyHash())
	}
	if clock == nil {
		clock = time.Now
	}
	return &Log{st: st, signer: signer, verifier: verifier, now: clock}, nil
}

// hashReader reads stored hashes from the store.
func (l *Log) hashReader(ctx context.Context) tlog.HashReader {
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		hs, err := l.st.AuditLogHashes(ctx, indexes)
		if err != nil {
			return nil, err
		}
		out := make([]tlog.Hash, len(hs))
		for i, h := range hs {
			out[i] = tlog.Hash(h)
		}
		return out, nil
	})
}

// Append adds an entry and returns its seq (its index in the tree, from 0).
// Appends are serialised; each writes the record, the hashes it adds and a
// signed checkpoint of the new size in one transaction.
func (l *Log) Append(ctx context.Context, e Entry) (int64, error) {
	if l.signer == nil {
		return 0, ErrReadOnly
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	at := e.At
	if at.IsZero() {
		at = l.now()
	}
	n, err := l.st.AuditLogSize(ctx)
	if err != nil {
		return 0, fmt.Errorf("audit: append: %w", err)
	}
	rec, err := e.record(n, at.UnixMilli())
	if err != nil {
		return 0, err
	}
	data, err := rec.Marshal()
	if err != nil {
		return 0, err
	}
	r := l.hashReader(ctx)
	hs, err := tlog.StoredHashes(n, data, r)
	if err != nil {
		return 0, fmt.Errorf("audit: append: hashes: %w", err)
	}
	first := tlog.StoredHashIndex(0, n)
	stored := make([]store.AuditLogHash, len(hs))
	for i, h := range hs {
		stored[i] = store.AuditLogHash{Index: first + int64(i), Hash: h}
	}
	// The tree hash of size n+1 needs the new hashes, which are not stored
	// yet: read them from this append first.
	overlay := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		var miss []int64
		var missAt []int
		for i, x := range indexes {
			if x >= first && x < first+int64(len(hs)) {
				out[i] = hs[x-first]
				continue
			}
			miss = append(miss, x)
			missAt = append(missAt, i)
		}
		got, err := r.ReadHashes(miss)
		if err != nil {
			return nil, err
		}
		for j, i := range missAt {
			out[i] = got[j]
		}
		return out, nil
	})
	cp, err := l.sign(n+1, overlay)
	if err != nil {
		return 0, err
	}
	if err := l.st.AppendAuditLogRecord(ctx, store.AuditLogRecord{Seq: n, Data: data}, stored, &store.AuditLogCheckpoint{
		Size: cp.Size, Note: cp.Note, At: cp.At,
	}); err != nil {
		return 0, fmt.Errorf("audit: append: %w", err)
	}
	return n, nil
}

// sign makes the checkpoint of the first size records.
func (l *Log) sign(size int64, r tlog.HashReader) (Checkpoint, error) {
	th, err := tlog.TreeHash(size, r)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit: tree hash of size %d: %w", size, err)
	}
	msg, err := note.Sign(&note.Note{Text: string(tlog.FormatTree(tlog.Tree{N: size, Hash: th}))}, l.signer)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit: sign checkpoint: %w", err)
	}
	return Checkpoint{Size: size, Hash: th, Note: msg, At: l.now().UTC().Truncate(time.Millisecond)}, nil
}

// Checkpoint returns a signed checkpoint of the whole log: the latest
// stored one if it covers every record, else (after a crash between
// writes, or with an empty-checkpoint table) a new one, which is stored.
// An empty log has no checkpoint: ErrNoCheckpoint.
func (l *Log) Checkpoint(ctx context.Context) (Checkpoint, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.st.AuditLogSize(ctx)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit: checkpoint: %w", err)
	}
	if n == 0 {
		return Checkpoint{}, ErrNoCheckpoint
	}
	latest, err := l.latest(ctx)
	if err != nil && !errors.Is(err, ErrNoCheckpoint) {
		return Checkpoint{}, err
	}
	if err == nil && latest.Size == n {
		return latest, nil
	}
	if l.signer == nil {
		if err == nil {
			return latest, nil
		}
		return Checkpoint{}, ErrReadOnly
	}
	cp, err := l.sign(n, l.hashReader(ctx))
	if err != nil {
		return Checkpoint{}, err
	}
	if err := l.st.PutAuditLogCheckpoint(ctx, store.AuditLogCheckpoint{Size: cp.Size, Note: cp.Note, At: cp.At}); err != nil {
		return Checkpoint{}, fmt.Errorf("audit: checkpoint: %w", err)
	}
	return cp, nil
}

// latest returns the latest stored checkpoint, with its signature checked.
func (l *Log) latest(ctx context.Context) (Checkpoint, error) {
	sc, err := l.st.LatestAuditLogCheckpoint(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return Checkpoint{}, ErrNoCheckpoint
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit: checkpoint: %w", err)
	}
	tree, err := OpenCheckpoint(sc.Note, l.verifier)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit: checkpoint of size %d: %w", sc.Size, err)
	}
	if tree.N != sc.Size {
		return Checkpoint{}, fmt.Errorf("audit: checkpoint of size %d: note says size %d", sc.Size, tree.N)
	}
	return Checkpoint{Size: sc.Size, Hash: tree.Hash, Note: sc.Note, At: sc.At}, nil
}

// OpenCheckpoint checks a signed checkpoint's signature and returns the
// tree it describes.
func OpenCheckpoint(msg []byte, verifier note.Verifier) (tlog.Tree, error) {
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		return tlog.Tree{}, fmt.Errorf("signature: %w", err)
	}
	tree, err := tlog.ParseTree([]byte(n.Text))
	if err != nil {
		return tlog.Tree{}, err
	}
	return tree, nil
}

// Proof shows that one record is in the tree of a signed checkpoint.
type Proof struct {
	Seq        int64
	Record     []byte           // the record's canonical JSON
	Proof      tlog.RecordProof // hashes from the record up to the tree hash
	Checkpoint []byte           // signed note of the tree
}

// Prove returns an inclusion proof of record seq against the latest
// checkpoint.
func (l *Log) Prove(ctx context.Context, seq int64) (Proof, error) {
	cp, err := l.latest(ctx)
	if err != nil {
		return Proof{}, err
	}
	if seq < 0 || seq >= cp.Size {
		return Proof{}, fmt.Errorf("%w: record %d is not covered by the latest checkpoint (size %d)", ErrNoCheckpoint, seq, cp.Size)
	}
	recs, err := l.st.AuditLogRecords(ctx, seq, 1)
	if err != nil {
		return Proof{}, fmt.Errorf("audit: prove %d: %w", seq, err)
	}
	if len(recs) == 0 || recs[0].Seq != seq {
		return Proof{}, fmt.Errorf("audit: prove %d: record %w", seq, store.ErrNotFound)
	}
	p, err := tlog.ProveRecord(cp.Size, seq, l.hashReader(ctx))
	if err != nil {
		return Proof{}, fmt.Errorf("audit: prove %d: %w", seq, err)
	}
	return Proof{Seq: seq, Record: recs[0].Data, Proof: p, Checkpoint: cp.Note}, nil
}

// CheckProof checks an inclusion proof: the checkpoint's signature, and
// that the record's hash with the proof gives the checkpoint's tree hash.
func CheckProof(p Proof, verifier note.Verifier) error {
	tree, err := OpenCheckpoint(p.Checkpoint, verifier)
	if err != nil {
		return fmt.Errorf("audit: proof: checkpoint: %w", err)
	}
	if r, err := ParseRecord(p.Record); err != nil {
		return fmt.Errorf("audit: proof: %w", err)
	} else if r.Seq != p.Seq {
		return fmt.Errorf("audit: proof: record says seq %d, proof is for %d", r.Seq, p.Seq)
	}
	if err := tlog.CheckRecord(p.Proof, tree.N, tree.Hash, p.Seq, tlog.RecordHash(p.Record)); err != nil {
		return fmt.Errorf("audit: proof: %w", err)
	}
	return nil
}

// Stats reports the log's size (one more than the highest record seq) and
// how many checkpoints the store holds.
func (l *Log) Stats(ctx context.Context) (records, checkpoints int64, err error) {
	if records, err = l.st.AuditLogSize(ctx); err != nil {
		return 0, 0, fmt.Errorf("audit: stats: %w", err)
	}
	if checkpoints, err = l.st.AuditLogCheckpointCount(ctx); err != nil {
		return 0, 0, fmt.Errorf("audit: stats: %w", err)
	}
	return records, checkpoints, nil
}
