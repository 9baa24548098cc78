package chat

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func testKeyring(t testing.TB, keys ...SealingKey) *Keyring {
	t.Helper()
	kr, err := NewKeyring(keys)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func testGrant() *Token {
	return &Token{ID: NewID() + NewID(), RoomARN: testRoomARN, UserID: "alice 😀",
		Capabilities: []string{CapabilitySendMessage}, Attributes: map[string]string{"displayName": "Alice"},
		TokenExpirationTime: t0.Add(time.Hour).Truncate(time.Millisecond), SessionExpirationTime: t0.Add(3 * time.Hour).Truncate(time.Millisecond)}
}

// isSubprotocolToken reports whether s is an RFC 7230 token, as browsers require of a
// WebSocket subprotocol, and uses only base64url characters without padding.
func isSubprotocolToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isAlnum(c) || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func TestKeyring(t *testing.T) {
	key := NewSealingKey(t0)
	kr := testKeyring(t, key)

	t.Run("a sealed token opens to the same grant", func(t *testing.T) {
		g := testGrant()
		got, err := kr.OpenToken(kr.SealToken(g))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, g) {
			t.Fatalf("opened %+v, want %+v", got, g)
		}
	})
	t.Run("tokens are base64url without padding, valid WebSocket subprotocols", func(t *testing.T) {
		for i := 0; i < 200; i++ {
			g := testGrant()
			g.Attributes = map[string]string{"k": strings.Repeat("é", i)}
			s := kr.SealToken(g)
			if !isSubprotocolToken(s) {
				t.Fatalf("token %q has characters outside [A-Za-z0-9_-]", s)
			}
		}
	})
	t.Run("sealing twice gives different tokens", func(t *testing.T) {
		g := testGrant()
		if kr.SealToken(g) == kr.SealToken(g) {
			t.Fatal("two seals of one grant are equal: the nonce is not fresh")
		}
	})
	t.Run("changing any byte fails", func(t *testing.T) {
		s := kr.SealToken(testGrant())
		raw, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		for i := range raw {
			for _, flip := range []byte{0x01, 0x80, 0xff} {
				b := append([]byte(nil), raw...)
				b[i] ^= flip
				if _, err := kr.OpenToken(base64.RawURLEncoding.EncodeToString(b)); !errors.Is(err, ErrUnsealable) {
					t.Fatalf("byte %d ^ %#x: err = %v, want ErrUnsealable", i, flip, err)
				}
			}
		}
	})
	t.Run("changing, adding or removing any character fails", func(t *testing.T) {
		s := kr.SealToken(testGrant())
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		for i := 0; i < len(s); i++ {
			for _, c := range []byte(alphabet) {
				if c == s[i] {
					continue
				}
				if _, err := kr.OpenToken(s[:i] + string(c) + s[i+1:]); err == nil {
					t.Fatalf("token with character %d changed to %q opens", i, c)
				}
			}
			if _, err := kr.OpenToken(s[:i] + s[i+1:]); err == nil {
				t.Fatalf("token without character %d opens", i)
			}
		}
		for _, extra := range []string{"A", "=", "==", "\n", "\r\n", " "} {
			if _, err := kr.OpenToken(s + extra); err == nil {
				t.Fatalf("token followed by %q opens", extra)
			}
			if _, err := kr.OpenToken(s[:10] + extra + s[10:]); err == nil {
				t.Fatalf("token with %q inside opens", extra)
			}
		}
	})
	t.Run("truncated and malformed tokens fail", func(t *testing.T) {
		s := kr.SealToken(testGrant())
		for _, bad := range []string{"", "A", "AQ", s[:7], s[:20], s[:len(s)-1], "!!!!", strings.Repeat("A", 100),
			base64.StdEncoding.EncodeToString([]byte("not a token at all, with padding"))} {
			if _, err := kr.OpenToken(bad); !errors.Is(err, ErrUnsealable) {
				t.Fatalf("OpenToken(%q) err = %v, want ErrUnsealable", bad, err)
			}
		}
	})
	t.Run("a cursor cannot be opened as a token", func(t *testing.T) {
		c := Cursor{Account: "123456789012", Operation: "ListRooms", After: OrderKey{Time: t0, ID: "AbCdEfGh1234"}}
		sealed := kr.Seal(PurposePageCursor, c.Encode())
		if _, err := kr.OpenToken(sealed); !errors.Is(err, ErrUnsealable) {
			t.Fatalf("cursor opened as token: err = %v", err)
		}
		if _, err := kr.Open(PurposeChatToken, sealed); !errors.Is(err, ErrUnsealable) {
			t.Fatalf("cursor opened with token purpose: err = %v", err)
		}
		plain, err := kr.Open(PurposePageCursor, sealed)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeCursor(plain)
		if err != nil || got.Account != c.Account || got.Operation != c.Operation || got.After.ID != c.After.ID || !got.After.Time.Equal(t0) {
			t.Fatalf("cursor = %+v, %v", got, err)
		}
	})
	t.Run("a token cannot be opened as a cursor", func(t *testing.T) {
		if _, err := kr.Open(PurposePageCursor, kr.SealToken(testGrant())); !errors.Is(err, ErrUnsealable) {
			t.Fatalf("token opened as cursor: err = %v", err)
		}
	})
	t.Run("a sealed value that is not a grant fails as a token", func(t *testing.T) {
		for _, plain := range []string{"", "null", "{}", `{"j":"x"}`, `{"r":"x"}`, "[]", "not json"} {
			if _, err := kr.OpenToken(kr.Seal(PurposeChatToken, []byte(plain))); !errors.Is(err, ErrUnsealable) {
				t.Fatalf("sealed %q opened as a token: err = %v", plain, err)
			}
		}
	})
	t.Run("a rotated keyring seals with the newest key and opens old tokens", func(t *testing.T) {
		old := NewSealingKey(t0)
		newer := NewSealingKey(t0.Add(time.Hour))
		before := testKeyring(t, old)
		oldToken := before.SealToken(testGrant())

		// Order of the keys does not matter: the newest by creation time seals.
		for _, keys := range [][]SealingKey{{old, newer}, {newer, old}} {
			after := testKeyring(t, keys...)
			if _, err := after.OpenToken(oldToken); err != nil {
				t.Fatalf("rotated keyring does not open an old token: %v", err)
			}
			s := after.SealToken(testGrant())
			raw, _ := base64.RawURLEncoding.DecodeString(s)
			if id := binary.BigEndian.Uint32(raw[1:5]); id != newer.ID {
				t.Fatalf("sealed with key %08x, want the newest %08x", id, newer.ID)
			}
			if _, err := before.OpenToken(s); !errors.Is(err, ErrUnsealable) {
				t.Fatalf("the old keyring opens a token of a key it never had: %v", err)
			}
		}
	})
	t.Run("keys created at the same time choose the same sealer in any order", func(t *testing.T) {
		a, b := NewSealingKey(t0), NewSealingKey(t0)
		x, y := testKeyring(t, a, b), testKeyring(t, b, a)
		if x.newest != y.newest {
			t.Fatalf("keyrings of the same keys seal with %08x and %08x", x.newest, y.newest)
		}
	})
	t.Run("a token of an unknown key fails", func(t *testing.T) {
		other := testKeyring(t, NewSealingKey(t0))
		if _, err := kr.OpenToken(other.SealToken(testGrant())); !errors.Is(err, ErrUnsealable) {
			t.Fatalf("err = %v, want ErrUnsealable", err)
		}
	})
	t.Run("a token sealed with a key of the same id but another secret fails", func(t *testing.T) {
		forged := NewSealingKey(t0)
		forged.ID = key.ID
		if _, err := kr.OpenToken(testKeyring(t, forged).SealToken(testGrant())); !errors.Is(err, ErrUnsealable) {
			t.Fatalf("err = %v, want ErrUnsealable", err)
		}
	})
	t.Run("an empty keyring is refused", func(t *testing.T) {
		if _, err := NewKeyring(nil); err == nil {
			t.Fatal("NewKeyring(nil) succeeded")
		}
	})
	t.Run("a key of a bad size is refused", func(t *testing.T) {
		if _, err := NewKeyring([]SealingKey{{ID: 1, Secret: []byte("short")}}); err == nil {
			t.Fatal("NewKeyring accepted a 5-byte secret")
		}
	})
}

