package chat

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLoneSurrogate(t *testing.T) {
	for _, tc := range []struct {
		rule string
		text string
		at   int
	}{
		{"a text without escapes has none", `{"name":"room"}`, -1},
		{"a surrogate pair is one character, not a lone half", `{"name":"\ud83d\ude00"}`, -1},
		{"a pair in upper-case hex is one character", `{"name":"\uD83D\uDE00"}`, -1},
		{"an escape outside the surrogates is fine", `{"name":"\u00e9\uFFFD"}`, -1},
		{"a lone high surrogate is found", `{"name":"\ud800"}`, 9},
		{"a lone low surrogate is found", `{"name":"x\udc00"}`, 10},
		{"a high surrogate followed by text is lone", `{"name":"\ud800abcdef"}`, 9},
		{"a high surrogate followed by another high one is lone", `{"name":"\ud800\ud800"}`, 9},
		{"a low surrogate after a complete pair is lone", `{"name":"\ud83d\ude00\ude00"}`, 21},
		{"a lone surrogate in a key is found", `{"\udfff":"v"}`, 2},
		{"an escaped backslash followed by u is not an escape", `{"name":"\\ud800"}`, -1},
		{"an escaped quote does not end the string", `{"name":"\"\ud800"}`, 11},
		{"a truncated text has none to report", `{"name":"\ud8`, -1},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			if got := LoneSurrogate([]byte(tc.text)); got != tc.at {
				t.Fatalf("LoneSurrogate(%s) = %d, want %d", tc.text, got, tc.at)
			}
		})
	}
}

// FuzzLoneSurrogate checks the scan against encoding/json itself: in a valid JSON text, the
// decoder produces more U+FFFD than the text spells (as the character or as \uFFFD) exactly
// when the scan finds a lone surrogate.
func FuzzLoneSurrogate(f *testing.F) {
	for _, s := range []string{`{"a":"\ud800"}`, `{"a":"\ud83d\ude00"}`, `["\\ud800","\"\udc00"]`, `{"\ufffd":"\uFFFD�"}`, `"\ud800\ud800\udc00"`, `{"a":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		at := LoneSurrogate(text)
		if at >= 0 && (at+6 > len(text) || text[at] != '\\' || text[at+1] != 'u') {
			t.Fatalf("LoneSurrogate(%q) = %d, which is not an escape", text, at)
		}
		if !utf8.Valid(text) || !json.Valid(text) {
			return
		}
		produced := 0
		dec := json.NewDecoder(bytes.NewReader(text))
		for {
			tok, err := dec.Token()
			if err != nil {
				break
			}
			if s, ok := tok.(string); ok {
				produced += strings.Count(s, "\uFFFD")
			}
		}
		if lone, extra := at >= 0, produced > spelledReplacements(text); lone != extra {
			t.Fatalf("LoneSurrogate(%q) = %d, but encoding/json produced %d U+FFFD for %d spelled", text, at, produced, spelledReplacements(text))
		}
	})
}

// spelledReplacements counts the U+FFFD a valid JSON text spells: the character itself, and
// \uFFFD escapes, which are escapes only after an even run of backslashes.
func spelledReplacements(text []byte) int {
	n := bytes.Count(text, []byte("\uFFFD"))
	for i := 0; i+6 <= len(text); i++ {
		if text[i] != '\\' || !strings.EqualFold(string(text[i+1:i+6]), "ufffd") {
			continue
		}
		run := 0
		for j := i - 1; j >= 0 && text[j] == '\\'; j-- {
			run++
		}
		if run%2 == 0 {
			n++
		}
	}
	return n
}
