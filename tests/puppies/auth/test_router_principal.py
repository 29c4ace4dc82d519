"""The router's signed principal as the subgraphs read it (puppies/auth/principal.py),
signed by the router's own code (graph/authentication/principal_token.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.authentication.principal_token import PrincipalSigner
from graph.serving.request import Principal
from puppies.auth.errors import AuthError
from puppies.auth.principal import AUDIENCE, ISSUER, LEEWAY_SECONDS, PrincipalVerifier

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


# ---- the quick check of a known header's signature is joserfc's answer, on any token

NOW = time.time()
_PRINCIPALS = st.one_of(
    st.builds(Principal),
    st.builds(
        lambda uid, sid: Principal("user", uid, uid, session_id=sid),
        st.integers(1, 10**6).map(str),
        st.none() | st.integers(1, 10**6).map(str),
    ),
    st.builds(
        lambda kid, uid, tier, scopes, client: Principal(
            "api_key", kid, uid, tier, frozenset(scopes), client
        ),
        st.integers(1, 10**6).map(str),
        st.integers(1, 10**6).map(str),
        st.sampled_from(["free", "pro"]),
        st.sets(st.sampled_from(["read:posts", "write:posts", "read:users"])),
        st.none() | st.text("abc-", min_size=1, max_size=6),
    ),
    st.just(Principal("router", "router")),
)


def _b64json(value: object) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _signed(secret: str, header: str, payload: str) -> str:
    mac = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


_T = int(NOW)
# each claim's good value first, then values at and past every edge joserfc checks
_EDGES: dict[str, list[object]] = {
    "iss": [ISSUER, "other", "", None, 1, [ISSUER]],
    "aud": [AUDIENCE, "other", [AUDIENCE], ["x", AUDIENCE], ["x"], [], "", None, 1],
    "exp": [_T + 60, _T - 4, _T - 5, _T - 6, _T - 3600, float(_T + 60), _T - 4.5, 0, True],
    "kind": ["anonymous", "user", "api_key", "router", "other", "", None, 1, []],
    "iat": [_T, _T + 5, _T + 6, _T + 5.5, _T - 100, float(_T), True, "1", None],
    "nbf": [_T, _T + 5, _T + 6, None],
    "sub": ["5", "", 5, None, "x"],
    "uid": ["5", 5, None],
    "sid": ["7", None, 7],
    "jti": ["j", 1],
    "scope": ["read:posts", None],
    "tier": ["free", 3],
    "client": ["acme", None],
}
_GOOD = {"iss": ISSUER, "aud": AUDIENCE, "exp": _T + 60, "kind": "user", "sub": "5"}
# the router's claims with one to three changed, added or removed; or any of them
_CLAIMS = st.one_of(
    st.lists(
        st.sampled_from(sorted(_EDGES)).flatmap(
            lambda name: st.tuples(st.just(name), st.sampled_from([*_EDGES[name], "<absent>"]))
        ),
        min_size=1,
        max_size=3,
    ).map(lambda changes: {k: v for k, v in {**_GOOD, **dict(changes)}.items() if v != "<absent>"}),
    st.fixed_dictionaries({}, optional={k: st.sampled_from(v) for k, v in _EDGES.items()}),
)


@st.composite
def _tokens(draw: st.DrawFn) -> str:
    """Router tokens (current or previous or a foreign secret, expired or not), tokens
    with other claims signed with the router's header, and tampered ones."""
    secret = draw(st.sampled_from([CURRENT, PREVIOUS, "f" * 40]))
    signer = PrincipalSigner(secret, ttl=draw(st.sampled_from([1.0, 60.0])))
    now = NOW - draw(st.sampled_from([0.0, 30.0, 3600.0]))
    token = signer._sign(draw(_PRINCIPALS), now=now)
    header, payload, signature = token.split(".")
    how = draw(st.sampled_from(["as is", "claims", "flip", "swap", "segments", "padding"]))
    if how == "claims":  # other claims, correctly signed under the router's header
        token = _signed(secret, header, _b64json(draw(_CLAIMS)))
    elif how == "flip":  # one character of one segment changed
        part = draw(st.integers(0, 2))
        pieces = [header, payload, signature]
        at = draw(st.integers(0, len(pieces[part]) - 1))
        char = draw(st.sampled_from("AQgw_-+/=.é0"))
        pieces[part] = pieces[part][:at] + char + pieces[part][at + 1 :]
        token = ".".join(pieces)
    elif how == "swap":  # another token's payload under this signature
        other = signer._sign(draw(_PRINCIPALS), now=now).split(".")[1]
        token = f"{header}.{other}.{signature}"
    elif how == "segments":
        token = draw(st.sampled_from([f"{header}.{payload}", f"{token}.{signature}", ""]))
    elif how == "padding":
        token = f"{header}.{payload}.{signature}=="
    return token


