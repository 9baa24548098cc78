// Package faults runs ivschatd processes into the faults a production node meets (a full
// disk, damaged store files, kill -9 in the middle of writes) and asserts what a client sees
// through the official Go SDK, and for how long. The loss of a NATS server is in test/cluster
// (TestNATSServerLoss), which runs the three servers it needs. docs/deployment.md ("When
// something fails") quotes the figures these tests log.
package faults

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ivschat"

	"github.com/ivschatd/ivschatd/internal/api"
	"github.com/ivschatd/ivschatd/test/sdkclient"
)

// clientOf is the Go SDK client for a node, with the development key pair.
func clientOf(n *sdkclient.Node) *ivschat.Client {
	return sdkclient.IVSChat(n.URL, "us-east-1", api.DevAccessKeyID, api.DevSecretAccessKey, "")
}

// apiError is the AWS error code and message of err, or fails the test if err is not one.
func apiError(t *testing.T, err error) (code, message string) {
	t.Helper()
	var ae interface {
		ErrorCode() string
		ErrorMessage() string
	}
	if !errors.As(err, &ae) {
		t.Fatalf("not an AWS API error: %v", err)
	}
	return ae.ErrorCode(), ae.ErrorMessage()
}
