package chat

import (
	"strings"
	"testing"
)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name      string
		frame     string
		code      int // 0: valid
		action    string
		requestID string
	}{
		{"SEND_MESSAGE as the JS SDK sends it", `{"Action":"SEND_MESSAGE","RequestId":"r1","Content":"hi","Attributes":{"k":"v"}}`, 0, ActionSendMessage, "r1"},
		{"DELETE_MESSAGE", `{"Action":"DELETE_MESSAGE","RequestId":"r2","Id":"WhO6MW6iRdS5","Reason":"spam"}`, 0, ActionDeleteMessage, "r2"},
		{"DISCONNECT_USER", `{"Action":"DISCONNECT_USER","UserId":"bob"}`, 0, ActionDisconnectUser, ""},
		{"surrounding whitespace is allowed", " \n{\"Action\":\"SEND_MESSAGE\",\"Content\":\"x\"}\r\n", 0, ActionSendMessage, ""},
		{"RequestId of 256 bytes is kept", `{"Action":"SEND_MESSAGE","RequestId":"` + str("r", 256) + `"}`, 0, ActionSendMessage, str("r", 256)},

		{"empty frame", ``, CodeBadRequest, "", ""},
		{"whitespace only", "  \n", CodeBadRequest, "", ""},
		{"an array", `[{"Action":"SEND_MESSAGE"}]`, CodeBadRequest, "", ""},
		{"a string", `"SEND_MESSAGE"`, CodeBadRequest, "", ""},
		{"null", `null`, CodeBadRequest, "", ""},
		{"invalid UTF-8", "{\"Action\":\"SEND_MESSAGE\",\"Content\":\"\xff\"}", CodeBadRequest, "", ""},
		{"broken JSON", `{"Action":"SEND_MESSAGE"`, CodeBadRequest, "", ""},
		{"two objects", `{"Action":"SEND_MESSAGE"}{"Action":"SEND_MESSAGE"}`, CodeBadRequest, "", ""},
		{"no Action", `{"RequestId":"r3","Content":"hi"}`, CodeBadRequest, "", "r3"},
		{"unknown Action keeps the RequestId", `{"Action":"SHOUT","RequestId":"r4"}`, CodeBadRequest, "SHOUT", "r4"},
		{"Content of the wrong type keeps the RequestId", `{"Action":"SEND_MESSAGE","RequestId":"r5","Content":5}`, CodeBadRequest, "", "r5"},
		{"Attributes with a number value", `{"Action":"SEND_MESSAGE","RequestId":"r6","Content":"x","Attributes":{"k":1}}`, CodeBadRequest, "", "r6"},
		{"RequestId of 257 bytes is too large and not echoed", `{"Action":"SEND_MESSAGE","RequestId":"` + str("r", 257) + `"}`, CodeTooLarge, ActionSendMessage, ""},
		{"RequestId of 257 bytes is not echoed when the rest is wrong", `{"Action":5,"RequestId":"` + str("r", 257) + `"}`, CodeBadRequest, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRequest([]byte(tt.frame))
			if r == nil {
				t.Fatal("ParseRequest returned no request")
			}
			code := 0
			if err != nil {
				code = err.Code
				if err.Message == "" || !strings.Contains(err.Error(), err.Message) {
					t.Fatalf("error %+v has no message", err)
				}
			}
			if code != tt.code || r.Action != tt.action || r.RequestID != tt.requestID {
				t.Fatalf("ParseRequest = {Action %q RequestId %q}, %v; want {%q %q}, code %d", r.Action, r.RequestID, err, tt.action, tt.requestID, tt.code)
			}
		})
	}
}

