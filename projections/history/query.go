package history

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // tz names must resolve on hosts without a zoneinfo database
	"unicode"
	"unicode/utf8"

	"github.com/interaction-ledger/ledger/domain"
	"github.com/interaction-ledger/ledger/domain/contact"
)

// Limits of a list query (CONTRACT.md §4).
const (
	DefaultLimit = 50
	MaxLimit     = 500
	// maxValues bounds how many times one filter parameter may be repeated.
	maxValues = 100
)

// QueryError names the query parameter that is wrong: the caller answers 400.
type QueryError struct {
	Param   string
	Problem string
}

func (e *QueryError) Error() string { return e.Param + ": " + e.Problem }

func qerr(param, format string, args ...any) *QueryError {
	return &QueryError{Param: param, Problem: fmt.Sprintf(format, args...)}
}

// Sort columns: the contract's column names.
var sortColumns = []string{"interaction_id", "start_at", "end_at", "flow", "status", "reason", "direction",
	"original_routing", "current_routing", "agent_id", "queue_id", "contact", "voice_campaign", "template", "customer_id"}

// Query is one list request. Filters: a value list per column, OR within a column, AND
// across columns; an empty list does not filter. A zero From or To leaves that side open.
type Query struct {
	From, To        time.Time // [From, To)
	Flow            []domain.Flow
	Status          []domain.Status
	Direction       []domain.Direction
	OriginalRouting []domain.Routing
	CurrentRouting  []domain.Routing
	AgentID         []string
	QueueID         []string
	Contact         []string // phone or email, any common format (exact, or the number's last digits)
	VoiceCampaign   []string
	Template        []string
	ID              []string // interaction ids
	CustomerID      []string // surviving customer ids
	Q               string   // the search bar: a phone number (or its last 6+ digits) or an email
	Sort            string   // a column name; "" = start_at
	Desc            bool
	Limit           int    // 0 = DefaultLimit
	Cursor          string // the next_cursor of the previous page of the same query
}

