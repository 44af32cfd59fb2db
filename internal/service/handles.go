package service

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"

	"github.com/orgraph/orgraph/ent/handle"
	"github.com/orgraph/orgraph/internal/apperr"
)

// HandleInput is a handle as a caller gives it.
type HandleInput struct {
	Type  handle.Type
	Value string
}

// usernameRE: letters and digits of any script, then also '.', '_' and '-'.
var usernameRE = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N}._-]{0,63}$`)

// NormalizeHandle returns the canonical value of a handle, or BAD_USER_INPUT
// naming the handle:
//   - EMAIL_ADDRESS: trimmed and lowercased, the domain IDNA-encoded (ASCII);
//   - PHONE_NUMBER: E.164 (the number must be valid and in international form, +…);
//   - USERNAME: trimmed, NFC, lowercased; letters, digits, '.', '_', '-', at most 64.
func NormalizeHandle(h HandleInput) (string, error) {
	var (
		v   string
		why string
	)
	switch h.Type {
	case handle.TypeEMAIL_ADDRESS:
		v, why = normalizeEmail(h.Value)
	case handle.TypePHONE_NUMBER:
		v, why = normalizePhone(h.Value)
	case handle.TypeUSERNAME:
		v, why = normalizeUsername(h.Value)
	default:
		why = "unknown handle type"
	}
	if why != "" {
		e := apperr.New(apperr.BadUserInput, "invalid %s handle %q: %s", h.Type, h.Value, why)
		e.Extra = map[string]any{"handle": map[string]any{"type": string(h.Type), "value": h.Value}}
		return "", e
	}
	return v, nil
}

func normalizeEmail(raw string) (string, string) {
	s := strings.ToLower(strings.TrimSpace(raw))
	if s == "" {
		return "", "empty"
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return "", "missing @"
	}
	local, domain := s[:at], strings.TrimSuffix(s[at+1:], ".")
	if local == "" || len(local) > 64 {
		return "", "the part before @ must be 1 to 64 bytes"
	}
	if strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return "", "misplaced dot before @"
	}
	for _, r := range local {
		if r == utf8.RuneError || unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune(`()<>[]\,;:"@`, r) {
			return "", "invalid character before @"
		}
	}
	ascii, err := idna.Lookup.ToASCII(domain)
	// the mapping may turn a trailing full stop of another script into '.'
	ascii = strings.TrimSuffix(ascii, ".")
	if err != nil || len(ascii) > 253 || !validLabels(ascii) {
		return "", "invalid domain"
	}
	out := local + "@" + ascii
	if len(out) > 254 {
		return "", "longer than 254 bytes"
	}
	return out, ""
}

// validLabels: at least two dot-separated labels, none empty or longer than 63 bytes.
func validLabels(domain string) bool {
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return false
		}
	}
	return true
}

func normalizePhone(raw string) (string, string) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", "empty"
	}
	if !strings.HasPrefix(s, "+") {
		return "", "give the number in international form, starting with + and the country code"
	}
	num, err := phonenumbers.Parse(s, "ZZ")
	if err != nil {
		return "", "not a phone number"
	}
	if !phonenumbers.IsValidNumber(num) {
		return "", "not a valid phone number"
	}
	return phonenumbers.Format(num, phonenumbers.E164), ""
}

func normalizeUsername(raw string) (string, string) {
	s := strings.ToLower(norm.NFC.String(strings.TrimSpace(raw)))
	if !usernameRE.MatchString(s) {
		return "", "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
	}
	return s, ""
}
