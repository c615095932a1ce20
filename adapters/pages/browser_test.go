package pages_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/interaction-ledger/ledger/adapters/node"
	"github.com/interaction-ledger/ledger/adapters/node/nodetest"
)

// screenshots: where the browser tests save the list, the detail and the card; the
// README shows the ones in testdata/screenshots (go test -run Browser -screenshots
// testdata/screenshots). Default: a temporary directory.
var screenshots = flag.String("screenshots", "", "directory for the pages' screenshots")

// chromiumPath is Debian's chromium, installed by `make browser`.
const chromiumPath = "/usr/bin/chromium"

// demoLedger serves the demo contact centre and returns its base URL and the sign-in
// links it printed, by role.
func demoLedger(t *testing.T) (base string, links map[string]string) {
	t.Helper()
	var out bytes.Buffer
	cfg := node.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", AuthSecret: nodetest.Secret, Region: "US",
		Replicas: 1, Demo: true, CRMRecordURL: crmURL}
	ctx, cancel := context.WithCancel(context.Background())
	started, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- node.Serve(ctx, cfg, slog.New(slog.DiscardHandler), &out, started) }()
	select {
	case addr := <-started:
		base = "http://" + addr
	case err := <-done:
		t.Fatalf("ledger did not start: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("ledger did not start within 60s")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ledger stopped with error: %v", err)
		}
	})
	// The demo help is written before started is sent: reading it now is ordered.
	links = map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s+(\w+)\s+\S+\s+http://[^/]+(/signin#token=\S+)$`).FindAllStringSubmatch(out.String(), -1) {
		links[m[1]] = base + m[2]
	}
	if len(links) != 3 {
		t.Fatalf("want a sign-in link per role, got %v in:\n%s", links, out.String())
	}
	nodetest.Eventually(t, "views caught up with the demo", func() (bool, string) {
		st, err := node.RemoteStatus(context.Background(), http.DefaultClient, base, nodetest.Secret)
		if err != nil {
			return false, err.Error()
		}
		return st.CaughtUp(), fmt.Sprint(st.Views)
	})
	return base, links
}

// browser starts headless chromium with a fresh profile. Without it the test fails
// under CI=true and is skipped otherwise.
// browserTZ is the browser's time zone: one where it is now between 22:00 and 23:00, so
// that the pages' default list, today's, spans most of the demo's day (the last 24 hours,
// busiest in the daytime of the ledger's zone, UTC here). In UTC itself, right after
// midnight, today held a few minutes of the night and the lists were empty; and an hour
// before midnight, the test cannot run into the next day.
var browserTZ = eveningZone(time.Now())

// eveningZone returns the fixed-offset zone (Etc/GMT±N; POSIX signs are inverted) in which
// t's local time is between 22:00 and 23:00.
func eveningZone(t time.Time) string {
	offset := (22-t.UTC().Hour()+36)%24 - 12 // hours east of UTC, in [-12, +11]
	switch {
	case offset == 0:
		return "Etc/GMT"
	case offset > 0:
		return fmt.Sprintf("Etc/GMT-%d", offset)
	default:
		return fmt.Sprintf("Etc/GMT+%d", -offset)
	}
}

func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium is required for the browser tests (%v): run make browser", err)
		}
		t.Skipf("chromium not found at %s: run `make browser` (apt-get install chromium) to run the browser tests", chromiumPath)
	}
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]), chromedp.ExecPath(chromiumPath),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1440, 900), chromedp.Env("TZ="+browserTZ))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		// Close the browser and wait for it, so that its profile is gone before the
		// temporary directory is removed.
		if err := chromedp.Cancel(ctx); err != nil {
			t.Logf("close chromium: %v", err)
		}
		cancelTime()
		cancelCtx()
		cancelAlloc()
	})
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action) {
	t.Helper()
	if err := chromedp.Run(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// rowIDs are the interaction ids of the list's rows, as shown.
func rowIDs(t *testing.T, ctx context.Context) []string {
	t.Helper()
	var ids []string
	run(t, ctx, "read rows", chromedp.Evaluate(`[...document.querySelectorAll("#rows > tr")].map(r => r.dataset.id)`, &ids))
	return ids
}

// api answers GET path with tok, decoded into out.
func api(t *testing.T, base, tok, path string, out any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	} else {
		_, _ = io.Copy(io.Discard, resp.Body)
	}
	return resp.StatusCode
}

type apiPage struct {
	Items []struct {
		InteractionID string `json:"interaction_id"`
		Contact       string `json:"contact"`
		CustomerID    string `json:"customer_id"`
	} `json:"items"`
	NextCursor string `json:"next_cursor"`
}

func (p apiPage) ids() []string {
	var out []string
	for _, it := range p.Items {
		out = append(out, it.InteractionID)
	}
	return out
}

// crmURL is the demo ledger's CRM record URL template.
const crmURL = "https://crm.example.com/records/{id}"

// postEvents posts envelopes with an ingest token and returns how many were accepted.
func postEvents(t *testing.T, base string, envs ...map[string]any) int {
	t.Helper()
	return postAs(t, base, "ingest", envs...)
}

// postAs posts envelopes with a token of scope and returns how many were accepted.
func postAs(t *testing.T, base, scope string, envs ...map[string]any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/events", bytes.NewReader(nodetest.MustJSON(t, envs)))
	req.Header.Set("Authorization", "Bearer "+nodetest.Token(t, "producer", scope))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Accepted int }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("post events: %d %v", resp.StatusCode, err)
	}
	return out.Accepted
}

