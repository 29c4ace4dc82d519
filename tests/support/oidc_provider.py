"""A small, real OpenID Connect provider for the tests: authlib's authorization server (the
authorization code grant with PKCE and the OpenID Connect code flow) in a Starlette app,
run as its own process (`python -m tests.support.oidc_provider`).

It does what Google's or Apple's does for the code flow: discovery
(`/.well-known/openid-configuration`), a login page at `/authorize` (a form: the user's
subject and password), `/token` (client authentication, PKCE verification, RS256 ID tokens
with `nonce`, `at_hash`, `auth_time`), `/jwks`. Tests drive it as a browser would, and set
it up through `/_test/...`:

- `PUT /_test/users/{sub}` `{"password", "email", "email_verified", "name",
  "preferred_username"}`: an account at the provider;
- `POST /_test/rotate-key`: a new signing key (the old one stays published);
- `PUT /_test/tamper` `{"claims": {...}, "rogue_key": bool}`: the next ID tokens get these
  claims overridden, or are signed with a key the JWKS does not publish (bad-path tests).

    with running_provider(clients=[...]) as provider:
        provider.add_user("alice", email="alice@example.com")
        ...
"""

from __future__ import annotations

import argparse
import contextlib
import hmac
import html
import json
import os
import secrets
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Payload, OAuth2Request
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import AuthorizationCodeMixin, UserInfo
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.util import create_half_hash
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from puppies.embedded import free_port
from tests.support.servers import wait_listening

SCOPES = "openid email profile"


# ---- the provider's data ---------------------------------------------------------------
@dataclass
class Account:
    sub: str
    password: str
    email: str | None = None
    email_verified: bool = True
    name: str | None = None
    preferred_username: str | None = None


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    token_endpoint_auth_method: str = "client_secret_basic"

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in (scope or "").split() if s in SCOPES.split())

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret.encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint != "token" or method == self.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    sub: str
    nonce: str | None
    auth_time: int
    code_challenge: str | None
    code_challenge_method: str | None
    issued: float = field(default_factory=time.time)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def is_expired(self) -> bool:
        return time.time() - self.issued > 60


@dataclass
class State:
    issuer: str
    clients: dict[str, Client]
    accounts: dict[str, Account] = field(default_factory=dict)
    codes: dict[str, Code] = field(default_factory=dict)
    keys: list[RSAKey] = field(default_factory=list)
    rogue: RSAKey | None = None
    tamper: dict[str, Any] = field(default_factory=dict)
    use_rogue_key: bool = False
    nonces: set[str] = field(default_factory=set)

    def new_key(self) -> None:
        self.keys.append(
            RSAKey.generate_key(
                2048, parameters={"kid": f"k{len(self.keys)}-{secrets.token_hex(4)}"}
            )
        )

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.as_dict(private=False, alg="RS256", use="sig") for k in self.keys]}


