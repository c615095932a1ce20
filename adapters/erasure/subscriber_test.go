package erasure_test

import (
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"
	"github.com/nats-io/nats.go"

	"github.com/interaction-ledger/ledger/adapters/erasure"
	"github.com/interaction-ledger/ledger/eventstore"
	"github.com/interaction-ledger/ledger/eventstore/storetest"
)

// TestSubscriberConformance runs watermill's universal suite against the subscription the
// Eraser ships (erasure.SubscriberConfig), on the embedded server, with the Eraser's
// defaults except AckWait and the retry backoff, shortened so that redeliveries come
// within the suite's timeouts. The topics are subjects of StreamEvents, which the
// subscription binds to.
//
// The features are what this subscription really offers: one consumer and one un-acked
// message at a time (MaxAckPending 1), so order is guaranteed; at-least-once, not exactly
// once (a message whose ack was lost comes back after AckWait); no consumer groups; one
// durable consumer per topic, so a new subscriber continues where the last one stopped
// rather than receiving old messages again.
//
// The suite's functions are run one by one, as tests.TestPubSub runs them, because one of
// them does not apply: TestConcurrentClose subscribes ten subscribers to one topic at once,
// and a durable push consumer without a deliver group binds one subscription ("consumer is
// already bound to a subscription"); the Eraser runs one subscriber per durable, and
// RequireSingleInstance cannot say so to that test. TestReconnect skips itself (no restart
// command), as does TestConsumerGroups.
//
// KNOWN UPSTREAM RACE: under -race, TestContinueAfterSubscribeClose (which closes
// subscribers while messages flow) reports a data race inside watermill-nats v2.1.3
// pkg/nats: Subscribe closes its output channel (subscriber.go:270) after Unsubscribe,
// with no synchronisation with a NATS callback still sending on it (processMessage,
// subscriber.go:339); the same window can panic with "send on closed channel". It is
// skipped under -race only, so that the rest of the suite guards the race detector's
// verdict; without -race it runs. The Eraser closes its subscriber once, at shutdown.
func TestSubscriberConformance(t *testing.T) {
	s := storetest.Open(t, "")
	cfg := erasure.Config{
		Durable:  "conformance",
		AckWait:  time.Second,
		RetryMin: time.Millisecond,
		RetryMax: 5 * time.Millisecond, // TestContinueAfterErrors nacks one message 300 times
	}
	features := tests.Features{
		ConsumerGroups:                      false,
		ExactlyOnceDelivery:                 false,
		GuaranteedOrder:                     true,
		GuaranteedOrderWithSingleSubscriber: true,
		Persistent:                          true,
		RequireSingleInstance:               true,
		NewSubscriberReceivesOldMessages:    false,
		GenerateTopicFunc: func(tc tests.TestContext) string {
			return "ledger.events.conformance." + string(tc.TestID)
		},
	}
	newPubSub := func(t *testing.T) (message.Publisher, message.Subscriber) {
		return newConformancePubSub(t, s, erasure.SubscriberConfig(cfg, &wmnats.NATSMarshaler{}))
	}
	suite := []struct {
		name string
		test func(*testing.T, tests.TestContext, tests.PubSubConstructor)
	}{
		{"PublishSubscribe", tests.TestPublishSubscribe},
		{"ConcurrentSubscribe", tests.TestConcurrentSubscribe},
		{"ConcurrentSubscribeMultipleTopics", tests.TestConcurrentSubscribeMultipleTopics},
		{"ResendOnError", tests.TestResendOnError},
		{"NoAck", tests.TestNoAck},
		{"ContinueAfterSubscribeClose", tests.TestContinueAfterSubscribeClose},
		{"ContinueAfterErrors", tests.TestContinueAfterErrors},
		{"PublishSubscribeInOrder", tests.TestPublishSubscribeInOrder},
		{"PublisherClose", tests.TestPublisherClose},
		{"Topic", tests.TestTopic},
		{"MessageCtx", tests.TestMessageCtx},
		{"SubscribeCtx", tests.TestSubscribeCtx},
		{"NewSubscriberReceivesOldMessages", tests.TestNewSubscriberReceivesOldMessages},
		{"Reconnect", tests.TestReconnect},
	}
	// The cases that close a subscriber while messages arrive: under -race, watermill-nats'
	// own close (subscriber.go closes the output channel a NATS callback may still send
	// on) is reported, in one run out of a few. `make test` runs the whole suite again
	// without -race so that they are still held to it.
	racesInWatermillNATS := map[string]bool{"ContinueAfterSubscribeClose": true, "SubscribeCtx": true, "ConcurrentSubscribeMultipleTopics": true}
	for _, tc := range suite {
		t.Run(tc.name, func(t *testing.T) {
			if raceEnabled && racesInWatermillNATS[tc.name] {
				t.Skip("watermill-nats v2.1.3 races closing a subscriber's output channel (see the test's doc); `make test` runs it without -race")
			}
			t.Parallel()
			tc.test(t, tests.TestContext{TestID: tests.NewTestID(), Features: features}, newPubSub)
		})
	}
	t.Run("ConsumerGroups", func(t *testing.T) {
		tests.TestConsumerGroups(t, tests.TestContext{TestID: tests.NewTestID(), Features: features}, nil)
	})
}

// newConformancePubSub returns a publisher into StreamEvents and a subscriber with sc,
// each on its own connection: watermill closes the connection it is given.
func newConformancePubSub(t *testing.T, s *eventstore.Store, sc wmnats.SubscriberSubscriptionConfig) (message.Publisher, message.Subscriber) {
	t.Helper()
	logger := watermill.NopLogger{}
	pubConn, err := s.Connect(nats.Name("conformance-pub"))
	if err != nil {
		t.Fatalf("connect publisher: %v", err)
	}
	pub, err := wmnats.NewPublisherWithNatsConn(pubConn, wmnats.PublisherPublishConfig{
		Marshaler:         &wmnats.NATSMarshaler{},
		SubjectCalculator: wmnats.DefaultSubjectCalculator,
		// No Nats-Msg-Id: the suite publishes one message id to several topics, which
		// are all subjects of one stream here, whose deduplication is stream-wide.
		JetStream: wmnats.JetStreamConfig{AutoProvision: false, TrackMsgId: false},
	}, logger)
	if err != nil {
		t.Fatalf("publisher: %v", err)
	}
	subConn, err := s.Connect(nats.Name("conformance-sub"))
	if err != nil {
		t.Fatalf("connect subscriber: %v", err)
	}
	sub, err := wmnats.NewSubscriberWithNatsConn(subConn, sc, logger)
	if err != nil {
		t.Fatalf("subscriber: %v", err)
	}
	// Only Subscribe and Close: watermill-nats's SubscribeInitialize creates a stream named
	// after the topic, which the Eraser never calls (the event store owns the streams).
	return pub, struct{ message.Subscriber }{sub}
}