// apiIDs is the API's answer to the list query q (the page's own parameters) for tok.
func apiIDs(t *testing.T, base, tok string, q url.Values) (apiPage, []string) {
	t.Helper()
	var p apiPage
	if code := api(t, base, tok, "/v1/interactions?"+q.Encode(), &p); code != http.StatusOK {
		t.Fatalf("API list %s: %d", q.Encode(), code)
	}
	return p, p.ids()
}

func tokenOf(link string) string { return link[strings.Index(link, "#token=")+len("#token="):] }

func shoot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	var png []byte
	run(t, ctx, "screenshot "+name, chromedp.FullScreenshot(&png, 100)) // 100 is PNG, below is JPEG
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitURL polls the address until it holds every part, then waits for the list.
func waitURL(t *testing.T, ctx context.Context, parts ...string) {
	t.Helper()
	nodetest.Eventually(t, "address with "+strings.Join(parts, " and "), func() (bool, string) {
		var loc string
		if err := chromedp.Run(ctx, chromedp.Location(&loc)); err != nil {
			return false, err.Error()
		}
		for _, p := range parts {
			if !strings.Contains(loc, p) {
				return false, loc
			}
		}
		return true, ""
	})
	run(t, ctx, "wait for the list", chromedp.WaitReady(`body`), chromedp.WaitVisible(`table.list`))
}

func sameIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(want) == 0 {
		t.Fatalf("%s: the API shows no rows; the test would prove nothing", what)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: the page shows %d rows %v, the API answers %d %v", what, len(got), got, len(want), want)
	}
}

