package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/orgraph/orgraph/ent"
)

// DataKeyEnv names the environment variable that configures the data key.
const DataKeyEnv = "ORGRAPH_DATA_KEY"

const dataKeyID = "data-key-aes256"

// LoadDataKey returns the 32-byte key that encrypts secrets at rest (private
// signing keys of applications). A configured key (base64 of 32 bytes, e.g.
// from ORGRAPH_DATA_KEY) wins; otherwise, as on the embedded default, a key is
// generated on first use and stored in the ServerKey table like the token
// signing key.
func LoadDataKey(ctx context.Context, client *ent.Client, configured string) ([]byte, error) {
	if configured = strings.TrimSpace(configured); configured != "" {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if k, err := enc.DecodeString(configured); err == nil {
				if len(k) != 32 {
					return nil, fmt.Errorf("%s must be the base64 of 32 bytes, not %d", DataKeyEnv, len(k))
				}
				return k, nil
			}
		}
		return nil, fmt.Errorf("%s is not valid base64", DataKeyEnv)
	}
	key, err := client.ServerKey.Get(ctx, dataKeyID)
	if ent.IsNotFound(err) {
		k := make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return nil, err
		}
		// Two processes may race here; the loser's insert fails and it reads the winner's key.
		_ = client.ServerKey.Create().SetID(dataKeyID).SetSecret(k).Exec(ctx)
		key, err = client.ServerKey.Get(ctx, dataKeyID)
	}
	if err != nil {
		return nil, fmt.Errorf("load data key: %w", err)
	}
	if len(key.Secret) != 32 {
		return nil, fmt.Errorf("stored data key has %d bytes, want 32", len(key.Secret))
	}
	return key.Secret, nil
}
