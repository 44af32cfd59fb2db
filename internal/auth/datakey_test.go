package auth_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"testing"

	"github.com/orgraph/orgraph/internal/auth"
	"github.com/orgraph/orgraph/internal/store"
)

func TestLoadDataKey(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(t.TempDir() + "/k.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// configured: used as is, never stored
	want := bytes.Repeat([]byte{9}, 32)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
		k, err := auth.LoadDataKey(ctx, st.Client, " "+enc.EncodeToString(want)+"\n")
		if err != nil || !bytes.Equal(k, want) {
			t.Fatalf("configured key: %x %v", k, err)
		}
	}
	if n := st.Client.ServerKey.Query().CountX(ctx); n != 0 {
		t.Fatalf("a configured key was stored (%d rows)", n)
	}
	for _, bad := range []string{"not base64!", base64.StdEncoding.EncodeToString([]byte("sixteen bytes..."))} {
		if _, err := auth.LoadDataKey(ctx, st.Client, bad); err == nil {
			t.Fatalf("%q was accepted", bad)
		}
	}
	// generated on first use, then the same key every time
	first, err := auth.LoadDataKey(ctx, st.Client, "")
	if err != nil || len(first) != 32 {
		t.Fatalf("generated key: %x %v", first, err)
	}
	again, err := auth.LoadDataKey(ctx, st.Client, "")
	if err != nil || !bytes.Equal(first, again) {
		t.Fatal("the generated key changed")
	}
}
