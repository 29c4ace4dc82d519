"""The principal signer writes its claims with orjson: the same token as before, when it
wrote them with json.dumps (kept here as the oracle, as joserfc's jwt.encode writes them),
for generated principals of every kind with any text in their fields (a lone surrogate,
which neither can encode, refused by both)."""

from __future__ import annotations

import hmac
import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.authentication.principal_token import AUDIENCE, ISSUER, PrincipalSigner, _b64
from graph.serving.request import Principal

_TEXT = st.text(max_size=12) | st.sampled_from(['acmé ☃ "q"', "a\\b", "\x00\x1f\x7f", "\u2028"])
_OPTIONAL = st.none() | _TEXT


def _old_sign(signer: PrincipalSigner, principal: Principal, now: float) -> str:
    """PrincipalSigner._sign as of session 23 (json.dumps)."""
    issued = int(now)
    claims: dict[str, object] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": issued,
        "exp": issued + max(1, int(signer.ttl)),
        "kind": principal.kind,
    }
    if principal.id is not None:
        claims["sub"] = principal.id
    if principal.user_id is not None:
        claims["uid"] = principal.user_id
    if principal.tier is not None:
        claims["tier"] = principal.tier
    if principal.scopes:
        claims["scope"] = " ".join(sorted(principal.scopes))
    if principal.client_name is not None:
        claims["client"] = principal.client_name
    if principal.session_id is not None:
        claims["sid"] = principal.session_id
    payload = _b64(json.dumps(claims, ensure_ascii=False, separators=(",", ":")).encode())
    signing_input = signer._header + b"." + payload
    signature = _b64(hmac.digest(signer.key, signing_input, "sha256"))
    return (signing_input + b"." + signature).decode("ascii")


@settings(max_examples=400, deadline=None)
@given(
    kind=st.sampled_from(["anonymous", "user", "api_key", "router"]),
    ident=_OPTIONAL,
    user_id=_OPTIONAL,
    tier=_OPTIONAL,
    scopes=st.frozensets(_TEXT, max_size=3),
    client=_OPTIONAL,
    session=_OPTIONAL,
    now=st.floats(0, 4e9),
    ttl=st.sampled_from([0.5, 60.0, 3600.0]),
)
def test_the_token_is_the_one_json_dumps_made(
    kind: str,
    ident: str | None,
    user_id: str | None,
    tier: str | None,
    scopes: frozenset[str],
    client: str | None,
    session: str | None,
    now: float,
    ttl: float,
) -> None:
    signer = PrincipalSigner("k" * 40, ttl=ttl)
    principal = Principal(kind, ident, user_id, tier, scopes, client, session_id=session)
    try:
        token = signer._sign(principal, now)
    except orjson.JSONEncodeError:
        with pytest.raises(UnicodeEncodeError):  # a lone surrogate: the old way failed too
            _old_sign(signer, principal, now)
        return
    assert token == _old_sign(signer, principal, now)