// ParseQuery reads the parameters of GET /v1/interactions at now. Every problem is a
// *QueryError naming its parameter.
func ParseQuery(v url.Values, now time.Time) (Query, error) {
	q := Query{Desc: true, Limit: DefaultLimit, Sort: "start_at"}
	for name, vals := range v {
		switch name {
		case "from", "to", "tz", "q", "sort", "order", "limit", "cursor":
			if len(vals) > 1 {
				return Query{}, qerr(name, "given %d times; give it once", len(vals))
			}
		case "flow", "status", "direction", "original_routing", "current_routing", "agent_id", "queue_id",
			"contact", "voice_campaign", "template", "id", "customer_id":
			if len(vals) > maxValues {
				return Query{}, qerr(name, "given %d times, more than the %d allowed", len(vals), maxValues)
			}
		default:
			return Query{}, qerr(clipParam(name), "unknown parameter")
		}
	}
	loc := time.UTC
	if tz := v.Get("tz"); tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil || strings.ContainsAny(tz, "\\") || tz == "Local" {
			return Query{}, qerr("tz", "%q is not an IANA time zone name", clip(tz))
		}
		loc = l
	}
	today := startOfDay(now.In(loc))
	var err error
	var fromSet, toSet bool
	if s := v.Get("from"); s != "" {
		if q.From, err = parseInstant(s, loc, false); err != nil {
			return Query{}, qerr("from", "%v", err)
		}
		fromSet = true
	}
	if s := v.Get("to"); s != "" {
		if q.To, err = parseInstant(s, loc, true); err != nil {
			return Query{}, qerr("to", "%v", err)
		}
		toSet = true
	}
	switch {
	case !fromSet && !toSet:
		q.From, q.To = today, today.AddDate(0, 0, 1)
	case !fromSet:
		q.From = startOfDay(q.To.Add(-time.Nanosecond).In(loc))
	case !toSet:
		q.To = today.AddDate(0, 0, 1)
	}
	// Three rolling months, counted in whole days of tz: a date three months back is fine.
	if oldest := startOfDay(domain.RetentionStart(now).In(loc)); q.From.Before(oldest) {
		param := "from"
		if !fromSet {
			param = "to" // from was derived from to
		}
		return Query{}, qerr(param, "%s is more than %d months back (the oldest is %s)",
			q.From.Format(time.RFC3339), domain.RetentionMonths, oldest.Format(time.RFC3339))
	}
	if !q.To.After(q.From) {
		param := "to"
		if !toSet {
			param = "from" // to is the default: from is in the future
		}
		return Query{}, qerr(param, "%s is not after from (%s)", q.To.Format(time.RFC3339), q.From.Format(time.RFC3339))
	}
	q.From, q.To = q.From.UTC(), q.To.UTC()

	if q.Flow, err = enums(v, "flow", domain.ParseFlow); err != nil {
		return Query{}, err
	}
	if q.Status, err = enums(v, "status", domain.ParseStatus); err != nil {
		return Query{}, err
	}
	if q.Direction, err = enums(v, "direction", domain.ParseDirection); err != nil {
		return Query{}, err
	}
	if q.OriginalRouting, err = enums(v, "original_routing", domain.ParseRouting); err != nil {
		return Query{}, err
	}
	if q.CurrentRouting, err = enums(v, "current_routing", domain.ParseRouting); err != nil {
		return Query{}, err
	}
	for _, p := range []struct {
		name string
		dst  *[]string
		max  int
	}{
		{"agent_id", &q.AgentID, domain.MaxIDBytes}, {"queue_id", &q.QueueID, domain.MaxIDBytes},
		{"voice_campaign", &q.VoiceCampaign, domain.MaxTextBytes}, {"template", &q.Template, domain.MaxTextBytes},
		{"id", &q.ID, domain.MaxIDBytes}, {"customer_id", &q.CustomerID, domain.MaxIDBytes},
		{"contact", &q.Contact, 254},
	} {
		for _, s := range v[p.name] {
			if err := checkValue(s, p.max); err != nil {
				return Query{}, qerr(p.name, "%v", err)
			}
			if p.name == "contact" && !searchable(s) {
				return Query{}, qerr(p.name, "%q is neither a phone number (at least %d digits) nor an email address", clip(s), contact.MinDigitsSuffix)
			}
			*p.dst = append(*p.dst, s)
		}
	}
	if s := v.Get("q"); s != "" {
		if err := checkValue(s, 254); err != nil {
			return Query{}, qerr("q", "%v", err)
		}
		if !searchable(s) {
			return Query{}, qerr("q", "%q is neither a phone number (at least %d digits) nor an email address", clip(s), contact.MinDigitsSuffix)
		}
		q.Q = s
	}
	if s := v.Get("sort"); s != "" {
		if !slices.Contains(sortColumns, s) {
			return Query{}, qerr("sort", "%q is not a column (allowed: %s)", clip(s), strings.Join(sortColumns, ", "))
		}
		q.Sort = s
	}
	switch s := v.Get("order"); s {
	case "", "desc":
	case "asc":
		q.Desc = false
	default:
		return Query{}, qerr("order", "%q is neither asc nor desc", clip(s))
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		switch {
		case err != nil:
			return Query{}, qerr("limit", "%q is not a whole number", clip(s))
		case n < 1:
			return Query{}, qerr("limit", "must be at least 1")
		case n > MaxLimit:
			return Query{}, qerr("limit", "%d is more than the maximum %d", n, MaxLimit)
		}
		q.Limit = n
	}
	if s := v.Get("cursor"); s != "" {
		if _, err := decodeCursor(s); err != nil {
			return Query{}, err
		}
		q.Cursor = s
	}
	return q, nil
}

func startOfDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

// parseInstant reads RFC 3339, or a date in loc: its midnight, or (end) the next one, so
// that to=2026-11-21 includes that day.
func parseInstant(s string, loc *time.Location, end bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	t, err := time.ParseInLocation(time.DateOnly, s, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a date (YYYY-MM-DD)", clip(s))
	}
	if end {
		t = t.AddDate(0, 0, 1)
	}
	return t, nil
}

func enums[T any](v url.Values, name string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for _, s := range v[name] {
		if s == "" {
			return nil, qerr(name, "is empty")
		}
		x, err := parse(s)
		if err != nil {
			return nil, qerr(name, "%v", err)
		}
		out = append(out, x)
	}
	return out, nil
}

