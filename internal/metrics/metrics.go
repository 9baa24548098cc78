// Package metrics defines every Prometheus metric a node exports, and the hooks through which
// the other packages count. Each hook is one atomic add on a counter resolved when the node
// starts (no label lookup, lock or allocation where it is called), and every hook is safe on a
// nil *Metrics, which counts nothing: packages used without a node (their own tests) need no
// set-up.
//
// Gauges of state another package already keeps (connections, rooms, chat-log backlog) are read
// from it when Prometheus scrapes, so keeping them costs nothing between scrapes.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ivschatd/ivschatd/internal/chat"
)

const namespace = "ivschatd"

// MessageOutcome is what became of a SEND_MESSAGE request.
type MessageOutcome int

// Outcomes of SEND_MESSAGE, the values of ivschatd_messages_total's outcome label.
const (
	MessageDelivered    MessageOutcome = iota // handed to the room
	MessageDenied                             // the review handler denied it
	MessageReviewFailed                       // the review handler failed and the room's fallback denied it
	MessageRateLimited                        // over the room's, the user's (slow mode) or the connection's rate
	MessageInvalid                            // malformed or over a limit
	MessageForbidden                          // the token lacks the SEND_MESSAGE capability
	MessageFailed                             // the engine did not take it
	messageOutcomes
)

var messageOutcomeNames = [messageOutcomes]string{"delivered", "denied", "review_failed", "rate_limited", "invalid", "forbidden", "failed"}

// EventSource is what sent an event to a room.
type EventSource int

// Sources of events, the values of ivschatd_events_total's source label.
const (
	EventAPI            EventSource = iota // the SendEvent operation
	EventDeleteMessage                     // a DELETE_MESSAGE request of a member
	EventDisconnectUser                    // a DISCONNECT_USER request or the DisconnectUser operation
	eventSources
)

var eventSourceNames = [eventSources]string{"api", "delete_message", "disconnect_user"}

// ConnectResult is how a WebSocket handshake ended.
type ConnectResult int

// Results of handshakes, the values of ivschatd_connects_total's result label.
const (
	ConnectAccepted      ConnectResult = iota // upgraded and joined
	ConnectNoToken                            // no token offered
	ConnectTokenInvalid                       // the token does not open
	ConnectExpired                            // the token's time to connect has passed
	ConnectTokenReused                        // the token was used before
	ConnectRoomGone                           // the token's room no longer exists
	ConnectShuttingDown                       // the node is draining
	ConnectError                              // the engine could not check the token or join the room
	ConnectUpgradeFailed                      // the token was good but the WebSocket handshake failed
	ConnectAbandoned                          // the client went away while its token was checked
	ConnectBanned                             // the token's user is banned from its room (BanUser)
	connectResults
)

var connectResultNames = [connectResults]string{"accepted", "no_token", "token_invalid", "expired", "token_reused",
	"room_gone", "shutting_down", "error", "upgrade_failed", "abandoned", "banned"}

// ReviewResult is the verdict of one message review.
type ReviewResult int

// Results of reviews, the values of ivschatd_review_duration_seconds's result label.
const (
	ReviewAllowed  ReviewResult = iota // the handler allowed the message
	ReviewDenied                       // the handler denied it
	ReviewFallback                     // the handler failed, timed out or broke the contract
	reviewResults
)

var reviewResultNames = [reviewResults]string{"allowed", "denied", "fallback"}

// Destination kinds, the values of the chat-log metrics' destination label.
var destinationNames = []string{chat.DestinationS3, chat.DestinationCloudWatchLogs, chat.DestinationFirehose}

// Metrics are one node's metrics, registered in the node's own registry.
type Metrics struct {
	registry *prometheus.Registry

	messages        [messageOutcomes]prometheus.Counter
	events          [eventSources]prometheus.Counter
	connects        [connectResults]prometheus.Counter
	deliveries      prometheus.Counter
	slowDrops       prometheus.Counter
	reviewDuration  [reviewResults]prometheus.Observer
	reviewFallbacks prometheus.Counter
	chatlogShipped  map[string]prometheus.Counter
	chatlogFailures map[string]prometheus.Counter
	apiRequests     *prometheus.CounterVec
	apiDuration     *prometheus.HistogramVec
}

// Gauges are the node's state read when Prometheus scrapes. Any may be nil.
type Gauges struct {
	// Connections is the number of open WebSocket members on the node.
	Connections func() int64
	// Rooms is the number of rooms with at least one member on the node.
	Rooms func() int64
	// ChatLogPending is the number of chat-log records waiting, by destination kind.
	ChatLogPending func() map[string]uint64
}

