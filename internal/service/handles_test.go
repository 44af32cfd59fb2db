package service

import (
	"bytes"
	"crypto/ed25519"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent/handle"
	"github.com/orgraph/orgraph/internal/apperr"
)

func TestNormalizeHandle(t *testing.T) {
	ok := []struct {
		typ      handle.Type
		in, want string
	}{
		{handle.TypeEMAIL_ADDRESS, "  M.Green@TrueSight.COM ", "m.green@truesight.com"},
		{handle.TypeEMAIL_ADDRESS, "x@bücher.example", "x@xn--bcher-kva.example"},
		{handle.TypeEMAIL_ADDRESS, "X@BÜCHER.example.", "x@xn--bcher-kva.example"},
		{handle.TypeEMAIL_ADDRESS, "first+tag@sub.example.org", "first+tag@sub.example.org"},
		{handle.TypePHONE_NUMBER, "+1 (650) 253-0000", "+16502530000"},
		{handle.TypePHONE_NUMBER, " +41 44 668 18 00 ", "+41446681800"},
		{handle.TypePHONE_NUMBER, "+44 20 7946 0958", "+442079460958"},
		{handle.TypeUSERNAME, "  Blake_99 ", "blake_99"},
		{handle.TypeUSERNAME, "Zoë.k", "zoë.k"},
	}
	for _, c := range ok {
		got, err := NormalizeHandle(HandleInput{Type: c.typ, Value: c.in})
		if err != nil || got != c.want {
			t.Errorf("%s %q = %q, %v; want %q", c.typ, c.in, got, err, c.want)
		}
	}
	bad := []struct {
		typ handle.Type
		in  string
	}{
		{handle.TypeEMAIL_ADDRESS, ""},
		{handle.TypeEMAIL_ADDRESS, "no-at-sign"},
		{handle.TypeEMAIL_ADDRESS, "@example.com"},
		{handle.TypeEMAIL_ADDRESS, "a b@example.com"},
		{handle.TypeEMAIL_ADDRESS, "a@localhost"},
		{handle.TypeEMAIL_ADDRESS, "a..b@example.com"},
		{handle.TypeEMAIL_ADDRESS, "a@exa_mple.com"},
		{handle.TypeEMAIL_ADDRESS, strings.Repeat("a", 65) + "@example.com"},
		{handle.TypePHONE_NUMBER, ""},
		{handle.TypePHONE_NUMBER, "650 253 0000"}, // no country code
		{handle.TypePHONE_NUMBER, "+1234567890"},  // too short for NANP
		{handle.TypePHONE_NUMBER, "+1 650 CALL ME"},
		{handle.TypePHONE_NUMBER, "not a number"},
		{handle.TypeUSERNAME, ""},
		{handle.TypeUSERNAME, "has space"},
		{handle.TypeUSERNAME, "-leading"},
		{handle.TypeUSERNAME, strings.Repeat("u", 65)},
		{handle.Type("FAX"), "+16502530000"},
	}
	for _, c := range bad {
		_, err := NormalizeHandle(HandleInput{Type: c.typ, Value: c.in})
		if apperr.CodeOf(err) != apperr.BadUserInput {
			t.Errorf("%s %q: err = %v, want BAD_USER_INPUT", c.typ, c.in, err)
			continue
		}
		if !strings.Contains(err.Error(), string(c.typ)) || !strings.Contains(err.Error(), strings.TrimSpace(c.in)) {
			t.Errorf("%s %q: the error should name the handle: %v", c.typ, c.in, err)
		}
	}
}

func TestNormalizeHandlesDedupes(t *testing.T) {
	hs, err := normalizeHandles([]HandleInput{
		{handle.TypeEMAIL_ADDRESS, "A@Example.com"},
		{handle.TypeEMAIL_ADDRESS, "a@example.com "},
		{handle.TypeUSERNAME, "a"},
	})
	if err != nil || len(hs) != 2 {
		t.Fatalf("normalizeHandles = %v, %v", hs, err)
	}
}

func TestPairwiseSubject(t *testing.T) {
	s1, s2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	p, q := uuid.New(), uuid.New()
	a := PairwiseSubject(s1, p)
	if a != PairwiseSubject(s1, p) {
		t.Fatal("not stable")
	}
	if a == PairwiseSubject(s2, p) || a == PairwiseSubject(s1, q) {
		t.Fatal("subjects collide across sectors or persons")
	}
	for _, leak := range []string{p.String(), strings.ReplaceAll(p.String(), "-", "")} {
		if strings.Contains(strings.ToLower(a), leak) {
			t.Fatalf("subject %q contains the person id", a)
		}
	}
	if len(a) != 43 {
		t.Fatalf("subject %q is not 32 bytes base64url", a)
	}
}

func TestSealOpen(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	_, priv, _ := ed25519.GenerateKey(nil)
	aad := signingKeyAAD(uuid.New(), "sig_x")
	sealed, err := seal(key, priv.Seed(), aad)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, priv.Seed()) {
		t.Fatal("ciphertext contains the seed")
	}
	seed, err := open(key, sealed, aad)
	if err != nil || !bytes.Equal(seed, priv.Seed()) {
		t.Fatalf("open = %x, %v", seed, err)
	}
	if _, err := open(key, sealed, []byte("other row")); err == nil {
		t.Fatal("a ciphertext moved to another row must not decrypt")
	}
	if _, err := open(bytes.Repeat([]byte{8}, 32), sealed, aad); err == nil {
		t.Fatal("another data key must not decrypt")
	}
	if _, err := seal([]byte("short"), seed, aad); err == nil {
		t.Fatal("a short key must be refused")
	}
	if DataKeyID(key) == DataKeyID(bytes.Repeat([]byte{8}, 32)) {
		t.Fatal("data key ids collide")
	}
}
