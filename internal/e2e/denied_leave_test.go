package e2e

import (
	"context"
	"testing"

	"github.com/orgraph/orgraph/ent/auditevent"
	"github.com/orgraph/orgraph/internal/apperr"
	"github.com/orgraph/orgraph/internal/gate"
	"github.com/orgraph/orgraph/internal/testutil"
)

// TestRefusalIsAuditedWhenTheCallerLeaves: a caller that hangs up as its
// mutation is refused cannot keep the attempt off the record.
func TestRefusalIsAuditedWhenTheCallerLeaves(t *testing.T) {
	for _, b := range testutil.Backends {
		t.Run(string(b), func(t *testing.T) {
			in := testutil.Start(t, b)
			ctx, cancel := context.WithCancel(gate.WithRequest(context.Background()))
			defer cancel()
			denial := &apperr.Denial{Action: "organization.update", ResourceType: "organization",
				ResourceID: "probe", Reasons: []map[string]any{{"rule": "roles"}}, Hidden: true}
			_, err := in.Service.Mutate(ctx, "updateOrganization", func(context.Context) (any, error) {
				cancel() // the client goes away while its refusal is on its way
				return nil, &apperr.Error{Code: apperr.Forbidden, Message: "not allowed", Denial: denial}
			})
			if apperr.CodeOf(err) != apperr.Forbidden {
				t.Fatalf("Mutate: %v, want FORBIDDEN", err)
			}
			sys, db := in.Fixture()
			n, err := db.AuditEvent.Query().Where(auditevent.Action("authz.denied"), auditevent.ResourceID("probe")).Count(sys)
			if err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Fatalf("%d authz.denied events for the attempt, want 1", n)
			}
		})
	}
}
