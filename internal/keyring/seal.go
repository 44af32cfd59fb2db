package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the size of the master key and of data keys (AES-256).
const KeySize = 32

// Seal encrypts plaintext with AES-256-GCM under key, bound to aad; the output
// is nonce || ciphertext.
func Seal(key, plaintext, aad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce, err := RandomBytes(gcm.NonceSize())
	if err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, plaintext, aad), nil
}

// Unseal reverses Seal; it fails unless key and aad are those that sealed.
func Unseal(key, sealed, aad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize() {
		return nil, errors.New("ciphertext too short")
	}
	return gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], aad)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("key must be %d bytes, not %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// RandomBytes returns n bytes from the system's CSPRNG.
func RandomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return b, nil
}

func fingerprint(label string, key []byte) string {
	h := sha256.New()
	h.Write([]byte(label + "\x00"))
	h.Write(key)
	return hex.EncodeToString(h.Sum(nil)[:6])
}

// DataKeyID fingerprints a data key, so that a ciphertext names the key it needs.
func DataKeyID(key []byte) string { return fingerprint("orgraph/data-key-id", key) }

// MasterKeyID fingerprints a master key, so that a sealed key names the
// master key it needs (and a wrong key file is told apart from a missing one).
func MasterKeyID(key []byte) string { return fingerprint("orgraph/master-key-id", key) }

// ParseKey decodes a configured key: base64 (standard or URL, padded or not)
// of KeySize bytes. name says where it came from, for the error.
func ParseKey(name, s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != KeySize {
				return nil, fmt.Errorf("%s must be the base64 of %d bytes, not %d", name, KeySize, len(k))
			}
			return k, nil
		}
	}
	return nil, fmt.Errorf("%s is not valid base64", name)
}