func TestRequestCheck(t *testing.T) {
	all := &Token{UserID: "mod", Capabilities: []string{CapabilitySendMessage, CapabilityDeleteMessage, CapabilityDisconnectUser}}
	none := &Token{UserID: "viewer"}
	rm := &Room{MaximumMessageLength: 5}
	tests := []struct {
		name  string
		frame string
		token *Token
		code  int
	}{
		{"a message within the room's length", `{"Action":"SEND_MESSAGE","Content":"héllo"}`, all, 0},
		{"length counts code points", `{"Action":"SEND_MESSAGE","Content":"😀😀😀😀😀"}`, all, 0},
		{"a message past the room's length", `{"Action":"SEND_MESSAGE","Content":"héllo!"}`, all, CodeBadRequest},
		{"no Content", `{"Action":"SEND_MESSAGE"}`, all, CodeBadRequest},
		{"null Content", `{"Action":"SEND_MESSAGE","Content":null}`, all, CodeBadRequest},
		{"empty Content", `{"Action":"SEND_MESSAGE","Content":""}`, all, CodeBadRequest},
		{"attributes of 1024 bytes", `{"Action":"SEND_MESSAGE","Content":"x","Attributes":{"k":"` + str("v", 1023) + `"}}`, all, 0},
		{"attributes of 1025 bytes", `{"Action":"SEND_MESSAGE","Content":"x","Attributes":{"k":"` + str("v", 1024) + `"}}`, all, CodeTooLarge},
		{"sending without the capability", `{"Action":"SEND_MESSAGE","Content":"x"}`, none, CodeForbidden},
		{"deleting a message", `{"Action":"DELETE_MESSAGE","Id":"WhO6MW6iRdS5"}`, all, 0},
		{"deleting without the capability", `{"Action":"DELETE_MESSAGE","Id":"WhO6MW6iRdS5"}`, none, CodeForbidden},
		{"deleting without Id", `{"Action":"DELETE_MESSAGE"}`, all, CodeBadRequest},
		{"deleting a malformed Id", `{"Action":"DELETE_MESSAGE","Id":"WhO6MW6iRdS"}`, all, CodeBadRequest},
		{"a Reason of 256 characters", `{"Action":"DELETE_MESSAGE","Id":"WhO6MW6iRdS5","Reason":"` + str("é", 256) + `"}`, all, 0},
		{"a Reason of 257 characters", `{"Action":"DELETE_MESSAGE","Id":"WhO6MW6iRdS5","Reason":"` + str("é", 257) + `"}`, all, CodeTooLarge},
		{"disconnecting a user", `{"Action":"DISCONNECT_USER","UserId":"bob"}`, all, 0},
		{"disconnecting without the capability", `{"Action":"DISCONNECT_USER","UserId":"bob"}`, none, CodeForbidden},
		{"disconnecting without UserId", `{"Action":"DISCONNECT_USER"}`, all, CodeBadRequest},
		{"disconnecting a UserId of 128 characters", `{"Action":"DISCONNECT_USER","UserId":"` + str("ü", 128) + `"}`, all, 0},
		{"disconnecting a UserId of 129 characters", `{"Action":"DISCONNECT_USER","UserId":"` + str("ü", 129) + `"}`, all, CodeTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, perr := ParseRequest([]byte(tt.frame))
			if perr != nil {
				t.Fatalf("ParseRequest: %v", perr)
			}
			code := 0
			if err := r.Check(tt.token, rm); err != nil {
				code = err.Code
			}
			if code != tt.code {
				t.Fatalf("Check code = %d, want %d", code, tt.code)
			}
		})
	}
}

// FuzzParseRequest feeds arbitrary frames to the WebSocket request decoder and its checks.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`{"Action":"SEND_MESSAGE","RequestId":"r1","Content":"hi","Attributes":{"k":"v"}}`,
		`{"Action":"DELETE_MESSAGE","RequestId":"r2","Id":"WhO6MW6iRdS5","Reason":"spam"}`,
		`{"Action":"DISCONNECT_USER","UserId":"bob"}`,
		`{"Action":5,"RequestId":"x"}`, `[]`, ``, `{"Attributes":{"k":null}}`,
	} {
		f.Add([]byte(s))
	}
	tok := &Token{UserID: "u", Capabilities: []string{CapabilitySendMessage, CapabilityDeleteMessage, CapabilityDisconnectUser}}
	rm := &Room{MaximumMessageLength: 500}
	f.Fuzz(func(t *testing.T, frame []byte) {
		r, err := ParseRequest(frame)
		if r == nil {
			t.Fatal("no request")
		}
		if len(r.RequestID) > maxRequestIDLength {
			t.Fatalf("a RequestId of %d bytes is echoed", len(r.RequestID))
		}
		if err != nil {
			if err.Code != CodeBadRequest && err.Code != CodeTooLarge {
				t.Fatalf("parse error code %d", err.Code)
			}
			return
		}
		if _, ok := capabilityOf[r.Action]; !ok {
			t.Fatalf("accepted Action %q", r.Action)
		}
		if cerr := r.Check(tok, rm); cerr == nil {
			switch r.Action {
			case ActionSendMessage:
				if r.Content == nil || *r.Content == "" || attributesSize(r.Attributes) > MaxAttributesBytes {
					t.Fatalf("accepted message %+v", r)
				}
			case ActionDeleteMessage:
				if r.ID == nil || !IsID(*r.ID) {
					t.Fatalf("accepted delete %+v", r)
				}
			case ActionDisconnectUser:
				if r.UserID == nil || *r.UserID == "" {
					t.Fatalf("accepted disconnect %+v", r)
				}
			}
		}
	})
}
