"""README.md's Python snippet: a token, an admin call, an error's reason."""
import os

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from authmesh.client.v1 import client_pb2, client_pb2_grpc
from authmesh.token.v1 import token_pb2, token_pb2_grpc

with grpc.insecure_channel(os.environ["AUTHMESH_ADDR"]) as channel:
    try:
        tok = token_pb2_grpc.TokenServiceStub(channel).Token(token_pb2.TokenRequest(
            client=client_pb2.ClientCredentials(client_secret=client_pb2.ClientSecret(
                client_id=os.environ["AUTHMESH_CLIENT_ID"],
                client_secret=os.environ["AUTHMESH_CLIENT_SECRET"],
                method=client_pb2.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC,
            )),
            client_credentials=token_pb2.ClientCredentialsGrant(scope="authmesh.admin"),
        ))
    except grpc.RpcError as err:
        status = rpc_status.from_call(err)
        for detail in status.details if status else []:
            info = error_details_pb2.ErrorInfo()
            if detail.Unpack(info):
                raise SystemExit(f"token: {info.reason}")  # e.g. INVALID_CLIENT
        raise

    res = client_pb2_grpc.ClientServiceStub(channel).ListClients(
        client_pb2.ListClientsRequest(), metadata=[("authorization", f"Bearer {tok.access_token}")]
    )
    print("clients:", len(res.clients))
