// A device client on golang.org/x/oauth2's Device Authorization Grant (RFC 8628:
// Config.DeviceAuth, then Config.DeviceAccessToken, which polls at the announced interval and
// backs off on slow_down). Configuration is the issuer URL, a public client's id and the scope
// (environment: DEVICE_ISSUER, DEVICE_CLIENT_ID, DEVICE_SCOPE); the endpoints come from the
// authorization server metadata (RFC 8414).
//
// It talks on stdout, one JSON object a line: first {"verification_uri", "verification_uri_complete",
// "user_code", …} (show these to the user), then, once the user approved on another device,
// {"summary": {...}} without any token. A refusal (access_denied, expired_token) exits 1.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

type metadata struct {
	Issuer                      string `json:"issuer"`
	TokenEndpoint               string `json:"token_endpoint"`
	DeviceAuthorizationEndpoint string `json:"device_authorization_endpoint"`
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "device client: "+format+"\n", args...)
	os.Exit(1)
}

func say(v any) {
	line, err := json.Marshal(v)
	if err != nil {
		fail("encoding output: %v", err)
	}
	fmt.Println(string(line))
}

func main() {
	issuer := strings.TrimSuffix(os.Getenv("DEVICE_ISSUER"), "/")
	clientID := os.Getenv("DEVICE_CLIENT_ID")
	if issuer == "" || clientID == "" {
		fail("set DEVICE_ISSUER and DEVICE_CLIENT_ID (and DEVICE_SCOPE)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// RFC 8414 §3: the metadata, whose issuer must be the one asked for (§3.3).
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, issuer+"/.well-known/oauth-authorization-server", nil)
	if err != nil {
		fail("metadata request: %v", err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		fail("metadata: %v", err)
	}
	var meta metadata
	err = json.NewDecoder(res.Body).Decode(&meta)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		fail("metadata: status %d, %v", res.StatusCode, err)
	}
	if meta.Issuer != issuer {
		fail("metadata names issuer %q, not %q", meta.Issuer, issuer)
	}
	if meta.DeviceAuthorizationEndpoint == "" {
		fail("the server offers no device_authorization_endpoint")
	}

	cfg := &oauth2.Config{
		ClientID: clientID,
		Scopes:   strings.Fields(os.Getenv("DEVICE_SCOPE")),
		Endpoint: oauth2.Endpoint{
			DeviceAuthURL: meta.DeviceAuthorizationEndpoint,
			TokenURL:      meta.TokenEndpoint,
			// A public client: its client_id in the form body (RFC 6749 §2.3.1, RFC 8628 §3.1).
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		fail("device authorization: %v", err)
	}
	say(map[string]any{
		"verification_uri":          da.VerificationURI,
		"verification_uri_complete": da.VerificationURIComplete,
		"user_code":                 da.UserCode,
		"interval":                  da.Interval,
		"expires_in":                int(time.Until(da.Expiry).Round(time.Second).Seconds()),
	})
	tok, err := cfg.DeviceAccessToken(ctx, da)
	if err != nil {
		fail("device access token: %v", err)
	}
	scope, _ := tok.Extra("scope").(string)
	say(map[string]any{"summary": map[string]any{
		"token_type":    tok.Type(),
		"scope":         scope,
		"access_token":  tok.AccessToken != "",
		"refresh_token": tok.RefreshToken != "",
		"expires_in":    tok.ExpiresIn,
	}})
}
