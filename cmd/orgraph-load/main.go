// Command orgraph-load is a small HTTP load generator for orgraph's GraphQL
// endpoint (no external load tool needed). scripts/load.sh drives it.
//
//	orgraph-load run -url http://127.0.0.1:8080/graphql -token-file F -query nested -root-var id -c 16 -d 10s
//	orgraph-load freeport                 # prints a free loopback TCP port
//	orgraph-load wait -url URL -timeout 30s # waits until URL answers 200
//
// run sends one GraphQL operation from c workers, keep-alive, for a fixed
// number of requests (-n) or a duration (-d), after an untimed warm-up, and
// prints requests per second, latency percentiles and errors (a transport
// error, an HTTP status other than 200, or a response with "errors"). With
// -server-pid it also reports the server's CPU time per request (Linux
// /proc). It exits 1 if any request failed.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orgraph/orgraph/internal/bench"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = run(os.Args[2:])
	case "freeport":
		err = freePort()
	case "wait":
		err = wait(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "orgraph-load:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: orgraph-load run|freeport|wait [flags]; orgraph-load run -h for the flags")
	os.Exit(2)
}

// freePort prints a TCP port that is free on the loopback interface now.
func freePort() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	return nil
}

// wait polls url until it answers 200.
func wait(args []string) error {
	fs := flag.NewFlagSet("wait", flag.ExitOnError)
	url := fs.String("url", "", "URL to poll (e.g. http://127.0.0.1:PORT/readyz)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	_ = fs.Parse(args)
	deadline := time.Now().Add(*timeout)
	hc := &http.Client{Timeout: time.Second}
	for {
		res, err := hc.Get(*url)
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("HTTP %d", res.StatusCode)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %v", *url, *timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type config struct {
	url, token, query, label string
	vars                     map[string]any
	concurrency, requests    int
	duration, timeout        time.Duration
	warmup, serverPID        int
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	var c config
	var tokenFile, varsJSON, rootVar string
	fs.StringVar(&c.url, "url", "http://127.0.0.1:8080/graphql", "GraphQL endpoint")
	fs.StringVar(&c.token, "token", os.Getenv("ORGRAPH_TOKEN"), "bearer token (default $ORGRAPH_TOKEN)")
	fs.StringVar(&tokenFile, "token-file", "", "read the bearer token from this file")
	fs.StringVar(&c.query, "query", "nested", "operation: a name ("+strings.Join(names(), ", ")+"), @file, or the GraphQL text")
	fs.StringVar(&varsJSON, "vars", "{}", "variables as a JSON object")
	fs.StringVar(&rootVar, "root-var", "", "set this variable to the id of a root org the token can read")
	fs.IntVar(&c.concurrency, "c", 1, "concurrent workers (one keep-alive connection each)")
	fs.IntVar(&c.requests, "n", 0, "timed requests in total (0: run for -d)")
	fs.DurationVar(&c.duration, "d", 10*time.Second, "how long to send timed requests when -n is 0")
	fs.IntVar(&c.warmup, "warmup", 10, "untimed requests per worker first")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "per-request timeout")
	fs.IntVar(&c.serverPID, "server-pid", 0, "report this process's CPU time per request (Linux)")
	fs.StringVar(&c.label, "label", "", "name printed with the results (default: the query name)")
	_ = fs.Parse(args)

	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return err
		}
		c.token = strings.TrimSpace(string(b))
	}
	if c.label == "" {
		c.label = c.query
		if _, ok := bench.Queries[c.query]; !ok {
			c.label = "query"
		}
	}
	if q, ok := bench.Queries[c.query]; ok {
		c.query = q
	} else if file, ok := strings.CutPrefix(c.query, "@"); ok {
		b, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		c.query = string(b)
	}
	if err := json.Unmarshal([]byte(varsJSON), &c.vars); err != nil {
		return fmt.Errorf("-vars: %w", err)
	}
	if c.vars == nil {
		c.vars = map[string]any{}
	}
	if c.concurrency < 1 || c.requests < 0 || (c.requests == 0 && c.duration <= 0) {
		return errors.New("need -c >= 1 and -n > 0 or -d > 0")
	}

	tr := &http.Transport{
		Proxy:               nil, // loopback only: never a proxy
		MaxIdleConns:        c.concurrency,
		MaxIdleConnsPerHost: c.concurrency,
		MaxConnsPerHost:     c.concurrency,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: c.timeout}

	if rootVar != "" {
		id, err := findRoot(hc, c.url, c.token)
		if err != nil {
			return err
		}
		c.vars[rootVar] = id
	}
	payload, err := json.Marshal(map[string]any{"query": c.query, "variables": c.vars})
	if err != nil {
		return err
	}
	res := load(hc, c, payload)
	res.print(c)
	if res.errors > 0 {
		return fmt.Errorf("%d of %d requests failed; first: %s", res.errors, res.errors+int64(len(res.latencies)), res.firstErr)
	}
	return nil
}

