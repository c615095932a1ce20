package main

import (
	"context"

	"github.com/interaction-ledger/ledger/adapters/erasure"
	"github.com/interaction-ledger/ledger/projections"
	"github.com/interaction-ledger/ledger/projections/history"
	"github.com/interaction-ledger/ledger/projections/timeline"
)

// newEraser carries out customer.erased on the stream and on the customer-scoped view
// files (see adapters/erasure).
func (l *ledger) newEraser() (*erasure.Eraser, error) {
	var views []erasure.View
	for _, name := range []string{history.Name, timeline.Name} {
		v := l.view(name)
		views = append(views, &erasure.ViewFile{ViewName: v.name, DB: v.db, Gate: &v.gate,
			CatchUp: func(ctx context.Context, db *projections.DB) error { return l.catchUp(ctx, v, db) }})
	}
	return erasure.New(erasure.Config{Store: l.store, Views: views, Maintenance: &l.maint, Logger: l.log})
}
