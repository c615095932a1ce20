package history

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/interaction-ledger/ledger/domain"
)

func TestParseQuery(t *testing.T) {
	day := func(y int, m time.Month, d int, loc *time.Location) time.Time {
		return time.Date(y, m, d, 0, 0, 0, 0, loc).UTC()
	}
	paris, _ := time.LoadLocation("Europe/Paris")
	for _, tc := range []struct {
		name      string
		raw       string
		check     func(Query) bool
		wantParam string // "" = valid
	}{
		{"default today UTC", "", func(q Query) bool {
			return q.From.Equal(day(2026, 11, 21, time.UTC)) && q.To.Equal(day(2026, 11, 22, time.UTC)) && q.Desc && q.Sort == "start_at" && q.Limit == 50
		}, ""},
		{"today in tz", "tz=Europe/Paris", func(q Query) bool {
			return q.From.Equal(day(2026, 11, 21, paris)) && q.To.Equal(day(2026, 11, 22, paris))
		}, ""},
		{"dates in tz, to inclusive", "from=2026-11-01&to=2026-11-02&tz=Europe/Paris", func(q Query) bool {
			return q.From.Equal(day(2026, 11, 1, paris)) && q.To.Equal(day(2026, 11, 3, paris))
		}, ""},
		{"rfc3339", "from=2026-11-20T10:00:00%2B01:00&to=2026-11-20T12:00:00Z", func(q Query) bool {
			return q.From.Equal(time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)) && q.To.Equal(time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC))
		}, ""},
		{"from alone runs to tomorrow", "from=2026-10-01", func(q Query) bool { return q.To.Equal(day(2026, 11, 22, time.UTC)) }, ""},
		{"exactly three months back", "from=2026-08-21", nil, ""},
		{"more than three months back", "from=2026-08-20", nil, "from"},
		{"from after to", "from=2026-11-20&to=2026-11-19", nil, "to"},
		{"bad from", "from=yesterday", nil, "from"},
		{"bad to", "to=2026-13-01", nil, "to"},
		{"bad tz", "tz=Mars/Olympus", nil, "tz"},
		{"filters", "flow=voice&flow=email&status=aborted&direction=incoming&original_routing=smart&current_routing=direct&agent_id=a1&queue_id=q1&contact=%2B33612345678&voice_campaign=spring&template=t1&id=i1&customer_id=c1&q=ann@example.com",
			func(q Query) bool {
				return len(q.Flow) == 2 && q.Flow[1] == domain.FlowEmail && q.Status[0] == domain.StatusAborted &&
					q.Direction[0] == domain.DirectionIncoming && q.OriginalRouting[0] == domain.RoutingSmart &&
					q.CurrentRouting[0] == domain.RoutingDirect && q.AgentID[0] == "a1" && q.QueueID[0] == "q1" &&
					q.Contact[0] == "+33612345678" && q.VoiceCampaign[0] == "spring" && q.Template[0] == "t1" &&
					q.ID[0] == "i1" && q.CustomerID[0] == "c1" && q.Q == "ann@example.com"
			}, ""},
		{"bad flow", "flow=fax", nil, "flow"},
		{"empty flow", "flow=", nil, "flow"},
		{"bad status", "status=done", nil, "status"},
		{"bad direction", "direction=up", nil, "direction"},
		{"bad original_routing", "original_routing=x", nil, "original_routing"},
		{"bad current_routing", "current_routing=x", nil, "current_routing"},
		{"empty agent_id", "agent_id=", nil, "agent_id"},
		{"control char in queue_id", "queue_id=a%00b", nil, "queue_id"},
		{"long voice_campaign", "voice_campaign=" + strings.Repeat("x", 1001), nil, "voice_campaign"},
		{"empty template", "template=%20", nil, "template"},
		{"empty id", "id=", nil, "id"},
		{"empty customer_id", "customer_id=", nil, "customer_id"},
		{"contact not a contact", "contact=abc", nil, "contact"},
		{"q too short", "q=12345", nil, "q"},
		{"q bad email", "q=a@", nil, "q"},
		{"q twice", "q=123456&q=1234567", nil, "q"},
		{"q suffix", "q=345678", func(q Query) bool { return q.Q == "345678" }, ""},
		{"unknown parameter", "colour=red", nil, "colour"},
		{"sort and order", "sort=agent_id&order=asc", func(q Query) bool { return q.Sort == "agent_id" && !q.Desc }, ""},
		{"bad sort", "sort=colour", nil, "sort"},
		{"bad order", "order=up", nil, "order"},
		{"limit", "limit=500", func(q Query) bool { return q.Limit == 500 }, ""},
		{"limit too big", "limit=501", nil, "limit"},
		{"limit zero", "limit=0", nil, "limit"},
		{"limit not a number", "limit=ten", nil, "limit"},
		{"bad cursor", "cursor=abc", nil, "cursor"},
		{"good cursor", "cursor=" + cursor{hash: 1, id: "x"}.encode(), func(q Query) bool { return q.Cursor != "" }, ""},
		{"from twice", "from=2026-11-20&from=2026-11-19", nil, "from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := url.ParseQuery(tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			q, err := ParseQuery(v, testNow)
			if tc.wantParam == "" {
				if err != nil {
					t.Fatalf("ParseQuery(%q) = %v", tc.raw, err)
				}
				if tc.check != nil && !tc.check(q) {
					t.Errorf("ParseQuery(%q) = %+v", tc.raw, q)
				}
				return
			}
			var qe *QueryError
			if !errors.As(err, &qe) {
				t.Fatalf("ParseQuery(%q) = %v, want a *QueryError on %s", tc.raw, err, tc.wantParam)
			}
			if qe.Param != tc.wantParam || !strings.HasPrefix(qe.Error(), tc.wantParam+": ") {
				t.Errorf("error %q names %q, want %q", qe.Error(), qe.Param, tc.wantParam)
			}
		})
	}
}

// FuzzParseQuery: any query string gives a valid query or a *QueryError naming a
// parameter that was given; a valid query's range lies in the window and is not empty.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "from=2026-11-01&to=2026-11-02&tz=Europe/Paris", "flow=voice&flow=email&sort=agent_id&order=asc",
		"q=%2B33612345678", "limit=501", "cursor=AQ", "q=ann@example.com&contact=0612345678", "x=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := ParseQuery(v, testNow)
		if err != nil {
			var qe *QueryError
			if !errors.As(err, &qe) {
				t.Fatalf("not a QueryError: %v", err)
			}
			if _, ok := v[qe.Param]; !ok && !strings.HasPrefix(qe.Param, `"`) {
				t.Fatalf("error names %q, which was not given (%q)", qe.Param, raw)
			}
			return
		}
		if !q.To.After(q.From) || q.Limit < 1 || q.Limit > MaxLimit {
			t.Fatalf("invalid query accepted: %+v", q)
		}
		if q.From.Before(domain.RetentionStart(testNow).Add(-48 * time.Hour)) {
			t.Fatalf("from %s beyond the window", q.From)
		}
	})
}
