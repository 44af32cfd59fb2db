package apperr

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2/gqlerror"
)

// A request whose client went away is a client event: whatever error it
// ends with (a driver's own words for a stopped statement, an error already
// coded INTERNAL) leaves as TIMEOUT and is logged at DEBUG, never at ERROR
// or WARN; a deadline is still a TIMEOUT at WARN, a real failure INTERNAL at
// ERROR.
func TestPresenterClientGone(t *testing.T) {
	var buf bytes.Buffer
	present := Presenter(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	late, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	coded := &gqlerror.Error{Message: "internal error", Extensions: map[string]any{"code": string(Internal)}}

	for _, c := range []struct {
		name  string
		ctx   context.Context
		err   error
		code  Code
		level string
	}{
		{"driver words", gone, errors.New("sql: Rows are closed"), Timeout, "DEBUG"},
		{"context canceled", gone, context.Canceled, Timeout, "DEBUG"},
		{"wrapped internal", gone, New(Internal, "policy: eval: caller cancelled query execution"), Timeout, "DEBUG"},
		{"already coded", gone, coded, Internal, "DEBUG"},
		{"deadline", late, context.DeadlineExceeded, Timeout, "WARN"},
		{"failure", context.Background(), errors.New("boom"), Internal, "ERROR"},
	} {
		buf.Reset()
		out := present(c.ctx, c.err)
		if got := out.Extensions["code"]; got != string(c.code) {
			t.Errorf("%s: code %v, want %s", c.name, got, c.code)
		}
		if !strings.Contains(buf.String(), `"level":"`+c.level+`"`) || strings.Count(buf.String(), "\n") != 1 {
			t.Errorf("%s: logged %s, want one line at %s", c.name, buf.String(), c.level)
		}
	}
}