# ---- authlib's server, adapted to Starlette requests read up front ------------------------
class _Payload(OAuth2Payload):
    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._datalist: dict[str, list[str]] = defaultdict(list)
        for k, v in pairs:
            self._datalist[k].append(v)
        self._data = {k: v[0] for k, v in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return self._datalist


class _Request(OAuth2Request):
    def __init__(
        self, method: str, uri: str, headers: Mapping[str, str], pairs: list[tuple[str, str]]
    ) -> None:
        super().__init__(method=method, uri=uri, headers=headers)
        self.payload = _Payload(pairs)
        self._pairs = pairs

    @property
    def args(self) -> dict[str, str]:
        return self.payload.data

    @property
    def form(self) -> dict[str, str]:
        return self.payload.data


async def read_request(request: Request) -> _Request:
    pairs = list(request.query_params.multi_items())
    if request.method == "POST":
        form = await request.form()
        pairs += [(k, str(v)) for k, v in form.multi_items()]
    # starlette's Headers: case-insensitive, as authlib expects
    return _Request(request.method, str(request.url), request.headers, pairs)


class Server(AuthorizationServer):
    def __init__(self, state: State) -> None:
        super().__init__(scopes_supported=SCOPES.split())
        self.state = state
        self.register_token_generator(
            "default",
            BearerTokenGenerator(lambda *a, **k: secrets.token_urlsafe(32)),
        )

    def query_client(self, client_id: str) -> Client | None:
        return self.state.clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        pass

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        assert isinstance(request, OAuth2Request)
        return request

    def create_json_request(self, request: Any) -> Any:
        raise NotImplementedError

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        if isinstance(body, dict):
            return JSONResponse(body, status_code=status, headers=dict(headers))
        return Response(body, status_code=status, headers=dict(headers))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass


class CodeGrant(AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def save_authorization_code(self, code: str, request: Any) -> None:
        data = request.payload.data
        state: State = self.server.state
        state.codes[code] = Code(
            code=code,
            client_id=request.client.client_id,
            redirect_uri=data.get("redirect_uri", ""),
            scope=request.scope,
            sub=request.user.sub,
            nonce=data.get("nonce"),
            auth_time=int(time.time()),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
        )

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        found = self.server.state.codes.get(code)
        if found is not None and found.client_id == client.client_id and not found.is_expired():
            return found
        return None

    def delete_authorization_code(self, authorization_code: Code) -> None:
        self.server.state.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: Code) -> Account | None:
        return self.server.state.accounts.get(authorization_code.sub)


class IdTokens(OpenIDCode):
    def __init__(self, state: State) -> None:
        super().__init__(require_nonce=True)
        self.state = state

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        return nonce in self.state.nonces

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        return {"iss": self.state.issuer, "aud": [client.client_id]}

    def resolve_client_private_key(self, client: Client) -> RSAKey:
        return self.state.keys[-1]

    def generate_user_info(self, user: Account, scope: str) -> UserInfo:
        info = UserInfo(sub=user.sub)
        if "email" in scope and user.email is not None:
            info["email"] = user.email
            info["email_verified"] = user.email_verified
        if "profile" in scope:
            if user.name:
                info["name"] = user.name
            if user.preferred_username:
                info["preferred_username"] = user.preferred_username
        return info

    def encode_id_token(self, token: dict[str, Any], request: Any) -> str:
        claims = self.get_compatible_claims(request)
        code = request.authorization_code
        if code is not None:
            claims.update(self.get_authorization_code_claims(code))
            if code.nonce:
                self.state.nonces.add(code.nonce)
        if token.get("access_token"):
            claims["at_hash"] = create_half_hash(token["access_token"], "RS256").decode()
        claims.update(self.generate_user_info(request.user, token["scope"]))
        claims.update(self.state.tamper)
        key = self.state.rogue if self.state.use_rogue_key else self.state.keys[-1]
        assert key is not None
        header = {"alg": "RS256", "kid": key.kid}
        return jwt.encode(header, claims, key, algorithms=["RS256"])


# ---- the app -----------------------------------------------------------------------------
def create_app(issuer: str, clients: list[dict[str, Any]]) -> Starlette:
    state = State(issuer=issuer, clients={c["client_id"]: Client(**c) for c in clients})
    state.new_key()
    state.rogue = RSAKey.generate_key(2048, parameters={"kid": str(state.keys[0].kid)})
    server = Server(state)
    server.register_grant(CodeGrant, [CodeChallenge(required=True), IdTokens(state)])

    async def discovery(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/authorize",
                "token_endpoint": f"{issuer}/token",
                "jwks_uri": f"{issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "scopes_supported": SCOPES.split(),
                "token_endpoint_auth_methods_supported": CodeGrant.TOKEN_ENDPOINT_AUTH_METHODS,
                "claims_supported": ["sub", "email", "email_verified", "name"],
            }
        )

    async def jwks(request: Request) -> JSONResponse:
        return JSONResponse(state.jwks())

    async def authorize(request: Request) -> Response:
        oauth_request = await read_request(request)
        if request.method == "GET":
            try:
                server.get_consent_grant(oauth_request, end_user=None)
            except OAuth2Error as error:
                return HTMLResponse(f"<p>bad request: {html.escape(error.error)}</p>", 400)
            hidden = "".join(
                f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                for k, v in oauth_request.payload.data.items()
            )
            return HTMLResponse(
                '<form method="post" action="/authorize">'
                f'{hidden}<input name="sub"><input name="password" type="password">'
                '<button name="consent" value="yes">Sign in</button></form>'
            )
        data = oauth_request.payload.data
        account = state.accounts.get(data.get("sub", ""))
        if account is None or not hmac.compare_digest(
            account.password.encode(), data.get("password", "").encode()
        ):
            return HTMLResponse("<p>wrong subject or password</p>", 401)
        try:
            grant = server.get_consent_grant(oauth_request, end_user=account)
        except OAuth2Error as error:
            return HTMLResponse(f"<p>bad request: {html.escape(error.error)}</p>", 400)
        granted = account if data.get("consent") == "yes" else None
        return server.create_authorization_response(oauth_request, grant_user=granted, grant=grant)

    async def token(request: Request) -> Response:
        return server.create_token_response(await read_request(request))

    async def put_user(request: Request) -> JSONResponse:
        body = await request.json()
        sub = request.path_params["sub"]
        state.accounts[sub] = Account(sub=sub, **body)
        return JSONResponse({"ok": True})

    async def rotate(request: Request) -> JSONResponse:
        state.new_key()
        return JSONResponse({"kid": state.keys[-1].kid})

    async def tamper(request: Request) -> JSONResponse:
        body = await request.json()
        state.tamper = dict(body.get("claims") or {})
        state.use_rogue_key = bool(body.get("rogue_key"))
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/.well-known/openid-configuration", discovery),
            Route("/jwks", jwks),
            Route("/authorize", authorize, methods=["GET", "POST"]),
            Route("/token", token, methods=["POST"]),
            Route("/_test/users/{sub}", put_user, methods=["PUT"]),
            Route("/_test/rotate-key", rotate, methods=["POST"]),
            Route("/_test/tamper", tamper, methods=["PUT"]),
        ]
    )


