package workdays

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func mustDefault(t testing.TB) *Calendar {
	t.Helper()
	c, err := Default()
	if err != nil {
		t.Fatalf("Default: %v", err)
	}
	return c
}

func date(y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, 10, 0, 0, 0, CST)
}

func endOf(y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, 23, 59, 59, 999999999, CST)
}

func TestCovers(t *testing.T) {
	c := mustDefault(t)
	for _, y := range []int{2025, 2026} {
		if !c.Covers(y) {
			t.Errorf("Covers(%d) = false", y)
		}
		s, ok := c.Source(y)
		if !ok || !strings.HasPrefix(s.URL, "https://www.gov.cn/") || !strings.Contains(s.Title, "部分节假日安排的通知") {
			t.Errorf("Source(%d) = %+v, %v", y, s, ok)
		}
	}
	for _, y := range []int{2024, 2027, 2030} {
		if c.Covers(y) {
			t.Errorf("Covers(%d) = true", y)
		}
	}
	if got := c.Years(); len(got) != 2 || got[0] != 2025 || got[1] != 2026 {
		t.Errorf("Years() = %v", got)
	}
}

func TestIsWorkday(t *testing.T) {
	c := mustDefault(t)
	tests := []struct {
		day     time.Time
		weekday time.Weekday
		want    bool
		why     string
	}{
		// Make-up workdays (调休上班) on weekends.
		{date(2025, 1, 26), time.Sunday, true, "2025 春节 make-up Sunday"},
		{date(2025, 2, 8), time.Saturday, true, "2025 春节 make-up Saturday"},
		{date(2025, 4, 27), time.Sunday, true, "2025 劳动节 make-up Sunday"},
		{date(2025, 9, 28), time.Sunday, true, "2025 国庆节 make-up Sunday"},
		{date(2025, 10, 11), time.Saturday, true, "2025 国庆节 make-up Saturday"},
		{date(2026, 1, 4), time.Sunday, true, "2026 元旦 make-up Sunday"},
		{date(2026, 2, 14), time.Saturday, true, "2026 春节 make-up Saturday"},
		{date(2026, 2, 28), time.Saturday, true, "2026 春节 make-up Saturday"},
		{date(2026, 5, 9), time.Saturday, true, "2026 劳动节 make-up Saturday"},
		{date(2026, 9, 20), time.Sunday, true, "2026 国庆节 make-up Sunday"},
		{date(2026, 10, 10), time.Saturday, true, "2026 国庆节 make-up Saturday"},
		// Weekdays inside holidays.
		{date(2025, 1, 1), time.Wednesday, false, "2025 元旦"},
		{date(2025, 1, 29), time.Wednesday, false, "2025 春节 (正月初一)"},
		{date(2025, 2, 4), time.Tuesday, false, "2025 春节 last day"},
		{date(2025, 6, 2), time.Monday, false, "2025 端午节"},
		{date(2025, 10, 8), time.Wednesday, false, "2025 国庆节、中秋节 last day"},
		{date(2026, 1, 2), time.Friday, false, "2026 元旦"},
		{date(2026, 2, 16), time.Monday, false, "2026 春节"},
		{date(2026, 2, 23), time.Monday, false, "2026 春节 last day"},
		{date(2026, 5, 5), time.Tuesday, false, "2026 劳动节"},
		{date(2026, 9, 25), time.Friday, false, "2026 中秋节"},
		{date(2026, 10, 7), time.Wednesday, false, "2026 国庆节 last day"},
		// Weekend days inside holidays.
		{date(2025, 10, 4), time.Saturday, false, "2025 国庆节 Saturday"},
		{date(2026, 2, 15), time.Sunday, false, "2026 春节 Sunday"},
		// Ordinary days.
		{date(2025, 3, 8), time.Saturday, false, "ordinary Saturday"},
		{date(2025, 3, 9), time.Sunday, false, "ordinary Sunday"},
		{date(2026, 3, 14), time.Saturday, false, "ordinary Saturday"},
		{date(2025, 3, 10), time.Monday, true, "ordinary Monday"},
		{date(2025, 10, 9), time.Thursday, true, "first workday after 2025 国庆节"},
		{date(2026, 2, 24), time.Tuesday, true, "first workday after 2026 春节"},
	}
	for _, tc := range tests {
		if wd := tc.day.Weekday(); wd != tc.weekday {
			t.Errorf("%s: %s is a %s, test expects %s", tc.why, tc.day.Format(time.DateOnly), wd, tc.weekday)
		}
		if got := c.IsWorkday(tc.day); got != tc.want {
			t.Errorf("%s: IsWorkday(%s) = %v, want %v", tc.why, tc.day.Format(time.DateOnly), got, tc.want)
		}
	}
}

