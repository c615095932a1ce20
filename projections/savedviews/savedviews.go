// Package savedviews keeps the agents' saved views of the History of interactions: a
// name and the list's query string (its filters, range and sort), per agent, in a bbolt
// file of its own (data/views/savedviews.db).
//
// A saved view is the agent's preference, not a fact about a customer's interaction: it
// is not an event, so it is not kept on the stream (whose customer events expire after
// three months, and whose replay rebuilds the views). Its file is therefore not a view:
// no projector writes it, a rebuild or `ledger replay` never touches it, and nothing
// expires from it. Opening a saved view only fills the list's URL: the list evaluates it
// under the reader's own visibility, so a view saved by a manager and its query reused by
// anyone else shows that reader's rows only.
//
// # Caveats
//
// The file is local to a node: on a cluster of ledger nodes each keeps its own saved
// views, so an agent sees the views saved through the node that answers them. A
// deployment that balances agents across nodes keeps an agent on one node (sticky
// sessions) or shares the views by moving them onto the stream's directory, which has no
// expiry.
package savedviews

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// Limits of the saved views.
const (
	// MaxPerAgent is how many views an agent may keep.
	MaxPerAgent = 50
	// MaxNameRunes bounds a view's name, in characters.
	MaxNameRunes = 60
	// MaxQueryBytes bounds a view's query string (a URL's query must stay short enough
	// for every browser and proxy).
	MaxQueryBytes = 2048
)

// Errors of the store.
var (
	// ErrFull: the agent already keeps MaxPerAgent views; saving a new name is refused
	// (replacing an existing one is not).
	ErrFull = fmt.Errorf("at most %d saved views per agent; delete one first", MaxPerAgent)
	// ErrNotFound: the agent has no view of that name.
	ErrNotFound = errors.New("no saved view of that name")
)

// InputError names what is wrong in a view to save: "name" or "query".
type InputError struct {
	Field   string
	Problem string
}

func (e *InputError) Error() string { return e.Field + ": " + e.Problem }

// View is one saved view.
type View struct {
	Name    string    `json:"name"`
	Query   string    `json:"query"` // the list's URL query, without its page position
	SavedAt time.Time `json:"saved_at"`
}

var bViews = []byte("views")

// Store is the saved views' file.
type Store struct {
	db *bolt.DB
}

// Open opens (creating) the saved views' file at path.
func Open(path string) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("saved views: open %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bViews)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("saved views: init %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the file.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("saved views: close: %w", err)
	}
	return nil
}

// Keys are agent | 0x00 | name: an agent's views sort together, by name. Agent ids and
// names never hold 0x00 (CheckName refuses control characters; agent ids come from the
// directory, whose ids are printable).
func key(agent, name string) []byte { return []byte(agent + "\x00" + name) }
func prefix(agent string) []byte    { return []byte(agent + "\x00") }

// CheckName returns the name trimmed, or an *InputError saying why it cannot name a view.
func CheckName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", &InputError{Field: "name", Problem: "is required"}
	case !utf8.ValidString(name):
		return "", &InputError{Field: "name", Problem: "is not valid UTF-8"}
	case utf8.RuneCountInString(name) > MaxNameRunes:
		return "", &InputError{Field: "name", Problem: fmt.Sprintf("is longer than %d characters", MaxNameRunes)}
	case strings.IndexFunc(name, func(r rune) bool { return unicode.IsControl(r) || r == unicode.ReplacementChar }) >= 0:
		return "", &InputError{Field: "name", Problem: "holds a control character"}
	}
	return name, nil
}

// checkQuery returns the query without its page position ("cursor": a saved view starts
// at the top), or an *InputError.
func checkQuery(q string) (string, error) {
	q = strings.TrimPrefix(q, "?")
	if len(q) > MaxQueryBytes {
		return "", &InputError{Field: "query", Problem: fmt.Sprintf("is longer than %d bytes", MaxQueryBytes)}
	}
	vals, err := url.ParseQuery(q)
	if err != nil {
		return "", &InputError{Field: "query", Problem: "is not a URL query: " + err.Error()}
	}
	vals.Del("cursor")
	return vals.Encode(), nil
}

// Save keeps the query under name for agent, replacing the agent's view of that name:
// an *InputError for a bad name or query, ErrFull for a new name beyond MaxPerAgent.
func (s *Store) Save(agent, name, query string, now time.Time) (View, error) {
	name, err := CheckName(name)
	if err != nil {
		return View{}, err
	}
	if agent == "" || strings.ContainsRune(agent, 0) {
		return View{}, &InputError{Field: "agent", Problem: "is not an agent id"}
	}
	if query, err = checkQuery(query); err != nil {
		return View{}, err
	}
	v := View{Name: name, Query: query, SavedAt: now.UTC()}
	raw, err := json.Marshal(v)
	if err != nil {
		return View{}, fmt.Errorf("saved views: encode %q: %w", name, err)
	}
	// The count and the put share one write transaction: two saves at once cannot both
	// pass the limit.
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bViews)
		k := key(agent, name)
		if b.Get(k) == nil && count(b, agent) >= MaxPerAgent {
			return ErrFull
		}
		return b.Put(k, raw)
	})
	if errors.Is(err, ErrFull) {
		return View{}, err
	}
	if err != nil {
		return View{}, fmt.Errorf("saved views: save %q of %s: %w", name, agent, err)
	}
	return v, nil
}

func count(b *bolt.Bucket, agent string) int {
	n, p := 0, prefix(agent)
	c := b.Cursor()
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
		n++
	}
	return n
}

// List returns agent's views sorted by name.
func (s *Store) List(agent string) ([]View, error) {
	var out []View
	err := s.db.View(func(tx *bolt.Tx) error {
		p := prefix(agent)
		c := tx.Bucket(bViews).Cursor()
		for k, raw := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, raw = c.Next() {
			var v View
			if err := json.Unmarshal(raw, &v); err != nil {
				return fmt.Errorf("decode %q: %w", k, err)
			}
			out = append(out, v)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("saved views: list of %s: %w", agent, err)
	}
	return out, nil
}

// Get returns agent's view name, or ErrNotFound.
func (s *Store) Get(agent, name string) (View, error) {
	var v View
	err := s.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bViews).Get(key(agent, strings.TrimSpace(name)))
		if raw == nil {
			return ErrNotFound
		}
		return json.Unmarshal(raw, &v)
	})
	if errors.Is(err, ErrNotFound) {
		return View{}, err
	}
	if err != nil {
		return View{}, fmt.Errorf("saved views: get %q of %s: %w", name, agent, err)
	}
	return v, nil
}

// Delete removes agent's view name, or answers ErrNotFound.
func (s *Store) Delete(agent, name string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bViews)
		k := key(agent, strings.TrimSpace(name))
		if b.Get(k) == nil {
			return ErrNotFound
		}
		return b.Delete(k)
	})
	if errors.Is(err, ErrNotFound) {
		return err
	}
	if err != nil {
		return fmt.Errorf("saved views: delete %q of %s: %w", name, agent, err)
	}
	return nil
}
