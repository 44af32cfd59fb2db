package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/orgraph/orgraph/internal/apperr"
)

// The media types of GraphQL over HTTP.
const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// httpTransport serves GraphQL over HTTP as the GraphQL-over-HTTP spec
// (https://graphql.github.io/graphql-over-http/draft/) has it, for GET and
// POST:
//
//   - the answer is application/graphql-response+json when the Accept header
//     asks for it first, application/json otherwise;
//   - a request that is not a GraphQL request (malformed JSON, an empty body,
//     "query" not a string, "variables" not an object, no query) is 400; a body
//     that is not application/json is 415; a mutation over GET is 405;
//   - a document that does not parse or validate, or variables that do not
//     coerce, is 200 with application/json and 400 without a "data" entry with
//     application/graphql-response+json;
//   - a JSON array of up to maxBatch requests is answered with an array of
//     results, run one after the other (maxBatch 0 refuses arrays with 400).
//
// Every error, the transport's own included, goes through the error presenter.
type httpTransport struct {
	maxBatch int
}

var _ graphql.Transport = httpTransport{}

// Supports every request that reaches it (GET, HEAD and POST): Do refuses
// what it does not serve with a GraphQL error.
func (httpTransport) Supports(*http.Request) bool { return true }

// result is one GraphQL response; "data" is left out when the request failed
// before execution.
type result struct {
	Errors     gqlerror.List   `json:"errors,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
	Extensions map[string]any  `json:"extensions,omitempty"`
}

// requestError is a GraphQL-over-HTTP request the transport refuses, with its
// status (and for 405, the methods allowed).
type requestError struct {
	status int
	err    *apperr.Error
	allow  string
}

func badRequest(format string, args ...any) *requestError {
	return &requestError{status: http.StatusBadRequest, err: apperr.New(apperr.BadUserInput, format, args...)}
}

func (t httpTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	media := negotiate(r.Header.Get("Accept"))
	w.Header().Set("Content-Type", media+"; charset=utf-8")
	reqs, batch, rerr := t.read(r)
	if rerr != nil {
		if rerr.allow != "" {
			w.Header().Set("Allow", rerr.allow)
		}
		resp := exec.DispatchError(ctx, gqlerror.List{gqlerror.WrapPath(nil, rerr.err)})
		writeResult(w, rerr.status, resultOf(resp, false))
		return
	}
	if !batch {
		res, status := t.execute(ctx, exec, reqs[0], r.Method, media)
		if status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", http.MethodPost)
		}
		writeResult(w, status, res)
		return
	}
	results := make([]*result, len(reqs))
	for i, p := range reqs {
		results[i], _ = t.execute(ctx, exec, p, r.Method, media)
	}
	writeResult(w, http.StatusOK, results)
}

// execute runs one operation and returns its result and HTTP status.
func (httpTransport) execute(ctx context.Context, exec graphql.GraphExecutor, p *graphql.RawParams, method, media string) (*result, int) {
	p.ReadTime = graphql.TraceTiming{Start: graphql.Now(), End: graphql.Now()}
	oc, errs := exec.CreateOperationContext(ctx, p)
	if errs != nil {
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, oc), errs)
		status := http.StatusOK
		if media == mediaGraphQLResponse {
			status = http.StatusBadRequest
		}
		return resultOf(resp, false), status
	}
	if method == http.MethodGet && oc.Operation.Operation != ast.Query {
		err := apperr.New(apperr.BadUserInput, "a %s cannot be sent with GET; use POST", oc.Operation.Operation)
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, oc), gqlerror.List{gqlerror.WrapPath(nil, err)})
		return resultOf(resp, false), http.StatusMethodNotAllowed
	}
	handler, ctx := exec.DispatchOperation(ctx, oc)
	return resultOf(handler(ctx), true), http.StatusOK
}

func resultOf(resp *graphql.Response, executed bool) *result {
	res := &result{Errors: resp.Errors, Data: resp.Data, Extensions: resp.Extensions}
	if executed && res.Data == nil {
		res.Data = json.RawMessage("null")
	}
	if !executed {
		res.Data = nil
	}
	return res
}

func writeResult(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}`)
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// negotiate picks the response media type from an Accept header: the first
// of ours it names, application/json when it names none (or is absent).
func negotiate(accept string) string {
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || strings.TrimSpace(params["q"]) == "0" {
			continue
		}
		switch mt {
		case mediaGraphQLResponse:
			return mediaGraphQLResponse
		case mediaJSON, "application/*", "*/*":
			return mediaJSON
		}
	}
	return mediaJSON
}

