package chat

import (
	"reflect"
	"testing"
)

func TestJudgeReview(t *testing.T) {
	room := func(fallback string) *Room {
		return &Room{MaximumMessageLength: 5, MessageReviewHandler: &MessageReviewHandler{URI: "arn:aws:lambda:us-east-1:123456789012:function:f", FallbackResult: fallback}}
	}
	orig := map[string]string{"o": "1"}
	for _, tc := range []struct {
		name     string
		fallback string
		answer   string
		want     ReviewVerdict
	}{
		{"ALLOW delivers the returned content and attributes", FallbackDeny,
			`{"ReviewResult":"ALLOW","Content":"hi","Attributes":{"n":"2"}}`, ReviewVerdict{Allowed: true, Content: "hi", Attributes: map[string]string{"n": "2"}}},
		{"ALLOW without attributes keeps the message's", FallbackDeny,
			`{"ReviewResult":"ALLOW","Content":"hi"}`, ReviewVerdict{Allowed: true, Content: "hi", Attributes: orig}},
		{"DENY carries the handler's reason", FallbackAllow,
			`{"ReviewResult":"DENY","Content":"x","Attributes":{"Reason":"spam"}}`, ReviewVerdict{Reason: "spam"}},
		{"ALLOW without content breaks the contract", FallbackDeny,
			`{"ReviewResult":"ALLOW"}`, ReviewVerdict{Fallback: true, Content: "orig", Attributes: orig}},
		{"ALLOW with empty content breaks the contract", FallbackAllow,
			`{"ReviewResult":"ALLOW","Content":""}`, ReviewVerdict{Allowed: true, Fallback: true, Content: "orig", Attributes: orig}},
		{"content over the room's length breaks the contract", FallbackAllow,
			`{"ReviewResult":"ALLOW","Content":"toolong"}`, ReviewVerdict{Allowed: true, Fallback: true, Content: "orig", Attributes: orig}},
		{"an unknown ReviewResult breaks the contract", FallbackDeny,
			`{"ReviewResult":"allow","Content":"hi"}`, ReviewVerdict{Fallback: true, Content: "orig", Attributes: orig}},
		{"non-string attribute values break the contract", FallbackAllow,
			`{"ReviewResult":"ALLOW","Content":"hi","Attributes":{"n":2}}`, ReviewVerdict{Allowed: true, Fallback: true, Content: "orig", Attributes: orig}},
		{"an answer that is not JSON breaks the contract", FallbackAllow,
			`ALLOW`, ReviewVerdict{Allowed: true, Fallback: true, Content: "orig", Attributes: orig}},
		{"an empty answer breaks the contract", FallbackDeny,
			``, ReviewVerdict{Fallback: true, Content: "orig", Attributes: orig}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := JudgeReview(room(tc.fallback), "orig", orig, []byte(tc.answer))
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func FuzzJudgeReview(f *testing.F) {
	f.Add([]byte(`{"ReviewResult":"ALLOW","Content":"hi","Attributes":{"n":"2"}}`))
	f.Add([]byte(`{"ReviewResult":"DENY","Attributes":{"Reason":"x"}}`))
	f.Add([]byte(`garbage`))
	r := &Room{MaximumMessageLength: 10, MessageReviewHandler: &MessageReviewHandler{FallbackResult: FallbackDeny}}
	f.Fuzz(func(t *testing.T, answer []byte) {
		v := JudgeReview(r, "orig", nil, answer)
		if v.Allowed && (len([]rune(v.Content)) == 0 || len([]rune(v.Content)) > 10) {
			t.Fatalf("allowed content %q breaks the room's length", v.Content)
		}
	})
}
