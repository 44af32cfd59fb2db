package graph

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// likePrefix is SQLite's LIKE 'prefix%' without wildcards in prefix: ASCII
// case folded, every other byte as is.
func likePrefix(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(asciiOnly(s[:len(prefix)]), asciiOnly(prefix)) && sameNonASCII(s[:len(prefix)], prefix)
}

func asciiOnly(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 0x80 {
			b[i] = '?'
		}
	}
	return string(b)
}

func sameNonASCII(a, b string) bool {
	for i := range len(a) {
		if (a[i] >= 0x80 || b[i] >= 0x80) && a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestPrefixRangesHoldEveryMatch: every string that LIKE 'prefix%' matches
// lies in one of the ranges, so adding them never drops a row.
func TestPrefixRangesHoldEveryMatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "A", "x", "X", "z", "Z", "0", " ", "-", "é", "É", "\x7f", "~"}
	word := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	for range 5000 {
		prefix := word(1 + rng.IntN(5))
		ranges := prefixRanges(prefix, 8)
		if len(ranges) == 0 || len(ranges) > 8 {
			t.Fatalf("%q: %d ranges", prefix, len(ranges))
		}
		for range 20 {
			s := word(rng.IntN(8))
			if rng.IntN(2) == 0 { // a match, in some case spelling
				p := []byte(prefix)
				for i, c := range p {
					if c|0x20 >= 'a' && c|0x20 <= 'z' && rng.IntN(2) == 0 {
						p[i] ^= 0x20
					}
				}
				s = string(p) + s
			}
			if !likePrefix(s, prefix) {
				continue
			}
			in := false
			for _, r := range ranges {
				if s >= r[0] && (r[1] == "" || s < r[1]) {
					in = true
				}
			}
			if !in {
				t.Fatalf("%q matches LIKE %q%% but lies in none of %q", s, prefix, ranges)
			}
		}
	}
}
