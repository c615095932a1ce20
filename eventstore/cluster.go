package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrUnavailable means that the NATS server or cluster could not be reached, or did not
// answer, while the store was opening: a caller may try again later (a ledger node keeps
// trying at start instead of exiting). A configuration error never matches it.
var ErrUnavailable = errors.New("eventstore: NATS JetStream unavailable")

// StreamHealth is what a node reports of one of the ledger's streams on a cluster.
type StreamHealth struct {
	Name string `json:"name"`
	// Replicas is the stream's configured replica count; Wanted is Config.Replicas.
	Replicas int `json:"replicas"`
	Wanted   int `json:"wanted"`
	// Leader is the server leading the stream ("" while it has none); Current counts the
	// replicas (the leader included) that are current.
	Leader  string `json:"leader,omitempty"`
	Current int    `json:"current"`
}

// reportStreams records, as Warnings, every stream with fewer replicas than asked. The
// ledger creates its streams with Config.Replicas and updates existing ones to it; a
// stream the cluster refused to scale up is used as it is, but never silently.
func (s *Store) reportStreams(ctx context.Context) {
	hs, err := s.Streams(ctx)
	if err != nil {
		s.warn("cannot read the streams' replicas", "err", err)
		return
	}
	for _, h := range hs {
		if h.Replicas < h.Wanted {
			s.warn(fmt.Sprintf("stream %s has %d replica(s), fewer than the %d configured: a server's loss can lose acknowledged events; scale it up (nats stream edit %s --replicas %d)",
				h.Name, h.Replicas, h.Wanted, h.Name, h.Wanted))
		}
	}
}

// Streams reports the ledger's streams: replicas configured and wanted, leader and
// current replicas.
func (s *Store) Streams(ctx context.Context) ([]StreamHealth, error) {
	var out []StreamHealth
	for _, name := range []string{StreamEvents, StreamDirectory, StreamDead} {
		st, err := s.js.Stream(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("eventstore: stream %s: %w", name, err)
		}
		info := st.CachedInfo()
		h := StreamHealth{Name: name, Replicas: info.Config.Replicas, Wanted: s.cfg.Replicas, Current: 1}
		if info.Cluster != nil {
			h.Leader, h.Current = info.Cluster.Leader, 0
			if h.Leader != "" {
				h.Current = 1
			}
			for _, p := range info.Cluster.Replicas {
				if p.Current {
					h.Current++
				}
			}
		}
		out = append(out, h)
	}
	return out, nil
}

// Warnings are what the store found wrong with the cluster at start (replicas, sync
// policy), each also logged as a warning. Status shows them.
func (s *Store) Warnings() []string {
	s.warnMu.Lock()
	defer s.warnMu.Unlock()
	return append([]string(nil), s.warnings...)
}

func (s *Store) warn(msg string, args ...any) {
	s.log.Warn("eventstore: "+msg, args...)
	s.warnMu.Lock()
	s.warnings = append(s.warnings, msg)
	s.warnMu.Unlock()
}

// syncPolicyWait bounds how long the store collects the servers' answers about their
// sync policy.
const syncPolicyWait = time.Second

// checkSyncPolicy asks every server of the cluster for its JetStream configuration
// ($SYS.REQ.SERVER.PING.VARZ) and warns where the sync policy allows an acknowledged
// message to be lost: with a periodic fsync, a coordinated power failure of a quorum
// within the sync interval loses what it acknowledged (Jepsen's analysis of NATS 2.12.1).
// Only a user of the system account may ask; otherwise the policy is reported unknown.
func (s *Store) checkSyncPolicy(ctx context.Context) {
	inbox := s.nc.NewRespInbox()
	sub, err := s.nc.SubscribeSync(inbox)
	if err != nil {
		s.warn("sync policy unknown: cannot subscribe for the servers' answers", "err", err)
		return
	}
	defer sub.Unsubscribe()
	if err := s.nc.PublishRequest("$SYS.REQ.SERVER.PING.VARZ", inbox, []byte(`{}`)); err != nil {
		s.warn("sync policy unknown: cannot ask the servers", "err", err)
		return
	}
	deadline := time.Now().Add(syncPolicyWait)
	type varz struct {
		Server struct {
			Name string `json:"name"`
		} `json:"server"`
		Data struct {
			JetStream struct {
				Config *struct {
					SyncInterval time.Duration `json:"sync_interval"`
					SyncAlways   bool          `json:"sync_always"`
				} `json:"config"`
			} `json:"jetstream"`
		} `json:"data"`
	}
	var lazy []string
	answered := 0
	for {
		wait := time.Until(deadline)
		if wait <= 0 || ctx.Err() != nil {
			break
		}
		m, err := sub.NextMsg(wait)
		if err != nil {
			break // the deadline, or no responders (no system account)
		}
		var v varz
		if json.Unmarshal(m.Data, &v) != nil || v.Data.JetStream.Config == nil {
			continue
		}
		answered++
		if c := v.Data.JetStream.Config; !c.SyncAlways {
			iv := c.SyncInterval
			if iv == 0 {
				iv = 2 * time.Minute // nats-server's default
			}
			lazy = append(lazy, fmt.Sprintf("%s (sync_interval %s)", v.Server.Name, iv))
		}
	}
	switch {
	case answered == 0:
		s.warn("sync policy unknown (the ledger's NATS user cannot read the servers' configuration): " +
			"unless every server sets jetstream { sync_interval: always }, a power failure of a quorum of servers can lose acknowledged events")
	case len(lazy) > 0:
		sort.Strings(lazy)
		s.warn("servers fsync periodically, not per message: a power failure of a quorum within the interval can lose acknowledged events (set jetstream { sync_interval: always }): " +
			strings.Join(lazy, ", "))
	}
}

