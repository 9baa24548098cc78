package chat

// LoneSurrogate returns the byte offset of the first \u escape in a JSON text that encodes
// half of a UTF-16 surrogate pair without the other half, or -1 if there is none.
// encoding/json decodes such an escape to U+FFFD, so without this check a character the
// client never sent would be stored. The scan follows JSON's string syntax only as far as it
// must to tell escapes from text; the decoder that runs afterwards checks the rest.
func LoneSurrogate(text []byte) int {
	inString := false
	for i := 0; i < len(text); i++ {
		c := text[i]
		if !inString {
			inString = c == '"'
			continue
		}
		switch c {
		case '"':
			inString = false
		case '\\':
			r, ok := unicodeEscape(text, i)
			if !ok {
				i++ // a two-character escape (or a broken one, which the decoder refuses)
				continue
			}
			switch {
			case r >= 0xD800 && r < 0xDC00:
				if lo, ok := unicodeEscape(text, i+6); ok && lo >= 0xDC00 && lo < 0xE000 {
					i += 11
					continue
				}
				return i
			case r >= 0xDC00 && r < 0xE000:
				return i
			}
			i += 5
		}
	}
	return -1
}

// unicodeEscape decodes the escape \uXXXX at text[i:], if there is one.
func unicodeEscape(text []byte, i int) (rune, bool) {
	if i+6 > len(text) || text[i] != '\\' || text[i+1] != 'u' {
		return 0, false
	}
	var r rune
	for _, c := range text[i+2 : i+6] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
