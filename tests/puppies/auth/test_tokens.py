"""Access JWTs: signature by kid, issuer/audience/expiry, rotation, remote JWKS."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from puppies.auth.errors import AuthError
from puppies.auth.jwks import RemoteJWKS
from puppies.auth.keys import KeyRing
from puppies.auth.tokens import LocalKeys, issue_access_token, verify_access_token
from puppies.settings import Settings, load_settings


@pytest.fixture
def ring(tmp_path: Path) -> KeyRing:
    return KeyRing(tmp_path / "keys").load()


@pytest.fixture
def conf() -> Settings:
    return load_settings(jwt_issuer="puppies-test", jwt_audience="puppies-api")


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


async def test_round_trip(ring: KeyRing, conf: Settings) -> None:
    issued = issue_access_token(ring, conf, 42)
    header = json.loads(base64.urlsafe_b64decode(issued.token.split(".")[0] + "=="))
    assert header == {"alg": "ES256", "kid": ring.signing_key().kid, "typ": "JWT"}
    claims = await verify_access_token(issued.token, LocalKeys(ring), conf)
    assert claims.user_id == 42
    assert claims.raw["iss"] == "puppies-test" and claims.raw["aud"] == "puppies-api"
    assert claims.raw["exp"] - claims.raw["iat"] == conf.access_token_ttl_seconds


async def test_the_session_id_travels_as_sid(ring: KeyRing, conf: Settings) -> None:
    issued = issue_access_token(ring, conf, 42, session_id=987654321)
    claims = await verify_access_token(issued.token, LocalKeys(ring), conf)
    assert (claims.session_id, claims.raw["sid"]) == (987654321, "987654321")
    plain = await verify_access_token(
        issue_access_token(ring, conf, 42).token, LocalKeys(ring), conf
    )
    assert plain.session_id is None and "sid" not in plain.raw


async def test_expired(ring: KeyRing, conf: Settings) -> None:
    token = issue_access_token(ring, conf, 1, now=time.time() - 3600).token
    with pytest.raises(AuthError, match="expired"):
        await verify_access_token(token, LocalKeys(ring), conf)


async def test_tampered(ring: KeyRing, conf: Settings) -> None:
    token = issue_access_token(ring, conf, 1).token
    head, body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["sub"] = "2"  # promote myself to another user
    with pytest.raises(AuthError, match="signature"):
        await verify_access_token(f"{head}.{_b64(claims)}.{sig}", LocalKeys(ring), conf)
    with pytest.raises(AuthError):
        await verify_access_token(f"{head}.{body}.{sig[:-4]}AAAA", LocalKeys(ring), conf)
    for garbage in ("", "a.b", "not.a.jwt", token + "."):
        with pytest.raises(AuthError):
            await verify_access_token(garbage, LocalKeys(ring), conf)


async def test_wrongly_signed(ring: KeyRing, conf: Settings, tmp_path: Path) -> None:
    # An attacker's key, published nowhere, even reusing the real kid.
    rogue = KeyRing(tmp_path / "rogue").load()
    token = issue_access_token(rogue, conf, 1).token
    with pytest.raises(AuthError):
        await verify_access_token(token, LocalKeys(ring), conf)
    real_kid = ring.signing_key().kid
    (tmp_path / "rogue" / f"{rogue.signing_key().kid}.pem").rename(
        tmp_path / "rogue" / f"{real_kid}.pem"
    )
    rogue.refresh(force=True)
    token = issue_access_token(rogue, conf, 1).token
    assert f'"kid": "{real_kid}"' in json.dumps(
        json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    )
    with pytest.raises(AuthError, match="signature"):
        await verify_access_token(token, LocalKeys(ring), conf)
    # Symmetric and unsigned algorithms are refused outright (no alg confusion).
    hs = jwt.encode(
        {"alg": "HS256", "kid": real_kid},
        {"sub": "1"},
        OctKey.import_key(b"x" * 32),
        algorithms=["HS256"],
    )
    with pytest.raises(AuthError, match="ES256"):
        await verify_access_token(hs, LocalKeys(ring), conf)
    none = f"{_b64({'alg': 'none', 'kid': real_kid})}.{_b64({'sub': '1'})}."
    with pytest.raises(AuthError):
        await verify_access_token(none, LocalKeys(ring), conf)


async def test_wrong_issuer_or_audience(ring: KeyRing, conf: Settings) -> None:
    other_iss = load_settings(jwt_issuer="someone-else", jwt_audience="puppies-api")
    other_aud = load_settings(jwt_issuer="puppies-test", jwt_audience="another-api")
    for issuer_conf in (other_iss, other_aud):
        token = issue_access_token(ring, issuer_conf, 1).token
        with pytest.raises(AuthError, match="refused"):
            await verify_access_token(token, LocalKeys(ring), conf)


async def test_rotation_keeps_live_tokens(ring: KeyRing, conf: Settings) -> None:
    old = issue_access_token(ring, conf, 7)
    new_kid = ring.rotate()
    assert ring.signing_key().kid == new_kid != old.kid
    assert {k["kid"] for k in ring.jwks()["keys"]} == {old.kid, new_kid}
    assert (await verify_access_token(old.token, LocalKeys(ring), conf)).user_id == 7
    fresh = issue_access_token(ring, conf, 8)
    assert fresh.kid == new_kid
    assert ring.prune(older_than_seconds=3600) == []  # the old key is still needed
    assert ring.prune(older_than_seconds=0) == [old.kid]
    with pytest.raises(AuthError):
        await verify_access_token(old.token, LocalKeys(ring), conf)
    assert (await verify_access_token(fresh.token, LocalKeys(ring), conf)).user_id == 8


async def test_keyring_sees_rotation_by_another_process(tmp_path: Path, conf: Settings) -> None:
    serving = KeyRing(tmp_path / "k", reload_interval=0).load()
    cli = KeyRing(tmp_path / "k").load()  # what `puppies keys rotate` does
    kid = cli.rotate()
    assert serving.signing_key().kid == kid


async def test_remote_jwks_unreachable(conf: Settings, ring: KeyRing) -> None:
    token = issue_access_token(ring, conf, 1).token
    remote = RemoteJWKS("http://127.0.0.1:9/.well-known/jwks.json", timeout=1)
    with pytest.raises(AuthError) as info:
        await verify_access_token(token, remote, conf)
    assert info.value.code == "INTERNAL_SERVER_ERROR"


def test_rotation_within_one_millisecond_still_signs_with_the_new_key(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path / "k", reload_interval=0).load()
    kids = [ring.rotate() for _ in range(20)]  # far faster than one per millisecond
    assert ring.signing_key().kid == kids[-1]
    assert [k.kid for k in ring.keys][-20:] == kids