// fillGap returns the messages of stream between from and to (inclusive) that a consumer
// did not deliver, so that a projector never moves past a sequence it has not seen: a
// sequence before the stream's first is expired (or purged), one the stream leader says
// it does not hold is deleted (an erasure); any other is fetched from the leader. After a
// change of leader a consumer can deliver past messages it has not handed over; this is
// the guard that makes that visible and harmless.
func (s *Store) fillGap(ctx context.Context, stream string, from, to uint64) ([]Delivery, error) {
	st, err := s.js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("eventstore: gap %s/%d..%d: stream info: %w", stream, from, to, err)
	}
	from = max(from, st.CachedInfo().State.FirstSeq)
	var out []Delivery
	for seq := from; seq <= to; seq++ {
		d, err := s.getFromLeader(ctx, stream, seq)
		if errors.Is(err, ErrNoMessage) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("eventstore: gap %s/%d..%d: %w", stream, from, to, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// getFromLeader reads the message at seq through the stream leader's API, never a direct
// get: a replica answering a direct get may not hold a message the leader has committed,
// and its "not found" would prove nothing.
func (s *Store) getFromLeader(ctx context.Context, stream string, seq uint64) (Delivery, error) {
	req, err := json.Marshal(struct {
		Seq uint64 `json:"seq"`
	}{seq})
	if err != nil {
		return Delivery{}, err
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	msg, err := s.nc.RequestWithContext(rctx, "$JS.API.STREAM.MSG.GET."+stream, req)
	if err != nil {
		return Delivery{}, fmt.Errorf("get %s/%d: %w", stream, seq, err)
	}
	var resp struct {
		Message *struct {
			Subject string    `json:"subject"`
			Seq     uint64    `json:"seq"`
			Data    []byte    `json:"data"`
			Time    time.Time `json:"time"`
		} `json:"message"`
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return Delivery{}, fmt.Errorf("get %s/%d: decode answer: %w", stream, seq, err)
	}
	if resp.Error != nil {
		if isNotFound(resp.Error) {
			return Delivery{}, fmt.Errorf("%w: %s/%d", ErrNoMessage, stream, seq)
		}
		return Delivery{}, fmt.Errorf("get %s/%d: %w", stream, seq, resp.Error)
	}
	if resp.Message == nil {
		return Delivery{}, fmt.Errorf("get %s/%d: empty answer", stream, seq)
	}
	m := resp.Message
	return Delivery{Stream: stream, Seq: m.Seq, Subject: m.Subject, Data: m.Data, Published: m.Time}, nil
}

// isUnreachable reports whether err says that no server answered (as opposed to one
// refusing): worth trying again later.
func isUnreachable(err error) bool {
	return errors.Is(err, nats.ErrNoServers) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, nats.ErrConnectionClosed) ||
		isClusterUnavailable(err)
}

// Error codes of JetStream that nats.go does not export.
const (
	errCodeClusterNotAvail       jetstream.ErrorCode = 10008 // "JetStream system temporarily unavailable"
	errCodeInsufficientResources jetstream.ErrorCode = 10023 // "insufficient resources" (peers down)
)

// isClusterUnavailable: JetStream's "temporarily unavailable" answers (no meta leader,
// insufficient resources while peers are down).
func isClusterUnavailable(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.Code == 503 || apiErr.ErrorCode == errCodeClusterNotAvail || apiErr.ErrorCode == errCodeInsufficientResources
}

// ConsumerPosition is where a durable consumer of a stream stands.
type ConsumerPosition struct {
	Name string `json:"name"`
	// Delivered is the last stream sequence delivered, AckFloor the last one below which
	// everything is acknowledged (for a projector: applied).
	Delivered uint64 `json:"delivered"`
	AckFloor  uint64 `json:"ack_floor"`
	// Pending counts the stream's messages (matching its filter) not yet delivered.
	Pending uint64 `json:"pending"`
	// Waiting counts the pull requests waiting; PushBound says a push consumer has a
	// subscriber. Either shows its node is alive.
	PushBound bool `json:"push_bound,omitempty"`
}

// Consumers lists the durable consumers of stream whose names start with prefix, by name:
// how every node's projectors and erasers stand (status, and an erasure waiting for every
// node).
func (s *Store) Consumers(ctx context.Context, stream, prefix string) ([]ConsumerPosition, error) {
	st, err := s.js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("eventstore: consumers of %s: %w", stream, err)
	}
	var out []ConsumerPosition
	l := st.ListConsumers(ctx)
	for ci := range l.Info() {
		if !strings.HasPrefix(ci.Name, prefix) {
			continue
		}
		out = append(out, ConsumerPosition{Name: ci.Name, Delivered: ci.Delivered.Stream, AckFloor: ci.AckFloor.Stream,
			Pending: ci.NumPending, PushBound: ci.PushBound})
	}
	if err := l.Err(); err != nil {
		return nil, fmt.Errorf("eventstore: consumers of %s: %w", stream, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
