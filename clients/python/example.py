"""What a Python service needs to talk to authmesh over gRPC with the stubs that
`buf generate --template buf.gen.python.yaml` writes into ./gen: it gets an access token with the
client_credentials grant, calls an admin RPC with it, asks the token service the question Envoy's
ext_authz asks for every request, and reads the reason of a failed call.

    AUTHMESH_ADDR=127.0.0.1:50051 AUTHMESH_CLIENT_ID=authmesh-admin AUTHMESH_CLIENT_SECRET=… python example.py

AUTHMESH_ADDR is the embedded mesh, or Envoy in a stack (it routes each service's gRPC calls to
that service's processes). Check is the question Envoy itself asks the token service, which the
edge does not expose: in a stack, AUTHMESH_CHECK_ADDR names the token service's own address
(default: AUTHMESH_ADDR).
"""

import os
import sys

# The generated packages (authmesh, envoy, udpa, validate, xds) live in ./gen; an installed
# application would put that folder on its path (or package it) instead.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen"))

import grpc  # noqa: E402
from google.rpc import error_details_pb2  # noqa: E402
from grpc_status import rpc_status  # noqa: E402

from authmesh.client.v1 import client_pb2, client_pb2_grpc  # noqa: E402
from authmesh.token.v1 import token_pb2, token_pb2_grpc  # noqa: E402
from envoy.service.auth.v3 import attribute_context_pb2, external_auth_pb2, external_auth_pb2_grpc  # noqa: E402


def token_request(client_id: str, secret: str, scope: str = "") -> token_pb2.TokenRequest:
    return token_pb2.TokenRequest(
        client=client_pb2.ClientCredentials(
            client_secret=client_pb2.ClientSecret(
                client_id=client_id,
                client_secret=secret,
                method=client_pb2.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC,
            )
        ),
        client_credentials=token_pb2.ClientCredentialsGrant(scope=scope),
    )


def check_request(access_token: str, required_scope: str) -> external_auth_pb2.CheckRequest:
    return external_auth_pb2.CheckRequest(
        attributes=attribute_context_pb2.AttributeContext(
            request=attribute_context_pb2.AttributeContext.Request(
                http=attribute_context_pb2.AttributeContext.HttpRequest(
                    method="GET", path="/", headers={"authorization": f"Bearer {access_token}"}
                )
            ),
            context_extensions={"scope": required_scope},
        )
    )


def describe(res: external_auth_pb2.CheckResponse) -> str:
    """OK means Envoy forwards the request; otherwise Envoy answers with denied_response's status."""
    if res.status.code == grpc.StatusCode.OK.value[0]:
        return "allowed"
    return f"denied {res.denied_response.status.code}"


def error_reason(err: grpc.RpcError) -> str:
    """The google.rpc.ErrorInfo reason an authmesh error carries (e.g. "INVALID_CLIENT"), or ""."""
    status = rpc_status.from_call(err)  # decodes the grpc-status-details-bin trailer
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            if info.domain == "authmesh":
                return info.reason
    return ""


def main() -> int:
    addr = os.environ.get("AUTHMESH_ADDR", "127.0.0.1:50051")
    check_addr = os.environ.get("AUTHMESH_CHECK_ADDR") or addr
    client_id = os.environ.get("AUTHMESH_CLIENT_ID", "authmesh-admin")
    secret = os.environ.get("AUTHMESH_CLIENT_SECRET", "")
    if not secret:
        print("error: AUTHMESH_CLIENT_SECRET is not set", file=sys.stderr)
        return 1

    # The embedded mesh listens on loopback without TLS; across hosts use grpc.secure_channel
    # with grpc.ssl_channel_credentials() and grpc.access_token_call_credentials(token).
    with grpc.insecure_channel(addr) as channel, grpc.insecure_channel(check_addr) as check_channel:
        tokens = token_pb2_grpc.TokenServiceStub(channel)

        # 1. An access token for this client (RFC 6749 §4.4, client_credentials).
        tok = tokens.Token(token_request(client_id, secret, "authmesh.admin"), timeout=10)
        print(f"token: ok (expires_in={tok.expires_in})")

        # 2. An admin RPC: the token travels as "authorization: Bearer …" metadata.
        bearer = (("authorization", f"Bearer {tok.access_token}"),)
        clients = client_pb2_grpc.ClientServiceStub(channel)
        count, page = 0, ""
        while True:
            res = clients.ListClients(client_pb2.ListClientsRequest(page_size=100, page_token=page), metadata=bearer, timeout=10)
            count += len(res.clients)
            page = res.next_page_token
            if not page:
                break
        print(f"clients: {count}")

        # 3. Envoy's ext_authz question, asked directly: may this token call a route that
        # requires a scope? context_extensions carries the route's requirement.
        authz = external_auth_pb2_grpc.AuthorizationStub(check_channel)
        for scope in ("authmesh.admin", "billing.write"):
            decision = authz.Check(check_request(tok.access_token, scope), timeout=10)
            print(f"check {scope}: {describe(decision)}")

        # 4. A failure: a wrong secret. Decide on the ErrorInfo reason, never on the message text.
        try:
            tokens.Token(token_request(client_id, "not-the-secret"), timeout=10)
        except grpc.RpcError as err:
            reason = error_reason(err)
            print(f"error reason: {reason} (code {err.code().name})")
            if reason != "INVALID_CLIENT" or err.code() != grpc.StatusCode.UNAUTHENTICATED:
                print(f"error: unexpected failure: {err.details()}", file=sys.stderr)
                return 1
        else:
            print("error: a wrong secret was accepted", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except grpc.RpcError as err:  # any other failed call: say which status, exit non-zero
        print(f"error: {err.code().name}: {err.details()}", file=sys.stderr)
        sys.exit(1)