// TestBrowserPages drives the pages in headless chromium over a demo ledger: what a
// person sees is what the API answers to the same agent.
func TestBrowserPages(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests start a ledger and chromium")
	}
	ctx := browser(t)
	base, links := demoLedger(t)
	shots := *screenshots
	if shots == "" {
		shots = t.TempDir()
	}
	mgr := tokenOf(links["manager"])

	t.Run("signed out, the pages send to sign-in", func(t *testing.T) {
		var loc string
		run(t, ctx, "open /", chromedp.Navigate(base+"/"), chromedp.WaitVisible(`#signin-form`), chromedp.Location(&loc))
		if !strings.Contains(loc, "/signin?next=") {
			t.Fatalf("location %s, want the sign-in page", loc)
		}
	})

	t.Run("each role sees exactly the rows the API allows it", func(t *testing.T) {
		seen := map[string][]string{}
		for _, role := range []string{"collaborator", "manager", "administrator"} {
			var agent, loc, tz string
			run(t, ctx, "sign in as "+role, chromedp.Navigate(links[role]), chromedp.WaitVisible(`table.list`),
				chromedp.Text(`[data-testid=agent]`, &agent), chromedp.Location(&loc), chromedp.Value(`#tz`, &tz))
			if strings.Contains(loc, "token") {
				t.Fatalf("%s: the token stayed in the address %s", role, loc)
			}
			_, want := apiIDs(t, base, tokenOf(links[role]), url.Values{"tz": {tz}})
			sameIDs(t, role, rowIDs(t, ctx), want)
			seen[role] = want
		}
		if slices.Equal(seen["collaborator"], seen["administrator"]) {
			t.Fatal("the collaborator and the administrator see the same rows: the demo does not exercise the rules")
		}
	})

	t.Run("filter, search, sort and load more", func(t *testing.T) {
		run(t, ctx, "sign in as manager", chromedp.Navigate(links["manager"]), chromedp.WaitVisible(`table.list`))
		shoot(t, ctx, shots, "list")
		first, _ := apiIDs(t, base, mgr, url.Values{"tz": {browserTZ}})

		run(t, ctx, "filter voice, processed",
			chromedp.Click(`details summary`), chromedp.Click(`input[name=flow][value=voice]`),
			chromedp.Click(`input[name=status][value=processed]`), chromedp.Click(`.filters button[type=submit]`))
		waitURL(t, ctx, "flow=voice")
		_, want := apiIDs(t, base, mgr, url.Values{"tz": {browserTZ}, "flow": {"voice"}, "status": {"processed"}})
		sameIDs(t, "flow=voice&status=processed", rowIDs(t, ctx), want)

		var contact string
		for _, it := range first.Items {
			if strings.HasPrefix(it.Contact, "+") {
				contact = it.Contact
				break
			}
		}
		if contact == "" {
			t.Fatal("no phone contact in the manager's first page")
		}
		digits := contact[len(contact)-7:]
		run(t, ctx, "search the last digits", chromedp.Navigate(base+"/"), chromedp.WaitVisible(`#q`),
			chromedp.SendKeys(`#q`, digits), chromedp.Submit(`#q`))
		waitURL(t, ctx, "q="+digits)
		_, want = apiIDs(t, base, mgr, url.Values{"tz": {browserTZ}, "q": {digits}})
		sameIDs(t, "q="+digits, rowIDs(t, ctx), want)

		for _, order := range []string{"asc", "desc"} {
			run(t, ctx, "sort by advisor "+order, chromedp.Click(`th a[data-col=agent_id]`))
			waitURL(t, ctx, "order="+order, "sort=agent_id")
			_, want = apiIDs(t, base, mgr, url.Values{"tz": {browserTZ}, "q": {digits}, "sort": {"agent_id"}, "order": {order}})
			sameIDs(t, "sort=agent_id&order="+order, rowIDs(t, ctx), want)
		}

		if first.NextCursor == "" {
			t.Fatal("the manager's list fits one page: load more is not exercised")
		}
		second, _ := apiIDs(t, base, mgr, url.Values{"tz": {browserTZ}, "cursor": {first.NextCursor}})
		run(t, ctx, "load more", chromedp.Navigate(base+"/"), chromedp.WaitVisible(`[data-testid=load-more]`),
			chromedp.Click(`[data-testid=load-more]`),
			chromedp.Poll(fmt.Sprintf(`document.querySelectorAll("#rows > tr").length == %d`, len(first.Items)+len(second.Items)), nil))
		sameIDs(t, "two pages", rowIDs(t, ctx), append(first.ids(), second.ids()...))
	})

	t.Run("a detail and its tabs; an invisible interaction is 404", func(t *testing.T) {
		page, _ := apiIDs(t, base, mgr, url.Values{"tz": {browserTZ}})
		id := page.Items[0].InteractionID
		var panel string
		run(t, ctx, "open the first row", chromedp.Navigate(base+"/"), chromedp.WaitVisible(`#rows > tr`),
			chromedp.Click(`#rows > tr:first-child td:first-child a`), chromedp.WaitVisible(`aside.side`),
			chromedp.Text(`aside.side`, &panel))
		if !strings.Contains(panel, id) {
			t.Fatalf("the detail's panel does not show %s: %q", id, panel)
		}
		shoot(t, ctx, shots, "detail")
		for _, tab := range []string{"card", "case", "qualifications", "survey", "invoices", "interaction"} {
			run(t, ctx, "tab "+tab, chromedp.Click(`.tabs a[data-tab=`+tab+`]`), chromedp.WaitVisible(`[data-testid=tab-`+tab+`]`))
		}
		// The administrator sees an interaction the collaborator does not.
		admin, _ := apiIDs(t, base, tokenOf(links["administrator"]), url.Values{"tz": {browserTZ}})
		collab := tokenOf(links["collaborator"])
		hidden := ""
		for _, it := range admin.Items {
			if api(t, base, collab, "/v1/interactions/"+it.InteractionID, nil) == http.StatusNotFound {
				hidden = it.InteractionID
				break
			}
		}
		if hidden == "" {
			t.Fatal("no interaction hidden from the collaborator in the administrator's first page")
		}
		var body string
		run(t, ctx, "open a hidden interaction as collaborator", chromedp.Navigate(links["collaborator"]), chromedp.WaitVisible(`table.list`),
			chromedp.Navigate(base+"/interactions/"+hidden), chromedp.Text(`main`, &body))
		if !strings.Contains(body, "404") || strings.Contains(body, "Events") {
			t.Fatalf("a hidden interaction shows %q, want the 404 page", body)
		}
	})

	t.Run("a card, its tabs, and its task actions", func(t *testing.T) {
		page, _ := apiIDs(t, base, mgr, url.Values{"tz": {browserTZ}})
		cust := ""
		for _, it := range page.Items {
			if it.CustomerID != "" {
				cust = it.CustomerID
				break
			}
		}
		taskID := "browser-task-1"
		post := func(path string, body any) int {
			t.Helper()
			b, _ := json.Marshal(body)
			req, _ := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(b))
			req.Header.Set("Authorization", "Bearer "+mgr)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if code := post("/v1/customers/"+cust+"/tasks", map[string]any{"task_id": taskID, "title": "Call back about the invoice"}); code != http.StatusCreated {
			t.Fatalf("create task: %d", code)
		}
		run(t, ctx, "open the card", chromedp.Navigate(links["manager"]), chromedp.WaitVisible(`table.list`),
			chromedp.Navigate(base+"/customers/"+cust), chromedp.WaitVisible(`[data-testid=tab-timeline]`))
		shoot(t, ctx, shots, "card")
		for _, tab := range []string{"chats", "visits", "segments", "tasks"} {
			run(t, ctx, "tab "+tab, chromedp.Click(`.tabs a[data-tab=`+tab+`]`), chromedp.WaitVisible(`[data-testid=tab-`+tab+`]`))
		}
		row := `tr[data-task="` + taskID + `"]`
		var notice, status string
		run(t, ctx, "complete", chromedp.Click(row+` button[data-action=complete]`), chromedp.WaitVisible(`[data-testid=notice]`),
			chromedp.Text(`[data-testid=notice]`, &notice), chromedp.Text(row+` .status`, &status))
		if !strings.Contains(notice, "completed") || status != "Completed" {
			t.Fatalf("after complete: notice %q, status %q", notice, status)
		}
		run(t, ctx, "reopen", chromedp.Click(row+` button[data-action=reopen]`),
			chromedp.WaitVisible(row+` button[data-action=complete]`), chromedp.Text(row+` .status`, &status))
		if status != "Pending" {
			t.Fatalf("after reopen: status %q", status)
		}
		// Someone else completes the task while the page still offers Complete: the agent
		// has the task's edit form open, so the live update does not swap the page under
		// them but says it changed.
		run(t, ctx, "open the edit form", chromedp.Click(row+` details.edit summary`), chromedp.WaitVisible(row+` details.edit input[name=title]`))
		if code := post("/v1/customers/"+cust+"/tasks/"+taskID+"/complete", nil); code != http.StatusOK {
			t.Fatalf("complete by API: %d", code)
		}
		run(t, ctx, "the page says it changed", chromedp.WaitVisible(`[data-testid=changed-notice]`))
		shoot(t, ctx, shots, "changed")
		var refused string
		run(t, ctx, "complete again", chromedp.Click(row+` button[data-action=complete]`), chromedp.WaitVisible(`[data-testid=refused]`),
			chromedp.Text(`[data-testid=refused]`, &refused), chromedp.Text(row+` .status`, &status))
		if !strings.Contains(refused, "it is completed now") || status != "Completed" {
			t.Fatalf("refused transition: message %q, status %q", refused, status)
		}
	})

	t.Run("a live row arrives that matches the filter, and not one that does not", func(t *testing.T) {
		var agent string
		run(t, ctx, "open the voice list", chromedp.Navigate(links["manager"]), chromedp.WaitVisible(`table.list`),
			chromedp.Text(`[data-testid=agent]`, &agent), chromedp.Navigate(base+"/?flow=voice"), chromedp.WaitVisible(`table.list`))
		if n := postEvents(t, base,
			nodetest.Ev("interaction.started", "live-cust", 0, map[string]any{"interaction_id": "live-email", "flow": "email",
				"direction": "incoming", "routing": "direct", "agent_id": agent, "contact": map[string]any{"email": "live@example.com"}}),
		); n != 1 {
			t.Fatalf("%d events accepted", n)
		}
		if n := postEvents(t, base,
			nodetest.Ev("interaction.started", "live-cust", 0, map[string]any{"interaction_id": "live-call", "flow": "voice",
				"direction": "incoming", "routing": "direct", "agent_id": agent}),
		); n != 1 {
			t.Fatalf("%d events accepted", n)
		}
		// Both are posted; the voice one comes after the email one in the stream, so once
		// it is shown, the email one would have been shown too had it been sent.
		run(t, ctx, "wait for the live row", chromedp.WaitVisible(`#rows > tr[data-id="live-call"]`))
		var ids []string
		run(t, ctx, "read rows", chromedp.Evaluate(`[...document.querySelectorAll("#rows > tr")].map(r => r.dataset.id)`, &ids))
		if ids[0] != "live-call" || slices.Contains(ids, "live-email") {
			t.Fatalf("rows after the live updates: %v; want live-call on top and no live-email", ids)
		}
		shoot(t, ctx, shots, "live")
	})

	t.Run("an open detail and an open card follow their changes", func(t *testing.T) {
		// live-call and live-cust come from the live row above.
		run(t, ctx, "open the qualifications of live-call", chromedp.Navigate(links["manager"]), chromedp.WaitVisible(`table.list`),
			chromedp.Navigate(base+"/interactions/live-call?tab=qualifications"), chromedp.WaitVisible(`[data-testid=tab-qualifications]`))
		if n := postEvents(t, base, nodetest.Ev("interaction.qualified", "live-cust", 0,
			map[string]any{"interaction_id": "live-call", "qualifications": []string{"callback-live"}})); n != 1 {
			t.Fatalf("%d events accepted", n)
		}
		var quals string
		run(t, ctx, "the qualification appears", chromedp.WaitVisible(`[data-testid=tab-qualifications] li`),
			chromedp.Text(`[data-testid=tab-qualifications]`, &quals))
		if !strings.Contains(quals, "callback-live") {
			t.Fatalf("qualifications after the live update: %q", quals)
		}
		run(t, ctx, "open the card of live-cust", chromedp.Navigate(base+"/customers/live-cust"), chromedp.WaitVisible(`[data-testid=tab-timeline]`))
		if n := postEvents(t, base, nodetest.Ev("note.added", "live-cust", 0,
			map[string]any{"note_id": "live-note", "text": "Called back, all settled"})); n != 1 {
			t.Fatalf("%d events accepted", n)
		}
		var card string
		run(t, ctx, "the note appears", chromedp.Poll(`document.getElementById("main").dataset.updated >= "1"`, nil),
			chromedp.Text(`[data-testid=tab-timeline]`, &card))
		if !strings.Contains(card, "Called back, all settled") {
			t.Fatalf("the card after the live update: %q", card)
		}
	})

	t.Run("export CSV is the API's CSV for the same query", func(t *testing.T) {
		run(t, ctx, "open the voice list", chromedp.Navigate(links["manager"]), chromedp.WaitVisible(`table.list`),
			chromedp.Navigate(base+"/?flow=voice&sort=agent_id&order=asc"), chromedp.WaitVisible(`[data-testid=export]`))
		var got string
		run(t, ctx, "fetch the export", chromedp.Evaluate(`fetch(document.querySelector("[data-testid=export]").href).then(r => r.text())`, &got,
			func(p *cdpruntime.EvaluateParams) *cdpruntime.EvaluateParams { return p.WithAwaitPromise(true) }))
		req, _ := http.NewRequest(http.MethodGet, base+"/v1/interactions?tz="+url.QueryEscape(browserTZ)+"&flow=voice&sort=agent_id&order=asc", nil)
		req.Header.Set("Authorization", "Bearer "+mgr)
		req.Header.Set("Accept", "text/csv")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		want, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		// fetch's text() drops the byte-order mark, as a spreadsheet reads it.
		if strings.TrimPrefix(string(want), "\uFEFF") != got {
			t.Fatalf("the page's export differs from the API's:\npage %.300q\napi  %.300q", got, want)
		}
		_, ids := apiIDs(t, base, mgr, url.Values{"tz": {browserTZ}, "flow": {"voice"}, "limit": {"500"}})
		if lines := strings.Count(got, "\n"); lines != len(ids)+1 || len(ids) == 0 {
			t.Fatalf("the export has %d lines, want a header and the API's %d rows", lines, len(ids))
		}
	})

	t.Run("the detail's Settings menu and My buttons", func(t *testing.T) { browserSettings(t, ctx, base, shots) })
	t.Run("saved views: save, open, delete", func(t *testing.T) { browserSavedViews(t, ctx, base, links["manager"], mgr) })
}

