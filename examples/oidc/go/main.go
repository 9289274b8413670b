// A relying party on github.com/coreos/go-oidc/v3 and golang.org/x/oauth2: signs a user in at an
// OpenID Provider with the authorization code flow + PKCE, validates the ID Token, calls
// UserInfo, refreshes, and logs out (RP-Initiated Logout). Configuration is the issuer URL,
// client id, client secret and redirect URI only (environment: OIDC_ISSUER, OIDC_CLIENT_ID,
// OIDC_CLIENT_SECRET, OIDC_REDIRECT_URI); everything else comes from the discovery document.
//
// It talks on stdout, one JSON object a line: {"open": URL} means "open URL in a browser, then
// paste the URL the browser lands on" (on stdin); the last line is {"summary": {...}}: the
// subject, the claims seen, and every step done or skipped (with why). No token is printed but
// the ID Token inside the logout URL (its id_token_hint, RP-Initiated Logout 1.0 §2).
// The redirect URI doubles as the post_logout_redirect_uri: register it as both.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// providerExtras are the discovery fields go-oidc does not expose itself.
type providerExtras struct {
	Issuer             string   `json:"issuer"`
	ScopesSupported    []string `json:"scopes_supported"`
	UserinfoEndpoint   string   `json:"userinfo_endpoint"`
	EndSessionEndpoint string   `json:"end_session_endpoint"`
}

type summary struct {
	Library                string            `json:"library"`
	Issuer                 string            `json:"issuer"`
	Sub                    string            `json:"sub"`
	Scope                  string            `json:"scope"`
	IDTokenClaims          map[string]any    `json:"id_token_claims"`
	Userinfo               map[string]any    `json:"userinfo"`
	RefreshedIDTokenClaims map[string]any    `json:"refreshed_id_token_claims"`
	Steps                  []string          `json:"steps"`
	Skipped                map[string]string `json:"skipped"`
}

func env(name string) string {
	v := os.Getenv(name)
	if v == "" {
		fail(fmt.Errorf("%s is required", name))
	}
	return v
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "error: %v\n", err)
	os.Exit(1)
}

func emit(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		fail(err)
	}
	fmt.Println(string(b))
}

