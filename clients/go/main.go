// Command authmesh-example is what a Go service needs to talk to authmesh over gRPC with the
// stubs `buf generate --template buf.gen.go.yaml` writes into ./gen: it gets an access token with
// the client_credentials grant, calls an admin RPC with it, asks the token service the question
// Envoy's ext_authz asks for every request, and reads the reason of a failed call.
//
//	AUTHMESH_ADDR=127.0.0.1:50051 AUTHMESH_CLIENT_ID=authmesh-admin AUTHMESH_CLIENT_SECRET=… go run .
//
// AUTHMESH_ADDR is the embedded mesh, or Envoy in a stack (it routes each service's gRPC calls to
// that service's processes). Check is the question Envoy itself asks the token service, which the
// edge does not expose: in a stack, AUTHMESH_CHECK_ADDR names the token service's own address
// (default: AUTHMESH_ADDR).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	clientv1 "github.com/authmesh/authmesh/clients/go/gen/authmesh/client/v1"
	tokenv1 "github.com/authmesh/authmesh/clients/go/gen/authmesh/token/v1"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := getenv("AUTHMESH_ADDR", "127.0.0.1:50051")
	clientID := getenv("AUTHMESH_CLIENT_ID", "authmesh-admin")
	secret := os.Getenv("AUTHMESH_CLIENT_SECRET")
	if secret == "" {
		return errors.New("AUTHMESH_CLIENT_SECRET is not set")
	}

	// The embedded mesh listens on loopback without TLS; across hosts, use
	// credentials.NewTLS and put the bearer token in grpc.PerRPCCredentials instead.
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tokens := tokenv1.NewTokenServiceClient(conn)

	// 1. An access token for this client (RFC 6749 §4.4, client_credentials).
	tok, err := tokens.Token(ctx, tokenRequest(clientID, secret, "authmesh.admin"))
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	fmt.Printf("token: ok (expires_in=%d)\n", tok.GetExpiresIn())

	// 2. An admin RPC: the token travels as "authorization: Bearer …" metadata.
	authed := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok.GetAccessToken())
	clients := clientv1.NewClientServiceClient(conn)
	count := 0
	for page := ""; ; {
		res, err := clients.ListClients(authed, &clientv1.ListClientsRequest{PageSize: 100, PageToken: page})
		if err != nil {
			return fmt.Errorf("list clients: %w", err)
		}
		count += len(res.GetClients())
		if page = res.GetNextPageToken(); page == "" {
			break
		}
	}
	fmt.Printf("clients: %d\n", count)

	// 3. Envoy's ext_authz question, asked directly: may this token call a route that requires
	// a scope? context_extensions carries the route's requirement, as Envoy's per-route config would.
	checkConn := conn
	if checkAddr := getenv("AUTHMESH_CHECK_ADDR", addr); checkAddr != addr {
		if checkConn, err = grpc.NewClient(checkAddr, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
			return err
		}
		defer checkConn.Close()
	}
	authz := authv3.NewAuthorizationClient(checkConn)
	for _, scope := range []string{"authmesh.admin", "billing.write"} {
		decision, err := authz.Check(ctx, checkRequest(tok.GetAccessToken(), scope))
		if err != nil {
			return fmt.Errorf("check: %w", err)
		}
		fmt.Printf("check %s: %s\n", scope, describe(decision))
	}

	// 4. A failure: a wrong secret. Decide on the ErrorInfo reason, never on the message text.
	_, err = tokens.Token(ctx, tokenRequest(clientID, "not-the-secret", ""))
	if err == nil {
		return errors.New("a wrong secret was accepted")
	}
	st := status.Convert(err)
	reason := errorReason(err)
	if reason == "" {
		return fmt.Errorf("expected an ErrorInfo in the failed call's status: %w", err)
	}
	fmt.Printf("error reason: %s (code %s)\n", reason, st.Code())
	if reason != "INVALID_CLIENT" || st.Code() != codes.Unauthenticated {
		return fmt.Errorf("unexpected failure: %w", err)
	}
	return nil
}

func tokenRequest(clientID, secret, scope string) *tokenv1.TokenRequest {
	return &tokenv1.TokenRequest{
		Client: &clientv1.ClientCredentials{
			Credential: &clientv1.ClientCredentials_ClientSecret{ClientSecret: &clientv1.ClientSecret{
				ClientId:     clientID,
				ClientSecret: secret,
				Method:       clientv1.TokenEndpointAuthMethod_TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC,
			}},
		},
		Grant: &tokenv1.TokenRequest_ClientCredentials{ClientCredentials: &tokenv1.ClientCredentialsGrant{Scope: scope}},
	}
}

func checkRequest(accessToken, requiredScope string) *authv3.CheckRequest {
	return &authv3.CheckRequest{
		Attributes: &authv3.AttributeContext{
			Request: &authv3.AttributeContext_Request{
				Http: &authv3.AttributeContext_HttpRequest{
					Method:  "GET",
					Path:    "/",
					Headers: map[string]string{"authorization": "Bearer " + accessToken},
				},
			},
			ContextExtensions: map[string]string{"scope": requiredScope},
		},
	}
}

// describe renders Check's answer: OK means Envoy forwards the request; otherwise Envoy answers
// the caller with denied_response's HTTP status.
func describe(res *authv3.CheckResponse) string {
	if codes.Code(res.GetStatus().GetCode()) == codes.OK {
		return "allowed"
	}
	return fmt.Sprintf("denied %d", res.GetDeniedResponse().GetStatus().GetCode())
}

// errorReason returns the google.rpc.ErrorInfo reason an authmesh error carries
// (e.g. "INVALID_CLIENT"), or "" when there is none.
func errorReason(err error) string {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == "authmesh" {
			return info.GetReason()
		}
	}
	return ""
}

func getenv(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
