"""A relying party on Authlib: signs a user in at an OpenID Provider with the authorization code
flow + PKCE, validates the ID Token, calls UserInfo, refreshes, and logs out (RP-Initiated
Logout). Configuration is the issuer URL, client id, client secret and redirect URI only
(environment: OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URI); everything
else comes from the provider's discovery document.

It talks on stdout, one JSON object a line: {"open": URL} means "open URL in a browser, then paste
the URL the browser lands on" (on stdin); the last line is {"summary": {...}}: the subject, the
claims seen, and every step done or skipped (with why). No token is printed but the ID Token inside
the logout URL (its id_token_hint, RP-Initiated Logout 1.0 §2). The redirect URI doubles as the
post_logout_redirect_uri: register it as both.
"""

import json
import os
import secrets
import sys
from urllib.parse import parse_qs, urlparse

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.common.urls import add_params_to_uri
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken, IDToken, UserInfo
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry


def env(name):
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"error: {name} is required")
    return value


ISSUER = env("OIDC_ISSUER").rstrip("/")
CLIENT_ID = env("OIDC_CLIENT_ID")
CLIENT_SECRET = env("OIDC_CLIENT_SECRET")
REDIRECT_URI = env("OIDC_REDIRECT_URI")

# Plain http only to a provider on this machine (a local test server); anything else needs https.
if urlparse(ISSUER).scheme == "http" and urlparse(ISSUER).hostname in ("127.0.0.1", "localhost", "::1"):
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"


def emit(obj):
    print(json.dumps(obj), flush=True)


def visit(url):
    """Shows url to the user and returns the URL the browser landed on."""
    emit({"open": url})
    line = sys.stdin.readline()
    if not line:
        raise SystemExit("error: stdin closed before the landing URL was given")
    return line.strip()


def get_json(url):
    res = requests.get(url, timeout=30)
    res.raise_for_status()
    return res.json()


def main():
    steps, skipped = [], {}

    # OpenID Connect Discovery 1.0 §4.3: the issuer in the metadata must be the one we asked.
    metadata = get_json(f"{ISSUER}/.well-known/openid-configuration")
    if metadata.get("issuer") != ISSUER:
        raise SystemExit(f"error: discovery names issuer {metadata.get('issuer')!r}, not {ISSUER!r}")
    keys = KeySet.import_key_set(get_json(metadata["jwks_uri"]))
    algorithms = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
    steps.append("discovery")

    def validate_id_token(raw, claims_cls, params):
        """Signature (JWKS), iss, aud, exp, iat, nonce, azp, at_hash: Authlib's ID Token rules."""
        token = jwt.decode(raw, keys, registry=JWSRegistry(algorithms=algorithms, strict_check_header=False))
        options = {"iss": {"essential": True, "value": metadata["issuer"]}, "aud": {"essential": True, "value": CLIENT_ID}}
        claims = claims_cls(token.claims, token.header, options, {"client_id": CLIENT_ID, **params})
        claims.validate(leeway=60)
        return dict(claims)

    # Ask for the standard scopes the provider offers; offline_access (a refresh token) needs
    # prompt=consent (OIDC Core §11).
    offered = metadata.get("scopes_supported")
    scope = " ".join(["openid"] + [s for s in ("profile", "email", "offline_access") if offered is None or s in offered])
    session = OAuth2Session(
        CLIENT_ID,
        CLIENT_SECRET,
        scope=scope,
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    code_verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(32)
    authorization_url, state = session.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=code_verifier, nonce=nonce, prompt="consent"
    )
    landed = visit(authorization_url)
    steps.append("authorize")
    # RFC 9207 §2.4: when the provider sends iss, it must be the issuer we discovered.
    iss = parse_qs(urlparse(landed).query).get("iss")
    if iss and iss[0] != metadata["issuer"]:
        raise SystemExit("error: authorization response: iss is not the discovered issuer")

    # Authlib checks state (RFC 6749 §10.12) and raises the provider's error, if any.
    token = session.fetch_token(
        metadata["token_endpoint"], authorization_response=landed, state=state, code_verifier=code_verifier
    )
    steps.append("token")
    if "id_token" not in token:
        raise SystemExit("error: the token response has no ID Token")
    id_claims = validate_id_token(token["id_token"], CodeIDToken, {"nonce": nonce, "access_token": token["access_token"]})
    steps.append("id_token")

    userinfo = None
    if metadata.get("userinfo_endpoint"):
        res = session.get(metadata["userinfo_endpoint"], timeout=30)
        res.raise_for_status()
        userinfo = dict(UserInfo(res.json()))
        # OIDC Core §5.3.2: the UserInfo sub must equal the ID Token's.
        if userinfo.get("sub") != id_claims["sub"]:
            raise SystemExit("error: UserInfo: sub differs from the ID Token's")
        steps.append("userinfo")
    else:
        skipped["userinfo"] = "the provider advertises no userinfo_endpoint"

    id_token = token["id_token"]
    refreshed_claims = None
    if token.get("refresh_token"):
        refreshed = session.refresh_token(metadata["token_endpoint"], refresh_token=token["refresh_token"])
        steps.append("refresh")
        if "id_token" not in refreshed:
            raise SystemExit("error: the refresh response has no ID Token")
        if refreshed["id_token"] == id_token:
            raise SystemExit("error: the refresh returned the same ID Token")
        refreshed_claims = validate_id_token(refreshed["id_token"], IDToken, {"access_token": refreshed["access_token"]})
        # OIDC Core §12.2: same iss and sub as the original ID Token (aud was checked above).
        if refreshed_claims["iss"] != id_claims["iss"] or refreshed_claims["sub"] != id_claims["sub"]:
            raise SystemExit("error: refreshed ID Token: iss or sub differs from the original")
        id_token = refreshed["id_token"]
        steps.append("refreshed_id_token")
    else:
        skipped["refresh"] = "no refresh token was issued"

    if metadata.get("end_session_endpoint"):
        # RP-Initiated Logout 1.0 §2-3: id_token_hint, a registered post_logout_redirect_uri, state.
        logout_state = secrets.token_urlsafe(32)
        logout_url = add_params_to_uri(
            metadata["end_session_endpoint"],
            [
                ("id_token_hint", id_token),
                ("post_logout_redirect_uri", REDIRECT_URI),
                ("state", logout_state),
                ("client_id", CLIENT_ID),
            ],
        )
        back, want = urlparse(visit(logout_url)), urlparse(REDIRECT_URI)
        if (back.scheme, back.netloc, back.path) != (want.scheme, want.netloc, want.path):
            raise SystemExit(f"error: logout returned to {back.scheme}://{back.netloc}{back.path}, not {REDIRECT_URI}")
        if parse_qs(back.query).get("state") != [logout_state]:
            raise SystemExit("error: logout returned a different state")
        steps.append("logout")
    else:
        skipped["logout"] = "the provider advertises no end_session_endpoint"

    emit(
        {
            "summary": {
                "library": "authlib",
                "issuer": metadata["issuer"],
                "sub": id_claims["sub"],
                "scope": token.get("scope", scope),
                "id_token_claims": id_claims,
                "userinfo": userinfo,
                "refreshed_id_token_claims": refreshed_claims,
                "steps": steps,
                "skipped": skipped,
            }
        }
    )


if __name__ == "__main__":
    try:
        main()
    except (AuthlibBaseError, JoseError, requests.RequestException) as err:
        # Authlib's OAuthError carries the provider's RFC 6749 error code; never a token.
        raise SystemExit(f"error: {type(err).__name__}: {err}") from None
