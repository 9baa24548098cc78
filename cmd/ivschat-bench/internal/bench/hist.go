package bench

import (
	"math"
	"math/bits"
	"sort"
)

// Histogram is a log-linear histogram of non-negative integer values (microseconds here), in
// the spirit of HdrHistogram: values below 128 are exact, larger ones fall in buckets 1/64 of
// their power of two wide, so every recorded value is known within 1.6%. The zero value is
// ready; it is not safe for concurrent use. Histograms merge by adding counts, which is how
// the generator processes combine theirs.
type Histogram struct {
	Counts []int64 `json:"counts"` // dense, by bucket index; trailing zeros cut
	Total  int64   `json:"total"`
	Min    int64   `json:"min"`
	Max    int64   `json:"max"`
	Sum    float64 `json:"sum"`
}

const subBits = 7 // 128 linear values, then 64 buckets per power of two

func bucketOf(v int64) int {
	if v < 1<<subBits {
		return int(v)
	}
	e := bits.Len64(uint64(v)) - subBits // v>>e is in [64, 128)
	return e<<(subBits-1) + int(v>>e)
}

// bucketHigh is the largest value that falls in bucket i.
func bucketHigh(i int) int64 {
	if i < 1<<subBits {
		return int64(i)
	}
	e := i>>(subBits-1) - 1
	m := int64(i&(1<<(subBits-1)-1) + 1<<(subBits-1))
	return (m+1)<<e - 1
}

// Record adds one value; negative values count as zero.
func (h *Histogram) Record(v int64) {
	if v < 0 {
		v = 0
	}
	i := bucketOf(v)
	if i >= len(h.Counts) {
		n := make([]int64, i+1, i+1+64)
		copy(n, h.Counts)
		h.Counts = n
	}
	h.Counts[i]++
	if h.Total == 0 || v < h.Min {
		h.Min = v
	}
	if v > h.Max {
		h.Max = v
	}
	h.Total++
	h.Sum += float64(v)
}

// Merge adds every value of o.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.Total == 0 {
		return
	}
	if len(o.Counts) > len(h.Counts) {
		n := make([]int64, len(o.Counts))
		copy(n, h.Counts)
		h.Counts = n
	}
	for i, c := range o.Counts {
		h.Counts[i] += c
	}
	if h.Total == 0 || o.Min < h.Min {
		h.Min = o.Min
	}
	if o.Max > h.Max {
		h.Max = o.Max
	}
	h.Total += o.Total
	h.Sum += o.Sum
}

// Reset forgets every value.
func (h *Histogram) Reset() { *h = Histogram{Counts: h.Counts[:0]} }

// Quantile is the value at quantile q in [0, 1]: the highest value of the bucket holding
// it, never more than the largest value recorded.
func (h *Histogram) Quantile(q float64) int64 {
	if h.Total == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(h.Total)))
	if rank < 1 {
		rank = 1
	}
	var seen int64
	for i, c := range h.Counts {
		seen += c
		if seen >= rank {
			return min(bucketHigh(i), h.Max)
		}
	}
	return h.Max
}

// Mean is the average value.
func (h *Histogram) Mean() float64 {
	if h.Total == 0 {
		return 0
	}
	return h.Sum / float64(h.Total)
}

// Summary is what a report shows of a histogram, in milliseconds.
type Summary struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p99_9_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
}

// Summarize reads the usual quantiles of a histogram of microseconds.
func (h *Histogram) Summarize() Summary {
	ms := func(us int64) float64 { return math.Round(float64(us)) / 1000 }
	return Summary{Count: h.Total, P50: ms(h.Quantile(0.5)), P90: ms(h.Quantile(0.9)), P99: ms(h.Quantile(0.99)),
		P999: ms(h.Quantile(0.999)), Max: ms(h.Max), Mean: math.Round(h.Mean()) / 1000}
}

// sortedKeys is a small helper for deterministic output.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
