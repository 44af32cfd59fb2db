package main

import (
	"log/slog"
	"net/netip"
	"os"
	"reflect"
	"testing"

	"github.com/alecthomas/kong"

	"github.com/orgraph/orgraph/internal/app"
	"github.com/orgraph/orgraph/server"
)

func parseServe(t *testing.T, args ...string) (app.Config, error) {
	t.Helper()
	var c cli
	p, err := kong.New(&c, kong.Name("orgraph"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Parse(append([]string{"serve"}, args...)); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	cfg := app.DefaultConfig()
	if err := c.Serve.rateFlags.apply(&cfg); err != nil {
		return cfg, err
	}
	_, err = c.Serve.logging(&cfg)
	return cfg, err
}

// `serve` without flags runs with the defaults the test suite runs with.
func TestServeFlagDefaults(t *testing.T) {
	for _, env := range []string{"ORGRAPH_NO_RATE_LIMIT", "ORGRAPH_RATE_PER_CREDENTIAL", "ORGRAPH_BURST_PER_CREDENTIAL",
		"ORGRAPH_RATE_PER_ADDRESS", "ORGRAPH_BURST_PER_ADDRESS", "ORGRAPH_TRUSTED_PROXIES", "ORGRAPH_DENIED_AUDIT_RATE", "ORGRAPH_DENIED_AUDIT_BURST",
		"ORGRAPH_LOG_REQUESTS", "ORGRAPH_LOG_LEVEL"} {
		t.Setenv(env, "") // restored after the test
		os.Unsetenv(env)
	}
	cfg, err := parseServe(t)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg.RateLimit, app.DefaultRateLimit) || cfg.DeniedAudit != app.DefaultDeniedAudit {
		t.Fatalf("serve's defaults %+v %+v differ from app's %+v %+v", cfg.RateLimit, cfg.DeniedAudit, app.DefaultRateLimit, app.DefaultDeniedAudit)
	}
	if cfg.LogRequests != app.DefaultConfig().LogRequests || cfg.LogRequests != server.LogFailedRequests {
		t.Fatalf("serve logs %q requests by default, app %q", cfg.LogRequests, app.DefaultConfig().LogRequests)
	}
}

func TestServeLogFlags(t *testing.T) {
	var c cli
	p, err := kong.New(&c, kong.Name("orgraph"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Parse([]string{"serve", "--log-requests", "all", "--log-level", "debug"}); err != nil {
		t.Fatal(err)
	}
	cfg := app.DefaultConfig()
	level, err := c.Serve.logging(&cfg)
	if err != nil || level != slog.LevelDebug || cfg.LogRequests != server.LogAllRequests {
		t.Fatalf("got %v %q %v", level, cfg.LogRequests, err)
	}
	for _, args := range [][]string{{"--log-requests", "some"}, {"--log-level", "loud"}} {
		if _, err := p.Parse(append([]string{"serve"}, args...)); err == nil {
			t.Fatalf("%v was accepted", args)
		}
	}
}

func TestServeRateFlags(t *testing.T) {
	cfg, err := parseServe(t, "--no-rate-limit", "--rate-per-credential", "5", "--burst-per-credential", "7",
		"--rate-per-address", "0.5", "--burst-per-address", "9", "--trusted-proxy", "10.0.0.0/8,192.0.2.1", "--trusted-proxy", "::1",
		"--denied-audit-rate", "0.25", "--denied-audit-burst", "11")
	if err != nil {
		t.Fatal(err)
	}
	want := server.RateLimit{Disabled: true, PerCredential: 5, CredentialBurst: 7, PerAddress: 0.5, AddressBurst: 9,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32"), netip.MustParsePrefix("::1/128")}}
	if !reflect.DeepEqual(cfg.RateLimit, want) || cfg.DeniedAudit.Rate != 0.25 || cfg.DeniedAudit.Burst != 11 {
		t.Fatalf("got %+v %+v", cfg.RateLimit, cfg.DeniedAudit)
	}
	if _, err := parseServe(t, "--trusted-proxy", "proxy.example"); err == nil {
		t.Fatal("a host name was taken for a trusted proxy")
	}
}
