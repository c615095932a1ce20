package history

import (
	"bytes"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/domain"
)

// Reasons returns, for each of ids, why r may see it (domain.Reader.Reasons on the same
// row Visible checks): nil for an interaction that does not exist or r may not see. The
// list's ?explain=1 asks it for the page's items.
func (v *View) Reasons(r domain.Reader, ids []string) ([][]domain.Reason, error) {
	out := make([][]domain.Reason, len(ids))
	err := v.eachRow(r, ids, func(i int, row *row) {
		kept := row.clone() // the reasons name its agents and queues
		out[i] = r.Reasons(kept.visibility())
	})
	return out, err
}

// detailVisibility is what the detail's visible_because looks at: the interaction's
// visibility with when each agent first took it, from its started and routed events (the
// only ones that name an agent; the others are skipped without decoding).
func detailVisibility(tx *bolt.Tx, in *domain.Interaction, h []byte) (domain.Visibility, error) {
	vis := in.Visibility()
	if len(in.Agents) == 0 {
		return vis, nil
	}
	vis.Since = make(map[string]time.Time, len(in.Agents))
	p := h
	c := tx.Bucket(bEvents).Cursor()
	for k, val := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, val = c.Next() {
		e, err := decodeEvent(p, k, val)
		if err != nil {
			return vis, fmt.Errorf("interaction %s: event: %w", in.ID, err)
		}
		if e.rec.Type != domain.TypeInteractionStarted.String() && e.rec.Type != domain.TypeInteractionRouted.String() {
			continue
		}
		ev, err := e.event()
		if err != nil {
			return vis, fmt.Errorf("interaction %s: event %s: %w", in.ID, e.rec.ID, err)
		}
		var agent string
		switch d := ev.Payload.(type) {
		case *domain.StartedData:
			agent = d.AgentID
		case *domain.RoutedData:
			agent = d.AgentID
		}
		if t, ok := vis.Since[agent]; agent != "" && (!ok || ev.OccurredAt.Before(t)) {
			vis.Since[agent] = ev.OccurredAt
		}
	}
	return vis, nil
}

// GetAsOf returns the interaction's detail as it stood at asOf: the fold of its stored
// events that occurred up to then (all of them in Events), with the reasons r may see it
// now. ErrNotFound as Get, and when no event of it had occurred by then.
//
// The view keeps each event's occurred_at, not the time the stream stored it: an event
// that arrived late but occurred before asOf is part of the answer.
func (v *View) GetAsOf(r domain.Reader, id string, asOf time.Time) (Detail, error) {
	var d Detail
	err := v.db.View(func(tx *bolt.Tx) error {
		now, h, err := visibleDetail(tx, r, id)
		if err != nil {
			return err
		}
		in := domain.Interaction{}
		var recs []domain.EventRecord
		p := h
		c := tx.Bucket(bEvents).Cursor()
		for k, val := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, val = c.Next() {
			e, err := decodeEvent(p, k, val)
			if err != nil {
				return fmt.Errorf("interaction %s: event: %w", id, err)
			}
			if e.rec.OccurredAt.After(asOf) {
				break // stored in occurred_at order
			}
			ev, err := e.event()
			if err != nil {
				return fmt.Errorf("interaction %s: event %s: %w", id, e.rec.ID, err)
			}
			in.Apply(ev)
			recs = append(recs, e.rec)
		}
		if len(recs) == 0 {
			return ErrNotFound
		}
		d = v.detailOf(tx, &in)
		d.Events = recs
		vis, err := detailVisibility(tx, &now, h)
		if err != nil {
			return err
		}
		d.VisibleBecause = r.Reasons(vis)
		return nil
	})
	return d, err
}
