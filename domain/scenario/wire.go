package scenario

import (
	"encoding/binary"
	"math/rand/v2"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// uuid7 returns a version-7 UUID whose timestamp is ms (Unix milliseconds) and whose
// random bits come from r, so that ids are deterministic and sort by time.
func uuid7(r *rand.Rand, ms int64) string {
	var u uuid.UUID
	a, b := r.Uint64(), r.Uint64()
	binary.BigEndian.PutUint64(u[0:8], uint64(ms)<<16|0x7000|a&0x0fff)
	binary.BigEndian.PutUint64(u[8:16], b&0x3fffffffffffffff|0x8000000000000000)
	return u.String()
}

// uuid4 returns a version-4 (random) UUID whose bits come from r.
func uuid4(r *rand.Rand) string {
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[0:8], r.Uint64()&^0xf000|0x4000)
	binary.BigEndian.PutUint64(u[8:16], r.Uint64()&0x3fffffffffffffff|0x8000000000000000)
	return u.String()
}

// obj writes one compact JSON object into a reused buffer: the data of an event.
type obj struct{ b []byte }

func (o *obj) reset() { o.b = append(o.b[:0], '{') }

// key writes `,"k":` (no comma after an opening brace or bracket).
func (o *obj) key(k string) {
	if n := len(o.b); n > 0 && o.b[n-1] != '{' && o.b[n-1] != '[' {
		o.b = append(o.b, ',')
	}
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
}

func (o *obj) str(k, v string) {
	o.key(k)
	o.b = appendString(o.b, v)
}

// id writes a value the scenario made of letters, digits and -.:+@ (ids, enum values,
// codes), which JSON takes as it is.
func (o *obj) id(k, v string) {
	o.key(k)
	o.b = append(o.b, '"')
	o.b = append(o.b, v...)
	o.b = append(o.b, '"')
}

// opt writes k only when v is not empty.
func (o *obj) opt(k, v string) {
	if v != "" {
		o.str(k, v)
	}
}

func (o *obj) int(k string, v int64) {
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
}

func (o *obj) strs(k string, vs []string) {
	o.key(k)
	o.b = append(o.b, '[')
	for i, v := range vs {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		o.b = appendString(o.b, v)
	}
	o.b = append(o.b, ']')
}

// open starts a nested object or array under k and returns where its value starts.
func (o *obj) open(k string, brace byte) int {
	o.key(k)
	start := len(o.b)
	o.b = append(o.b, brace)
	return start
}

func (o *obj) close(brace byte) { o.b = append(o.b, brace) }

// done closes the object and returns a copy that the event keeps.
func (o *obj) done() []byte {
	o.b = append(o.b, '}')
	out := make([]byte, len(o.b))
	copy(out, o.b)
	return out
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string the way encoding/json does (HTML-safe), so that
// domain.Event.Encode leaves the data as it is.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			if r == utf8.RuneError {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendTime writes Unix ms as RFC 3339 in UTC, as domain.Event.Encode writes times.
func appendTime(b []byte, ms int64) []byte {
	return time.UnixMilli(ms).UTC().AppendFormat(b, time.RFC3339Nano)
}

// Small events keep their payload and their data in one allocation: half the garbage.
type (
	box96[T any] struct {
		p    T
		data [96]byte
	}
	box192[T any] struct {
		p    T
		data [192]byte
	}
)

// finish closes the object and returns a payload holding v and the data, allocated
// together when the data is small.
func finish[T any](o *obj, v T) (*T, []byte) {
	o.b = append(o.b, '}')
	n := len(o.b)
	switch {
	case n <= 96:
		b := &box96[T]{p: v}
		copy(b.data[:], o.b)
		return &b.p, b.data[:n:n]
	case n <= 192:
		b := &box192[T]{p: v}
		copy(b.data[:], o.b)
		return &b.p, b.data[:n:n]
	}
	p := new(T)
	*p = v
	data := make([]byte, n)
	copy(data, o.b)
	return p, data
}
