package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"

	"github.com/ivschatd/ivschatd/internal/api"
)

// BenchmarkCreateChatToken measures signed CreateChatToken calls against a real node over
// loopback HTTP with keep-alive connections; client and server share the machine.
//
//	go test -run '^$' -bench BenchmarkCreateChatToken -benchtime 5s ./test/e2e/
//
// "signer" signs each request with the AWS SDK's SigV4 signer over a plain net/http client:
// the server's cost plus the least a real client must do. "sdk" goes through the full
// ivschat client, whose middleware stack costs more than the server does.
func BenchmarkCreateChatToken(b *testing.B) {
	srv := startServer(b, nil)
	c := devClient(srv)
	room := newRoom(b, c, nil)
	body := []byte(mustJSON(b, map[string]any{"roomIdentifier": aws.ToString(room.Arn), "userId": "bench-user",
		"capabilities": []string{"SEND_MESSAGE"}, "attributes": map[string]string{"displayName": "Bench"}}))
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	creds := aws.Credentials{AccessKeyID: api.DevAccessKeyID, SecretAccessKey: api.DevSecretAccessKey}
	const concurrency = 16 // goroutines per GOMAXPROCS: enough to keep both sides busy

	b.Run("signer", func(b *testing.B) {
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}}
		defer hc.CloseIdleConnections()
		signer := v4.NewSigner()
		url := srv.URL() + "/CreateChatToken"
		b.SetParallelism(concurrency)
		b.ReportAllocs()
		cpu := processCPU()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			buf := make([]byte, 0, 4096)
			for pb.Next() {
				req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				if err != nil {
					b.Error(err)
					return
				}
				req.Header.Set("Content-Type", "application/json")
				if err := signer.SignHTTP(context.Background(), creds, req, payloadHash, "ivschat", "us-east-1", time.Now()); err != nil {
					b.Error(err)
					return
				}
				resp, err := hc.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				buf = buf[:0]
				for {
					n, err := resp.Body.Read(buf[len(buf):cap(buf)])
					buf = buf[:len(buf)+n]
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("status %d: %s", resp.StatusCode, buf)
					return
				}
			}
		})
		reportRates(b, cpu)
	})

	b.Run("sdk", func(b *testing.B) {
		in := &ivschat.CreateChatTokenInput{RoomIdentifier: room.Arn, UserId: aws.String("bench-user")}
		b.SetParallelism(concurrency)
		b.ReportAllocs()
		cpu := processCPU()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.CreateChatToken(context.Background(), in); err != nil {
					b.Error(err)
					return
				}
			}
		})
		reportRates(b, cpu)
	})
}

// processCPU is the CPU time this process (client and server together) has used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportRates reports calls per second of wall time, and the CPU time client and server
// spent per call: on a busy machine the first depends on the neighbours, the second much less.
func reportRates(b *testing.B, cpuBefore time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	b.ReportMetric(float64((processCPU()-cpuBefore).Microseconds())/float64(b.N), "cpu-µs/call")
}