func checkValue(s string, max int) error {
	switch {
	case strings.TrimSpace(s) == "":
		return fmt.Errorf("is empty")
	case len(s) > max:
		return fmt.Errorf("is %d bytes, more than the %d allowed", len(s), max)
	case !utf8.ValidString(s):
		return fmt.Errorf("is not valid UTF-8")
	case strings.ContainsFunc(s, unicode.IsControl):
		return fmt.Errorf("contains a control character")
	}
	return nil
}

// searchable reports whether s can be searched as a contact: an email, or a number with
// enough digits to be a whole number or its last digits.
func searchable(s string) bool {
	if strings.Contains(s, "@") {
		_, ok := contact.Email(s)
		return ok
	}
	return len(contact.Digits(s)) >= contact.MinDigitsSuffix
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

func clipParam(s string) string {
	if len(s) > 40 || !utf8.ValidString(s) {
		return strconv.QuoteToASCII(clip(s))
	}
	return s
}

// limit returns the page size.
func (q *Query) limit() int {
	if q.Limit <= 0 {
		return DefaultLimit
	}
	return min(q.Limit, MaxLimit)
}

func (q *Query) sortColumn() string {
	if q.Sort == "" {
		return "start_at"
	}
	return q.Sort
}

// hash identifies the query without its page position, so that a cursor from another
// query is refused.
func (q *Query) hash() uint64 {
	h := fnv.New64a()
	w := func(parts ...string) {
		for _, p := range parts {
			h.Write([]byte(p))
			h.Write([]byte{0})
		}
		h.Write([]byte{1})
	}
	sortedStrs := func(name string, s []string) {
		c := slices.Clone(s)
		slices.Sort(c)
		w(append([]string{name}, c...)...)
	}
	w(strconv.FormatInt(q.From.UnixNano(), 10), strconv.FormatBool(q.From.IsZero()),
		strconv.FormatInt(q.To.UnixNano(), 10), strconv.FormatBool(q.To.IsZero()),
		q.sortColumn(), strconv.FormatBool(q.Desc), q.Q)
	for _, f := range q.Filters() {
		sortedStrs(f.Column, f.Values)
	}
	return h.Sum64()
}

// Filter is one of a query's column filters: the column (its CONTRACT §4 parameter) and
// the values asked for, any of which matches.
type Filter struct {
	Column string
	Values []string
}

// Filters returns the query's column filters in a fixed order, the empty ones included:
// the one list of them for whatever walks every filter (the cursor's hash, the bench's
// PostgreSQL peer).
func (q *Query) Filters() []Filter {
	return []Filter{
		{"flow", strs(q.Flow)}, {"status", strs(q.Status)}, {"direction", strs(q.Direction)},
		{"original_routing", strs(q.OriginalRouting)}, {"current_routing", strs(q.CurrentRouting)},
		{"agent_id", q.AgentID}, {"queue_id", q.QueueID}, {"contact", q.Contact},
		{"voice_campaign", q.VoiceCampaign}, {"template", q.Template}, {"id", q.ID},
		{"customer_id", q.CustomerID},
	}
}

func strs[T interface{ String() string }](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.String()
	}
	return out
}

// cursor is the position after the last item of a page: its sort value, start and id,
// with the hash of the query it belongs to.
type cursor struct {
	hash  uint64
	sval  string
	ival  int64
	start int64
	id    string
}

const maxCursorBytes = 1024

func (c cursor) encode() string {
	b := make([]byte, 0, 32+len(c.sval)+len(c.id))
	b = append(b, 1) // version
	b = binary.BigEndian.AppendUint64(b, c.hash)
	b = binary.AppendVarint(b, c.ival)
	b = binary.AppendVarint(b, c.start)
	b = appendStr(b, c.sval)
	b = append(b, c.id...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	bad := qerr("cursor", "is not a cursor this server issued")
	if len(s) > maxCursorBytes {
		return cursor{}, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 9 || b[0] != 1 {
		return cursor{}, bad
	}
	c := cursor{hash: binary.BigEndian.Uint64(b[1:9])}
	b = b[9:]
	var n int
	if c.ival, n = binary.Varint(b); n <= 0 {
		return cursor{}, bad
	}
	b = b[n:]
	if c.start, n = binary.Varint(b); n <= 0 {
		return cursor{}, bad
	}
	d := decoder{b: b[n:]}
	c.sval = d.str()
	if d.err != nil || len(d.b) == 0 {
		return cursor{}, bad
	}
	c.id = string(d.b)
	return c, nil
}
