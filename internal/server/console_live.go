package server

// The console's live view: rooms and their users now, and usage for
// billing (participant-minutes per app per UTC day) from a meter that
// observes every room event. The routes are mounted by registerManage.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-rtc/parley/internal/operator"
	"github.com/parley-rtc/parley/internal/room"
	"github.com/parley-rtc/parley/internal/store/sqlite"
	"github.com/parley-rtc/parley/protocol"
)

// --- live rooms ---

// errLiveRoomsUnavailable answers when this process has no room manager.
var errLiveRoomsUnavailable = operator.Errorf(http.StatusServiceUnavailable, "unavailable", "live rooms are not served by this process")

// liveRoomRef renders a room for a path: "1234" or "s:" + string id.
func liveRoomRef(ref protocol.RoomRef) string {
	if ref.ID != 0 {
		return strconv.FormatUint(uint64(ref.ID), 10)
	}
	return "s:" + ref.Str
}

// parseConsoleRoom parses a room as the console names it (a path's
// {room}, the quality dashboard's room=): "1234", a numeric id
// 1-4294967295, or "s:lobby", a string id; the two are distinct
// namespaces (123 is not "123").
func parseConsoleRoom(raw string) (protocol.RoomRef, error) {
	var ref protocol.RoomRef
	if s, ok := strings.CutPrefix(raw, "s:"); ok {
		ref.Str = s
	} else {
		n, err := strconv.ParseUint(raw, 10, 32)
		if err != nil || n == 0 {
			return ref, operator.Errorf(http.StatusBadRequest, "invalid_parameter",
				"room %q: want a numeric room id 1-4294967295, or s: and a string room id", raw)
		}
		ref.ID = uint32(n)
	}
	if err := ref.Validate(); err != nil {
		return ref, operator.Errorf(http.StatusBadRequest, "invalid_parameter", "room: %v", err)
	}
	return ref, nil
}

var liveSceneNames = map[protocol.Scene]string{protocol.SceneVideoCall: "videocall", protocol.SceneLive: "live",
	protocol.SceneAudioCall: "audiocall", protocol.SceneVoiceChatRoom: "voicechatroom"}

func liveRoleName(r protocol.Role) string {
	if r == protocol.RoleAudience {
		return "audience"
	}
	return "anchor"
}

// liveRoomJSON is a room as the room list shows it: counts only.
type liveRoomJSON struct {
	Room         uint32    `json:"room"`     // 0 for a string room
	StrRoom      string    `json:"str_room"` // "" for a numeric room
	Ref          string    `json:"ref"`      // {room} in …/rooms/{room}/users
	Scene        string    `json:"scene"`
	Participants int       `json:"participants"`
	CreatedAt    time.Time `json:"created_at"`
}

// listLiveRooms lists the app's open rooms with their participant
// counts: no user ids, so apps.read suffices.
func (a *consoleAPI) listLiveRooms(w http.ResponseWriter, r *http.Request) {
	id, ok := a.pathAppOrError(w, r)
	if !ok {
		return
	}
	if a.deps.Rooms == nil {
		operator.WriteError(w, errLiveRoomsUnavailable)
		return
	}
	sums := a.deps.Rooms.Rooms(id)
	out := make([]liveRoomJSON, len(sums))
	for i, s := range sums {
		out[i] = liveRoomJSON{Room: s.Room.ID, StrRoom: s.Room.Str, Ref: liveRoomRef(s.Room), Scene: liveSceneNames[s.Scene],
			Participants: s.Participants, CreatedAt: s.CreatedAt.UTC()}
	}
	operator.WriteJSON(w, http.StatusOK, map[string]any{"rooms": out})
}

type liveUserJSON struct {
	UserID   string    `json:"user_id"`
	Role     string    `json:"role"`
	JoinedAt time.Time `json:"joined_at"`
	Audio    bool      `json:"audio"`
	Video    bool      `json:"video"`
	Screen   bool      `json:"screen"`
}

