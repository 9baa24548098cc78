// Package review calls message review handlers: AWS Lambda functions through the Lambda
// Invoke API, or plain HTTP endpoints that take and return the same JSON.
package review

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/metrics"
)

// Config configures the reviewer.
type Config struct {
	// Timeout bounds one review; past it the room's fallback decides.
	Timeout time.Duration
	// Concurrency bounds reviews in flight on this node; a review waiting for a slot counts
	// its wait against Timeout.
	Concurrency int
	// HTTPEndpoints maps a function ARN to the HTTP(S) URL that reviews for it. Functions not
	// listed are invoked through the Lambda API.
	HTTPEndpoints map[string]string
	// Metrics times the reviews and counts the fallbacks (nil: not counted).
	Metrics *metrics.Metrics
}

// DefaultConfig is the reviewer's configuration unless flags say otherwise: the service's
// fixed review timeout, and 512 reviews in flight.
func DefaultConfig() Config {
	return Config{Timeout: 200 * time.Millisecond, Concurrency: 512}
}

// maxAnswerBytes caps a handler's answer; anything larger breaks the contract.
const maxAnswerBytes = 64 << 10

// Reviewer reviews messages for rooms that have a handler.
type Reviewer struct {
	cfg  Config
	http *http.Client
	sem  chan struct{}

	lambdaOnce sync.Once
	lambdaCfg  aws.Config
	lambdaErr  error
	mu         sync.Mutex
	lambdas    map[string]*lambda.Client // by region
}

// New makes a reviewer; cmd/ivschatd has checked the configuration.
func New(cfg Config) *Reviewer {
	return &Reviewer{cfg: cfg, sem: make(chan struct{}, cfg.Concurrency), lambdas: map[string]*lambda.Client{},
		http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}}}
}

// Start loads the AWS configuration in the background, so that the first review does not
// spend its 200 ms on it.
func (r *Reviewer) Start() { go r.loadAWSConfig() }

func (r *Reviewer) loadAWSConfig() {
	r.lambdaOnce.Do(func() {
		r.lambdaCfg, r.lambdaErr = config.LoadDefaultConfig(context.Background())
	})
}

// Review asks the room's handler about a message and returns the verdict. It never fails:
// a timeout, an error or an invalid answer yields the room's fallback.
func (r *Reviewer) Review(ctx context.Context, room *chat.Room, req *chat.ReviewRequest) chat.ReviewVerdict {
	start := time.Now()
	v := r.review(ctx, room, req)
	result := metrics.ReviewAllowed
	switch {
	case v.Fallback:
		result = metrics.ReviewFallback
	case !v.Allowed:
		result = metrics.ReviewDenied
	}
	r.cfg.Metrics.Reviewed(result, time.Since(start))
	return v
}

func (r *Reviewer) review(ctx context.Context, room *chat.Room, req *chat.ReviewRequest) chat.ReviewVerdict {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	select {
	case r.sem <- struct{}{}:
		defer func() { <-r.sem }()
	case <-ctx.Done():
		return chat.Fallback(room, req.Content, req.Attributes)
	}
	answer, err := r.invoke(ctx, room.MessageReviewHandler.URI, chat.Encode(req))
	if err != nil {
		return chat.Fallback(room, req.Content, req.Attributes)
	}
	return chat.JudgeReview(room, req.Content, req.Attributes, answer)
}

func (r *Reviewer) invoke(ctx context.Context, functionARN string, payload []byte) ([]byte, error) {
	if url, ok := r.cfg.HTTPEndpoints[functionARN]; ok {
		return r.invokeHTTP(ctx, url, payload)
	}
	return r.invokeLambda(ctx, functionARN, payload)
}

func (r *Reviewer) invokeHTTP(ctx context.Context, url string, payload []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("review handler %s answered HTTP %d", url, resp.StatusCode)
	}
	if len(body) > maxAnswerBytes {
		return nil, errors.New("review handler answer too large")
	}
	return body, nil
}

func (r *Reviewer) invokeLambda(ctx context.Context, functionARN string, payload []byte) ([]byte, error) {
	client, err := r.lambdaFor(functionARN)
	if err != nil {
		return nil, err
	}
	out, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(functionARN), Payload: payload})
	if err != nil {
		return nil, err
	}
	if out.FunctionError != nil {
		return nil, fmt.Errorf("review function %s failed: %s", functionARN, *out.FunctionError)
	}
	if len(out.Payload) > maxAnswerBytes {
		return nil, errors.New("review function answer too large")
	}
	return out.Payload, nil
}

// lambdaFor returns a Lambda client for the function's region, configured by the standard AWS
// chain (credentials, AWS_ENDPOINT_URL_LAMBDA, ...).
func (r *Reviewer) lambdaFor(functionARN string) (*lambda.Client, error) {
	r.loadAWSConfig()
	if r.lambdaErr != nil {
		return nil, r.lambdaErr
	}
	parts := strings.Split(functionARN, ":")
	if len(parts) < 7 {
		return nil, fmt.Errorf("not a Lambda function ARN: %s", functionARN)
	}
	region := parts[3]
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.lambdas[region]
	if c == nil {
		c = lambda.NewFromConfig(r.lambdaCfg, func(o *lambda.Options) {
			o.Region = region
			// A review has 200 ms; a retry cannot fit, and the fallback is the answer to failure.
			o.RetryMaxAttempts = 1
		})
		r.lambdas[region] = c
	}
	return c, nil
}
