package server

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/orgraph/orgraph/internal/auth"
	"github.com/orgraph/orgraph/internal/ratelimit"
)

// RateLimit configures the token buckets of the API: one per credential (the
// account behind a token, whatever org it is confined to, or the API key) and
// one per client address. A rate of 0 turns that bucket off.
type RateLimit struct {
	Disabled        bool
	PerCredential   float64 // requests a second
	CredentialBurst int
	PerAddress      float64 // requests a second
	AddressBurst    int
	// TrustedProxies may set X-Forwarded-For: the client address is then the
	// rightmost address of the header that is not itself a trusted proxy.
	// Without them the header is ignored and the peer address counts.
	TrustedProxies []netip.Prefix
	// MaxKeys bounds the buckets of each kind (0: ratelimit.DefaultMaxKeys).
	MaxKeys int
}

// ParseTrustedProxies reads addresses and CIDR prefixes (a bare address is
// that one host).
func ParseTrustedProxies(specs []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range specs {
		for _, s := range strings.Split(s, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			if p, err := netip.ParsePrefix(s); err == nil {
				out = append(out, p.Masked())
				continue
			}
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: want an IP address or a CIDR prefix", s)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		}
	}
	return out, nil
}

type rateLimiter struct {
	cfg         RateLimit
	credentials *ratelimit.Keyed
	addresses   *ratelimit.Keyed
	limited     *prometheus.CounterVec
}

func newRateLimiter(cfg RateLimit, reg prometheus.Registerer) *rateLimiter {
	rl := &rateLimiter{
		cfg: cfg,
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "orgraph_rate_limited_total",
			Help: "Requests refused with 429 by the rate limit, by bucket (credential or address)."}, []string{"bucket"}),
	}
	reg.MustRegister(rl.limited)
	if cfg.Disabled {
		return rl
	}
	rl.credentials = ratelimit.New(rate.Limit(cfg.PerCredential), cfg.CredentialBurst, cfg.MaxKeys)
	rl.addresses = ratelimit.New(rate.Limit(cfg.PerAddress), cfg.AddressBurst, cfg.MaxKeys)
	return rl
}

// perAddress spends a token of the client address's bucket. It runs before
// authentication, so guessing tokens and API keys is limited too.
func (rl *rateLimiter) perAddress(next http.Handler) http.Handler {
	if !rl.addresses.Enabled() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, wait := rl.addresses.Take("addr:" + addressKey(clientAddr(r, rl.cfg.TrustedProxies))); !ok {
			rl.refuse(w, "address", wait)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// perCredential spends a token of the caller's bucket; it runs after
// authentication (anonymous callers only have their address's bucket).
func (rl *rateLimiter) perCredential(next http.Handler) http.Handler {
	if !rl.credentials.Enabled() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if key := auth.FromContext(r.Context()).CredentialKey(); key != "" {
			if ok, wait := rl.credentials.Take(key); !ok {
				rl.refuse(w, "credential", wait)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (rl *rateLimiter) refuse(w http.ResponseWriter, bucket string, wait time.Duration) {
	rl.limited.WithLabelValues(bucket).Inc()
	secs := int(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeJSON(w, http.StatusTooManyRequests, map[string]any{"errors": []map[string]any{{
		"message":    fmt.Sprintf("rate limit exceeded (per %s): retry after %d s", bucket, secs),
		"extensions": map[string]any{"code": "RATE_LIMITED", "retryAfter": secs},
	}}})
}

// clientAddr is the peer address of r or, when the peer is a trusted proxy,
// the rightmost X-Forwarded-For address that is not a trusted proxy.
func clientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := parseAddr(r.RemoteAddr)
	if len(trusted) == 0 || !isTrusted(peer, trusted) {
		return peer
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	addr := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a := parseAddr(strings.TrimSpace(hops[i]))
		if !a.IsValid() {
			break // a garbled hop: the last good one is as far as we trust
		}
		addr = a
		if !isTrusted(a, trusted) {
			break
		}
	}
	return addr
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseAddr reads "ip", "ip:port" or "[ip]:port"; invalid input is the zero Addr.
func parseAddr(s string) netip.Addr {
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

// addressKey is an IPv4 address, or the /64 of an IPv6 one (a single
// subscriber usually holds a whole /64).
func addressKey(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