func TestIsWorkdayUsesCST(t *testing.T) {
	c := mustDefault(t)
	// 2025-09-30 20:00 UTC is 2025-10-01 04:00 CST: National Day, not a workday,
	// although the UTC date (a Tuesday) is an ordinary workday.
	if c.IsWorkday(time.Date(2025, 9, 30, 20, 0, 0, 0, time.UTC)) {
		t.Error("2025-10-01 04:00 CST reported as a workday")
	}
	// 2025-09-27 17:00 UTC is 2025-09-28 01:00 CST, a make-up Sunday.
	if !c.IsWorkday(time.Date(2025, 9, 27, 17, 0, 0, 0, time.UTC)) {
		t.Error("2025-09-28 01:00 CST (make-up Sunday) not reported as a workday")
	}
}

func TestAddWorkdays(t *testing.T) {
	c := mustDefault(t)
	tests := []struct {
		name string
		from time.Time
		n    int
		want time.Time
	}{
		// Received Monday 2025-03-10; March 2025 has no holidays. Working days
		// 1–4: Tue 11 – Fri 14; 5–9: 17–21; 10–14: 24–28; so the 14th is
		// Friday 28 March (two weeks and four days later) and the 15th is
		// Monday 31 March.
		{"ordinary Monday", date(2025, 3, 10), 15, endOf(2025, 3, 31)},
		{"ordinary Monday, 1 day", date(2025, 3, 10), 1, endOf(2025, 3, 11)},
		{"ordinary Friday, 1 day skips weekend", date(2025, 3, 14), 1, endOf(2025, 3, 17)},
		{"n = 0 is end of day of receipt", date(2025, 3, 10), 0, endOf(2025, 3, 10)},
		// Received Friday 2025-09-26, just before National Day. Count:
		// Sat 27 rest; Sun 28 make-up → 1; Mon 29 → 2; Tue 30 → 3;
		// 1–8 Oct holiday; Thu 9 → 4; Fri 10 → 5; Sat 11 make-up → 6;
		// Sun 12 rest; Mon 13 – Fri 17 → 7–11; Mon 20 – Thu 23 → 12–15.
		{"before 2025 National Day", date(2025, 9, 26), 15, endOf(2025, 10, 23)},
		// Received Friday 2026-02-13, just before Spring Festival. Count:
		// Sat 14 make-up → 1; 15–23 Feb holiday; Tue 24 – Fri 27 → 2–5;
		// Sat 28 make-up → 6; Sun 1 Mar rest; Mon 2 – Fri 6 → 7–11;
		// Mon 9 – Thu 12 → 12–15.
		{"before 2026 Spring Festival", date(2026, 2, 13), 15, endOf(2026, 3, 12)},
		// Received on a holiday: counting starts with the next working day,
		// Thu 2025-10-09.
		{"received during National Day", date(2025, 10, 3), 1, endOf(2025, 10, 9)},
		// Received Wednesday 2025-12-24, crossing into 2026. Count:
		// Thu 25, Fri 26 → 1–2; Mon 29 – Wed 31 → 3–5; 1–3 Jan 2026 holiday;
		// Sun 4 Jan make-up → 6; Mon 5 – Fri 9 → 7–11; Mon 12 – Thu 15 → 12–15.
		{"across New Year 2026", date(2025, 12, 24), 15, endOf(2026, 1, 15)},
		// Late on 2025-09-26 UTC is already Saturday 27 Sep in CST; the next
		// working day is the make-up Sunday 28 Sep.
		{"from in UTC", time.Date(2025, 9, 26, 20, 0, 0, 0, time.UTC), 1, endOf(2025, 9, 28)},
	}
	for _, tc := range tests {
		got, err := c.AddWorkdays(tc.from, tc.n)
		if err != nil {
			t.Errorf("%s: AddWorkdays(%s, %d): %v", tc.name, tc.from, tc.n, err)
			continue
		}
		if !got.Equal(tc.want) {
			t.Errorf("%s: AddWorkdays(%s, %d) = %s, want %s", tc.name, tc.from, tc.n, got, tc.want)
		}
		if got.Location() != CST {
			t.Errorf("%s: result location %v, want CST", tc.name, got.Location())
		}
	}
}

