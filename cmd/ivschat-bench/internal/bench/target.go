package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/aws/aws-sdk-go-v2/service/ivschat/types"
)

// Target is a server under measurement: ivschatd, or the raw baseline.
type Target interface {
	// Name is "ivschatd" or "baseline".
	Name() string
	// WSURLs are where members connect: member i of a connect to WSURLs[i % len].
	WSURLs() []string
	// Pids are the server's processes (several for a cluster), none when not known.
	Pids() []int
	// CreateRooms makes n rooms and returns their identifiers.
	CreateRooms(ctx context.Context, n int) ([]string, error)
	// Tokens makes one token for each (room, user) pair.
	Tokens(ctx context.Context, rooms []string, users []string) ([]string, error)
	// SingleUse reports whether tokens are single use (and a reuse check applies).
	SingleUse() bool
}

// Dev credentials of a fresh ivschatd.
const (
	DevAccessKeyID     = "ivschatd-dev"
	DevSecretAccessKey = "ivschatd-dev-secret"
	DevRegion          = "us-east-1"
)

// Ivschatd is an ivschatd node, or the nodes of a cluster, reached through the signed control
// plane of the first.
type Ivschatd struct {
	Label   string   // the target's name; "ivschatd" when empty
	BaseURL string   // http://host:port
	WS      []string // ws://host:port of every node; derived from BaseURL when empty
	PIDs    []int
	Client  *ivschat.Client
	// Concurrency bounds control-plane calls in flight while setting up.
	Concurrency int
	// RoomTags are set on every room the scenarios create (ivschatd: extensions to measure).
	RoomTags map[string]string
}

// NewIvschatd makes a target for the node at baseURL with the development credentials.
func NewIvschatd(baseURL string, pid int) *Ivschatd {
	t := &Ivschatd{BaseURL: baseURL, Client: SDKClient(baseURL), Concurrency: 32}
	if pid > 0 {
		t.PIDs = []int{pid}
	}
	return t
}

// SDKClient is the official ivschat client for a node, with the development credentials
// and enough idle connections for concurrent calls.
func SDKClient(baseURL string) *ivschat.Client {
	return ivschat.New(ivschat.Options{
		Region:       DevRegion,
		BaseEndpoint: aws.String(baseURL),
		Credentials:  credentials.NewStaticCredentialsProvider(DevAccessKeyID, DevSecretAccessKey, ""),
		HTTPClient: &http.Client{Transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512,
			DisableCompression: true}},
		RetryMaxAttempts: 3,
	})
}

func (t *Ivschatd) Name() string {
	if t.Label != "" {
		return t.Label
	}
	return "ivschatd"
}
func (t *Ivschatd) Pids() []int { return t.PIDs }
func (t *Ivschatd) WSURLs() []string {
	if len(t.WS) > 0 {
		return t.WS
	}
	return []string{"ws" + strings.TrimPrefix(t.BaseURL, "http")}
}
func (t *Ivschatd) SingleUse() bool { return true }

