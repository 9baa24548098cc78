// Command reviewhandler is a message review handler over HTTP: ivschatd POSTs each message
// sent to a room whose messageReviewHandler is this handler's function ARN, in the JSON of
// the Lambda contract, and delivers what the answer says.
//
//	go run ./examples/go/reviewhandler -addr 127.0.0.1:9001
//	ivschatd --review-handler arn:aws:lambda:us-east-1:123456789012:function:review=http://127.0.0.1:9001
//
// It denies messages that contain "spoiler" and masks "darn"; everything else passes as sent.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
)

// reviewRequest is what ivschatd sends, as IVS Chat sends it to a Lambda function.
type reviewRequest struct {
	Content    string            `json:"Content"`
	MessageID  string            `json:"MessageId"`
	RoomArn    string            `json:"RoomArn"`
	Attributes map[string]string `json:"Attributes"`
	Sender     struct {
		UserID     string            `json:"UserId"`
		IP         string            `json:"Ip"`
		Attributes map[string]string `json:"Attributes"`
	} `json:"Sender"`
}

// reviewResponse decides: ALLOW delivers Content and Attributes, DENY delivers nothing and
// the sender gets an ERROR 406.
type reviewResponse struct {
	ReviewResult string            `json:"ReviewResult"`
	Content      string            `json:"Content"`
	Attributes   map[string]string `json:"Attributes,omitempty"`
}

func review(req reviewRequest) reviewResponse {
	if strings.Contains(strings.ToLower(req.Content), "spoiler") {
		return reviewResponse{ReviewResult: "DENY", Content: req.Content,
			Attributes: map[string]string{"Reason": "no spoilers"}}
	}
	return reviewResponse{ReviewResult: "ALLOW", Content: strings.ReplaceAll(req.Content, "darn", "d**n"),
		Attributes: req.Attributes}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9001", "listen address")
	flag.Parse()
	http.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		var req reviewRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(review(req))
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("review handler listening on http://%s\n", ln.Addr())
	log.Fatal(http.Serve(ln, nil))
}