// New makes a node's metrics, with the Go runtime and process collectors.
func New(g Gauges) *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{registry: r, chatlogShipped: map[string]prometheus.Counter{}, chatlogFailures: map[string]prometheus.Counter{}}

	messages := counterVec("messages_total", "SEND_MESSAGE requests, by what became of them.", "outcome")
	for i, name := range messageOutcomeNames {
		m.messages[i] = messages.WithLabelValues(name)
	}
	events := counterVec("events_total", "Events sent to rooms, by what sent them.", "source")
	for i, name := range eventSourceNames {
		m.events[i] = events.WithLabelValues(name)
	}
	connects := counterVec("connects_total", "WebSocket handshakes, by result.", "result")
	for i, name := range connectResultNames {
		m.connects[i] = connects.WithLabelValues(name)
	}
	m.deliveries = counter("deliveries_total", "Message and event frames handed to members' outbound queues.")
	m.slowDrops = counter("slow_consumer_drops_total", "Members dropped because their outbound queue was full.")
	reviews := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "review_duration_seconds",
		Help:    "Time a message review took, by verdict.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .2, .5, 1, 2.5, 5}}, []string{"result"})
	for i, name := range reviewResultNames {
		m.reviewDuration[i] = reviews.WithLabelValues(name)
	}
	m.reviewFallbacks = counter("review_fallbacks_total", "Reviews whose handler failed, timed out or broke the contract, so that the room's fallbackResult decided.")
	shipped := counterVec("chatlog_shipped_records_total", "Chat-log records their destination accepted, by destination kind.", "destination")
	failures := counterVec("chatlog_failures_total", "Chat-log records a destination refused (they wait and are tried again), by destination kind.", "destination")
	for _, d := range destinationNames {
		m.chatlogShipped[d] = shipped.WithLabelValues(d)
		m.chatlogFailures[d] = failures.WithLabelValues(d)
	}
	m.apiRequests = counterVec("api_requests_total", "Control-plane requests, by operation and HTTP status.", "operation", "code")
	m.apiDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "api_request_duration_seconds",
		Help: "Time to answer a control-plane request, by operation.", Buckets: prometheus.DefBuckets}, []string{"operation"})

	r.MustRegister(messages, events, connects, m.deliveries, m.slowDrops, reviews, m.reviewFallbacks, shipped, failures,
		m.apiRequests, m.apiDuration)
	if g.Connections != nil {
		r.MustRegister(gaugeFunc("connections", "Open WebSocket members on this node.", g.Connections))
	}
	if g.Rooms != nil {
		r.MustRegister(gaugeFunc("rooms_active", "Rooms with at least one member on this node.", g.Rooms))
	}
	if g.ChatLogPending != nil {
		r.MustRegister(&pendingCollector{read: g.ChatLogPending, desc: prometheus.NewDesc(namespace+"_chatlog_pending_records",
			"Chat-log records waiting for their destination (the whole cluster's), by destination kind.", []string{"destination"}, nil)})
	}
	return m
}

func counter(name, help string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help})
}

func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
}

func gaugeFunc(name, help string, read func() int64) prometheus.GaugeFunc {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help},
		func() float64 { return float64(read()) })
}

// pendingCollector reports the chat-log backlog by destination kind, every kind always present.
type pendingCollector struct {
	read func() map[string]uint64
	desc *prometheus.Desc
}

func (c *pendingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *pendingCollector) Collect(ch chan<- prometheus.Metric) {
	pending := c.read()
	for _, d := range destinationNames {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(pending[d]), d)
	}
}

// Handler serves the metrics in Prometheus's text exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Registry is where the node's metrics are registered; the console and tests read it.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Message counts one SEND_MESSAGE request.
func (m *Metrics) Message(o MessageOutcome) {
	if m != nil {
		m.messages[o].Inc()
	}
}

// Event counts one event sent to a room.
func (m *Metrics) Event(s EventSource) {
	if m != nil {
		m.events[s].Inc()
	}
}

// Connect counts one WebSocket handshake.
func (m *Metrics) Connect(r ConnectResult) {
	if m != nil {
		m.connects[r].Inc()
	}
}

// Delivered counts frames handed to n members by one broadcast.
func (m *Metrics) Delivered(n int) {
	if m != nil && n > 0 {
		m.deliveries.Add(float64(n))
	}
}

// SlowConsumersDropped counts n members dropped for not reading.
func (m *Metrics) SlowConsumersDropped(n int) {
	if m != nil && n > 0 {
		m.slowDrops.Add(float64(n))
	}
}

// Reviewed records one review's verdict and how long it took; a fallback is counted too.
func (m *Metrics) Reviewed(r ReviewResult, took time.Duration) {
	if m == nil {
		return
	}
	m.reviewDuration[r].Observe(took.Seconds())
	if r == ReviewFallback {
		m.reviewFallbacks.Inc()
	}
}

// ChatLogShipped counts n records a destination of the kind accepted.
func (m *Metrics) ChatLogShipped(kind string, n int) {
	if m != nil && n > 0 {
		if c := m.chatlogShipped[kind]; c != nil {
			c.Add(float64(n))
		}
	}
}

// ChatLogFailed counts n records a destination of the kind refused.
func (m *Metrics) ChatLogFailed(kind string, n int) {
	if m != nil && n > 0 {
		if c := m.chatlogFailures[kind]; c != nil {
			c.Add(float64(n))
		}
	}
}

// APIRequest counts one control-plane request. operation is "" when the request named none
// the API knows; such requests are counted under "unknown", so that clients cannot grow the
// label set.
func (m *Metrics) APIRequest(operation string, status int, took time.Duration) {
	if m == nil {
		return
	}
	if operation == "" {
		operation = "unknown"
	}
	m.apiRequests.WithLabelValues(operation, strconv.Itoa(status)).Inc()
	m.apiDuration.WithLabelValues(operation).Observe(took.Seconds())
}
