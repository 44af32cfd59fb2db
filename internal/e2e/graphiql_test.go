package e2e

import (
	"context"
	"encoding/json"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/orgraph/orgraph/internal/testutil"
)

// chromium finds a Chromium to drive: $ORGRAPH_TEST_CHROME, else the Debian
// package's binary. Without one the test skips locally and fails in CI.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ORGRAPH_TEST_CHROME"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is required in CI (apt-get install chromium; .ci/run installs it)")
	}
	t.Skip("no chromium found (apt-get install chromium, or set ORGRAPH_TEST_CHROME)")
	return ""
}

// refusedAddr is a loopback address nothing listens on.
func refusedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestGraphiQLOffline loads GraphiQL in headless Chromium whose network is cut
// to the test server alone, types a bearer token into the headers editor and
// runs a query that needs it. Every request goes through a proxy that refuses
// connections, except those to the server's host:port (and Chromium's implicit
// loopback bypass is removed), so an asset from anywhere else would not load.
func TestGraphiQLOffline(t *testing.T) {
	chrome := chromium(t)
	in := testutil.Start(t, testutil.SQLite)
	token := in.Account("alice", false)
	server, err := url.Parse(in.URL)
	if err != nil {
		t.Fatal(err)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900),
		chromedp.ProxyServer("http://"+refusedAddr(t)),
		chromedp.Flag("proxy-bypass-list", "<-loopback>;"+server.Host),
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,MediaRouter,OptimizationHints"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()

	// Everything the page asks for, and what goes wrong in it.
	var mu sync.Mutex
	var requested, problems []string
	listen := func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			requested = append(requested, e.Request.URL)
		case *runtime.EventExceptionThrown:
			d := e.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			problems = append(problems, "exception: "+msg+" at "+d.URL)
		case *cdplog.EventEntryAdded:
			// CSP refusals, failed loads and the like, from the browser.
			if e.Entry.Level == cdplog.EntryLevelError {
				problems = append(problems, "log: "+e.Entry.Text+" "+e.Entry.URL)
			}
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				problems = append(problems, "console.error: "+strings.Join(parts, " "))
			}
		}
	}
	// chromedp enables the log, network and runtime domains of the tab.
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithListener(listen))
	defer cancelBrowser()
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", chrome, err)
	}
	ctx, cancel := context.WithTimeout(bctx, 3*time.Minute)
	defer cancel()

	// The cut works: anything but the server, another loopback port included,
	// fails at the refusing proxy (nothing can leave the machine: a .invalid
	// name, and a loopback port nothing listens on).
	for _, u := range []string{"http://orgraph-offline-check.invalid/", "http://" + refusedAddr(t) + "/"} {
		err = chromedp.Do(ctx, chromedp.Navigate(u))
		if err == nil || !strings.Contains(err.Error(), "ERR_PROXY_CONNECTION_FAILED") {
			t.Fatalf("%s: want ERR_PROXY_CONNECTION_FAILED, got %v", u, err)
		}
	}
	mu.Lock()
	requested, problems = nil, nil
	mu.Unlock()

	const (
		queryEditor   = `.graphiql-query-editor .CodeMirror`
		headersEditor = `.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror`
		resultPane    = `.result-window .CodeMirror`
	)
	// editor reads a CodeMirror editor's text; setEditor replaces it.
	editor := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](
			`(function(){ var e = document.querySelector(`+jsString(sel)+`); return e && e.CodeMirror ? e.CodeMirror.getValue() : ""; })()`))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	clearEditor := func(sel string) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void](`document.querySelector(` + jsString(sel) + `).CodeMirror.setValue("")`)
	}
	// run clicks the run button and waits for the answer pane to show want.
	run := func(want string) string {
		t.Helper()
		before := editor(resultPane)
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`.graphiql-execute-button`))); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			got := editor(resultPane)
			if got != before && strings.Contains(got, want) {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("answer pane: want %q, have %q (headers editor: %q)", want, got, editor(headersEditor))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	start, cancelStart := context.WithTimeout(ctx, time.Minute)
	err = chromedp.Do(start,
		chromedp.Navigate(in.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(queryEditor)),
		chromedp.WaitVisible(chromedp.CSS(`.graphiql-execute-button`)),
	)
	cancelStart()
	if err != nil {
		mu.Lock()
		t.Fatalf("GraphiQL did not start: %v; problems: %v; requested: %v", err, problems, requested)
	}

	// The query, typed into the query editor.
	err = chromedp.Do(ctx,
		clearEditor(queryEditor),
		chromedp.SendKeys(chromedp.CSS(queryEditor+` textarea`), `{ viewer { alias } }`),
	)
	if err != nil {
		t.Fatal(err)
	}
	if q := editor(queryEditor); strings.Join(strings.Fields(q), "") != "{viewer{alias}}" {
		t.Fatalf("query editor holds %q", q)
	}

	// Without a token the API refuses.
	run("UNAUTHENTICATED")

	// The token, typed into the headers editor as JSON.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`button[data-name="headers"]`)),
		chromedp.WaitVisible(chromedp.CSS(headersEditor)),
		clearEditor(headersEditor),
		chromedp.SendKeys(chromedp.CSS(headersEditor+` textarea`), `{"Authorization": "Bearer `+token+`"}`),
	)
	if err != nil {
		t.Fatal(err)
	}
	var headers map[string]string
	if h := editor(headersEditor); json.Unmarshal([]byte(h), &headers) != nil || headers["Authorization"] != "Bearer "+token {
		t.Fatalf("headers editor holds %q", h)
	}

	answer := run(`"alice"`)
	var res struct {
		Data struct {
			Viewer struct{ Alias string } `json:"viewer"`
		} `json:"data"`
		Errors []any `json:"errors"`
	}
	if err := json.Unmarshal([]byte(answer), &res); err != nil || res.Data.Viewer.Alias != "alice" || len(res.Errors) > 0 {
		t.Fatalf("answer pane: %s (%v)", answer, err)
	}

	mu.Lock()
	defer mu.Unlock()
	for _, u := range requested {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "data" && p.Host != server.Host) {
			t.Errorf("the page requested %s, which is not on the server", u)
		}
	}
	for _, p := range problems {
		t.Errorf("in the page: %s", p)
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
