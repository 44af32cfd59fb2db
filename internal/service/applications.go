package service

import (
	"context"
	"crypto/ed25519"
	"strings"

	"github.com/google/uuid"

	"github.com/orgraph/orgraph/ent"
	"github.com/orgraph/orgraph/ent/application"
	"github.com/orgraph/orgraph/ent/applicationkey"
	"github.com/orgraph/orgraph/ent/sector"
	"github.com/orgraph/orgraph/internal/apperr"
	"github.com/orgraph/orgraph/internal/gate"
)

// CreateAppInput is createApplication's input.
type CreateAppInput struct {
	OrganizationID uuid.UUID
	// SectorID places the application in an existing sector of the org; nil
	// creates a fresh sector for it (maximum isolation).
	SectorID    *uuid.UUID
	Name        string
	Kind        application.Kind
	LoginRules  map[string]any
	ClaimPolicy map[string]any
}

// UpdateAppInput is updateApplication's input; nil fields stay as they are.
// The anchor is not among them: it never changes.
type UpdateAppInput struct {
	Name        *string
	LoginRules  map[string]any
	ClaimPolicy map[string]any
}

// RotatedKey is the outcome of rotateApplicationKey. ClientSecret is set only
// for CLIENT_AUTH and is never stored or shown again.
type RotatedKey struct {
	Application  *ent.Application
	Key          *ent.ApplicationKey
	ClientSecret string
}

func cleanName(name string) (string, error) {
	n := strings.TrimSpace(name)
	if n == "" || len(n) > 200 {
		return "", apperr.New(apperr.BadUserInput, "name must be 1 to 200 characters")
	}
	return n, nil
}

// newSector inserts a sector of org after checking the sector limit.
func (s *Service) newSector(ctx context.Context, tx *ent.Tx, org *ent.Organization, name string) (*ent.Sector, error) {
	n, err := tx.Sector.Query().Where(sector.OrganizationID(org.ID)).Count(ctx)
	if err != nil {
		return nil, err
	}
	if max := limitOr(org.Limits.Sectors, s.cfg.Limits.Sectors); max > 0 && n >= max {
		return nil, apperr.New(apperr.LimitExceeded, "organization %q has reached its limit of %d sectors", org.Slug, max)
	}
	secret, err := randomBytes(32)
	if err != nil {
		return nil, err
	}
	sec, err := tx.Sector.Create().SetOrganizationID(org.ID).SetName(name).SetSecret(secret).Save(ctx)
	if err != nil {
		return nil, err
	}
	return sec, s.audit(ctx, tx, "sector.created", &org.ID, "sector", sec.ID.String(), nil, sectorSnapshot(sec))
}

func sectorSnapshot(sec *ent.Sector) map[string]any {
	return map[string]any{"name": sec.Name, "status": string(sec.Status)}
}

func applicationSnapshot(a *ent.Application) map[string]any {
	return map[string]any{
		"name": a.Name, "kind": string(a.Kind), "anchor": a.Anchor, "status": string(a.Status),
		"sector": a.SectorID.String(), "loginRules": a.LoginRules, "claimPolicy": a.ClaimPolicy,
	}
}

// CreateSector creates a sector (with a fresh random secret) in org.
func (s *Service) CreateSector(ctx context.Context, orgID uuid.UUID, name string) (*ent.Sector, error) {
	n, err := cleanName(name)
	if err != nil {
		return nil, err
	}
	var sec *ent.Sector
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		org, err := s.writableOrg(ctx, tx, orgID, "sector.create")
		if err != nil {
			return err
		}
		sec, err = s.newSector(ctx, tx, org, n)
		return err
	})
	if err != nil {
		return nil, err
	}
	return sec.Unwrap(), nil
}

