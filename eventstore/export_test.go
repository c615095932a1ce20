package eventstore

import "context"

// FillGap exposes fillGap to the package's external tests.
func (s *Store) FillGap(ctx context.Context, stream string, from, to uint64) ([]Delivery, error) {
	return s.fillGap(ctx, stream, from, to)
}
