// Package types holds the Go types stored in JSON columns.
package types

// OrgLimits bounds how many children of each kind an org may have.
// Zero means "use the configured default".
type OrgLimits struct {
	Applications int `json:"applications"`
	Sectors      int `json:"sectors"`
	Suborgs      int `json:"suborgs"`
}