// CreateApplication creates an application in org, in the given sector of the
// same org or in a fresh sector, with a permanent anchor and a first signing key.
func (s *Service) CreateApplication(ctx context.Context, in CreateAppInput) (*ent.Application, error) {
	name, err := cleanName(in.Name)
	if err != nil {
		return nil, err
	}
	if err := application.KindValidator(in.Kind); err != nil {
		return nil, apperr.New(apperr.BadUserInput, "unknown application kind %q", in.Kind)
	}
	for _, m := range []map[string]any{in.LoginRules, in.ClaimPolicy} {
		if err := s.checkSettings(m); err != nil {
			return nil, err
		}
	}
	var app *ent.Application
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		org, err := s.lockOrg(ctx, tx, in.OrganizationID)
		if err != nil {
			return err
		}
		if err := s.authorize(ctx, tx, "application.create", orgTarget(org)); err != nil {
			return err
		}
		if in.SectorID == nil {
			if err := s.authorize(ctx, tx, "sector.create", orgTarget(org)); err != nil {
				return err
			}
		}
		if err := frozen(org); err != nil {
			return err
		}
		n, err := tx.Application.Query().Where(application.OrganizationID(org.ID)).Count(ctx)
		if err != nil {
			return err
		}
		if max := limitOr(org.Limits.Applications, s.cfg.Limits.Applications); max > 0 && n >= max {
			return apperr.New(apperr.LimitExceeded, "organization %q has reached its limit of %d applications", org.Slug, max)
		}
		var sec *ent.Sector
		if in.SectorID != nil {
			sec, err = tx.Sector.Query().Where(sector.ID(*in.SectorID), sector.OrganizationID(org.ID)).Only(ctx)
			if ent.IsNotFound(err) {
				return apperr.New(apperr.NotFound, "sector %s not found in organization %q", in.SectorID, org.Slug)
			}
			if err != nil {
				return err
			}
			if sec.Status == sector.StatusRETIRED {
				return apperr.New(apperr.FailedPrecondition, "sector %q is retired: re-enable it first", sec.Name)
			}
		} else if sec, err = s.newSector(ctx, tx, org, name); err != nil {
			return err
		}
		anchor, err := newAnchor()
		if err != nil {
			return err
		}
		create := tx.Application.Create().SetOrganizationID(org.ID).SetSectorID(sec.ID).
			SetName(name).SetKind(in.Kind).SetAnchor(anchor)
		if in.LoginRules != nil {
			create.SetLoginRules(in.LoginRules)
		}
		if in.ClaimPolicy != nil {
			create.SetClaimPolicy(in.ClaimPolicy)
		}
		if app, err = create.Save(ctx); err != nil {
			return err
		}
		if _, err := s.addSigningKey(ctx, tx, app.ID); err != nil {
			return err
		}
		return s.audit(ctx, tx, "application.created", &org.ID, "application", app.ID.String(), nil, applicationSnapshot(app))
	})
	if err != nil {
		return nil, err
	}
	return app.Unwrap(), nil
}

// lockApplication loads an application and locks its org.
func (s *Service) lockApplication(ctx context.Context, tx *ent.Tx, id uuid.UUID) (*ent.Application, *ent.Organization, error) {
	app, err := tx.Application.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, nil, gate.NotFound(Target{Type: "application", ID: id.String(), Named: true})
	}
	if err != nil {
		return nil, nil, err
	}
	org, err := s.lockOrg(ctx, tx, app.OrganizationID)
	if err != nil {
		return nil, nil, gate.NotFound(Target{Type: "application", ID: id.String(), Named: true})
	}
	// Re-read under the org lock: a concurrent retire may have changed it.
	app, err = tx.Application.Get(ctx, id)
	return app, org, err
}

func appTarget(app *ent.Application, org *ent.Organization) Target {
	return Target{Type: "application", ID: app.ID.String(), Org: org, Status: string(app.Status), Named: true}
}

// UpdateApplication changes an application's name, login rules or claim policy.
func (s *Service) UpdateApplication(ctx context.Context, id uuid.UUID, in UpdateAppInput) (*ent.Application, error) {
	for _, m := range []map[string]any{in.LoginRules, in.ClaimPolicy} {
		if err := s.checkSettings(m); err != nil {
			return nil, err
		}
	}
	var updated *ent.Application
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		app, org, err := s.lockApplication(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := s.authorize(ctx, tx, "application.update", appTarget(app, org)); err != nil {
			return err
		}
		if err := frozen(org); err != nil {
			return err
		}
		upd := tx.Application.UpdateOne(app)
		if in.Name != nil {
			n, err := cleanName(*in.Name)
			if err != nil {
				return err
			}
			upd.SetName(n)
		}
		if in.LoginRules != nil {
			upd.SetLoginRules(in.LoginRules)
		}
		if in.ClaimPolicy != nil {
			upd.SetClaimPolicy(in.ClaimPolicy)
		}
		if updated, err = upd.Save(ctx); err != nil {
			return err
		}
		return s.audit(ctx, tx, "application.updated", &org.ID, "application", app.ID.String(), applicationSnapshot(app), applicationSnapshot(updated))
	})
	if err != nil {
		return nil, err
	}
	return updated.Unwrap(), nil
}

// addSigningKey supersedes the current signing key (it stays listed until the
// overlap ends) and stores a new key pair, the private half encrypted.
func (s *Service) addSigningKey(ctx context.Context, tx *ent.Tx, appID uuid.UUID) (*ent.ApplicationKey, error) {
	now := s.now()
	if err := tx.ApplicationKey.Update().Where(applicationkey.ApplicationID(appID),
		applicationkey.KindEQ(applicationkey.KindSIGNING), applicationkey.SupersededAtIsNil()).
		SetSupersededAt(now).SetExpiresAt(now.Add(s.keyOverlap())).Exec(ctx); err != nil {
		return nil, err
	}
	kid, pub, sealed, err := s.newSigningKey(appID)
	if err != nil {
		return nil, err
	}
	return tx.ApplicationKey.Create().SetApplicationID(appID).SetKind(applicationkey.KindSIGNING).
		SetKid(kid).SetPublicKey(pub).SetPrivateKey(sealed).SetDataKeyID(DataKeyID(s.cfg.Identity.DataKey)).
		Save(ctx)
}