func names() []string {
	var out []string
	for n := range bench.Queries {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// send posts one request; any failure, HTTP status other than 200 or GraphQL
// error is an error. It returns the body size.
func send(ctx context.Context, hc *http.Client, url, token string, payload []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, nil, err
	}
	if res.StatusCode != http.StatusOK {
		return len(body), body, fmt.Errorf("HTTP %d: %.200s", res.StatusCode, body)
	}
	if bytes.Contains(body, []byte(`"errors":`)) {
		return len(body), body, fmt.Errorf("GraphQL errors: %.200s", body)
	}
	return len(body), body, nil
}

func findRoot(hc *http.Client, url, token string) (string, error) {
	payload, _ := json.Marshal(map[string]any{"query": bench.RootQuery})
	_, body, err := send(context.Background(), hc, url, token, payload)
	if err != nil {
		return "", fmt.Errorf("find a root org: %w", err)
	}
	var r struct {
		Data struct {
			Organizations struct {
				Edges []struct {
					Node struct{ ID string } `json:"node"`
				} `json:"edges"`
			} `json:"organizations"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil || len(r.Data.Organizations.Edges) == 0 {
		return "", fmt.Errorf("find a root org: no root in %.200s", body)
	}
	return r.Data.Organizations.Edges[0].Node.ID, nil
}

type result struct {
	latencies            []time.Duration
	errors               int64
	firstErr             string
	elapsed              time.Duration
	bytes                int64
	serverCPU, clientCPU time.Duration
	serverCPUKnown       bool
}

func load(hc *http.Client, c config, payload []byte) *result {
	res := &result{}
	var mu sync.Mutex
	fail := func(err error) {
		mu.Lock()
		if res.errors == 0 {
			res.firstErr = err.Error()
		}
		res.errors++
		mu.Unlock()
	}
	ctx := context.Background()

	// Warm-up: every worker opens its connection and sends a few requests.
	var wg sync.WaitGroup
	for range c.concurrency {
		wg.Go(func() {
			for range c.warmup {
				if _, _, err := send(ctx, hc, c.url, c.token, payload); err != nil {
					fail(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if res.errors > 0 {
		return res
	}

	srv0, srvOK := procCPU(c.serverPID)
	cli0 := selfCPU()
	var issued atomic.Int64
	deadline := time.Now().Add(c.duration)
	perWorker := make([][]time.Duration, c.concurrency)
	var total atomic.Int64
	start := time.Now()
	for w := range c.concurrency {
		wg.Go(func() {
			lat := make([]time.Duration, 0, 1024)
			for {
				if c.requests > 0 {
					if issued.Add(1) > int64(c.requests) {
						break
					}
				} else if time.Now().After(deadline) {
					break
				}
				t0 := time.Now()
				n, _, err := send(ctx, hc, c.url, c.token, payload)
				if err != nil {
					fail(err)
					continue
				}
				lat = append(lat, time.Since(t0))
				total.Add(int64(n))
			}
			perWorker[w] = lat
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	srv1, _ := procCPU(c.serverPID)
	res.serverCPU, res.serverCPUKnown = srv1-srv0, srvOK
	res.clientCPU = selfCPU() - cli0
	for _, l := range perWorker {
		res.latencies = append(res.latencies, l...)
	}
	slices.Sort(res.latencies)
	res.bytes = total.Load()
	return res
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func fmtMS(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 2, 64) + "ms"
}

func (r *result) print(c config) {
	n := len(r.latencies)
	if n == 0 {
		fmt.Printf("%s c=%d: no successful request (%d errors)\n", c.label, c.concurrency, r.errors)
		return
	}
	fmt.Printf("%s c=%d: %d requests in %.2fs = %.1f req/s, %d errors, %.1f KB/response\n",
		c.label, c.concurrency, n, r.elapsed.Seconds(), float64(n)/r.elapsed.Seconds(), r.errors, float64(r.bytes)/float64(n)/1024)
	fmt.Printf("  latency p50 %s  p90 %s  p99 %s  max %s\n",
		fmtMS(pct(r.latencies, 50)), fmtMS(pct(r.latencies, 90)), fmtMS(pct(r.latencies, 99)), fmtMS(r.latencies[n-1]))
	if r.serverCPUKnown {
		fmt.Printf("  CPU per request: server %s, load generator %s\n",
			fmtMS(r.serverCPU/time.Duration(n)), fmtMS(r.clientCPU/time.Duration(n)))
	}
}

// procCPU is a process's user+system CPU time from /proc/PID/stat (Linux;
// USER_HZ is 100 on every Linux architecture Go supports).
func procCPU(pid int) (time.Duration, bool) {
	if pid <= 0 {
		return 0, false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name (field 2) may hold spaces; the fields after it do not.
	rest := string(b)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	f := strings.Fields(rest) // f[0] is field 3 (state); utime is field 14, stime 15
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, true
}