// readRoomUsers is the audited read of one room's participants (user ids
// are personal data, SEC-2). The audit record names the room filter,
// not its value; an unknown room returns nothing and records nothing.
func (a *consoleAPI) readRoomUsers(r *http.Request, _ operator.Operator) (operator.Read, error) {
	id, err := a.pathApp(r)
	if err != nil {
		return operator.Read{}, err
	}
	if a.deps.Rooms == nil {
		return operator.Read{}, errLiveRoomsUnavailable
	}
	ref, err := parseConsoleRoom(r.PathValue("room"))
	if err != nil {
		return operator.Read{}, err
	}
	users, err := a.deps.Rooms.Users(id, ref)
	if errors.Is(err, room.ErrRoomNotFound) {
		return operator.Read{}, operator.Errorf(http.StatusNotFound, "not_found", "no open room %s in app %d", liveRoomRef(ref), id)
	}
	if err != nil {
		return operator.Read{}, err
	}
	// By entry, then user id: participants who entered at the same
	// instant keep one order from read to read.
	slices.SortFunc(users, func(x, y room.UserSummary) int {
		if c := x.JoinedAt.Compare(y.JoinedAt); c != 0 {
			return c
		}
		return strings.Compare(x.UserID, y.UserID)
	})
	live := a.deps.Live
	out := make([]liveUserJSON, len(users))
	for i, u := range users {
		o := liveUserJSON{UserID: u.UserID, Role: liveRoleName(u.Role), JoinedAt: u.JoinedAt.UTC()}
		if live != nil {
			f := live.media.flags(id, ref, u.UserID)
			o.Audio, o.Video, o.Screen = f.audio, f.video, f.screen
		}
		out[i] = o
	}
	return operator.Read{SDKAppID: id, Records: len(out), Filters: []string{"room"},
		Body: map[string]any{"room": liveRoomRef(ref), "users": out}}, nil
}

// --- usage for billing ---

const usageDayLen = 24 * time.Hour

// maxUsageDays bounds a usage query: what usage_daily keeps.
const maxUsageDays = int(sqlite.UsageRetention / usageDayLen)

// parseUsageDay parses from or to: a date (2026-11-23), an RFC 3339
// time or Unix seconds, as its UTC day.
func parseUsageDay(name, v string) (time.Time, *operator.Error) {
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return usageUTCDay(t), nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 && n < 1<<40 {
		return usageUTCDay(time.Unix(n, 0)), nil
	}
	return time.Time{}, operator.Errorf(http.StatusBadRequest, "invalid_parameter",
		"%s %q: want a date (2026-11-23), an RFC 3339 time or Unix seconds", name, v)
}

func usageUTCDay(t time.Time) time.Time {
	u := t.UTC()
	return time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
}

type usageDayJSON struct {
	Day                string  `json:"day"`
	ParticipantMinutes float64 `json:"participant_minutes"`
	PeakRooms          int     `json:"peak_rooms"`
}

// usageMinutes renders participant time in minutes to the hundredth.
func usageMinutes(ms int64) float64 { return math.Round(float64(ms)/600) / 100 }

