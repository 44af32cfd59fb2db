package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/orgraph/orgraph/internal/app"
	"github.com/orgraph/orgraph/internal/testutil"
)

// logBuffer collects an instance's JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the log lines of a level ("ERROR", "WARN", "INFO").
func (b *logBuffer) lines(level string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for line := range strings.SplitSeq(b.buf.String(), "\n") {
		if strings.Contains(line, `"level":"`+level+`"`) {
			out = append(out, line)
		}
	}
	return out
}

// startLogged starts an instance whose logs land in the returned buffer.
func startLogged(t *testing.T, b testutil.Backend, opts ...testutil.Option) (*testutil.Instance, *logBuffer) {
	logs := &logBuffer{}
	opts = append([]testutil.Option{func(c *app.Config) { c.Logger = slog.New(slog.NewJSONHandler(logs, nil)) }}, opts...)
	return testutil.Start(t, b, opts...), logs
}

// answer is a raw HTTP answer of /graphql.
type answer struct {
	status      int
	contentType string
	allow       string
	raw         []byte
	body        map[string]any // nil for an array
	batch       []map[string]any
}

func (a *answer) code() string {
	return testutil.Str(a.body, "errors", 0, "extensions", "code")
}

// send posts (or gets, when method is GET and body is a URL query) a raw request.
func send(t *testing.T, in *testutil.Instance, method, contentType, accept, token, body string) *answer {
	t.Helper()
	target := in.URL + "/graphql"
	var rd io.Reader = strings.NewReader(body)
	if method == http.MethodGet {
		target += "?" + body
		rd = nil
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	a := &answer{status: res.StatusCode, contentType: res.Header.Get("Content-Type"), allow: res.Header.Get("Allow")}
	a.raw, _ = io.ReadAll(res.Body)
	if bytes.HasPrefix(a.raw, []byte("[")) {
		err = json.Unmarshal(a.raw, &a.batch)
	} else {
		err = json.Unmarshal(a.raw, &a.body)
	}
	if err != nil {
		t.Fatalf("%s %s: the answer is not JSON: %q", method, body, a.raw)
	}
	return a
}

// noErrorLogged fails when the instance logged at ERROR.
func noErrorLogged(t *testing.T, logs *logBuffer) {
	t.Helper()
	if lines := logs.lines("ERROR"); len(lines) > 0 {
		t.Fatalf("logged at ERROR:\n%s", strings.Join(lines, "\n"))
	}
}