func TestAddWorkdaysYearMissing(t *testing.T) {
	c := mustDefault(t)
	for _, tc := range []struct {
		from time.Time
		n    int
		year string
	}{
		{date(2030, 6, 3), 15, "2030"},
		{date(2026, 12, 24), 15, "2027"}, // needs January 2027
		{date(2024, 12, 30), 1, "2024"},  // 2024-12-31 is not covered
	} {
		_, err := c.AddWorkdays(tc.from, tc.n)
		if !errors.Is(err, ErrYearMissing) || !strings.Contains(err.Error(), tc.year) {
			t.Errorf("AddWorkdays(%s, %d) error = %v, want ErrYearMissing for %s", tc.from, tc.n, err, tc.year)
		}
	}
	// Receipt on the last day of uncovered 2024 only examines 2025 days
	// (1 Jan holiday, Thu 2 Jan → 1), so it succeeds.
	if got, err := c.AddWorkdays(date(2024, 12, 31), 1); err != nil || !got.Equal(endOf(2025, 1, 2)) {
		t.Errorf("AddWorkdays(2024-12-31, 1) = %s, %v; want %s", got, err, endOf(2025, 1, 2))
	}
	if _, err := c.AddWorkdays(date(2025, 3, 10), -1); !errors.Is(err, ErrNegative) {
		t.Errorf("negative n: error = %v, want ErrNegative", err)
	}
}

func TestWarnings(t *testing.T) {
	c := mustDefault(t)
	if ws := c.Warnings(date(2026, 11, 30)); len(ws) != 0 {
		t.Errorf("Warnings(2026-11-30) = %q, want none", ws)
	}
	if ws := c.Warnings(date(2025, 12, 15)); len(ws) != 0 {
		t.Errorf("Warnings(2025-12-15) = %q, want none (2026 covered)", ws)
	}
	ws := c.Warnings(date(2026, 12, 1))
	if len(ws) != 1 || !strings.Contains(ws[0], "2027") {
		t.Errorf("Warnings(2026-12-01) = %q, want one warning about 2027", ws)
	}
	// 2026-11-30 16:00 UTC is already 1 December in CST.
	if ws := c.Warnings(time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC)); len(ws) != 1 {
		t.Errorf("Warnings(2026-12-01 00:00 CST) = %q, want one warning", ws)
	}
	ws = c.Warnings(date(2027, 3, 1))
	if len(ws) != 1 || !strings.Contains(ws[0], "2027") {
		t.Errorf("Warnings(2027-03-01) = %q, want one warning about 2027", ws)
	}
	if ws := c.Warnings(date(2027, 12, 1)); len(ws) != 2 {
		t.Errorf("Warnings(2027-12-01) = %q, want two warnings", ws)
	}
}