# ---- running it as a process, and driving it as a browser would --------------------------
@dataclass
class RunningProvider:
    issuer: str

    def add_user(
        self,
        sub: str,
        *,
        email: str | None,
        email_verified: bool = True,
        password: str = "provider-password",
        name: str | None = None,
        preferred_username: str | None = None,
    ) -> None:
        r = httpx.put(
            f"{self.issuer}/_test/users/{sub}",
            json={
                "password": password,
                "email": email,
                "email_verified": email_verified,
                "name": name,
                "preferred_username": preferred_username,
            },
        )
        r.raise_for_status()

    def tamper(self, claims: dict[str, Any] | None = None, *, rogue_key: bool = False) -> None:
        httpx.put(
            f"{self.issuer}/_test/tamper", json={"claims": claims or {}, "rogue_key": rogue_key}
        ).raise_for_status()

    def rotate_key(self) -> str:
        r = httpx.post(f"{self.issuer}/_test/rotate-key")
        r.raise_for_status()
        return str(r.json()["kid"])

    async def log_in(
        self,
        http: httpx.AsyncClient,
        authorization_url: str,
        sub: str,
        *,
        password: str = "provider-password",
    ) -> httpx.URL:
        """What a browser does: open the authorization URL, submit the login form; returns
        the redirect URI the provider sends the browser to (with code and state)."""
        page = await http.get(authorization_url)
        assert page.status_code == 200, page.text
        fields = dict(httpx.QueryParams(httpx.URL(authorization_url).query))
        r = await http.post(
            f"{self.issuer}/authorize",
            data={**fields, "sub": sub, "password": password, "consent": "yes"},
            follow_redirects=False,
        )
        assert r.status_code == 302, (r.status_code, r.text)
        return httpx.URL(r.headers["location"])


@contextlib.contextmanager
def running_provider(
    clients: list[dict[str, Any]], *, timeout: float = 60
) -> Iterator[RunningProvider]:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.oidc_provider",
            "--port",
            str(port),
            "--clients",
            json.dumps(clients),
        ],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        wait_listening(port, proc, timeout)
        yield RunningProvider(issuer)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--clients", required=True, help="JSON list of clients")
    args = parser.parse_args()
    issuer = f"http://127.0.0.1:{args.port}"
    app = create_app(issuer, json.loads(args.clients))
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
