package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// BenchmarkOPAServer asks the same questions of OPA's own server (`opa run
// --server`, the same module version, over keep-alive loopback HTTP), after
// checking that it answers every input exactly like the in-process engine;
// compare with BenchmarkDecideCold and BenchmarkDecideCached.
func BenchmarkOPAServer(b *testing.B) {
	out, err := exec.Command("go", "tool", "-n", "opa").Output()
	if err != nil {
		b.Skipf("opa tool not available: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(strings.TrimSpace(string(out)), "run", "--server", "--addr", addr,
		"--log-level", "error", "--skip-version-check", "rego/")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	for deadline := time.Now().Add(30 * time.Second); ; {
		if res, err := client.Get("http://" + addr + "/health"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("opa server did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}

	e := benchEngine(b)
	inputs := benchInputs()
	bodies := make([][]byte, len(inputs))
	for i, in := range inputs {
		doc, err := ast.JSON(decisionInput(&in))
		if err != nil {
			b.Fatal(err)
		}
		bodies[i], _ = json.Marshal(map[string]any{"input": doc})
	}
	ask := func(body []byte) (bool, error) {
		res, err := client.Post("http://"+addr+"/v1/data/orgraph/authz/decision", "application/json", bytes.NewReader(body))
		if err != nil {
			return false, err
		}
		defer res.Body.Close()
		var out struct {
			Result struct {
				Allow bool `json:"allow"`
			} `json:"result"`
		}
		return out.Result.Allow, json.NewDecoder(res.Body).Decode(&out)
	}
	for i, in := range inputs {
		want, err := e.decideUncached(context.Background(), in)
		if err != nil {
			b.Fatal(err)
		}
		got, err := ask(bodies[i])
		if err != nil {
			b.Fatal(err)
		}
		if got != want.Allowed {
			b.Fatalf("input %d: opa server says %v, engine says %v", i, got, want.Allowed)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := ask(bodies[i%len(bodies)]); err != nil {
			b.Fatal(fmt.Errorf("ask: %w", err))
		}
	}
}