func TestParseRejectsBadData(t *testing.T) {
	const src = `{"sources":[{"year":2025,"title":"t","url":"u"}],"days":[%s]}`
	for name, days := range map[string]string{
		"duplicate":       `{"date":"2025-01-01","kind":"holiday","name":"元旦"},{"date":"2025-01-01","kind":"holiday","name":"元旦"}`,
		"bad date":        `{"date":"2025-02-30","kind":"holiday","name":"x"}`,
		"weekday makeup":  `{"date":"2025-01-02","kind":"makeup","name":"x"}`,
		"unknown kind":    `{"date":"2025-01-01","kind":"rest","name":"x"}`,
		"uncovered year":  `{"date":"2027-01-01","kind":"holiday","name":"x"}`,
		"missing name":    `{"date":"2025-01-01","kind":"holiday","name":""}`,
		"malformed json":  `{`,
		"makeup saturday": `{"date":"2025-01-04","kind":"makeup","name":"x"}`, // valid control
	} {
		_, err := parse([]byte(strings.Replace(src, "%s", days, 1)))
		if name == "makeup saturday" {
			if err != nil {
				t.Errorf("%s: unexpected error %v", name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: parse accepted bad data", name)
		}
	}
}

func TestEmbeddedDataConsistent(t *testing.T) {
	c := mustDefault(t)
	for k, d := range c.days {
		day := time.Date(k.y, k.m, k.d, 12, 0, 0, 0, CST)
		if d.Kind == Holiday && c.IsWorkday(day) {
			t.Errorf("%s listed as holiday but IsWorkday", d.Date)
		}
		if d.Kind == Makeup && !c.IsWorkday(day) {
			t.Errorf("%s listed as make-up workday but not IsWorkday", d.Date)
		}
	}
	// Totals from the notices' "共N天" per holiday (weekend days inside a
	// range included): 2025 has 1+8+3+5+3+8 = 28 holiday days and 5 make-up
	// days; 2026 has 3+9+3+5+3+3+7 = 33 holiday days and 6 make-up days.
	count := map[int]map[Kind]int{2025: {}, 2026: {}}
	for k, d := range c.days {
		count[k.y][d.Kind]++
	}
	want := map[int]map[Kind]int{
		2025: {Holiday: 1 + 8 + 3 + 5 + 3 + 8, Makeup: 5},
		2026: {Holiday: 3 + 9 + 3 + 5 + 3 + 3 + 7, Makeup: 6},
	}
	for y, w := range want {
		for k, n := range w {
			if count[y][k] != n {
				t.Errorf("%d %s entries = %d, want %d", y, k, count[y][k], n)
			}
		}
	}
}

func FuzzAddWorkdays(f *testing.F) {
	c := mustDefault(f)
	f.Add(date(2025, 9, 26).Unix(), 15)
	f.Add(date(2026, 2, 13).Unix(), 15)
	f.Add(date(2026, 12, 24).Unix(), 15)
	f.Add(date(2025, 3, 10).Unix(), 0)
	f.Add(int64(0), 1)
	f.Fuzz(func(t *testing.T, sec int64, n int) {
		// Keep from within 2024–2027 so both covered and uncovered years
		// are exercised, and n within a plausible range (negative included).
		lo, hi := date(2024, 1, 1).Unix(), date(2028, 1, 1).Unix()
		span := hi - lo
		sec = lo + ((sec%span)+span)%span
		n %= 1000
		from := time.Unix(sec, 0)
		got, err := c.AddWorkdays(from, n)
		if n < 0 {
			if !errors.Is(err, ErrNegative) {
				t.Fatalf("AddWorkdays(%s, %d) error = %v, want ErrNegative", from, n, err)
			}
			return
		}
		if err != nil {
			if !errors.Is(err, ErrYearMissing) {
				t.Fatalf("AddWorkdays(%s, %d) unexpected error %v", from, n, err)
			}
			return
		}
		if !got.After(from) && !got.Equal(from) {
			t.Fatalf("AddWorkdays(%s, %d) = %s, not after from", from, n, got)
		}
		if got.Hour() != 23 || got.Minute() != 59 || got.Second() != 59 || got.Nanosecond() != 999999999 {
			t.Fatalf("AddWorkdays(%s, %d) = %s, not end of day", from, n, got)
		}
		if n >= 1 {
			if !got.After(from) || civilOf(got) == civilOf(from) {
				t.Fatalf("AddWorkdays(%s, %d) = %s, not on a later day", from, n, got)
			}
			if !c.IsWorkday(got) {
				t.Fatalf("AddWorkdays(%s, %d) = %s, not a workday", from, n, got)
			}
			// One day fewer ends strictly earlier.
			prev, err := c.AddWorkdays(from, n-1)
			if err != nil || !prev.Before(got) {
				t.Fatalf("AddWorkdays(%s, %d) = %s, %v; not before %s", from, n-1, prev, err, got)
			}
		}
	})
}