// addClientSecret replaces the client secret: the previous one stops working
// at once, and only the new one's hash is stored.
func (s *Service) addClientSecret(ctx context.Context, tx *ent.Tx, appID uuid.UUID) (*ent.ApplicationKey, string, error) {
	now := s.now()
	if err := tx.ApplicationKey.Update().Where(applicationkey.ApplicationID(appID),
		applicationkey.KindEQ(applicationkey.KindCLIENT_AUTH), applicationkey.SupersededAtIsNil()).
		SetSupersededAt(now).SetExpiresAt(now).Exec(ctx); err != nil {
		return nil, "", err
	}
	kid, err := newKid("cs_")
	if err != nil {
		return nil, "", err
	}
	secret, hash, err := newClientSecret()
	if err != nil {
		return nil, "", err
	}
	k, err := tx.ApplicationKey.Create().SetApplicationID(appID).SetKind(applicationkey.KindCLIENT_AUTH).
		SetKid(kid).SetSecretHash(hash).Save(ctx)
	return k, secret, err
}

// RotateApplicationKey creates a new signing key pair (SIGNING) or client
// secret (CLIENT_AUTH) for an application.
func (s *Service) RotateApplicationKey(ctx context.Context, id uuid.UUID, kind applicationkey.Kind) (*RotatedKey, error) {
	if err := applicationkey.KindValidator(kind); err != nil {
		return nil, apperr.New(apperr.BadUserInput, "unknown key kind %q", kind)
	}
	var out RotatedKey
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		app, org, err := s.lockApplication(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := s.authorize(ctx, tx, "application.rotate_key", appTarget(app, org)); err != nil {
			return err
		}
		if err := frozen(org); err != nil {
			return err
		}
		out.Application = app
		if kind == applicationkey.KindSIGNING {
			out.Key, err = s.addSigningKey(ctx, tx, app.ID)
		} else {
			out.Key, out.ClientSecret, err = s.addClientSecret(ctx, tx, app.ID)
		}
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, "application.key_rotated", &org.ID, "application", app.ID.String(), nil,
			map[string]any{"kind": string(kind), "kid": out.Key.Kid})
	})
	if err != nil {
		return nil, err
	}
	out.Application, out.Key = out.Application.Unwrap(), out.Key.Unwrap()
	return &out, nil
}

// SigningKey returns the current private signing key of an application (for
// issuing tokens); it decrypts the stored seed with the data key.
func (s *Service) SigningKey(ctx context.Context, appID uuid.UUID) (string, ed25519.PrivateKey, error) {
	k, err := s.client.ApplicationKey.Query().Where(applicationkey.ApplicationID(appID),
		applicationkey.KindEQ(applicationkey.KindSIGNING), applicationkey.SupersededAtIsNil()).Only(ctx)
	if err != nil {
		return "", nil, err
	}
	if k.DataKeyID != DataKeyID(s.cfg.Identity.DataKey) {
		return "", nil, apperr.New(apperr.FailedPrecondition, "signing key %s was encrypted with another data key (%s)", k.Kid, k.DataKeyID)
	}
	seed, err := open(s.cfg.Identity.DataKey, k.PrivateKey, signingKeyAAD(appID, k.Kid))
	if err != nil {
		return "", nil, err
	}
	return k.Kid, ed25519.NewKeyFromSeed(seed), nil
}

// VerifyClientSecret tells whether secret is the current client secret of an application.
func (s *Service) VerifyClientSecret(ctx context.Context, appID uuid.UUID, secret string) (bool, error) {
	return s.client.ApplicationKey.Query().Where(applicationkey.ApplicationID(appID),
		applicationkey.KindEQ(applicationkey.KindCLIENT_AUTH), applicationkey.SupersededAtIsNil(),
		applicationkey.SecretHash(HashClientSecret(secret)),
		applicationkey.HasApplicationWith(application.StatusEQ(application.StatusACTIVE))).Exist(ctx)
}

// SubjectFor returns the pairwise subject app's sector gives person. A retired
// application, an application of a retired sector and an inactive person get
// no new subjects (FAILED_PRECONDITION). Callers check the person is visible
// and pass app with its sector edge loaded.
func (s *Service) SubjectFor(ctx context.Context, app *ent.Application, p *ent.Person) (string, error) {
	sec := app.Edges.Sector
	if sec == nil {
		var err error
		if sec, err = s.client.Sector.Get(ctx, app.SectorID); err != nil {
			return "", err
		}
	}
	switch {
	case app.Status == application.StatusRETIRED:
		return "", apperr.New(apperr.FailedPrecondition, "application %q is retired: it gets no new subjects", app.Name)
	case sec.Status == sector.StatusRETIRED:
		return "", apperr.New(apperr.FailedPrecondition, "sector %q of application %q is retired: it gets no new subjects", sec.Name, app.Name)
	case !p.Active:
		return "", apperr.New(apperr.FailedPrecondition, "person %s is deactivated", p.ID)
	}
	return PairwiseSubject(sec.Secret, p.ID), nil
}
