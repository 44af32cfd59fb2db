package server

import (
	"net/http/httptest"
	"testing"
)

func TestClientAddr(t *testing.T) {
	trusted, err := ParseTrustedProxies([]string{"10.0.0.0/8, 192.0.2.1", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		peer    string
		xff     []string
		trusted bool
		want    string
	}{
		{"no proxy configured: the header is ignored", "198.51.100.9:4000", []string{"203.0.113.5"}, false, "198.51.100.9"},
		{"untrusted peer: the header is ignored", "198.51.100.9:4000", []string{"203.0.113.5"}, true, "198.51.100.9"},
		{"trusted peer, one hop", "10.1.2.3:4000", []string{"203.0.113.5"}, true, "203.0.113.5"},
		{"a client cannot push its own entry past the proxy's", "10.1.2.3:4000", []string{"1.1.1.1, 203.0.113.5"}, true, "203.0.113.5"},
		{"chained trusted proxies are skipped", "10.1.2.3:4000", []string{"203.0.113.5, 192.0.2.1", "10.9.9.9"}, true, "203.0.113.5"},
		{"garbage stops the walk at the last good hop", "10.1.2.3:4000", []string{"203.0.113.5, nonsense, 10.2.2.2"}, true, "10.2.2.2"},
		{"trusted peer without the header", "192.0.2.1:4000", nil, true, "192.0.2.1"},
		{"IPv6 peer and hop", "[2001:db8::1]:4000", []string{"[2001:db8:ffff::2]:1234, 2a00:1450::1"}, true, "2a00:1450::/64"},
		{"IPv4-mapped peer", "[::ffff:10.0.0.1]:4000", []string{"203.0.113.5"}, true, "203.0.113.5"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/graphql", nil)
			r.RemoteAddr = c.peer
			for _, h := range c.xff {
				r.Header.Add("X-Forwarded-For", h)
			}
			tp := trusted
			if !c.trusted {
				tp = nil
			}
			got := addressKey(clientAddr(r, tp))
			if got != c.want {
				t.Fatalf("client address = %s, want %s", got, c.want)
			}
		})
	}
}

func TestAddressKey(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.5:1":             "203.0.113.5",
		"[2001:db8:1:2:3:4:5:6]:1":  "2001:db8:1:2::/64",
		"[2001:db8:1:2:ff::]:1":     "2001:db8:1:2::/64", // same /64, same bucket
		"[fe80::1%eth0]:1":          "fe80::/64",
		"not an address":            "unknown",
		"[::ffff:203.0.113.5]:4000": "203.0.113.5",
	} {
		if got := addressKey(parseAddr(in)); got != want {
			t.Errorf("addressKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseTrustedProxiesRefusesGarbage(t *testing.T) {
	for _, bad := range []string{"10.0.0.0/33", "example.com", "10.0.0"} {
		if _, err := ParseTrustedProxies([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