// parallel runs fn(i) for i in [0, n) on conc goroutines and returns the first error.
func parallel(ctx context.Context, n, conc int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for w := 0; w < max(conc, 1) && w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// CreateRooms creates rooms at the highest message rate a room may have.
func (t *Ivschatd) CreateRooms(ctx context.Context, n int) ([]string, error) {
	arns := make([]string, n)
	err := parallel(ctx, n, t.Concurrency, func(ctx context.Context, i int) error {
		out, err := t.Client.CreateRoom(ctx, &ivschat.CreateRoomInput{Name: aws.String("bench-" + strconv.Itoa(i)),
			MaximumMessageRatePerSecond: aws.Int32(100), Tags: t.RoomTags})
		if err != nil {
			return fmt.Errorf("CreateRoom: %w", err)
		}
		arns[i] = aws.ToString(out.Arn)
		return nil
	})
	return arns, err
}

// Tokens mints one chat token per member through CreateChatToken.
func (t *Ivschatd) Tokens(ctx context.Context, rooms []string, users []string) ([]string, error) {
	tokens := make([]string, len(rooms))
	err := parallel(ctx, len(rooms), t.Concurrency, func(ctx context.Context, i int) error {
		out, err := t.Client.CreateChatToken(ctx, &ivschat.CreateChatTokenInput{RoomIdentifier: aws.String(rooms[i]),
			UserId: aws.String(users[i]), Capabilities: []types.ChatTokenCapability{types.ChatTokenCapabilitySendMessage}})
		if err != nil {
			return fmt.Errorf("CreateChatToken: %w", err)
		}
		tokens[i] = aws.ToString(out.Token)
		return nil
	})
	return tokens, err
}

// BaselineTarget is the raw broadcaster.
type BaselineTarget struct {
	BaseURL string
	PID     int
	nonce   atomic.Int64
}

func (t *BaselineTarget) Name() string { return "baseline" }
func (t *BaselineTarget) Pids() []int  { return []int{t.PID} }
func (t *BaselineTarget) WSURLs() []string {
	return []string{"ws" + strings.TrimPrefix(t.BaseURL, "http")}
}
func (t *BaselineTarget) SingleUse() bool { return false }

func (t *BaselineTarget) CreateRooms(ctx context.Context, n int) ([]string, error) {
	rooms := make([]string, n)
	gen := t.nonce.Add(1)
	for i := range rooms {
		rooms[i] = "g" + strconv.FormatInt(gen, 10) + "r" + strconv.Itoa(i)
	}
	return rooms, nil
}

func (t *BaselineTarget) Tokens(ctx context.Context, rooms []string, users []string) ([]string, error) {
	tokens := make([]string, len(rooms))
	for i := range rooms {
		tokens[i] = BaselineToken(rooms[i], users[i])
	}
	return tokens, nil
}

// Minter makes signed CreateChatToken calls as fast as it can, for the minting scenario.
type Minter struct {
	BaseURL string
	Room    string
	// Mode is "sdk" (the full ivschat client) or "signer" (the SDK's SigV4 signer over a
	// plain HTTP client: the least a real client must do).
	Mode        string
	Concurrency int
}

// MintResult is what a minting run did.
type MintResult struct {
	Calls   int64     `json:"calls"`
	Errors  int64     `json:"errors"`
	Seconds float64   `json:"seconds"`
	Latency Histogram `json:"latency_us"`
	Sample  string    `json:"error_sample,omitempty"`
}

// Run mints until d has passed.
func (m *Minter) Run(ctx context.Context, d time.Duration) MintResult {
	var (
		calls, errs atomic.Int64
		hist        atomicHist
		sampleMu    sync.Mutex
		sample      string
		wg          sync.WaitGroup
	)
	fail := func(err error) {
		errs.Add(1)
		sampleMu.Lock()
		if sample == "" {
			sample = err.Error()
		}
		sampleMu.Unlock()
	}
	deadline := time.Now().Add(d)
	var call func(ctx context.Context) error
	switch m.Mode {
	case "sdk":
		c := SDKClient(m.BaseURL)
		in := &ivschat.CreateChatTokenInput{RoomIdentifier: aws.String(m.Room), UserId: aws.String("bench-user"),
			Capabilities: []types.ChatTokenCapability{types.ChatTokenCapabilitySendMessage}}
		call = func(ctx context.Context) error { _, err := c.CreateChatToken(ctx, in); return err }
	default:
		sm := newSignedMinter(m.BaseURL)
		defer sm.close()
		body, hash := tokenRequest(m.Room, "bench-user")
		call = func(ctx context.Context) error { _, err := sm.mint(ctx, body, hash); return err }
	}
	start := time.Now()
	for w := 0; w < max(m.Concurrency, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t0 := time.Now()
				if err := call(ctx); err != nil {
					fail(err)
					continue
				}
				hist.record(time.Since(t0).Microseconds())
				calls.Add(1)
			}
		}()
	}
	wg.Wait()
	return MintResult{Calls: calls.Load(), Errors: errs.Load(), Seconds: time.Since(start).Seconds(),
		Latency: hist.snapshot(false), Sample: sample}
}

// signedMinter makes CreateChatToken calls signed with the SDK's SigV4 signer over a plain
// net/http client: the least a real client must do.
type signedMinter struct {
	url    string
	hc     *http.Client
	signer *v4.Signer
	creds  aws.Credentials
}

func newSignedMinter(baseURL string) *signedMinter {
	return &signedMinter{url: baseURL + "/CreateChatToken",
		hc:     &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512, DisableCompression: true}},
		signer: v4.NewSigner(), creds: aws.Credentials{AccessKeyID: DevAccessKeyID, SecretAccessKey: DevSecretAccessKey}}
}

func (m *signedMinter) close() { m.hc.CloseIdleConnections() }

// tokenRequest is the body of a CreateChatToken call and its SHA-256, as the signer wants it.
func tokenRequest(room, user string) (body []byte, hash string) {
	body, _ = json.Marshal(map[string]any{"roomIdentifier": room, "userId": user, "capabilities": []string{"SEND_MESSAGE"}})
	sum := sha256.Sum256(body)
	return body, hex.EncodeToString(sum[:])
}

// mint makes one call and returns the token.
func (m *signedMinter) mint(ctx context.Context, body []byte, hash string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.url, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if err := m.signer.SignHTTP(ctx, m.creds, req, hash, "ivschat", DevRegion, time.Now()); err != nil {
		return "", err
	}
	resp, err := m.hc.Do(req)
	if err != nil {
		return "", err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &out) != nil || out.Token == "" {
		return "", fmt.Errorf("CreateChatToken: HTTP %d: %.200s", resp.StatusCode, b)
	}
	return out.Token, nil
}