// read decodes the GraphQL request(s) of r; batch is true for a JSON array.
func (t httpTransport) read(r *http.Request) (reqs []*graphql.RawParams, batch bool, rerr *requestError) {
	switch r.Method {
	case http.MethodGet, http.MethodPost:
	default:
		return nil, false, &requestError{status: http.StatusMethodNotAllowed, allow: "GET, POST",
			err: apperr.New(apperr.BadUserInput, "method %s is not allowed: use GET or POST", r.Method)}
	}
	if r.Method == http.MethodGet {
		p, rerr := fromQuery(r.URL.RawQuery)
		if rerr != nil {
			return nil, false, rerr
		}
		p.Headers = r.Header
		return []*graphql.RawParams{p}, false, nil
	}
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != mediaJSON {
		return nil, false, &requestError{status: http.StatusUnsupportedMediaType,
			err: apperr.New(apperr.BadUserInput, "unsupported Content-Type %q: send application/json", ct)}
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return nil, false, &requestError{status: http.StatusUnsupportedMediaType,
			err: apperr.New(apperr.BadUserInput, "unsupported charset %q: send UTF-8", cs)}
	}
	body, err := io.ReadAll(r.Body)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, false, &requestError{status: http.StatusRequestEntityTooLarge,
			err: apperr.New(apperr.BadUserInput, "request body larger than %d bytes", tooLarge.Limit)}
	case err != nil:
		return nil, false, badRequest("could not read the request body")
	}
	body = bytes.TrimSpace(body)
	switch {
	case len(body) == 0:
		return nil, false, badRequest("empty request body: send a JSON object with a query")
	case !utf8.Valid(body):
		return nil, false, badRequest("the request body is not valid UTF-8")
	case body[0] == '[':
		var list []json.RawMessage
		if err := decodeJSON(body, &list); err != nil {
			return nil, true, badRequest("malformed JSON: %s", jsonProblem(err))
		}
		switch {
		case t.maxBatch == 0:
			return nil, true, badRequest("batched requests (a JSON array) are not accepted: send one operation per request")
		case len(list) == 0:
			return nil, true, badRequest("empty batch")
		case len(list) > t.maxBatch:
			return nil, true, badRequest("a batch holds at most %d operations, not %d", t.maxBatch, len(list))
		}
		for i, item := range list {
			p, rerr := fromJSON(item)
			if rerr != nil {
				rerr.err.Message = fmt.Sprintf("operation %d of the batch: %s", i, rerr.err.Message)
				return nil, true, rerr
			}
			p.Headers = r.Header
			reqs = append(reqs, p)
		}
		return reqs, true, nil
	}
	p, rerr := fromJSON(body)
	if rerr != nil {
		return nil, false, rerr
	}
	p.Headers = r.Header
	return []*graphql.RawParams{p}, false, nil
}

// wireRequest is the body of a POST: every member optional, typed as the spec
// has them.
type wireRequest struct {
	Query         *string        `json:"query"`
	OperationName *string        `json:"operationName"`
	Variables     map[string]any `json:"variables"`
	Extensions    map[string]any `json:"extensions"`
}

func fromJSON(body []byte) (*graphql.RawParams, *requestError) {
	if len(body) == 0 || body[0] != '{' {
		return nil, badRequest("the request must be a JSON object with a query")
	}
	var w wireRequest
	if err := decodeJSON(body, &w); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return nil, badRequest("%q must be %s, not %s", typeErr.Field, jsonKind(typeErr.Field), typeErr.Value)
		}
		return nil, badRequest("malformed JSON: %s", jsonProblem(err))
	}
	return w.params()
}

func (w wireRequest) params() (*graphql.RawParams, *requestError) {
	p := &graphql.RawParams{Variables: w.Variables, Extensions: w.Extensions}
	if w.Query != nil {
		p.Query = *w.Query
	}
	if w.OperationName != nil {
		p.OperationName = *w.OperationName
	}
	if p.Query == "" && p.Extensions["persistedQuery"] == nil {
		return nil, badRequest("missing query")
	}
	return p, nil
}

// fromQuery reads the parameters of a GET from its URL query.
func fromQuery(raw string) (*graphql.RawParams, *requestError) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, badRequest("malformed URL query: %v", err)
	}
	var w wireRequest
	for name, vs := range q {
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return nil, badRequest("%q is not valid UTF-8", name)
			}
		}
	}
	for name, dst := range map[string]*map[string]any{"variables": &w.Variables, "extensions": &w.Extensions} {
		if s := q.Get(name); s != "" {
			if err := decodeJSON([]byte(s), dst); err != nil {
				return nil, badRequest("%q must be a JSON object: %s", name, jsonProblem(err))
			}
		}
	}
	if q.Has("query") {
		s := q.Get("query")
		w.Query = &s
	}
	if q.Has("operationName") {
		s := q.Get("operationName")
		w.OperationName = &s
	}
	return w.params()
}

// decodeJSON decodes exactly one JSON value, numbers as json.Number (as
// gqlgen's own transports do).
func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// jsonProblem words a decoding error without echoing the body.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("%s (at byte %d)", syntax.Error(), syntax.Offset)
	case errors.As(err, &typeErr):
		return fmt.Sprintf("expected %s, found %s", typeErr.Type.Kind(), typeErr.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "unexpected end of input"
	}
	return err.Error()
}

func jsonKind(field string) string {
	if field == "variables" || field == "extensions" {
		return "an object"
	}
	return "a string"
}