func random() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		fail(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

var stdin = bufio.NewScanner(os.Stdin)

// visit shows u to the user and returns the URL the browser landed on.
func visit(u string) *url.URL {
	emit(map[string]string{"open": u})
	if !stdin.Scan() {
		fail(errors.New("stdin closed before the landing URL was given"))
	}
	landed, err := url.Parse(strings.TrimSpace(stdin.Text()))
	if err != nil {
		fail(err)
	}
	return landed
}

// verify checks an ID Token with go-oidc: signature against the provider's JWKS, iss, aud
// (= client id) and exp; the nonce, when one is expected, is compared here.
func verify(ctx context.Context, verifier *oidc.IDTokenVerifier, raw, nonce string) (*oidc.IDToken, map[string]any) {
	idToken, err := verifier.Verify(ctx, raw)
	if err != nil {
		fail(fmt.Errorf("ID Token: %w", err))
	}
	// OIDC Core §3.1.3.7 (11): the nonce must equal the one sent in the authentication request.
	if nonce != "" && idToken.Nonce != nonce {
		fail(errors.New("ID Token: nonce does not match the request's"))
	}
	var claims map[string]any
	if err := idToken.Claims(&claims); err != nil {
		fail(err)
	}
	return idToken, claims
}

func main() {
	issuer, clientID, clientSecret, redirectURI := env("OIDC_ISSUER"), env("OIDC_CLIENT_ID"), env("OIDC_CLIENT_SECRET"), env("OIDC_REDIRECT_URI")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out := summary{Library: "go-oidc", Steps: []string{}, Skipped: map[string]string{}}

	// OpenID Connect Discovery 1.0 §4: go-oidc fetches the metadata and checks its issuer.
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		fail(err)
	}
	var extras providerExtras
	if err := provider.Claims(&extras); err != nil {
		fail(err)
	}
	out.Issuer = extras.Issuer
	out.Steps = append(out.Steps, "discovery")

	// Ask for the standard scopes the provider offers; offline_access (a refresh token) needs
	// prompt=consent (OIDC Core §11).
	scopes := []string{oidc.ScopeOpenID}
	for _, s := range []string{"profile", "email", oidc.ScopeOfflineAccess} {
		if extras.ScopesSupported == nil || slices.Contains(extras.ScopesSupported, s) {
			scopes = append(scopes, s)
		}
	}
	config := oauth2.Config{ClientID: clientID, ClientSecret: clientSecret, RedirectURL: redirectURI, Endpoint: provider.Endpoint(), Scopes: scopes}
	verifier := provider.Verifier(&oidc.Config{ClientID: clientID})

	codeVerifier, nonce, state := oauth2.GenerateVerifier(), random(), random()
	authURL := config.AuthCodeURL(state, oauth2.S256ChallengeOption(codeVerifier), oidc.Nonce(nonce), oauth2.SetAuthURLParam("prompt", "consent"))
	landed := visit(authURL)
	out.Steps = append(out.Steps, "authorize")
	q := landed.Query()
	// RFC 6749 §4.1.2.1: an error response names the error; RFC 6749 §10.12: state must match.
	if e := q.Get("error"); e != "" {
		fail(fmt.Errorf("authorization failed: %s: %s", e, q.Get("error_description")))
	}
	if q.Get("state") != state {
		fail(errors.New("authorization response: state does not match"))
	}
	// RFC 9207 §2.4: when the provider sends iss, it must be the issuer we discovered.
	if iss := q.Get("iss"); iss != "" && iss != extras.Issuer {
		fail(errors.New("authorization response: iss is not the discovered issuer"))
	}

	token, err := config.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(codeVerifier))
	if err != nil {
		fail(err)
	}
	out.Steps = append(out.Steps, "token")
	if s, ok := token.Extra("scope").(string); ok {
		out.Scope = s
	} else {
		out.Scope = strings.Join(scopes, " ")
	}
	rawIDToken, ok := token.Extra("id_token").(string)
	if !ok {
		fail(errors.New("the token response has no ID Token"))
	}
	idToken, claims := verify(ctx, verifier, rawIDToken, nonce)
	// OIDC Core §3.1.3.8: at_hash, when present, binds the access token to this ID Token.
	if idToken.AccessTokenHash != "" {
		if err := idToken.VerifyAccessToken(token.AccessToken); err != nil {
			fail(err)
		}
	}
	out.Sub, out.IDTokenClaims = idToken.Subject, claims
	out.Steps = append(out.Steps, "id_token")

	if extras.UserinfoEndpoint != "" {
		info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(token))
		if err != nil {
			fail(err)
		}
		// OIDC Core §5.3.2: the UserInfo sub must equal the ID Token's.
		if info.Subject != idToken.Subject {
			fail(errors.New("UserInfo: sub differs from the ID Token's"))
		}
		if err := info.Claims(&out.Userinfo); err != nil {
			fail(err)
		}
		out.Steps = append(out.Steps, "userinfo")
	} else {
		out.Skipped["userinfo"] = "the provider advertises no userinfo_endpoint"
	}

	if token.RefreshToken != "" {
		// An expired copy makes the token source refresh now.
		refreshed, err := config.TokenSource(ctx, &oauth2.Token{RefreshToken: token.RefreshToken, Expiry: time.Unix(1, 0)}).Token()
		if err != nil {
			fail(err)
		}
		out.Steps = append(out.Steps, "refresh")
		raw, ok := refreshed.Extra("id_token").(string)
		if !ok {
			fail(errors.New("the refresh response has no ID Token"))
		}
		if raw == rawIDToken {
			fail(errors.New("the refresh returned the same ID Token"))
		}
		again, againClaims := verify(ctx, verifier, raw, "")
		// OIDC Core §12.2: same iss and sub as the original ID Token (aud is checked by Verify).
		if again.Issuer != idToken.Issuer || again.Subject != idToken.Subject {
			fail(errors.New("refreshed ID Token: iss or sub differs from the original"))
		}
		out.RefreshedIDTokenClaims = againClaims
		rawIDToken = raw
		out.Steps = append(out.Steps, "refreshed_id_token")
	} else {
		out.Skipped["refresh"] = "no refresh token was issued"
	}

	if extras.EndSessionEndpoint != "" {
		// RP-Initiated Logout 1.0 §2-3: id_token_hint, a registered post_logout_redirect_uri, state.
		logoutState := random()
		u, err := url.Parse(extras.EndSessionEndpoint)
		if err != nil {
			fail(err)
		}
		params := u.Query()
		params.Set("id_token_hint", rawIDToken)
		params.Set("post_logout_redirect_uri", redirectURI)
		params.Set("state", logoutState)
		params.Set("client_id", clientID)
		u.RawQuery = params.Encode()
		back := visit(u.String())
		want, _ := url.Parse(redirectURI)
		if back.Scheme != want.Scheme || back.Host != want.Host || back.Path != want.Path {
			fail(fmt.Errorf("logout returned to %s://%s%s, not %s", back.Scheme, back.Host, back.Path, redirectURI))
		}
		if back.Query().Get("state") != logoutState {
			fail(errors.New("logout returned a different state"))
		}
		out.Steps = append(out.Steps, "logout")
	} else {
		out.Skipped["logout"] = "the provider advertises no end_session_endpoint"
	}

	emit(map[string]any{"summary": out})
}
