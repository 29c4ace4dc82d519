"""Over HTTP: expired, tampered and wrongly signed tokens are refused; the JWKS is served
and a remote JWKS cache picks up a rotated-in key."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path

from puppies.auth.jwks import RemoteJWKS
from puppies.auth.keys import KeyRing
from puppies.auth.tokens import issue_access_token, verify_access_token
from puppies.settings import Settings
from tests.subgraphs.users.conftest import UsersApi
from tests.support.graphql import error_code


async def test_bad_tokens_refused(users_api: UsersApi, settings: Settings, tmp_path: Path) -> None:
    acct = await users_api.sign_up("tokenholder")
    ring = KeyRing(settings.keys_dir).load()
    expired = issue_access_token(ring, settings, int(acct.id), now=time.time() - 3600).token
    head, body, sig = acct.token.split(".")
    tampered = f"{head}.{body[:-2]}{'AA' if body[-2:] != 'AA' else 'BB'}.{sig}"
    rogue = issue_access_token(KeyRing(tmp_path / "rogue").load(), settings, int(acct.id)).token
    for token, why in (
        (expired, "expired"),
        (tampered, "signature"),
        (rogue, "signature"),
        ("garbage", "malformed"),
    ):
        r = await users_api.gql.post("{ me { id } }", token=token)
        assert r.status_code == 401, why
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert error_code(r.json()) == "UNAUTHENTICATED" and why in r.text
    r = await users_api.gql.post("{ me { id } }", headers={"authorization": "Basic abc"})
    assert r.status_code == 401
    assert (await users_api.gql.data("{ me { id } }", token=acct.token))["me"]["id"] == acct.id


async def test_jwks_and_rotation(users_api: UsersApi, settings: Settings) -> None:
    r = await users_api.http.get(users_api.url + "/.well-known/jwks.json")
    assert r.status_code == 200 and "max-age" in r.headers["cache-control"]
    keys = r.json()["keys"]
    assert keys and all(k["kty"] == "EC" and k["alg"] == "ES256" and "d" not in k for k in keys)
    remote = RemoteJWKS(users_api.url + "/.well-known/jwks.json", min_refetch_interval=0)
    ring = KeyRing(settings.keys_dir).load()
    old = issue_access_token(ring, settings, 5).token
    assert (await verify_access_token(old, remote, settings)).user_id == 5
    assert remote.fetches == 1
    new_kid = ring.rotate()  # as `puppies keys rotate` would, while everything runs
    await asyncio.sleep(1.2)  # the serving process re-reads its key directory within 1 s
    acct = await users_api.sign_up("afterrotation")
    header = json.loads(base64.urlsafe_b64decode(acct.token.split(".")[0] + "=="))
    assert header["kid"] == new_kid  # new sessions are signed with the new key
    assert (await verify_access_token(acct.token, remote, settings)).user_id == int(acct.id)
    assert remote.fetches == 2  # unknown kid -> refetched once
    assert (await verify_access_token(old, remote, settings)).user_id == 5  # still valid
    assert remote.fetches == 2
    assert (await users_api.gql.data("{ me { id } }", token=acct.token))["me"]["id"] == acct.id
