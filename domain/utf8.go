package domain

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// checkUTF8 rejects an envelope holding invalid UTF-8, naming the field. It must look at
// the raw bytes: encoding/json replaces invalid bytes with U+FFFD when it decodes a
// string, so the decoded fields look clean, while Data keeps the producer's bytes and
// would be stored and served back as they came. Valid input (all but hostile input)
// costs one utf8.Valid; only invalid input pays for the walk that finds the field.
func checkUTF8(raw []byte) error {
	if utf8.Valid(raw) {
		return nil
	}
	return invalidUTF8Field(raw)
}

// utf8Frame is one open object or array on the way down to a token.
type utf8Frame struct {
	object  bool
	key     string // object: the current member's name
	wantKey bool   // object: the next string token is a member name
	index   int    // array: the current element's index
}

// invalidUTF8Field walks raw token by token and returns a *ValidationError naming the
// first string (member name or value) holding invalid UTF-8, such as
// "data.participants[1].name: invalid UTF-8". A JSON syntax error ends the walk with
// nil: malformed JSON is reported by the decoder with its own message.
func invalidUTF8Field(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	var stack []utf8Frame
	path := func() string {
		var b strings.Builder
		for _, f := range stack {
			if f.object {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			} else {
				b.WriteString("[" + strconv.Itoa(f.index) + "]")
			}
		}
		return prefixOr(b.String(), "envelope")
	}
	// valueDone moves the enclosing container past the value just read.
	valueDone := func() {
		if n := len(stack); n > 0 {
			if top := &stack[n-1]; top.object {
				top.wantKey = true
			} else {
				top.index++
			}
		}
	}
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		// The bytes of this token (with the separators before it): invalid UTF-8 outside
		// a string is a syntax error, so any found here belongs to this token.
		valid := utf8.Valid(raw[start:dec.InputOffset()])
		switch tok := tok.(type) {
		case json.Delim:
			switch tok {
			case '{':
				stack = append(stack, utf8Frame{object: true, wantKey: true})
			case '[':
				stack = append(stack, utf8Frame{})
			default:
				stack = stack[:len(stack)-1]
				valueDone()
			}
			continue
		case string:
			if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].wantKey {
				if !valid {
					stack = stack[:n-1] // name the object that holds the member
					return invalid(path(), "a member name is invalid UTF-8")
				}
				stack[n-1].key, stack[n-1].wantKey = tok, false
				continue
			}
			if !valid {
				return invalid(path(), "invalid UTF-8")
			}
		}
		valueDone()
	}
}
