package graphiql

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
)

// The vendored files are the ones assets/README.md says: byte for byte what
// the pinned npm packages ship (assets/SHA256SUMS).
func TestAssetsMatchSHA256SUMS(t *testing.T) {
	f, err := os.Open("assets/SHA256SUMS")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	listed := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("bad line %q", sc.Text())
		}
		b, err := files.ReadFile("assets/" + name)
		if err != nil {
			t.Fatalf("%s is listed but not embedded: %v", name, err)
		}
		if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s: sha256 %x, SHA256SUMS says %s", name, got, sum)
		}
		listed[name] = true
	}
	entries, _ := files.ReadDir("assets")
	for _, e := range entries {
		if !listed[e.Name()] {
			t.Errorf("assets/%s is embedded but not in SHA256SUMS", e.Name())
		}
	}
}

func serve(h *Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.Page)
	mux.HandleFunc("GET "+Prefix, h.Assets)
	r := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	return w
}

func TestPageLoadsOnlyFromTheServer(t *testing.T) {
	h := New("orgraph", "/graphql")
	w := serve(h, http.MethodGet, "/", nil)
	if w.Code != http.StatusOK {
		t.Fatalf("GET /: %d", w.Code)
	}
	for k, want := range map[string]string{
		"Content-Type":           "text/html; charset=utf-8",
		"Cache-Control":          "no-cache",
		"X-Content-Type-Options": "nosniff",
	} {
		if got := w.Header().Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self';") || !strings.Contains(csp, "connect-src 'self';") {
		t.Errorf("CSP %q", csp)
	}
	body := w.Body.String()
	if !strings.Contains(body, `data-endpoint="/graphql"`) {
		t.Errorf("no endpoint in page:\n%s", body)
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(body, -1)
	if len(refs) != len(styles)+len(scripts)+1 { // + the empty favicon
		t.Errorf("page references %d resources: %v", len(refs), refs)
	}
	for _, m := range refs {
		ref := strings.ReplaceAll(m[1], "&amp;", "&")
		if ref == "data:," {
			continue
		}
		if !strings.HasPrefix(ref, Prefix) {
			t.Errorf("page loads %q, which is not under %s", ref, Prefix)
			continue
		}
		if w := serve(h, http.MethodGet, ref, nil); w.Code != http.StatusOK {
			t.Errorf("GET %s: %d", ref, w.Code)
		}
	}
	// Revalidation.
	if w2 := serve(h, http.MethodGet, "/", map[string]string{"If-None-Match": w.Header().Get("ETag")}); w2.Code != http.StatusNotModified {
		t.Errorf("revalidated page: %d", w2.Code)
	}
}

func TestAssetHeaders(t *testing.T) {
	h := New("orgraph", "/graphql")
	js := h.assets["graphiql.min.js"]
	css := h.assets["graphiql.min.css"]

	w := serve(h, http.MethodGet, js.URL(), nil)
	if w.Code != http.StatusOK || !bytes.Equal(w.Body.Bytes(), js.body) {
		t.Fatalf("GET %s: %d, %d bytes", js.URL(), w.Code, w.Body.Len())
	}
	if got := w.Header().Get("Content-Type"); got != "text/javascript; charset=utf-8" {
		t.Errorf("js Content-Type %q", got)
	}
	if got := w.Header().Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
		t.Errorf("versioned Cache-Control %q", got)
	}
	if got := w.Header().Get("Content-Encoding"); got != "" {
		t.Errorf("Content-Encoding %q without Accept-Encoding", got)
	}

	w = serve(h, http.MethodGet, css.URL(), nil)
	if got := w.Header().Get("Content-Type"); got != "text/css; charset=utf-8" {
		t.Errorf("css Content-Type %q", got)
	}

	// Without (or with another) version: served, but revalidated.
	w = serve(h, http.MethodGet, Prefix+"graphiql.min.css", nil)
	if w.Code != http.StatusOK || w.Header().Get("Cache-Control") != "no-cache" {
		t.Errorf("unversioned: %d %q", w.Code, w.Header().Get("Cache-Control"))
	}
	if w2 := serve(h, http.MethodGet, Prefix+"graphiql.min.css", map[string]string{"If-None-Match": w.Header().Get("ETag")}); w2.Code != http.StatusNotModified {
		t.Errorf("revalidated asset: %d", w2.Code)
	}

	// gzip for clients that take it, not for those that refuse it.
	w = serve(h, http.MethodGet, js.URL(), map[string]string{"Accept-Encoding": "br, gzip;q=0.8"})
	if w.Header().Get("Content-Encoding") != "gzip" || w.Header().Get("Vary") != "Accept-Encoding" {
		t.Fatalf("gzip: %q %q", w.Header().Get("Content-Encoding"), w.Header().Get("Vary"))
	}
	zr, err := gzip.NewReader(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if !bytes.Equal(plain, js.body) {
		t.Errorf("gzipped body differs (%d bytes, want %d)", len(plain), len(js.body))
	}
	if w := serve(h, http.MethodGet, js.URL(), map[string]string{"Accept-Encoding": "gzip;q=0"}); w.Header().Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0 got %q", w.Header().Get("Content-Encoding"))
	}

	for _, p := range []string{Prefix + "nope.js", Prefix + "SHA256SUMS", Prefix + "README.md", Prefix} {
		if w := serve(h, http.MethodGet, p, nil); w.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, w.Code)
		}
	}
}
