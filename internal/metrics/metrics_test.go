package metrics

import (
	"testing"
	"time"
)

// The hooks on the delivery and handshake paths must not allocate (docs/benchmarks.md).
func TestHotPathHooksDoNotAllocate(t *testing.T) {
	m := New(Gauges{})
	for _, tt := range []struct {
		name string
		hook func()
	}{
		{"Delivered", func() { m.Delivered(1000) }},
		{"Message", func() { m.Message(MessageDelivered) }},
		{"Connect", func() { m.Connect(ConnectAccepted) }},
		{"Event", func() { m.Event(EventDeleteMessage) }},
		{"SlowConsumersDropped", func() { m.SlowConsumersDropped(1) }},
		{"Reviewed", func() { m.Reviewed(ReviewAllowed, time.Millisecond) }},
		{"ChatLogShipped", func() { m.ChatLogShipped("s3", 10) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, tt.hook); n != 0 {
				t.Errorf("%s allocates %v times a call", tt.name, n)
			}
		})
	}
}

func TestNilMetricsCountNothing(t *testing.T) {
	var m *Metrics
	m.Delivered(1)
	m.Message(MessageDenied)
	m.Connect(ConnectExpired)
	m.Event(EventAPI)
	m.SlowConsumersDropped(1)
	m.Reviewed(ReviewFallback, time.Second)
	m.ChatLogShipped("s3", 1)
	m.ChatLogFailed("cwl", 1)
	m.APIRequest("CreateRoom", 200, time.Millisecond)
}

func TestCountersCount(t *testing.T) {
	m := New(Gauges{})
	m.Delivered(3)
	m.Delivered(0)
	m.Delivered(4)
	m.Message(MessageRateLimited)
	m.Reviewed(ReviewFallback, time.Millisecond)
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, s := range f.Metric {
			key := f.GetName()
			for _, l := range s.Label {
				key += "/" + l.GetValue()
			}
			got[key] = s.GetCounter().GetValue()
		}
	}
	for key, want := range map[string]float64{
		"ivschatd_deliveries_total":                 7,
		"ivschatd_messages_total/rate_limited":      1,
		"ivschatd_messages_total/delivered":         0,
		"ivschatd_review_fallbacks_total":           1,
		"ivschatd_connects_total/accepted":          0,
		"ivschatd_chatlog_shipped_records_total/s3": 0,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
}
