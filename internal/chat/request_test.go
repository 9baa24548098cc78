package chat

import (
	"strings"
	"testing"
)

// valid is the kind column of a request that is not refused.
const valid Kind = -1

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name      string
		frame     string
		kind      Kind
		action    string
		requestID string
	}{
		{"SEND_MESSAGE as the JS SDK sends it", `{"Action":"SEND_MESSAGE","RequestId":"r1","Content":"hi","Attributes":{"k":"v"}}`, valid, ActionSendMessage, "r1"},
		{"DELETE_MESSAGE", `{"Action":"DELETE_MESSAGE","RequestId":"r2","Id":"WhO6MW6iRdS5","Reason":"spam"}`, valid, ActionDeleteMessage, "r2"},
		{"DISCONNECT_USER", `{"Action":"DISCONNECT_USER","UserId":"bob"}`, valid, ActionDisconnectUser, ""},
		{"surrounding whitespace is allowed", " \n{\"Action\":\"SEND_MESSAGE\",\"Content\":\"x\"}\r\n", valid, ActionSendMessage, ""},
		{"RequestId of 256 bytes is kept", `{"Action":"SEND_MESSAGE","RequestId":"` + str("r", 256) + `"}`, valid, ActionSendMessage, str("r", 256)},

		{"empty frame", ``, KindValidation, "", ""},
		{"whitespace only", "  \n", KindValidation, "", ""},
		{"an array", `[{"Action":"SEND_MESSAGE"}]`, KindValidation, "", ""},
		{"a string", `"SEND_MESSAGE"`, KindValidation, "", ""},
		{"null", `null`, KindValidation, "", ""},
		{"invalid UTF-8", "{\"Action\":\"SEND_MESSAGE\",\"Content\":\"\xff\"}", KindValidation, "", ""},
		{"broken JSON", `{"Action":"SEND_MESSAGE"`, KindValidation, "", ""},
		{"two objects", `{"Action":"SEND_MESSAGE"}{"Action":"SEND_MESSAGE"}`, KindValidation, "", ""},
		{"no Action", `{"RequestId":"r3","Content":"hi"}`, KindValidation, "", "r3"},
		{"unknown Action keeps the RequestId", `{"Action":"SHOUT","RequestId":"r4"}`, KindValidation, "SHOUT", "r4"},
		{"Content of the wrong type keeps the RequestId", `{"Action":"SEND_MESSAGE","RequestId":"r5","Content":5}`, KindValidation, "", "r5"},
		{"Attributes with a number value", `{"Action":"SEND_MESSAGE","RequestId":"r6","Content":"x","Attributes":{"k":1}}`, KindValidation, "", "r6"},
		{"RequestId of 257 bytes is too large and not echoed", `{"Action":"SEND_MESSAGE","RequestId":"` + str("r", 257) + `"}`, KindTooLarge, ActionSendMessage, ""},
		{"RequestId of 257 bytes is not echoed when the rest is wrong", `{"Action":5,"RequestId":"` + str("r", 257) + `"}`, KindValidation, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRequest([]byte(tt.frame))
			if r == nil {
				t.Fatal("ParseRequest returned no request")
			}
			kind := valid
			if err != nil {
				kind = err.Kind
				if err.Message == "" || !strings.Contains(err.Error(), err.Message) {
					t.Fatalf("error %+v has no message", err)
				}
			}
			if kind != tt.kind || r.Action != tt.action || r.RequestID != tt.requestID {
				t.Fatalf("ParseRequest = {Action %q RequestId %q}, %v; want {%q %q}, kind %d", r.Action, r.RequestID, err, tt.action, tt.requestID, tt.kind)
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
		kind  Kind
	}{
		{"a message within the room's length", `{"Action":"SEND_MESSAGE","Content":"héllo"}`, all, valid},
		{"length counts code points", `{"Action":"SEND_MESSAGE","Content":"😀😀😀😀😀"}`, all, valid},
		{"a message past the room's length", `{"Action":"SEND_MESSAGE","Content":"héllo!"}`, all, KindValidation},
		{"no Content", `{"Action":"SEND_MESSAGE"}`, all, KindValidation},
		{"null Content", `{"Action":"SEND_MESSAGE","Content":null}`, all, KindValidation},
		{"empty Content", `{"Action":"SEND_MESSAGE","Content":""}`, all, KindValidation},
		{"attributes of 1024 bytes", `{"Action":"SEND_MESSAGE","Content":"x","Attributes":{"k":"` + str("v", 1023) + `"}}`, all, valid},
		{"attributes of 1025 bytes", `{"Action":"SEND_MESSAGE","Content":"x","Attributes":{"k":"` + str("v", 1024) + `"}}`, all, KindTooLarge},
		{"sending without the capability", `{"Action":"SEND_MESSAGE","Content":"x"}`, none, KindAccessDenied},
		{"deleting a message", `{"Action":"DELETE_MESSAGE","Id":"WhO6MW6iRdS5"}`, all, valid},
		{"deleting without the capability", `{"Action":"DELETE_MESSAGE","Id":"WhO6MW6iRdS5"}`, none, KindAccessDenied},
		{"deleting without Id", `{"Action":"DELETE_MESSAGE"}`, all, KindValidation},
		{"deleting a malformed Id", `{"Action":"DELETE_MESSAGE","Id":"WhO6MW6iRdS"}`, all, KindValidation},
		{"a Reason of 256 characters", `{"Action":"DELETE_MESSAGE","Id":"WhO6MW6iRdS5","Reason":"` + str("é", 256) + `"}`, all, valid},
		{"a Reason of 257 characters", `{"Action":"DELETE_MESSAGE","Id":"WhO6MW6iRdS5","Reason":"` + str("é", 257) + `"}`, all, KindTooLarge},
		{"disconnecting a user", `{"Action":"DISCONNECT_USER","UserId":"bob"}`, all, valid},
		{"disconnecting without the capability", `{"Action":"DISCONNECT_USER","UserId":"bob"}`, none, KindAccessDenied},
		{"disconnecting without UserId", `{"Action":"DISCONNECT_USER"}`, all, KindValidation},
		{"disconnecting a UserId of 128 characters", `{"Action":"DISCONNECT_USER","UserId":"` + str("ü", 128) + `"}`, all, valid},
		{"disconnecting a UserId of 129 characters", `{"Action":"DISCONNECT_USER","UserId":"` + str("ü", 129) + `"}`, all, KindTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, perr := ParseRequest([]byte(tt.frame))
			if perr != nil {
				t.Fatalf("ParseRequest: %v", perr)
			}
			kind := valid
			if err := r.Check(tt.token, rm); err != nil {
				kind = err.Kind
			}
			if kind != tt.kind {
				t.Fatalf("Check kind = %d, want %d", kind, tt.kind)
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
			if err.Kind != KindValidation && err.Kind != KindTooLarge {
				t.Fatalf("parse error kind %d", err.Kind)
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