def _outcome(verifier: PrincipalVerifier, token: str) -> object:
    try:
        found = verifier.verify(token)
    except AuthError as exc:
        return ("refused", str(exc))
    return ("verified", found)


class _JoserfcOnly(PrincipalVerifier):
    def _known_signature(self, token: str) -> dict[str, object] | None:
        return None

    @staticmethod
    def _usual_claims(claims: dict[str, object], now: int) -> bool:
        return False


@settings(max_examples=400, deadline=None)
@given(st.lists(_tokens(), min_size=1, max_size=8))
def test_known_headers_are_checked_as_joserfc_checks_them(tokens: list[str]) -> None:
    """The quick signature and claims checks answer as joserfc does (one fixed clock for
    both, at the second the tokens were made for)."""
    quick = PrincipalVerifier([CURRENT, PREVIOUS], clock=lambda: NOW)
    # both signers' headers are known to it before the generated tokens come
    for secret in (CURRENT, PREVIOUS):
        quick.verify(PrincipalSigner(secret)._sign(Principal(), now=NOW))
    assert len(quick._headers) == 2
    slow = _JoserfcOnly([CURRENT, PREVIOUS], clock=lambda: NOW)
    for token in tokens:
        assert _outcome(quick, token) == _outcome(slow, token)


_QUICK = PrincipalVerifier([CURRENT], clock=lambda: NOW, cache_size=1)
_QUICK.verify(PrincipalSigner(CURRENT)._sign(Principal(), now=NOW))
_SLOW = _JoserfcOnly([CURRENT], clock=lambda: NOW, cache_size=1)
_HEADER = PrincipalSigner(CURRENT)._sign(Principal(), now=NOW).split(".")[0]


@settings(max_examples=1500, deadline=None)
@given(_CLAIMS)
def test_claims_are_judged_as_joserfc_judges_them(claims: dict[str, object]) -> None:
    """Any claims (the router's with some changed, added or removed at each edge joserfc
    checks), signed under the router's header: the same answer either way."""
    token = _signed(CURRENT, _HEADER, _b64json(claims))
    assert _outcome(_QUICK, token) == _outcome(_SLOW, token)


def test_the_quick_check_is_taken_for_a_known_header() -> None:
    """A new token under a known header skips joserfc; a tampered one is refused by it."""
    verifier = PrincipalVerifier([CURRENT])
    signer = PrincipalSigner(CURRENT)
    verifier.verify(signer.token_for(Principal("user", "1", "1")))
    token = signer.token_for(Principal("user", "2", "2"))
    assert verifier._known_signature(token) is not None
    assert verifier.verify(token).viewer.user_id == 2
    head, payload, signature = token.split(".")
    assert verifier._known_signature(f"{head}.{payload}.{signature[::-1]}") is None
    with pytest.raises(AuthError, match="does not verify"):
        verifier.verify(f"{head}.{payload}.{signature[::-1]}")


def test_the_cache_keeps_live_tokens_only() -> None:
    """The router signs a new token per principal every ttl/2 (30 s): the verifier's cache
    holds the live ones (the last minute's), not every token until `cache_size` of them
    (a subgraph with few requests per viewer, analytics, grew ~1 MiB a minute so), and
    never answers an expired token from it."""
    now = [1_000_000.0]
    signer = PrincipalSigner(CURRENT)
    verifier = PrincipalVerifier([CURRENT], clock=lambda: now[0])
    viewers = [Principal("user", str(u), str(u)) for u in range(1, 301)]
    sizes = []
    for _ in range(20):  # 10 minutes: each viewer's token renewed every 30 s
        tokens = [signer._sign(p, now=now[0]) for p in viewers]
        first = [verifier.verify(t) for t in tokens]
        assert [f.viewer.user_id for f in first] == list(range(1, 301))
        assert all(verifier.verify(t) is f for t, f in zip(tokens, first, strict=True))  # hits
        sizes.append(verifier.cached)
        now[0] += 30
    assert max(sizes) <= 2 * len(viewers), sizes  # this step's tokens and the last step's
    now[0] += 60 + LEEWAY_SECONDS + 1
    with pytest.raises(AuthError, match="does not verify"):
        verifier.verify(tokens[0])
