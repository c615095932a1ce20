package timeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/interaction-ledger/ledger/domain"
)

// checkTaskOrder fails unless taskorder holds exactly one key per task record, at the
// record's orderAt: what the tasks tab walks.
func checkTaskOrder(t testing.TB, h *harness) {
	t.Helper()
	var want, got []string
	err := h.db.View(func(tx *bolt.Tx) error {
		err := tx.Bucket(bTasks).ForEach(func(k, v []byte) error {
			r, err := decodeTask(v)
			if err != nil {
				return err
			}
			cust := string(k[:bytes.IndexByte(k, 0)])
			want = append(want, fmt.Sprintf("%x", taskOrderKey(cust, r.orderAt(), r.TaskID)))
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bTaskOrder).ForEach(func(k, _ []byte) error {
			got = append(got, fmt.Sprintf("%x", k))
			return nil
		})
	})
	must(t, err)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("taskorder:\n got %v\nwant %v", got, want)
	}
}

// TestTasksTabOrder: tasks whose events arrive in any order (a task.created after the
// task's other events, or earlier than one seen before, moves the task in the tab), some
// deleted, read in pages of every size, are the customer's live records newest created
// first, then by task id, each once.
func TestTasksTabOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(20261202, 16))
	types := []domain.EventType{domain.TypeTaskCreated, domain.TypeTaskUpdated, domain.TypeTaskCompleted,
		domain.TypeTaskReopened, domain.TypeTaskDeleted}
	for round := range 40 {
		h := newHarness(t)
		c := "cust-order"
		for i := range 30 + rng.IntN(40) {
			tid := fmt.Sprintf("t-%02d", rng.IntN(12))
			typ := types[rng.IntN(len(types))]
			if rng.IntN(3) == 0 {
				typ = domain.TypeTaskCreated
			}
			// Several tasks share a minute: ties are broken by task id.
			data := task(tid, fmt.Sprintf("title %d", i))
			if rng.IntN(3) == 0 {
				data["due_at"] = h.at(-rng.IntN(600)).Format(time.RFC3339)
				data["assignee_id"] = fmt.Sprintf("ag-%d", rng.IntN(3))
			}
			h.apply(h.ev(fmt.Sprintf("r%d-%d", round, i), typ, h.at(rng.IntN(20)), c, data))
			checkTaskOrder(t, h)
		}
		var want []Task
		err := h.db.View(func(tx *bolt.Tx) error {
			return tx.Bucket(bTasks).ForEach(func(_, v []byte) error {
				r, err := decodeTask(v)
				if err == nil && r.Status != domain.TaskDeleted {
					want = append(want, r.task(c))
				}
				return err
			})
		})
		must(t, err)
		slices.SortFunc(want, func(a, b Task) int {
			if n := b.CreatedAt.Compare(a.CreatedAt); n != 0 {
				return n
			}
			return strings.Compare(a.TaskID, b.TaskID)
		})
		// Every field of a row, as the record's own task() gives it (decodeTaskRow).
		label := func(x Task) string {
			b, err := json.Marshal(x)
			must(t, err)
			return fmt.Sprintf("%s seq %d", b, x.LastSeq)
		}
		for _, limit := range []int{1, 2, 5, MaxLimit} {
			got := pageAll(t, limit, func(cur string) (TabPage[Task], error) { return h.v.Tasks(c, limit, cur) }, label)
			wantIDs := make([]string, len(want))
			for i, x := range want {
				wantIDs[i] = label(x)
			}
			if !slices.Equal(got, wantIDs) {
				t.Fatalf("round %d, limit %d:\n got %v\nwant %v", round, limit, got, wantIDs)
			}
		}
	}
}
