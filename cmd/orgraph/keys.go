package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/orgraph/orgraph/internal/app"
	"github.com/orgraph/orgraph/internal/keyring"
)

type keysRotateCmd struct {
	dbFlag
	keyFlags
	Overlap    time.Duration `default:"24h" env:"ORGRAPH_TOKEN_KEY_OVERLAP" help:"How long the previous token-signing key keeps verifying the tokens it signed (make it at least the longest token lifetime); the previous data key is kept as long for servers not yet restarted."`
	NewDataKey string        `name:"new-data-key" placeholder:"BASE64" help:"Only with a configured data key ($ORGRAPH_DATA_KEY): the new data key (base64 of 32 bytes) to re-seal under; configure it in place of the old one afterwards."`
}

// Run rotates the keys and tells what it did.
func (c *keysRotateCmd) Run() error {
	if c.Overlap < time.Minute {
		return fmt.Errorf("--overlap %s is too short: running servers pick up a new signing key within a minute, and sign with the previous one until then", c.Overlap)
	}
	ctx := context.Background()
	opts := app.RotateOptions{Overlap: c.Overlap}
	if c.NewDataKey != "" {
		k, err := keyring.ParseKey("--new-data-key", c.NewDataKey)
		if err != nil {
			return err
		}
		opts.NewDataKey = k
	}
	a, err := openApp(ctx, c.dbFlag, c.keyFlags)
	if err != nil {
		return err
	}
	defer a.Store.Close()
	rot, err := a.RotateKeys(ctx, opts)
	if rot != nil {
		printRotation(os.Stdout, rot, c.NewDataKey != "")
	}
	return err
}

func printRotation(w io.Writer, rot *app.KeyRotation, configured bool) {
	fmt.Fprintf(w, "token-signing key: %s signs from now on", rot.SigningKID)
	if len(rot.Superseded) > 0 {
		fmt.Fprintf(w, "; %s keeps verifying until %s", strings.Join(rot.Superseded, ", "), rot.OverlapEnds.Format(time.RFC3339))
	}
	fmt.Fprintln(w)
	if len(rot.Expired) > 0 {
		fmt.Fprintf(w, "deleted the token-signing keys whose overlap had ended: %s\n", strings.Join(rot.Expired, ", "))
	}
	fmt.Fprintf(w, "data key: %s replaces %s; %s sealed again under it\n", rot.DataKeyID, rot.PreviousDataKeyID, plural(rot.Resealed, "application key"))
	ids := make([]string, 0, len(rot.Unopened))
	for id := range rot.Unopened {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		fmt.Fprintf(w, "warning: %s sealed under data key %s, which this process does not have, left as they are\n", plural(rot.Unopened[id], "application key"), id)
	}
	if len(rot.DroppedDataKeys) > 0 {
		fmt.Fprintf(w, "deleted the data keys nothing is sealed under any more: %s\n", strings.Join(rot.DroppedDataKeys, ", "))
	}
	if configured {
		fmt.Fprintln(w, "now configure the new data key ($ORGRAPH_DATA_KEY) in place of the old one")
	}
	fmt.Fprintf(w, "restart every running orgraph serve before %s: they sign with the new token-signing key within a minute, "+
		"but keep the data key they started with until they restart (what they seal meanwhile is sealed again at their restart)\n",
		rot.OverlapEnds.Format(time.RFC3339))
}
