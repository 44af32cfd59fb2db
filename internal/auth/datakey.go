package auth

import (
	"context"
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
	key, err := serverSecret(ctx, client, dataKeyID)
	if err != nil {
		return nil, fmt.Errorf("load data key: %w", err)
	}
	return key, nil
}
