// Command quickstart is README.md's Go snippet: a token, an admin call, an error's reason.
package main

import (
	"context"
	"fmt"
	"log"
	"os"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	clientv1 "github.com/authmesh/authmesh/clients/go/gen/authmesh/client/v1"
	tokenv1 "github.com/authmesh/authmesh/clients/go/gen/authmesh/token/v1"
)

func main() {
	conn, err := grpc.NewClient(os.Getenv("AUTHMESH_ADDR"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	ctx := context.Background()

	tok, err := tokenv1.NewTokenServiceClient(conn).Token(ctx, &tokenv1.TokenRequest{
		Client: &clientv1.ClientCredentials{Credential: &clientv1.ClientCredentials_ClientSecret{ClientSecret: &clientv1.ClientSecret{
			ClientId:     os.Getenv("AUTHMESH_CLIENT_ID"),
			ClientSecret: os.Getenv("AUTHMESH_CLIENT_SECRET"),
			Method:       clientv1.TokenEndpointAuthMethod_TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC,
		}}},
		Grant: &tokenv1.TokenRequest_ClientCredentials{ClientCredentials: &tokenv1.ClientCredentialsGrant{Scope: "authmesh.admin"}},
	})
	if err != nil {
		for _, d := range status.Convert(err).Details() {
			if info, ok := d.(*errdetails.ErrorInfo); ok {
				log.Fatalf("token: %s", info.GetReason()) // e.g. INVALID_CLIENT
			}
		}
		log.Fatal(err)
	}

	authed := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok.GetAccessToken())
	res, err := clientv1.NewClientServiceClient(conn).ListClients(authed, &clientv1.ListClientsRequest{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("clients:", len(res.GetClients()))
}
