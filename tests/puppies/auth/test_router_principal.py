"""The router's signed principal as the subgraphs read it (puppies/auth/principal.py),
signed by the router's own code (graph/authentication/principal_token.py)."""

from __future__ import annotations

import pytest

from graph.authentication.principal_token import PrincipalSigner
from graph.serving.request import Principal
from puppies.auth.errors import AuthError
from puppies.auth.principal import PrincipalVerifier

CURRENT = "c" * 40
PREVIOUS = "p" * 40


def test_users_keys_and_anonymous_become_viewers() -> None:
    verifier = PrincipalVerifier([CURRENT])
    signer = PrincipalSigner(CURRENT)
    user = verifier.verify(signer.token_for(Principal("user", "5", "5")))
    assert (user.kind, user.viewer.user_id, user.viewer.kind, user.viewer.scopes) == (
        "user",
        5,
        "user",
        None,  # a user session may do everything its user may
    )
    key = verifier.verify(
        signer.token_for(Principal("api_key", "9", "5", "free", frozenset({"read:posts"}), "acme"))
    )
    assert key.viewer.api_key_id == 9 and key.viewer.user_id == 5
    assert key.viewer.tier == "free" and key.viewer.scopes == frozenset({"read:posts"})
    assert key.client == "acme"
    assert not key.viewer.has_scope("write:posts")
    anonymous = verifier.verify(signer.token_for(Principal()))
    assert anonymous.viewer.user_id is None and not anonymous.is_router
    assert verifier.verify(signer.token_for(Principal("router", "router"))).is_router


def test_a_user_tokens_session_travels_to_the_viewer() -> None:
    signer, verifier = PrincipalSigner(CURRENT), PrincipalVerifier([CURRENT])
    with_session = verifier.verify(signer.token_for(Principal("user", "5", "5", session_id="77")))
    assert (with_session.viewer.user_id, with_session.viewer.session_id) == (5, 77)
    # one token per session: another session of the same user is told apart
    other = verifier.verify(signer.token_for(Principal("user", "5", "5", session_id="78")))
    assert other.viewer.session_id == 78
    assert verifier.verify(signer.token_for(Principal("user", "5", "5"))).viewer.session_id is None


def test_rotation_wrong_secrets_tampering_and_expiry() -> None:
    token = PrincipalSigner(PREVIOUS).token_for(Principal("user", "5", "5"))
    assert PrincipalVerifier([CURRENT, PREVIOUS]).verify(token).viewer.user_id == 5
    with pytest.raises(AuthError, match="unknown key"):
        PrincipalVerifier([CURRENT]).verify(token)
    with pytest.raises(AuthError, match="malformed"):
        PrincipalVerifier([CURRENT]).verify("not-a-token")
    good = PrincipalSigner(CURRENT).token_for(Principal("user", "5", "5"))
    head, payload, signature = good.split(".")
    with pytest.raises(AuthError, match="does not verify"):
        PrincipalVerifier([CURRENT]).verify(f"{head}.{payload}.{signature[::-1]}")
    expired = PrincipalSigner(CURRENT, ttl=1)
    expired._tokens.clear()
    token = expired._sign(Principal("user", "5", "5"), now=0.0)
    with pytest.raises(AuthError, match="does not verify"):
        PrincipalVerifier([CURRENT]).verify(token)