// readUsage reports the app's participant-minutes and peak rooms per UTC
// day from from to to (both included; default the last 30 days), every
// day listed, sessions still open counted up to now.
func (a *consoleAPI) readUsage(w http.ResponseWriter, r *http.Request) {
	id, ok := a.pathAppOrError(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	to := usageUTCDay(a.deps.Now())
	var e *operator.Error
	if v := q.Get("to"); v != "" {
		if to, e = parseUsageDay("to", v); e != nil {
			operator.WriteError(w, e)
			return
		}
	}
	from := to.AddDate(0, 0, -29)
	if v := q.Get("from"); v != "" {
		if from, e = parseUsageDay("from", v); e != nil {
			operator.WriteError(w, e)
			return
		}
	}
	span := int(to.Sub(from)/usageDayLen) + 1
	if span < 1 || span > maxUsageDays {
		operator.WriteError(w, operator.Errorf(http.StatusBadRequest, "invalid_parameter",
			"from %s to %s: want from on or before to, at most %d days (what usage_daily keeps)",
			from.Format(time.DateOnly), to.Format(time.DateOnly), maxUsageDays))
		return
	}
	var rows []sqlite.UsageDay
	var err error
	if live := a.deps.Live; live != nil {
		rows, err = live.usage.read(r.Context(), id, from, to)
	} else {
		rows, err = a.deps.Local.DB.Usage(r.Context(), id, from, to)
	}
	if err != nil {
		internalError(w, a.log, "reading usage", err)
		return
	}
	byDay := make(map[int64]sqlite.UsageDay, len(rows)) // by Unix time of the day
	for _, u := range rows {
		byDay[u.Day.Unix()] = u
	}
	days := make([]usageDayJSON, span)
	var total int64
	for i := range days {
		d := from.AddDate(0, 0, i)
		u := byDay[d.Unix()]
		days[i] = usageDayJSON{Day: d.Format(time.DateOnly), ParticipantMinutes: usageMinutes(u.ParticipantMS), PeakRooms: u.PeakRooms}
		total += u.ParticipantMS
	}
	operator.WriteJSON(w, http.StatusOK, map[string]any{"sdkappid": id, "from": from.Format(time.DateOnly),
		"to": to.Format(time.DateOnly), "total_participant_minutes": usageMinutes(total), "days": days})
}

// --- what the console knows of live rooms beyond the room manager ---

// liveRooms observes a room manager for the console: the usage meter and
// the participants' media. It is one of the manager's observers (beside
// the webhooks, roomObservers); the console reaches it as consoleDeps.Live.
type liveRooms struct {
	usage *usageMeter
	media *liveMedia
}

func newLiveRooms(st usageStore, now func() time.Time, log *slog.Logger) *liveRooms {
	return &liveRooms{usage: newUsageMeter(st, now, log), media: newLiveMedia()}
}

// RoomEvent implements room.Observer: called with the room lock held, so
// both only update memory under their own short locks.
func (l *liveRooms) RoomEvent(ev room.Event) {
	l.usage.RoomEvent(ev)
	l.media.RoomEvent(ev)
}

// roomObservers gives every event to each observer in turn: the room
// manager takes one Observer.
type roomObservers []room.Observer

func (o roomObservers) RoomEvent(ev room.Event) {
	for _, x := range o {
		if x != nil {
			x.RoomEvent(ev)
		}
	}
}

// liveMedia is each participant's media as the room's events tell it
// (webhooks 201-206): in memory only, dropped at exit.
type liveMedia struct {
	mu sync.Mutex
	m  map[liveMediaKey]liveMediaFlags
}

type liveMediaKey struct {
	app  uint32
	room string // protocol.RoomRef.Key
	user string
}

type liveMediaFlags struct{ audio, video, screen bool }

func newLiveMedia() *liveMedia { return &liveMedia{m: map[liveMediaKey]liveMediaFlags{}} }

func (s *liveMedia) RoomEvent(ev room.Event) {
	k := liveMediaKey{ev.SDKAppID, ev.Room.Normalized().Key(), ev.UserID}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, in := s.m[k]
	switch ev.Type {
	case room.EventEnterRoom:
		s.m[k] = liveMediaFlags{}
		return
	case room.EventExitRoom:
		delete(s.m, k)
		return
	case room.EventStartAudio, room.EventStopAudio:
		f.audio = ev.Type == room.EventStartAudio
	case room.EventStartVideo, room.EventStopVideo:
		f.video = ev.Type == room.EventStartVideo
	case room.EventStartAssist, room.EventStopAssist:
		f.screen = ev.Type == room.EventStartAssist
	default:
		return
	}
	if in { // a late event for someone who left must not bring them back
		s.m[k] = f
	}
}

func (s *liveMedia) flags(app uint32, ref protocol.RoomRef, user string) liveMediaFlags {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[liveMediaKey{app, ref.Normalized().Key(), user}]
}

// --- the usage meter ---

// usageStore is where the meter keeps usage (the SQLite usage_daily).
type usageStore interface {
	AddUsage(ctx context.Context, deltas []sqlite.UsageDay) error
	Usage(ctx context.Context, sdkAppID uint32, from, to time.Time) ([]sqlite.UsageDay, error)
}

// usageFlushInterval is how often the meter writes to the store: a crash
// loses at most this much usage.
const usageFlushInterval = time.Minute

// usageMeter counts participant time per app per UTC day from the room
// manager's enter and exit events (TRTC bills audio/video minutes per
// participant) and the most rooms with a participant open at once. It
// keeps counts only: per app the number of participants and of
// participants per room, never a user id. Participant time accrues as
// participants × elapsed time at every event, flush and read, split at
// each UTC midnight, so a session crossing midnight counts on both days
// and an open session counts up to now.
type usageMeter struct {
	store usageStore
	now   func() time.Time
	log   *slog.Logger

	// flushMu is held for writing by a flush from taking the pending
	// counts to storing them, and for reading by a read of store and
	// memory, so a read never sees a batch both in memory and stored,
	// or in neither.
	flushMu sync.RWMutex

	mu      sync.Mutex
	live    map[uint32]*usageAppLive
	pending map[usageKey]usageDelta

	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	running atomic.Bool
}

type usageAppLive struct {
	participants int64
	rooms        map[string]int64 // room key → participants
	since        time.Time        // participant time has accrued up to here
}

type usageKey struct {
	app uint32
	day time.Time // 00:00 UTC
}

type usageDelta struct {
	ms   int64
	peak int
}

func newUsageMeter(st usageStore, now func() time.Time, log *slog.Logger) *usageMeter {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &usageMeter{store: st, now: now, log: log, live: map[uint32]*usageAppLive{}, pending: map[usageKey]usageDelta{},
		stop: make(chan struct{}), done: make(chan struct{})}
}

// clock is now to the millisecond, the unit usage_daily counts in, so
// accrual loses nothing to rounding.
func (m *usageMeter) clock() time.Time { return m.now().UTC().Truncate(time.Millisecond) }

// RoomEvent implements room.Observer: it only updates memory.
func (m *usageMeter) RoomEvent(ev room.Event) {
	if ev.Type != room.EventEnterRoom && ev.Type != room.EventExitRoom {
		return
	}
	now := m.clock()
	key := ev.Room.Normalized().Key()
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.live[ev.SDKAppID]
	if l == nil {
		if ev.Type == room.EventExitRoom {
			return // entered before the meter existed: nothing to close
		}
		l = &usageAppLive{rooms: map[string]int64{}, since: now}
		m.live[ev.SDKAppID] = l
	}
	m.accrueLocked(ev.SDKAppID, l, now)
	if ev.Type == room.EventEnterRoom {
		l.participants++
		l.rooms[key]++
		m.peakLocked(usageKey{ev.SDKAppID, usageUTCDay(now)}, len(l.rooms))
	} else if l.rooms[key] > 0 {
		l.participants--
		if l.rooms[key]--; l.rooms[key] == 0 {
			delete(l.rooms, key)
		}
	}
	if l.participants == 0 {
		delete(m.live, ev.SDKAppID)
	}
}

func (m *usageMeter) peakLocked(k usageKey, rooms int) {
	d := m.pending[k]
	if rooms > d.peak {
		d.peak = rooms
		m.pending[k] = d
	}
}

// accrueLocked adds l's participant time from l.since to now, one UTC
// day at a time, with the rooms open meanwhile as each day's peak
// candidate. A clock that went back accrues nothing until it passes
// since again, so no time counts twice.
func (m *usageMeter) accrueLocked(app uint32, l *usageAppLive, now time.Time) {
	for t := l.since; t.Before(now); {
		day := usageUTCDay(t)
		end := day.Add(usageDayLen)
		if now.Before(end) {
			end = now
		}
		k := usageKey{app, day}
		d := m.pending[k]
		d.ms += l.participants * end.Sub(t).Milliseconds()
		d.peak = max(d.peak, len(l.rooms))
		m.pending[k] = d
		t = end
	}
	if now.After(l.since) {
		l.since = now
	}
}

// accrueAllLocked brings every open session up to now.
func (m *usageMeter) accrueAllLocked(now time.Time) {
	for app, l := range m.live {
		m.accrueLocked(app, l, now)
	}
}

// flush writes the pending counts, open sessions counted up to now, to
// the store in one transaction; on failure they go back to memory for
// the next flush.
func (m *usageMeter) flush(ctx context.Context) error {
	m.flushMu.Lock()
	defer m.flushMu.Unlock()
	now := m.clock()
	m.mu.Lock()
	m.accrueAllLocked(now)
	batch := m.pending
	m.pending = map[usageKey]usageDelta{}
	m.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	rows := make([]sqlite.UsageDay, 0, len(batch))
	for k, d := range batch {
		rows = append(rows, sqlite.UsageDay{SDKAppID: k.app, Day: k.day, ParticipantMS: d.ms, PeakRooms: d.peak})
	}
	if err := m.store.AddUsage(ctx, rows); err != nil {
		m.mu.Lock()
		for k, d := range batch {
			p := m.pending[k]
			m.pending[k] = usageDelta{ms: p.ms + d.ms, peak: max(p.peak, d.peak)}
		}
		m.mu.Unlock()
		return fmt.Errorf("usage: flush %d rows: %w", len(rows), err)
	}
	return nil
}

// read returns the app's usage from from to to (UTC days, included):
// what is stored plus what is pending, open sessions up to now.
func (m *usageMeter) read(ctx context.Context, app uint32, from, to time.Time) ([]sqlite.UsageDay, error) {
	m.flushMu.RLock()
	defer m.flushMu.RUnlock()
	stored, err := m.store.Usage(ctx, app, from, to)
	if err != nil {
		return nil, err
	}
	byDay := make(map[int64]sqlite.UsageDay, len(stored)) // by Unix time of the day
	for _, u := range stored {
		byDay[u.Day.Unix()] = u
	}
	now := m.clock()
	m.mu.Lock()
	if l := m.live[app]; l != nil {
		m.accrueLocked(app, l, now)
	}
	for k, d := range m.pending {
		if k.app != app || k.day.Before(from) || k.day.After(to) {
			continue
		}
		u := byDay[k.day.Unix()]
		u.SDKAppID, u.Day = app, k.day
		u.ParticipantMS += d.ms
		u.PeakRooms = max(u.PeakRooms, d.peak)
		byDay[k.day.Unix()] = u
	}
	m.mu.Unlock()
	out := make([]sqlite.UsageDay, 0, len(byDay))
	for _, u := range byDay {
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b sqlite.UsageDay) int { return a.Day.Compare(b.Day) })
	return out, nil
}

// start flushes every interval until close; call it once.
func (m *usageMeter) start(interval time.Duration) {
	m.running.Store(true)
	go func() {
		defer close(m.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), interval)
				if err := m.flush(ctx); err != nil {
					m.log.Warn("usage flush failed; kept for the next one", "err", err)
				}
				cancel()
			case <-m.stop:
				return
			}
		}
	}()
}

// close stops the periodic flush and flushes what is left (the server
// has closed every room first, so every session is counted).
func (m *usageMeter) close() error {
	m.once.Do(func() { close(m.stop) })
	if m.running.Load() {
		<-m.done
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return m.flush(ctx)
}
