package eventstore_test

import (
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"
	"github.com/nats-io/nats.go"

	"github.com/interaction-ledger/ledger/eventstore"
	"github.com/interaction-ledger/ledger/eventstore/storetest"
)

// watermillJetStream is the watermill-nats configuration the ledger ships for low-rate
// handlers (pkg/nats with JetStream; pkg/jetstream is beta and failed this suite, see
// DESIGN.md): streams are provisioned up front, not looked up on every publish
// (AutoProvision costs a stream lookup per publish); the watermill UUID is the
// Nats-Msg-Id, so a retried publish is stored once; acks are synchronous, so an
// acknowledged message is not redelivered (exactly once within the duplicate window).
func watermillJetStream(durable string) wmnats.JetStreamConfig {
	return wmnats.JetStreamConfig{
		AutoProvision:    false,
		SubscribeOptions: []nats.SubOpt{nats.DeliverAll(), nats.AckExplicit()},
		TrackMsgId:       true,
		AckAsync:         false,
		DurablePrefix:    durable,
	}
}

// newWatermill returns a publisher and a subscriber on s, each on its own connection:
// watermill closes the connection it is given.
func newWatermill(t *testing.T, s *eventstore.Store, consumerGroup string) (message.Publisher, message.Subscriber) {
	t.Helper()
	logger := watermill.NopLogger{}
	pubConn, err := s.Connect(nats.Name("watermill-pub"))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := wmnats.NewPublisherWithNatsConn(pubConn, wmnats.PublisherPublishConfig{
		Marshaler:         &wmnats.NATSMarshaler{},
		SubjectCalculator: wmnats.DefaultSubjectCalculator,
		JetStream:         watermillJetStream(consumerGroup),
	}, logger)
	if err != nil {
		t.Fatal(err)
	}
	subConn, err := s.Connect(nats.Name("watermill-sub"))
	if err != nil {
		t.Fatal(err)
	}
	count := 1
	if consumerGroup != "" {
		count = 2
	}
	sub, err := wmnats.NewSubscriberWithNatsConn(subConn, wmnats.SubscriberSubscriptionConfig{
		Unmarshaler:       &wmnats.NATSMarshaler{},
		QueueGroupPrefix:  consumerGroup,
		SubscribersCount:  count,
		AckWaitTimeout:    30 * time.Second,
		CloseTimeout:      30 * time.Second,
		SubjectCalculator: wmnats.DefaultSubjectCalculator,
		JetStream:         watermillJetStream(consumerGroup),
	}, logger)
	if err != nil {
		t.Fatal(err)
	}
	return pub, sub
}

// TestWatermillPubSub runs watermill's universal conformance suite against the shipped
// configuration on the embedded server (about 6 s under -race, so not skipped by -short).
// Skipped by the suite itself: TestReconnect (no restart command) and, as in
// watermill-nats's own exactly-once run, TestConcurrentClose and
// TestContinueAfterSubscribeClose (RequireSingleInstance).
func TestWatermillPubSub(t *testing.T) {
	s := storetest.Open(t, "")
	tests.TestPubSub(t,
		tests.Features{
			ConsumerGroups:                      true,
			ExactlyOnceDelivery:                 true,
			GuaranteedOrder:                     true,
			GuaranteedOrderWithSingleSubscriber: true,
			Persistent:                          true,
			RequireSingleInstance:               true,
			NewSubscriberReceivesOldMessages:    true,
		},
		func(t *testing.T) (message.Publisher, message.Subscriber) { return newWatermill(t, s, "") },
		func(t *testing.T, group string) (message.Publisher, message.Subscriber) {
			return newWatermill(t, s, group)
		},
	)
}