// fuzzKeyring and fuzzValid are shared by the token fuzz targets: the valid seeds are the
// only inputs allowed to open.
var (
	fuzzKeyring = func() *Keyring {
		kr, err := NewKeyring([]SealingKey{NewSealingKey(t0), NewSealingKey(t0.Add(time.Hour))})
		if err != nil {
			panic(err)
		}
		return kr
	}()
	fuzzToken  = fuzzKeyring.SealToken(testGrant())
	fuzzCursor = fuzzKeyring.Seal(PurposePageCursor, (&Cursor{Account: "1", Operation: "ListRooms"}).Encode())
)

func FuzzOpenToken(f *testing.F) {
	for _, s := range []string{fuzzToken, fuzzCursor, "", "AQ", fuzzToken[:30], fuzzToken + "A", strings.Repeat("_", 64)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, err := fuzzKeyring.OpenToken(s)
		if s == fuzzToken {
			if err != nil {
				t.Fatalf("the valid token does not open: %v", err)
			}
			return
		}
		if err == nil {
			t.Fatalf("OpenToken(%q) opened %+v: only the sealed token may open", s, g)
		}
		if !errors.Is(err, ErrUnsealable) || g != nil {
			t.Fatalf("OpenToken(%q) = %v, %v; want nil, ErrUnsealable", s, g, err)
		}
	})
}

func FuzzOpen(f *testing.F) {
	for _, s := range []string{fuzzToken, fuzzCursor, "", "AQAAAAA", fuzzCursor[:len(fuzzCursor)-2]} {
		f.Add(byte('t'), s)
		f.Add(byte('p'), s)
	}
	f.Fuzz(func(t *testing.T, purpose byte, s string) {
		plain, err := fuzzKeyring.Open(purpose, s)
		if (s == fuzzToken && purpose == PurposeChatToken) || (s == fuzzCursor && purpose == PurposePageCursor) {
			if err != nil {
				t.Fatalf("a valid sealed value does not open: %v", err)
			}
			return
		}
		if err == nil {
			t.Fatalf("Open(%q, %q) opened %q: only the sealed values may open, each with its own purpose", purpose, s, plain)
		}
	})
}
