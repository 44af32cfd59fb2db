package auth

// CredentialKey names the credential behind p for per-caller accounting (rate
// limits): "account:<id>" for every token of an account, scoped or not,
// "apikey:<id>" for an API key, "" when anonymous.
func (p *Principal) CredentialKey() string {
	switch {
	case p == nil:
		return ""
	case p.APIKey != nil:
		return "apikey:" + p.APIKey.ID.String()
	case p.Account != nil:
		return "account:" + p.Account.ID.String()
	}
	return ""
}
