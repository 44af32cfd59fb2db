package server

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind (a server,
// a watcher, a sweeper or a connection that was never stopped).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