// submit runs click, which posts a form, and then, once the page it replaces is gone,
// the actions after: a selector found before the new page arrives would read the old one.
func submit(t *testing.T, ctx context.Context, what string, click chromedp.Action, after ...chromedp.Action) {
	t.Helper()
	var marked bool
	steps := []chromedp.Action{chromedp.Evaluate(`document.body.setAttribute("data-old", ""), true`, &marked), click,
		chromedp.WaitNotPresent(`body[data-old]`), chromedp.WaitReady(`body`)}
	run(t, ctx, what, append(steps, after...)...)
}

// browserSettings acts on an interaction from its detail as an agent of its own, whose
// profile and record carry My buttons: assign a CRM record and see it in the panel and
// the list's CRM button; unassign it from two tabs, the second refused with the current
// state; create a payment and see it in Invoices; bad input names the field; a sign-in
// without interactions:write is refused in words; My buttons are the API's.
func browserSettings(t *testing.T, ctx context.Context, base, shots string) {
	const agent, id = "pg-agent", "pg-call"
	if n := postAs(t, base, "directory:write",
		nodetest.Ev("directory.profile", "", 5, map[string]any{"profile_id": "pg-p", "queues": []string{"pg-q"}, "flows": []string{"voice"},
			"history_access": true, "buttons": []map[string]any{{"label": "Open in CRM", "url": "https://crm.example/records/{crm_record}?contact={contact}#{interaction_id}"}}}),
		nodetest.Ev("directory.agent", "", 5, map[string]any{"agent_id": agent, "role": "collaborator", "active_profile_id": "pg-p",
			"buttons": []map[string]any{{"label": "Mine", "url": "http://tools.example/{agent_id}/{customer_id}"}}}),
	); n != 2 {
		t.Fatalf("%d directory events accepted", n)
	}
	if n := postEvents(t, base, nodetest.Ev("interaction.started", "pg-cust", 3, map[string]any{"interaction_id": id, "flow": "voice",
		"direction": "incoming", "routing": "direct", "agent_id": agent, "contact": map[string]any{"phone": "+1 202 555 0147"}})); n != 1 {
		t.Fatalf("%d events accepted", n)
	}
	tok := nodetest.Token(t, agent, "history:read", "interactions:write")
	nodetest.Eventually(t, id+" visible to "+agent, func() (bool, string) {
		code := api(t, base, tok, "/v1/interactions/"+id, nil)
		return code == http.StatusOK, fmt.Sprint(code)
	})
	detail := base + "/interactions/" + id
	signin := func(tok string) {
		t.Helper()
		run(t, ctx, "sign in", chromedp.Navigate(base+"/signin#token="+tok), chromedp.WaitVisible(`table.list`))
	}
	// act opens the Settings menu of the detail shown in tab, runs fill, and submits.
	act := func(tab context.Context, action string, fill ...chromedp.Action) {
		t.Helper()
		run(t, tab, "open Settings", append([]chromedp.Action{chromedp.Click(`[data-testid=settings] > summary`)}, fill...)...)
		submit(t, tab, action, chromedp.Click(`button[data-action=`+action+`]`),
			chromedp.WaitVisible(`[data-testid=notice], [data-testid=refused], [data-testid=action-error]`))
	}
	text := func(tab context.Context, sel string) string {
		t.Helper()
		var s string
		run(t, tab, "read "+sel, chromedp.Text(sel, &s))
		return s
	}

	signin(tok)
	run(t, ctx, "open the detail", chromedp.Navigate(detail), chromedp.WaitVisible(`aside.side`))
	act(ctx, "assign-crm", chromedp.SendKeys(`#crm-id`, "CRM-77"))
	if n := text(ctx, `[data-testid=notice]`); n != "CRM record CRM-77 assigned." {
		t.Fatalf("notice %q", n)
	}
	if p := text(ctx, `aside.side`); !strings.Contains(p, "CRM-77") {
		t.Fatalf("the panel does not show the record: %q", p)
	}
	wantCRM := strings.ReplaceAll(crmURL, "{id}", "CRM-77")
	var href string
	var ok bool
	run(t, ctx, "the list's CRM button", chromedp.Navigate(base+"/"), chromedp.WaitVisible(`tr[data-id="`+id+`"]`),
		chromedp.AttributeValue(`tr[data-id="`+id+`"] .row-actions a.chip`, "href", &href, &ok))
	if href != wantCRM {
		t.Fatalf("the list's CRM button leads to %q, want %q", href, wantCRM)
	}

	// Two tabs show the record assigned; the first unassigns it, the second then tries.
	other, cancel := chromedp.NewContext(ctx)
	defer cancel()
	for _, tab := range []context.Context{ctx, other} {
		run(t, tab, "open the detail", chromedp.Navigate(detail), chromedp.WaitVisible(`aside.side`))
	}
	// The second tab's agent has the Settings menu open: the live update does not swap
	// the page under them but says it changed, and their click is refused cleanly.
	run(t, other, "open Settings in the second tab", chromedp.Click(`[data-testid=settings] > summary`),
		chromedp.WaitVisible(`button[data-action=unassign-crm]`))
	act(ctx, "unassign-crm")
	if n := text(ctx, `[data-testid=notice]`); n != "CRM record unassigned." {
		t.Fatalf("notice %q", n)
	}
	run(t, other, "the second tab says it changed", chromedp.WaitVisible(`[data-testid=changed-notice]`))
	submit(t, other, "unassign-crm", chromedp.Click(`button[data-action=unassign-crm]`),
		chromedp.WaitVisible(`[data-testid=notice], [data-testid=refused], [data-testid=action-error]`))
	refused := text(other, `[data-testid=refused]`)
	if !strings.Contains(refused, "no CRM record is assigned") || !strings.Contains(refused, "It has no CRM record") {
		t.Fatalf("the second unassign shows %q", refused)
	}
	if p := text(other, `aside.side`); strings.Contains(p, "CRM-77") {
		t.Fatalf("after the refusal the panel still shows the record: %q", p)
	}
	cancel()

	act(ctx, "payment", chromedp.SendKeys(`#pay-amount`, "12.505"), chromedp.SendKeys(`#pay-currency`, "EUR"))
	var invalid string
	run(t, ctx, "read the marked field", chromedp.AttributeValue(`#pay-amount`, "aria-invalid", &invalid, &ok))
	if e := text(ctx, `[data-testid=action-error]`); !strings.HasPrefix(e, "Amount: ") || invalid != "true" {
		t.Fatalf("bad amount: message %q, aria-invalid %q", e, invalid)
	}
	run(t, ctx, "correct the amount", chromedp.Clear(`#pay-amount`), chromedp.SendKeys(`#pay-amount`, "12.50"),
		chromedp.SetValue(`#pay-status`, "paid"), chromedp.SendKeys(`#pay-ref`, "INV-9"))
	submit(t, ctx, "create the payment", chromedp.Click(`button[data-action=payment]`), chromedp.WaitVisible(`[data-testid=notice]`))
	if row := text(ctx, `[data-testid=tab-invoices] tbody`); !strings.Contains(row, "12.50 EUR") || !strings.Contains(row, "Paid") {
		t.Fatalf("the Invoices tab shows %q", row)
	}
	if n := text(ctx, `[data-testid=notice]`); !strings.HasPrefix(n, "Payment ") {
		t.Fatalf("notice %q", n)
	}

	var d struct {
		Buttons []struct{ Label, URL string } `json:"buttons"`
	}
	if code := api(t, base, tok, "/v1/interactions/"+id, &d); code != http.StatusOK || len(d.Buttons) != 2 {
		t.Fatalf("API detail: %d, buttons %+v", code, d.Buttons)
	}
	var got []map[string]string
	run(t, ctx, "open My buttons", chromedp.Click(`[data-testid=my-buttons] > summary`), chromedp.WaitVisible(`[data-testid=my-button]`),
		chromedp.Evaluate(`[...document.querySelectorAll("[data-testid=my-button]")].map(a => ({label: a.textContent, href: a.getAttribute("href"), target: a.target, rel: a.rel}))`, &got))
	if len(got) != len(d.Buttons) {
		t.Fatalf("the page shows buttons %v, the API %+v", got, d.Buttons)
	}
	for i, b := range d.Buttons {
		if got[i]["label"] != b.Label || got[i]["href"] != b.URL || got[i]["target"] != "_blank" || got[i]["rel"] != "noopener noreferrer" {
			t.Fatalf("button %d: page %v, API %+v", i, got[i], b)
		}
	}
	if !strings.Contains(d.Buttons[0].URL, "tools.example/"+agent+"/pg-cust") {
		t.Fatalf("the agent's button is not filled in: %q", d.Buttons[0].URL)
	}
	run(t, ctx, "open Settings for the screenshot", chromedp.Click(`[data-testid=my-buttons] > summary`),
		chromedp.Click(`[data-testid=settings] > summary`), chromedp.WaitVisible(`#pay-amount`))
	shoot(t, ctx, shots, "settings")

	// Without interactions:write the menu says so, and an action is refused in words.
	signin(nodetest.Token(t, agent, "history:read"))
	run(t, ctx, "open the detail", chromedp.Navigate(detail), chromedp.WaitVisible(`aside.side`))
	act(ctx, "assign-case")
	if r := text(ctx, `[data-testid=refused]`); !strings.Contains(r, "lacks the scope interactions:write") {
		t.Fatalf("without the scope: %q", r)
	}
	var after struct {
		Case string `json:"case"`
	}
	if code := api(t, base, tok, "/v1/interactions/"+id, &after); code != http.StatusOK || after.Case != "" {
		t.Fatalf("after the refused assign: %d, case %q; want none assigned", code, after.Case)
	}
}

