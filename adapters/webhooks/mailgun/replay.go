package mailgun

import (
	"container/heap"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/interaction-ledger/ledger/adapters/webhooks"
)

// DefaultReplayTokens is Config.ReplayTokens' default: about 100 bytes each, so at most
// about 100 MiB, reached only if Mailgun sends a million webhooks within a day.
const DefaultReplayTokens = 1 << 20

// replayGuard remembers the token of every accepted signature until its signed timestamp
// leaves the freshness window, with a digest of the event data it came with.
//
// Mailgun signs the timestamp and the token, not the body: a captured signature is valid
// with any event data for 24 hours. So a token is accepted again only with the same event
// data (a retry of the same webhook, which appends duplicates: 2xx as the contract
// wants), and refused with any other (a forgery). Memory is bounded by max entries; when it is
// full of tokens that are still fresh, a new token is refused as unavailable (503,
// Mailgun retries later) rather than one of them forgotten, which would reopen its replay.
//
// Why not an expirable LRU (hashicorp/golang-lru/v2/expirable): it evicts the oldest
// entry when full, which is exactly the forgetting that must not happen; it expires by
// insertion time plus one TTL, where each token here expires with its own signed
// timestamp; and it reads the wall clock in a goroutine of its own, where Verify is given
// the request's clock (also what decides staleness). A map and a heap by expiry do it.
type replayGuard struct {
	mu    sync.Mutex
	max   int
	seen  map[tokenKey]seenToken
	queue expiryHeap
}

// tokenKey is a token's SHA-256, cut to 128 bits: fixed size whatever the token's length,
// and collisions are out of reach.
type tokenKey [16]byte

type seenToken struct {
	body    [16]byte // SHA-256 of the body, cut like tokenKey
	expires int64    // unix nanos: the signed timestamp plus webhooks.MaxSignatureAge
}

func newReplayGuard(max int) *replayGuard {
	return &replayGuard{max: max, seen: map[tokenKey]seenToken{}}
}

// signedOver returns what a token is bound to: the body's event-data as sent (the whole
// body when it has none; Translate refuses such a body anyway).
func signedOver(body []byte) []byte {
	var pl struct {
		EventData json.RawMessage `json:"event-data"`
	}
	if json.Unmarshal(body, &pl) != nil || len(pl.EventData) == 0 {
		return body
	}
	return pl.EventData
}

// check records token, signed at signedAt, with body, or refuses it: an error wrapping
// webhooks.ErrUnauthorized for a token already used with another body, or
// webhooks.ErrUnavailable when the guard is full of fresh tokens. Call it only for a
// signature that verified: otherwise anyone could fill the guard.
func (g *replayGuard) check(token string, body []byte, signedAt, now time.Time) error {
	th, bh := sha256.Sum256([]byte(token)), sha256.Sum256(body)
	k, b := tokenKey(th[:16]), [16]byte(bh[:16])
	g.mu.Lock()
	defer g.mu.Unlock()
	g.expire(now.UnixNano())
	if s, ok := g.seen[k]; ok {
		if s.body != b {
			return fmt.Errorf("%w: signature.token was already used with another body (replayed signature)", webhooks.ErrUnauthorized)
		}
		return nil
	}
	if len(g.seen) >= g.max {
		return fmt.Errorf("%w: %d signature tokens are still fresh, the most kept; retry later", webhooks.ErrUnavailable, len(g.seen))
	}
	exp := signedAt.Add(webhooks.MaxSignatureAge).UnixNano()
	g.seen[k] = seenToken{body: b, expires: exp}
	heap.Push(&g.queue, expiring{key: k, expires: exp})
	return nil
}

// expire forgets the tokens whose signed timestamp is now stale: Verify refuses them on
// their age alone.
func (g *replayGuard) expire(now int64) {
	for len(g.queue) > 0 && g.queue[0].expires < now {
		e := heap.Pop(&g.queue).(expiring)
		delete(g.seen, e.key)
	}
}

type expiring struct {
	key     tokenKey
	expires int64
}

// expiryHeap is a min-heap of tokens by expiry (container/heap).
type expiryHeap []expiring

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expires < h[j].expires }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiring)) }
func (h *expiryHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
