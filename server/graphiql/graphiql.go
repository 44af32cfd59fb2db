// Package graphiql serves the GraphiQL IDE from the binary: pinned React,
// ReactDOM and GraphiQL builds (assets/, see assets/README.md) and a page that
// loads them from this server only, so the IDE works without internet.
package graphiql

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed assets/*.js assets/*.css orgraph-graphiql.js
var files embed.FS

// Prefix is the path under which the assets are served.
const Prefix = "/graphiql/"

// The page loads these, in this order (scripts) from Prefix.
var (
	styles  = []string{"graphiql.min.css"}
	scripts = []string{"react.production.min.js", "react-dom.production.min.js", "graphiql.min.js", "orgraph-graphiql.js"}
)

type asset struct {
	name        string
	body        []byte
	contentType string
	version     string // first 16 hex digits of the SHA-256 of body
	integrity   string // sha384 subresource integrity value
	gzOnce      sync.Once
	gz          []byte
}

func (a *asset) gzipped() []byte {
	a.gzOnce.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(a.body)
		_ = zw.Close()
		a.gz = buf.Bytes()
	})
	return a.gz
}

// URL is the asset's address with its version, cached for a year by browsers.
func (a *asset) URL() string { return Prefix + a.name + "?v=" + a.version }

// Integrity is the asset's subresource integrity value.
func (a *asset) Integrity() string { return a.integrity }

var contentTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
}

func load() map[string]*asset {
	out := map[string]*asset{}
	for _, name := range append(append([]string{}, styles...), scripts...) {
		p := "assets/" + name
		if name == "orgraph-graphiql.js" {
			p = name
		}
		body, err := fs.ReadFile(files, p)
		if err != nil {
			panic("graphiql: missing embedded asset " + p)
		}
		sum := sha256.Sum256(body)
		sri := sha512.Sum384(body)
		out[name] = &asset{
			name:        name,
			body:        body,
			contentType: contentTypes[path.Ext(name)],
			version:     hex.EncodeToString(sum[:8]),
			integrity:   "sha384-" + base64.StdEncoding.EncodeToString(sri[:]),
		}
	}
	return out
}

var page = template.Must(template.New("graphiql").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<link rel="icon" href="data:,">
<style>
body { margin: 0; }
#graphiql { height: 100vh; }
.loading { height: 100%; display: flex; align-items: center; justify-content: center; font: 2rem system-ui, sans-serif; }
</style>
{{- range .Styles}}
<link rel="stylesheet" href="{{.URL}}" integrity="{{.Integrity}}">
{{- end}}
</head>
<body>
<div id="graphiql" data-endpoint="{{.Endpoint}}"><div class="loading">Loading…</div></div>
<noscript>GraphiQL needs JavaScript. The API is at {{.Endpoint}}.</noscript>
{{- range .Scripts}}
<script src="{{.URL}}" integrity="{{.Integrity}}"></script>
{{- end}}
</body>
</html>
`))

// csp allows nothing but this server: scripts and styles from here (GraphiQL
// and CodeMirror set inline styles), requests to the API here.
const csp = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the GraphiQL page at "/" and its assets under Prefix. endpoint
// is the path of the GraphQL API on the same server (e.g. "/graphql").
type Handler struct {
	assets map[string]*asset
	page   []byte
	etag   string
}

// New builds the page for endpoint; it panics when an embedded asset is missing.
func New(title, endpoint string) *Handler {
	h := &Handler{assets: load()}
	data := struct {
		Title, Endpoint string
		Styles, Scripts []*asset
	}{Title: title, Endpoint: endpoint}
	for _, n := range styles {
		data.Styles = append(data.Styles, h.assets[n])
	}
	for _, n := range scripts {
		data.Scripts = append(data.Scripts, h.assets[n])
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, data); err != nil {
		panic(err)
	}
	h.page = buf.Bytes()
	sum := sha256.Sum256(h.page)
	h.etag = `"` + hex.EncodeToString(sum[:8]) + `"`
	return h
}

// Page serves the HTML page; it is revalidated on every load, so a new binary's
// assets are picked up at once.
func (h *Handler) Page(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("ETag", h.etag)
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(h.page))
}

// Assets serves Prefix+name. With the current ?v= the answer may be cached for
// a year (the version changes with the content); otherwise it is revalidated.
// Clients that accept gzip get it compressed.
func (h *Handler) Assets(w http.ResponseWriter, r *http.Request) {
	a := h.assets[strings.TrimPrefix(r.URL.Path, Prefix)]
	if a == nil {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", a.contentType)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Vary", "Accept-Encoding")
	if r.URL.Query().Get("v") == a.version {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hd.Set("Cache-Control", "no-cache")
	}
	body, etag := a.body, `"`+a.version+`"`
	if acceptsGzip(r) {
		body, etag = a.gzipped(), `"`+a.version+`-gz"`
		hd.Set("Content-Encoding", "gzip")
	}
	hd.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			continue
		}
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "q") {
				q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				return err == nil && q > 0
			}
		}
		return true
	}
	return false
}
