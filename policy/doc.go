// Package policy is orgraph's authorization engine: an in-process OPA
// evaluator for the Rego policies under policy/rego (embedded in the binary)
// or an operator-supplied policy directory that is hot-reloaded.
//
// Every decision evaluates data.orgraph.authz.decision; list queries ask
// data.orgraph.authz.list_scope once per (subject, action) and filter in SQL.
// See README.md for the input, the rules and the data.
package policy

import "embed"

// embedded holds the default policies: policy/rego/*.rego, their *_test.rego
// tests and data.json.
//
//go:embed rego
var embedded embed.FS

// InputSchema is the JSON Schema of the input (input.schema.json): the Go
// side builds the input, so it owns its shape, and every policy, embedded or
// from a directory, is type-checked against it at load (a rule reading a
// field that does not exist is refused with its file and line).
//
//go:embed input.schema.json
var InputSchema []byte
