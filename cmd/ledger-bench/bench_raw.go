package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/interaction-ledger/ledger/projections"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/eventstore"
)

// benchInFlight bounds the async publishes awaiting their ack, in the raw limit as in
// the direct NATS producer (eventstore.DefaultMaxInFlight, what the ledger's Append uses).
const benchInFlight = eventstore.DefaultMaxInFlight

// benchRawPublish publishes every envelope into a fresh stream of a fresh embedded server,
// with no ledger code in the way: the raw limit of the append path.
func benchRawPublish(ctx context.Context, data *benchData, dir string) (rate float64, stored uint64, err error) {
	opts := &server.Options{ServerName: "bench-raw", NoSigs: true, JetStream: true, DontListen: true,
		StoreDir: dir, SyncInterval: eventstore.DefaultSyncInterval}
	srv, err := server.NewServer(opts)
	if err != nil {
		return 0, 0, err
	}
	go srv.Start()
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	if !srv.ReadyForConnections(30 * time.Second) {
		return 0, 0, errors.New("raw nats-server not ready within 30s")
	}
	nc, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		return 0, 0, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(2*benchInFlight))
	if err != nil {
		return 0, 0, err
	}
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "RAW", Subjects: []string{"ledger.events.>"},
		Storage: jetstream.FileStorage, MaxAge: eventstore.DefaultMaxAge, Duplicates: eventstore.DefaultDuplicateWindow})
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	failed, err := benchPublishAll(ctx, js, nil, data)
	if err != nil {
		return 0, 0, err
	}
	el := time.Since(start)
	if failed > 0 {
		return 0, 0, fmt.Errorf("raw publish: %d publishes failed", failed)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, 0, err
	}
	return float64(data.events) / el.Seconds(), info.State.Msgs, nil
}

// benchPublishAll publishes every envelope asynchronously with its Nats-Msg-Id, at most
// benchInFlight awaiting their ack, and waits for every ack. It returns how many failed.
//
// directory, when not nil, publishes the directory events: a producer's credentials may
// not (CONTRACT §4), an administrator's tool does.
func benchPublishAll(ctx context.Context, js, directory jetstream.JetStream, data *benchData) (failed int64, err error) {
	tokens := make(chan struct{}, benchInFlight)
	queue := make(chan jetstream.PubAckFuture, benchInFlight)
	var bad atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for paf := range queue {
			select {
			case <-paf.Ok():
			case <-paf.Err():
				bad.Add(1)
			}
			<-tokens
		}
	}()
	err = data.each(true, func(subject, id string, b []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		tokens <- struct{}{}
		m := &nats.Msg{Subject: subject, Data: b, Header: nats.Header{jetstream.MsgIDHeader: []string{id}}}
		pub := js
		if directory != nil && strings.HasPrefix(subject, "ledger.events.directory.") {
			pub = directory
		}
		paf, err := pub.PublishMsgAsync(m)
		if err != nil {
			<-tokens
			return fmt.Errorf("publish %s: %w", subject, err)
		}
		queue <- paf
		return nil
	})
	close(queue)
	<-done
	return bad.Load(), err
}

// benchBoltOrder says how a raw insert orders each transaction's keys.
type benchBoltOrder int

const (
	benchArrivalOrder benchBoltOrder = iota // as the interactions first appear in the stream
	benchSortedBatch                        // each batch of 1000 sorted before its transaction
)

// benchRawBolt inserts every interaction id with a 200-byte value, 1000 per transaction,
// into a fresh file opened as the views open theirs: the raw limit of a view's writes.
func benchRawBolt(data *benchData, path string, order benchBoltOrder, noSync bool) (float64, error) {
	const perTx = 1000
	os.Remove(path)
	defer os.Remove(path)
	db, err := projections.OpenDB(path, projections.Options{NoSync: noSync})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	bucket := []byte("details")
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucketIfNotExists(bucket); return err }); err != nil {
		return 0, err
	}
	value := bytes.Repeat([]byte("v"), 200)
	n := data.interactionIDs.len()
	keys := make([][]byte, 0, perTx)
	start := time.Now()
	for i := 0; i < n; i += perTx {
		keys = keys[:0]
		for j := i; j < min(i+perTx, n); j++ {
			keys = append(keys, data.interactionIDs.at(j))
		}
		if order == benchSortedBatch {
			slices.SortFunc(keys, bytes.Compare)
		}
		if err := db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucket)
			for _, k := range keys {
				if err := b.Put(k, value); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return 0, err
		}
	}
	if noSync {
		if err := db.Sync(); err != nil {
			return 0, err
		}
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// benchRemoveAll removes a phase's directory, ignoring what is already gone.
func benchRemoveAll(dir string) {
	if dir != "" && dir != "/" && filepath.IsAbs(dir) {
		os.RemoveAll(dir)
	}
}
