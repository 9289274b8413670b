"""A DPoP client (RFC 9449) in Python: client_credentials with a DPoP proof, then a call to a
protected API with `Authorization: DPoP <token>` and a fresh proof, following server nonces.

No maintained Python OAuth library sends DPoP proofs (Authlib does not), so the proofs are built
with joserfc, the JOSE library Authlib itself uses, and sent with requests (both pinned in
examples/oidc/python/requirements.txt; scripts/oidc-rps.sh install puts them in .tools/venv).

Environment: AUTHMESH_ISSUER (e.g. the Envoy URL), CLIENT_ID, CLIENT_SECRET, API_URL, SCOPE.
Prints one JSON line: the token type, the API's status and answer, and the status of a replay
of the same proof (which the edge must refuse).
"""

import base64
import hashlib
import json
import os
import sys
import time
import uuid

import requests
from joserfc import jws
from joserfc.jwk import ECKey


def env(name):
    value = os.environ.get(name, "")
    if not value:
        sys.exit(f"dpop_client: {name} is required")
    return value


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class DpopKey:
    """An ES256 key and the proofs it signs (RFC 9449 §4.2)."""

    def __init__(self):
        self.key = ECKey.generate_key("P-256", private=True)
        self.public_jwk = self.key.as_dict(private=False)
        self.nonce = None

    def proof(self, method, url, access_token=None):
        # RFC 9449 §4.2: typ dpop+jwt, the public key in jwk; jti, htm, htu (no query), iat.
        claims = {"jti": str(uuid.uuid4()), "htm": method, "htu": url.split("?")[0].split("#")[0], "iat": int(time.time())}
        if access_token is not None:
            # RFC 9449 §4.2: ath, the hash of the access token sent with the proof.
            claims["ath"] = b64url(hashlib.sha256(access_token.encode("ascii")).digest())
        if self.nonce:
            claims["nonce"] = self.nonce
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": self.public_jwk}
        return jws.serialize_compact(header, json.dumps(claims, separators=(",", ":")).encode(), self.key, algorithms=["ES256"])


def send(dpop, make_request, method, url, access_token=None):
    """One request with a fresh proof; retried once with the server's nonce (RFC 9449 §8, §9)."""
    for _ in range(2):
        res = make_request(dpop.proof(method, url, access_token))
        if res.headers.get("DPoP-Nonce"):
            dpop.nonce = res.headers["DPoP-Nonce"]
        challenged = res.status_code == 401 and 'error="use_dpop_nonce"' in res.headers.get("WWW-Authenticate", "")
        if res.status_code == 400 and res.headers.get("content-type", "").startswith("application/json"):
            challenged = res.json().get("error") == "use_dpop_nonce"
        if not challenged:
            return res
    return res


def main():
    issuer = env("AUTHMESH_ISSUER").rstrip("/")
    api_url = env("API_URL")
    meta_res = requests.get(f"{issuer}/.well-known/oauth-authorization-server", timeout=30)
    if meta_res.status_code != 200:
        sys.exit(f"dpop_client: metadata: HTTP {meta_res.status_code}: {meta_res.text[:200]}")
    metadata = meta_res.json()
    token_endpoint = metadata["token_endpoint"]
    dpop = DpopKey()

    token_res = send(
        dpop,
        lambda proof: requests.post(
            token_endpoint,
            data={"grant_type": "client_credentials", "scope": os.environ.get("SCOPE", "")},
            auth=(env("CLIENT_ID"), env("CLIENT_SECRET")),
            headers={"DPoP": proof},
            timeout=30,
        ),
        "POST",
        token_endpoint,
    )
    token_res.raise_for_status()
    tokens = token_res.json()
    access_token = tokens["access_token"]

    sent = {}

    def call(proof):
        sent["proof"] = proof
        return requests.get(api_url, headers={"Authorization": f"DPoP {access_token}", "DPoP": proof}, timeout=30)

    api_res = send(dpop, call, "GET", api_url, access_token)
    replay = requests.get(api_url, headers={"Authorization": f"DPoP {access_token}", "DPoP": sent["proof"]}, timeout=30)
    print(
        json.dumps(
            {
                "token_type": tokens.get("token_type"),
                "api_status": api_res.status_code,
                "api": api_res.json() if api_res.headers.get("content-type", "").startswith("application/json") else None,
                "replay_status": replay.status_code,
            }
        )
    )


if __name__ == "__main__":
    main()
