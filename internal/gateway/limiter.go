package gateway

import "time"

// window is a sliding one-second window of admitted sends: a send is admitted while fewer
// than limit sends were admitted in the last second. It remembers the times of the last
// maxWindow admissions, enough for the highest limit a room can have.
type window struct {
	times [maxWindow]int64 // ring of admission times, unix nanoseconds
	next  int
}

const maxWindow = 100

// admit records a send at now and reports whether it fits under limit; a rejected send is
// not recorded.
func (w *window) admit(now time.Time, limit int) bool {
	if limit > maxWindow {
		limit = maxWindow
	}
	if limit < 1 {
		return false
	}
	// The limit-th most recent admission must be at least a second old.
	oldest := w.times[(w.next-limit+maxWindow*2)%maxWindow]
	if oldest != 0 && now.UnixNano()-oldest < int64(time.Second) {
		return false
	}
	w.record(now)
	return true
}

// record counts a send admitted elsewhere (another node) without checking it.
func (w *window) record(now time.Time) {
	w.times[w.next] = now.UnixNano()
	w.next = (w.next + 1) % maxWindow
}

// bucket is a token bucket for one connection's requests.
type bucket struct {
	tokens float64
	last   time.Time
}

func (b *bucket) take(now time.Time, rate float64) bool {
	if rate <= 0 {
		return true
	}
	if b.last.IsZero() {
		b.tokens = rate
	} else {
		b.tokens += now.Sub(b.last).Seconds() * rate
		if b.tokens > rate {
			b.tokens = rate
		}
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
