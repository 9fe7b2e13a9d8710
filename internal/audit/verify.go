package audit

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/parley-rtc/parley/internal/store"
)

// ErrInconsistent is wrapped by every *VerifyError.
var ErrInconsistent = errors.New("audit: log inconsistent")

// VerifyError names the first place where the stored log does not check.
// Fields that do not apply are -1.
type VerifyError struct {
	Seq        int64 // record seq
	HashIndex  int64 // stored hash index (tlog.StoredHashIndex numbering)
	Checkpoint int64 // checkpoint tree size
	Reason     string
}

func (e *VerifyError) Error() string {
	var where string
	switch {
	case e.Checkpoint >= 0:
		where = fmt.Sprintf("checkpoint of size %d", e.Checkpoint)
	case e.HashIndex >= 0:
		where = fmt.Sprintf("stored hash %d (record %d)", e.HashIndex, e.Seq)
	default:
		where = fmt.Sprintf("record %d", e.Seq)
	}
	return fmt.Sprintf("audit: log inconsistent at %s: %s", where, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInconsistent) hold.
func (e *VerifyError) Unwrap() error { return ErrInconsistent }

func recordErr(seq int64, format string, a ...any) error {
	return &VerifyError{Seq: seq, HashIndex: -1, Checkpoint: -1, Reason: fmt.Sprintf(format, a...)}
}

func hashErr(seq, idx int64, format string, a ...any) error {
	return &VerifyError{Seq: seq, HashIndex: idx, Checkpoint: -1, Reason: fmt.Sprintf(format, a...)}
}

func checkpointErr(size int64, format string, a ...any) error {
	return &VerifyError{Seq: -1, HashIndex: -1, Checkpoint: size, Reason: fmt.Sprintf(format, a...)}
}

// verifyPage is how many records or checkpoints Verify reads at a time.
const verifyPage = 1000

// Verify checks the whole stored log, in order:
//
//  1. records are numbered 0, 1, … without gaps, each is a canonical
//     record carrying its own seq;
//  2. every stored hash equals the one recomputed from the records
//     (tlog.StoredHashesForRecordHash), and none exists beyond them;
//  3. every checkpoint's signature checks with the log's verifier, its
//     tree size is within the log and its tree hash equals tlog.TreeHash
//     of the stored hashes;
//  4. each checkpoint is consistent with the one before it
//     (tlog.ProveTree / tlog.CheckTree), and the last covers every record.
//
// It returns a *VerifyError for the first inconsistency, other errors for
// failures to read. progress, if non-nil, is called after each batch with
// the records and checkpoints checked so far and their total.
func (l *Log) Verify(ctx context.Context, progress func(done, total int64)) error {
	n, cps, err := l.Stats(ctx)
	if err != nil {
		return err
	}
	total := n + cps
	var done int64
	report := func() {
		if progress != nil {
			progress(done, total)
		}
	}
	report()

	hashes := l.hashReader(ctx) // checked before use: see below
	var next int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		recs, err := l.st.AuditLogRecords(ctx, next, verifyPage)
		if err != nil {
			return fmt.Errorf("audit: verify: %w", err)
		}
		if len(recs) == 0 {
			break
		}
		last := recs[len(recs)-1].Seq
		if last < next {
			return fmt.Errorf("audit: verify: store returned record %d after asking from %d", last, next)
		}
		inRange, err := l.st.AuditLogHashRange(ctx, tlog.StoredHashIndex(0, next), tlog.StoredHashCount(last+1))
		if err != nil {
			return fmt.Errorf("audit: verify: %w", err)
		}
		page := make(map[int64]tlog.Hash, len(inRange))
		for _, h := range inRange {
			page[h.Index] = h.Hash
		}
		// Hashes below the current record's are already checked: read
		// them from this page, else from the store.
		reader := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
			out := make([]tlog.Hash, len(indexes))
			var miss []int64
			var missAt []int
			for i, x := range indexes {
				if h, ok := page[x]; ok {
					out[i] = h
					continue
				}
				miss = append(miss, x)
				missAt = append(missAt, i)
			}
			if len(miss) > 0 {
				got, err := hashes.ReadHashes(miss)
				if err != nil {
					return nil, err
				}
				for j, i := range missAt {
					out[i] = got[j]
				}
			}
			return out, nil
		})
		for _, rec := range recs {
			if rec.Seq != next {
				return recordErr(next, "record missing (next stored record is %d)", rec.Seq)
			}
			r, err := ParseRecord(rec.Data)
			if err != nil {
				return recordErr(rec.Seq, "bad record data: %v", err)
			}
			if r.Seq != rec.Seq {
				return recordErr(rec.Seq, "record data says seq %d", r.Seq)
			}
			want, err := tlog.StoredHashesForRecordHash(rec.Seq, tlog.RecordHash(rec.Data), reader)
			if err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return recordErr(rec.Seq, "an earlier stored hash is missing: %v", err)
				}
				return fmt.Errorf("audit: verify: record %d: %w", rec.Seq, err)
			}
			first := tlog.StoredHashIndex(0, rec.Seq)
			for i, h := range want {
				idx := first + int64(i)
				got, ok := page[idx]
				switch {
				case !ok:
					return hashErr(rec.Seq, idx, "stored hash missing")
				case got != h && i == 0:
					return hashErr(rec.Seq, idx, "record data does not match its stored leaf hash (record or hash altered)")
				case got != h:
					return hashErr(rec.Seq, idx, "stored hash differs from the one recomputed from the records")
				}
			}
			next++
		}
		done += int64(len(recs))
		report()
	}
	// Nothing may be stored past the last record: its hashes (or a
	// checkpoint covering it) mean a record was removed from the end.
	extra, err := l.st.AuditLogHashRange(ctx, tlog.StoredHashCount(next), tlog.StoredHashCount(next)+1)
	if err != nil {
		return fmt.Errorf("audit: verify: %w", err)
	}
	if len(extra) > 0 {
		return recordErr(next, "record missing: stored hash %d exists beyond the last record", extra[0].Index)
	}

	var prev tlog.Tree
	var after int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		page, err := l.st.AuditLogCheckpoints(ctx, after, verifyPage)
		if err != nil {
			return fmt.Errorf("audit: verify: %w", err)
		}
		if len(page) == 0 {
			break
		}
		for _, cp := range page {
			tree, err := OpenCheckpoint(cp.Note, l.verifier)
			if err != nil {
				return checkpointErr(cp.Size, "%v", err)
			}
			if tree.N != cp.Size {
				return checkpointErr(cp.Size, "signed note is for size %d", tree.N)
			}
			if cp.Size > next {
				return checkpointErr(cp.Size, "covers %d records, the log holds %d", cp.Size, next)
			}
			th, err := tlog.TreeHash(cp.Size, hashes)
			if err != nil {
				return fmt.Errorf("audit: verify: checkpoint of size %d: %w", cp.Size, err)
			}
			if th != tree.Hash {
				return checkpointErr(cp.Size, "signed tree hash %s differs from the records' tree hash %s", tree.Hash, th)
			}
			if prev.N > 0 {
				proof, err := tlog.ProveTree(cp.Size, prev.N, hashes)
				if err != nil {
					return fmt.Errorf("audit: verify: checkpoint of size %d: %w", cp.Size, err)
				}
				if err := tlog.CheckTree(proof, cp.Size, tree.Hash, prev.N, prev.Hash); err != nil {
					return checkpointErr(cp.Size, "not consistent with checkpoint of size %d: %v", prev.N, err)
				}
			}
			prev = tree
			after = cp.Size
		}
		done += int64(len(page))
		report()
	}
	if next > prev.N {
		return recordErr(prev.N, "records %d to %d are covered by no checkpoint", prev.N, next-1)
	}
	return nil
}
