package service

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/orgraph/orgraph/ent/handle"
	"github.com/orgraph/orgraph/internal/apperr"
)

var handleTypes = []handle.Type{handle.TypeEMAIL_ADDRESS, handle.TypePHONE_NUMBER, handle.TypeUSERNAME}

// FuzzNormalizeHandle: any input is either refused with BAD_USER_INPUT or
// normalized to a printable, valid UTF-8 value that normalizes to itself
// (so the same handle is never stored twice under two spellings).
func FuzzNormalizeHandle(f *testing.F) {
	for _, s := range []string{"  M.Green@TrueSight.COM ", "x@bücher.example", "X@BÜCHER.example.", "first+tag@sub.example.org",
		"+1 (650) 253-0000", " +41 44 668 18 00 ", "+44 20 7946 0958", "  Blake_99 ", "Zoë.k", "a@b", "@", "+", "İ"} {
		for i := range handleTypes {
			f.Add(uint8(i), s)
		}
	}
	f.Fuzz(func(t *testing.T, typ uint8, value string) {
		h := HandleInput{Type: handleTypes[int(typ)%len(handleTypes)], Value: value}
		out, err := NormalizeHandle(h)
		if err != nil {
			var e *apperr.Error
			if !errors.As(err, &e) || e.Code != apperr.BadUserInput {
				t.Fatalf("%s %q: want BAD_USER_INPUT, got %v", h.Type, value, err)
			}
			return
		}
		if !utf8.ValidString(out) || strings.IndexFunc(out, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0 {
			t.Fatalf("%s %q normalized to %q: not printable UTF-8", h.Type, value, out)
		}
		again, err := NormalizeHandle(HandleInput{Type: h.Type, Value: out})
		if err != nil || again != out {
			t.Fatalf("%s %q normalized to %q, which normalizes to %q, %v", h.Type, value, out, again, err)
		}
	})
}

// FuzzSlug: a slug derived from any name is one the API would accept as
// given, and a given slug is accepted exactly when it has the documented form.
func FuzzSlug(f *testing.F) {
	for _, s := range []string{"Acme Corp", "  ", "Zürich Ärzte", "東京", "a--b", strings.Repeat("ab ", 50), "-x-", "org"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d := deriveSlug(s); !slugRE.MatchString(d) || len(d) > 90 {
			t.Fatalf("name %q derives slug %q, which is not a valid slug of at most 90 bytes", s, d)
		}
		want := len(s) >= 1 && len(s) <= 100 && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == ""
		if slugRE.MatchString(s) != want {
			t.Fatalf("slug %q accepted=%v, want %v", s, !want, want)
		}
	})
}

// FuzzAlias: an alias is accepted exactly when it has the documented form
// (3 to 40 of a-z 0-9 . _ -, starting with a letter or digit).
func FuzzAlias(f *testing.F) {
	for _, s := range []string{"alice", "al", "Alice", "a.b-c_d", ".alice", "alice\n", strings.Repeat("a", 40), strings.Repeat("a", 41), "ålice"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := len(s) >= 3 && len(s) <= 40 && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789._-") == "" &&
			strings.Trim(s[:1], "abcdefghijklmnopqrstuvwxyz0123456789") == ""
		if aliasRE.MatchString(s) != want {
			t.Fatalf("alias %q accepted=%v, want %v", s, !want, want)
		}
	})
}
