package console

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzOpenSession: no cookie value but one sealed with the key opens, and
// none makes the opener fail other than by refusing.
func FuzzOpenSession(f *testing.F) {
	s := sealer{key: testKey}
	now := time.Unix(1_800_000_000, 0)
	good, _ := s.seal(session{Name: "alice", Role: "admin", Expires: now.Add(time.Hour).Unix(), CSRF: "c"})
	flow, _ := s.sealAs(purposeSSO, ssoFlow{State: "s", Nonce: "n", Verifier: "v", Expires: now.Add(time.Hour).Unix()})
	for _, seed := range []string{good, flow, "", ".", "a.b", good + "x", "e30.AAAA"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		got, err := s.open(value, now)
		if err != nil {
			return
		}
		if value != good {
			t.Fatalf("%q opened as %+v", value, got)
		}
	})
}

// FuzzSSOPerson: whatever claims a provider sends, a person comes out
// named, with a role the configuration gives, or is refused.
func FuzzSSOPerson(f *testing.F) {
	sso, err := newSSO(OIDC{Issuer: "https://idp.example", ClientID: "c", RedirectURL: "https://c.example" + CallbackPath,
		Roles: map[string]string{"sre": "operator", "admins": "admin"}})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		`{"email":"a@example.com","groups":["sre"]}`, `{"email":"a@example.com","groups":"admins","email_verified":false}`,
		`{"email":"","groups":["sre"]}`, `{"email":1,"groups":[1,null,"sre"]}`, `{"groups":{"sre":true}}`, `null`, `[]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var claims map[string]any
		if json.Unmarshal(raw, &claims) != nil {
			return
		}
		p, err := sso.person(claims)
		if err != nil {
			return
		}
		if p.Name == "" || (p.Role != "operator" && p.Role != "admin") || len(p.Groups) > maxGroups {
			t.Fatalf("claims %s gave %+v", raw, p)
		}
	})
}
