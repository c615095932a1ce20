package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/interaction-ledger/ledger/domain"
)

// Limits of one request body, enforced while it is read.
const (
	// MaxEventsPerBody bounds how many envelopes one body may carry.
	MaxEventsPerBody = 10000
	// MaxElementBytes bounds one envelope as read from a body (an array element, an NDJSON
	// line, the single object). It is twice domain.MaxEnvelopeBytes so that an envelope
	// somewhat over the limit is rejected on its own, naming it, while the batch goes on;
	// beyond this the body is not read further.
	MaxElementBytes = 2 * domain.MaxEnvelopeBytes
)

// ErrTooLarge is matched by a *BodyError when the body went over a limit: too many
// envelopes, or one envelope over MaxElementBytes. (The total size is the caller's limit:
// its reader's error is wrapped as it comes, e.g. an *http.MaxBytesError.)
var ErrTooLarge = errors.New("over a limit")

// BodyError ends the reading of a body: the envelopes before Index were read, the rest
// were not.
type BodyError struct {
	Index int // the first envelope not read
	Err   error
}

func (e *BodyError) Error() string { return "body: " + e.Err.Error() }

// Unwrap returns the cause: ErrTooLarge, the reader's error, or a JSON syntax error.
func (e *BodyError) Unwrap() error { return e.Err }

// Body reads the envelopes of a request body one at a time, as NDJSON, a JSON array or
// one object, so that the memory of a request is that of one envelope (and one append
// chunk) rather than a multiple of the body: a 16 MiB array of tiny elements decoded at
// once into []json.RawMessage held 273 MiB.
type Body struct {
	single bool
	n      int // envelopes returned
	next   func() ([]byte, error)
}

var _ Source = (*Body)(nil)

// NewBody reads r as NDJSON (one envelope per line; empty lines skipped) when ndjson is
// set, else as a JSON array of envelopes or one envelope, told apart by the first byte.
func NewBody(r io.Reader, ndjson bool) *Body {
	br := bufio.NewReaderSize(r, 32<<10)
	b := &Body{}
	first, err := firstByte(br)
	switch {
	case err == io.EOF:
		b.next = fail(errors.New("empty; send an envelope, a JSON array or NDJSON"))
	case err != nil:
		b.next = fail(err)
	case ndjson:
		b.next = b.lines(br)
	case first == '[':
		b.next = b.array(br)
	case first == '{':
		b.single = true
		b.next = b.object(br)
	default:
		b.next = fail(errors.New("must be a JSON object, a JSON array or NDJSON (Content-Type: application/x-ndjson)"))
	}
	return b
}

// Single reports whether the body is one envelope rather than a batch.
func (b *Body) Single() bool { return b.single }

// Next returns the next envelope's bytes, io.EOF after the last, or a *BodyError that ends
// the reading. The bytes are the caller's to keep.
func (b *Body) Next() ([]byte, error) {
	raw, err := b.next()
	if err == nil {
		b.n++
		return raw, nil
	}
	if err != io.EOF {
		var be *BodyError
		if !errors.As(err, &be) {
			err = &BodyError{Index: b.n, Err: err}
		}
		b.next = fail(err) // whatever comes after an error is not read
	}
	return nil, err
}

func fail(err error) func() ([]byte, error) { return func() ([]byte, error) { return nil, err } }

// firstByte skips leading white space and peeks at the first byte after it.
func firstByte(br *bufio.Reader) (byte, error) {
	for {
		c, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return c, br.UnreadByte()
		}
	}
}

// tooMany is the error of the envelope after the last allowed.
func tooMany() error {
	return fmt.Errorf("more than %d envelopes; at most %d per request: %w", MaxEventsPerBody, MaxEventsPerBody, ErrTooLarge)
}

func (b *Body) object(br *bufio.Reader) func() ([]byte, error) {
	done := false
	return func() ([]byte, error) {
		if done {
			return nil, io.EOF
		}
		done = true
		raw, err := io.ReadAll(io.LimitReader(br, MaxElementBytes+1))
		if err != nil {
			return nil, err
		}
		if len(raw) > MaxElementBytes {
			return nil, fmt.Errorf("the envelope is larger than %d bytes: %w", MaxElementBytes, ErrTooLarge)
		}
		// Trailing bytes and malformed JSON are the envelope's problem, reported by
		// domain naming the envelope, as for any other.
		return bytes.TrimSpace(raw), nil
	}
}

func (b *Body) lines(br *bufio.Reader) func() ([]byte, error) {
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 0, 64<<10), MaxElementBytes+1)
	line := 0
	return func() ([]byte, error) {
		for sc.Scan() {
			line++
			if raw := bytes.TrimSpace(sc.Bytes()); len(raw) > 0 {
				if b.n == MaxEventsPerBody {
					return nil, tooMany()
				}
				return bytes.Clone(raw), nil
			}
		}
		switch err := sc.Err(); {
		case err == nil:
			return nil, io.EOF
		case errors.Is(err, bufio.ErrTooLong):
			return nil, fmt.Errorf("line %d is longer than %d bytes: %w", line+1, MaxElementBytes, ErrTooLarge)
		default:
			return nil, fmt.Errorf("line %d: %w", line+1, err)
		}
	}
}

func (b *Body) array(br *bufio.Reader) func() ([]byte, error) {
	cr := &capReader{r: br, max: MaxElementBytes}
	dec := json.NewDecoder(cr)
	cr.dec = dec
	if _, err := dec.Token(); err != nil { // the '[' seen by NewBody
		return fail(err)
	}
	return func() ([]byte, error) {
		if !dec.More() {
			tok, err := dec.Token()
			if err != nil || tok != json.Delim(']') {
				return nil, malformed(err, "the array is not closed")
			}
			if _, err := dec.Token(); err != io.EOF {
				return nil, malformed(err, "data after the array")
			}
			return nil, io.EOF
		}
		if b.n == MaxEventsPerBody {
			return nil, tooMany()
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, ErrTooLarge) {
				return nil, fmt.Errorf("envelope %d is larger than %d bytes: %w", b.n, MaxElementBytes, err)
			}
			return nil, malformed(err, "")
		}
		return raw, nil
	}
}

// malformed describes a JSON problem of the body; the reader's own errors (the total
// size limit) pass through.
func malformed(err error, what string) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("malformed JSON array at byte %d: %w", se.Offset, err)
	case err == nil || err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		if what == "" {
			what = "the array ends in the middle of an envelope"
		}
		return fmt.Errorf("malformed JSON array: %s", what)
	}
	return err
}

// capReader feeds a json.Decoder at most max bytes beyond what it consumed, and fails
// when it asks for more: the value being decoded is then larger than max (the decoder
// buffers a whole value before returning it, bounded by nothing else).
type capReader struct {
	r    io.Reader
	dec  *json.Decoder
	read int64
	max  int64
}

func (c *capReader) Read(p []byte) (int, error) {
	room := c.max - (c.read - c.dec.InputOffset())
	if room <= 0 {
		return 0, ErrTooLarge
	}
	if int64(len(p)) > room {
		p = p[:room]
	}
	n, err := c.r.Read(p)
	c.read += int64(n)
	return n, err
}