// browserSavedViews saves the list's query under a name, opens it from the menu (the
// rows are the API's answer to that query for this agent), and deletes it.
func browserSavedViews(t *testing.T, ctx context.Context, base, link, tok string) {
	const name = "Voice processed"
	run(t, ctx, "open a filtered list", chromedp.Navigate(link), chromedp.WaitVisible(`table.list`),
		chromedp.Navigate(base+"/?flow=voice&status=processed"), chromedp.WaitVisible(`table.list`))
	run(t, ctx, "a blank name", chromedp.Click(`[data-testid=saved-views] > summary`), chromedp.SendKeys(`#view-name`, "   "))
	submit(t, ctx, "save a blank name", chromedp.Click(`[data-testid=save-view]`), chromedp.WaitVisible(`[data-testid=view-error]`))
	var msg string
	run(t, ctx, "read the error", chromedp.Text(`[data-testid=view-error]`, &msg))
	if msg != "View name: is required." {
		t.Fatalf("blank name: %q", msg)
	}
	run(t, ctx, "name it", chromedp.Clear(`#view-name`), chromedp.SendKeys(`#view-name`, name))
	submit(t, ctx, "save", chromedp.Click(`[data-testid=save-view]`))
	waitURL(t, ctx, "flow=voice", "status=processed")
	var current string
	var ok bool
	run(t, ctx, "the menu marks it", chromedp.AttributeValue(`a[data-view="`+name+`"]`, "aria-current", &current, &ok))
	if current != "page" {
		t.Fatalf("the saved view is not the current one: %q %v", current, ok)
	}
	run(t, ctx, "open it from the menu", chromedp.Navigate(base+"/"), chromedp.WaitVisible(`table.list`),
		chromedp.Click(`[data-testid=saved-views] > summary`), chromedp.Click(`a[data-view="`+name+`"]`))
	waitURL(t, ctx, "flow=voice", "status=processed")
	_, want := apiIDs(t, base, tok, url.Values{"tz": {browserTZ}, "flow": {"voice"}, "status": {"processed"}})
	sameIDs(t, "the saved view", rowIDs(t, ctx), want)
	run(t, ctx, "open the menu", chromedp.Click(`[data-testid=saved-views] > summary`))
	submit(t, ctx, "delete it", chromedp.Click(`button[data-delete="`+name+`"]`))
	waitURL(t, ctx, "flow=voice", "status=processed")
	var left int
	run(t, ctx, "the menu is empty", chromedp.Evaluate(`document.querySelectorAll("a[data-view]").length`, &left),
		chromedp.Click(`[data-testid=saved-views] > summary`), chromedp.Text(`[data-testid=saved-views] .menu-panel`, &msg))
	if left != 0 || !strings.Contains(msg, "No saved views yet.") {
		t.Fatalf("after delete: %d views, menu %q", left, msg)
	}
}

// TestEveningZone: whatever the hour, the browser's zone puts the local time between
// 22:00 and 23:00.
func TestEveningZone(t *testing.T) {
	day := time.Date(2026, 12, 2, 0, 20, 0, 0, time.UTC)
	for h := range 24 {
		now := day.Add(time.Duration(h) * time.Hour)
		name := eveningZone(now)
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := now.In(loc).Hour(); got != 22 {
			t.Errorf("at %s UTC, %s: local hour %d, want 22", now.Format("15:04"), name, got)
		}
	}
}
