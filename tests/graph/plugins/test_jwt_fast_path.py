"""The router's JWT verification (graph/authentication/jwt.py: a plain token parsed once, its
signature checked with the key and algorithm chosen once per key set) against joserfc's whole
path as the router ran it before (kept here as the oracle): over generated tokens, valid ones
and every way of being wrong, the same principal or the same refusal, message for message."""

from __future__ import annotations

import asyncio
import base64
import random
import time
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey
from joserfc.jws import JWSRegistry, extract_compact

from graph.authentication.credentials import CredentialError
from graph.authentication.jwks import Jwks
from graph.authentication.jwt import (
    DEFAULT_ALGORITHMS,
    LEEWAY_SECONDS,
    JwtVerifier,
    TrustedIssuer,
    _principal,
)
from graph.serving.request import Principal

NOW = int(time.time())
ISSUER = "https://id.puppies.test"
AUDIENCE = "puppies-api"

# private keys by name; "kid" is what the JWKS calls them (some share or change it)
_KEYS: dict[str, Any] = {
    "ec256": ECKey.generate_key("P-256"),
    "ec384": ECKey.generate_key("P-384"),
    "rsa": RSAKey.generate_key(2048),
    "ed": OKPKey.generate_key("Ed25519"),
    "rogue": ECKey.generate_key("P-256"),  # never in the JWKS
    "rotated": ECKey.generate_key("P-256"),  # in the second JWKS only
    "twin": ECKey.generate_key("P-256"),  # published under ec256's kid too (duplicate kid)
}
_OCT = OctKey.import_key(b"s" * 32)


def _public(name: str, **extra: Any) -> dict[str, Any]:
    return {**_KEYS[name].as_dict(private=False), **extra}


# the JWKS the router trusts (first) and after a rotation (second)
_JWKS = [
    {
        "keys": [
            _public("ec256", kid="ec256", alg="ES256", use="sig"),
            _public("ec384", kid="ec384"),
            _public("rsa", kid="rsa"),
            _public("rsa", kid="rsa-pinned", alg="RS256"),
            _public("ed", kid="ed", key_ops=["verify"]),
            _public("ec256", kid="enc", use="enc"),
            _public("ec256", kid="ops", key_ops=["encrypt"]),
            _public("twin", kid="dup"),
            _public("ec256", kid="dup"),
        ]
    },
    {
        "keys": [
            _public("rotated", kid="rotated", alg="ES256"),
            _public("ec256", kid="ec256", alg="ES256", use="sig"),
        ]
    },
]

_KIDS = ["ec256", "ec384", "rsa", "rsa-pinned", "ed", "enc", "ops", "dup", "rotated", "nope"]
_SIGNERS = {
    "ec256": ["ec256", "enc", "ops", "dup"],
    "ec384": ["ec384"],
    "rsa": ["rsa", "rsa-pinned"],
    "ed": ["ed"],
    "twin": ["dup"],
    "rotated": ["rotated"],
    "rogue": ["ec256", "nope"],
}
_ALGS = [*DEFAULT_ALGORITHMS, "none", "HS256", "ES512", "RS1", ""]
_COHERENT = [
    ("ec256", "ec256", "ES256"),
    ("ec384", "ec384", "ES384"),
    ("rsa", "rsa", "RS256"),
    ("rsa", "rsa", "RS512"),
    ("rsa", "rsa", "PS384"),
    ("rsa", "rsa-pinned", "RS256"),
    ("rsa", "rsa-pinned", "PS256"),
    ("ed", "ed", "EdDSA"),
    ("rotated", "rotated", "ES256"),
    ("twin", "dup", "ES256"),
    ("ec256", "dup", "ES256"),
    ("ec256", "enc", "ES256"),
    ("ec256", "ops", "ES256"),
    # signed as the algorithm says, with a key joserfc refuses for it (curve, type, pin)
    ("ec256", "ec256", "ES384"),
    ("ec384", "ec384", "ES256"),
    ("ed", "ed", "ES256"),
    ("rsa", "rsa-pinned", "PS512"),
    ("ec256", "ec384", "ES256"),
]


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _sign(alg: str, signer: str, signing_input: bytes) -> bytes:
    model = JWSRegistry.algorithms.get(alg)
    if alg == "none" or model is None:
        return b""
    key = _OCT if model.key_type == "oct" else _KEYS[signer]
    try:
        return model.sign(signing_input, key)
    except Exception:  # the key does not fit the algorithm: any bytes
        return b"\x00" * 64


def _chance(rnd: random.Random, percent: int) -> bool:
    # the mix of good and bad parts by a seeded Random (hypothesis's own draws favour edge
    # cases so much that hardly any token would come out valid)
    return rnd.random() * 100 < percent


@st.composite
def _claims(draw: st.DrawFn, rnd: random.Random, clean: bool) -> bytes:
    claims: dict[str, Any] = {}
    optional = {
        "sub": st.one_of(st.just("42"), st.just(""), st.integers(0, 9), st.text(max_size=3)),
        "exp": st.one_of(
            st.integers(NOW - 3 * LEEWAY_SECONDS, NOW + 3600),
            st.sampled_from([NOW - LEEWAY_SECONDS, NOW - LEEWAY_SECONDS + 1]),
            st.floats(NOW - 200, NOW + 200, allow_nan=False),
            st.just("soon"),
            st.just(True),
        ),
        "nbf": st.one_of(st.integers(NOW - 100, NOW + 3 * LEEWAY_SECONDS), st.just("x")),
        "iat": st.one_of(st.integers(NOW - 100, NOW + 100), st.just([])),
        "iss": st.sampled_from([ISSUER, "https://other.test", "", 7, [ISSUER]]),
        "aud": st.sampled_from([AUDIENCE, [AUDIENCE, "x"], ["x"], "x", 3, []]),
        "scope": st.sampled_from(["posts:write", "a b", 5]),
        "scp": st.just(["a", "b"]),
        "tier": st.sampled_from(["pro", 1]),
        "sid": st.sampled_from(["s1", ""]),
        "client_id": st.just("web"),
    }
    good = {"sub": "42", "exp": NOW + 600, "iss": ISSUER, "aud": AUDIENCE}
    for name, strategy in optional.items():
        if _chance(rnd, 100 if clean and name in good else 95 if name in good else 30):
            wrong = name not in good or (not clean and _chance(rnd, 10))
            claims[name] = draw(strategy) if wrong else good[name]
    if clean and _chance(rnd, 15):  # well made, but expired (or just not yet)
        claims["exp"] = NOW - LEEWAY_SECONDS - rnd.choice([0, 1, 30, 3600])
    raw = orjson.dumps(claims)
    variant = (
        "plain"
        if clean
        else rnd.choice(["plain"] * 6 + ["dup", "bigint", "array", "notjson", "ws"])
    )
    if variant == "dup" and raw != b"{}":  # a key twice: the last one counts (both parsers)
        raw = b'{"sub":"first",' + raw[1:]
    elif variant == "bigint":
        raw = raw[:-1] + (b"," if raw != b"{}" else b"") + b'"n":123456789012345678901234567890}'
    elif variant == "array":
        raw = b"[" + raw + b"]"
    elif variant == "notjson":
        raw = raw[:-1]
    elif variant == "ws":
        raw = b" " + raw + b"\n"
    return raw


@st.composite
def _tokens(draw: st.DrawFn) -> str:
    rnd = draw(st.randoms(use_true_random=False))
    clean = _chance(rnd, 40)  # a token that should pass (if its key and config fit)
    if clean or _chance(rnd, 50):  # a key and an algorithm that go together
        signer, kid, alg = rnd.choice(_COHERENT)
    else:
        alg = rnd.choice(_ALGS)
        signer = rnd.choice(sorted(_SIGNERS))
        kid = rnd.choice(_SIGNERS[signer] if rnd.random() < 0.5 else _KIDS)
    header: dict[str, Any] = {"alg": alg}
    if clean or _chance(rnd, 90):
        header["kid"] = kid
    elif _chance(rnd, 50):
        header["kid"] = 5
    if _chance(rnd, 50):
        header["typ"] = rnd.choice(["JWT", "at+jwt"] if clean else ["JWT", "at+jwt", 1])
    extra = None if clean else rnd.choice([None] * 5 + ["crit", "b64", "x5u", "zip", "noalg"])
    if extra == "crit":
        header["crit"] = ["exp"]
    elif extra == "b64":
        header["b64"] = False
        header["crit"] = ["b64"]
    elif extra == "x5u":
        header["x5u"] = "https://x.test/k"
    elif extra == "zip":
        header["zip"] = "DEF"
    elif extra == "noalg":
        del header["alg"]
    head = _b64(orjson.dumps(header))
    body = _b64(draw(_claims(rnd, clean)))
    signature = _b64(_sign(alg, signer, head + b"." + body))
    token = (head + b"." + body + b"." + signature).decode()
    damage = (
        "none"
        if clean
        else rnd.choice(
            ["none"] * 10
            + ["flip", "truncate", "pad", "segments", "two", "nonascii", "garbage", "plus"]
            + ["empty-sig", "long-header", "space"]
        )
    )
    if damage == "flip":
        at = draw(st.integers(0, len(token) - 1))
        swap = "A" if token[at] != "A" else "B"
        token = token[:at] + swap + token[at + 1 :]
    elif damage == "truncate":
        token = token[: draw(st.integers(0, len(token) - 1))]
    elif damage == "pad":
        token += "=="
    elif damage == "segments":
        token += ".e30"
    elif damage == "two":
        token = token.rsplit(".", 1)[0]
    elif damage == "nonascii":
        token = token[:5] + "é" + token[5:]
    elif damage == "garbage":
        token = draw(st.text(alphabet="abcXYZ019-_.=+/", max_size=40))
    elif damage == "plus":
        token = token.replace("-", "+")
    elif damage == "empty-sig":
        token = token.rsplit(".", 1)[0] + "."
    elif damage == "long-header":
        header["x"] = "y" * 600
        head = _b64(orjson.dumps(header))
        signature = _b64(_sign(alg, signer, head + b"." + body))
        token = (head + b"." + body + b"." + signature).decode()
    elif damage == "space":
        token = " " + token
    return token


# ---- the oracle: joserfc's whole path, as graph/authentication/jwt.py ran it (session 23)
def _old_claims(claims: dict[str, Any], trusted: TrustedIssuer, now: float) -> None:
    options: dict[str, Any] = {"exp": {"essential": True}, "sub": {"essential": True}}
    if trusted.issuers is not None:
        options["iss"] = {"essential": True, "values": sorted(trusted.issuers)}
    if trusted.audiences is not None:
        options["aud"] = {"essential": True, "values": sorted(trusted.audiences)}
    registry = jwt.JWTClaimsRegistry(now=int(now), leeway=LEEWAY_SECONDS, **options)
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise CredentialError("the token has expired; refresh it") from None
    except MissingClaimError as exc:
        raise CredentialError(f"the token lacks the {exc.claim!r} claim") from None
    except InvalidClaimError as exc:
        raise CredentialError(f"the token's {exc.claim!r} claim is not accepted") from None
    except JoseError as exc:
        raise CredentialError(f"the token was refused: {exc.description or exc}") from None


async def _old_verify(
    trusted_list: list[TrustedIssuer], token: str, now: float
) -> tuple[Principal, float]:
    try:
        compact = extract_compact(token.encode("ascii"))
        unverified: Any = orjson.loads(compact.payload)
    except (JoseError, ValueError, UnicodeError, orjson.JSONDecodeError):
        raise CredentialError("the token is not a well-formed JWT") from None
    if not isinstance(unverified, dict):
        raise CredentialError("the token's payload is not a JSON object")
    kid = compact.protected.get("kid")
    alg = compact.protected.get("alg")
    issuer = unverified.get("iss")
    candidates = [t for t in trusted_list if t.accepts_issuer(issuer)]
    if not candidates:
        raise CredentialError(f"the token's issuer {issuer!r} is not trusted by this router")
    last: CredentialError | None = None
    for trusted in candidates:
        if alg not in trusted.algorithms:
            last = CredentialError(f"the token's algorithm {alg!r} is not accepted")
            continue
        key_set = await trusted.jwks.keys_for(kid if isinstance(kid, str) else None)
        if isinstance(kid, str) and kid not in trusted.jwks.kids:
            last = CredentialError(f"no key {kid!r} to verify the token with")
            continue
        try:
            decoded = jwt.decode(token, key_set, algorithms=list(trusted.algorithms))
        except BadSignatureError:
            last = CredentialError("the token's signature does not verify")
            continue
        except (JoseError, ValueError) as exc:
            last = CredentialError(f"the token was refused: {exc}")
            continue
        claims = decoded.claims
        _old_claims(claims, trusted, now)
        return _principal(claims), float(claims["exp"])
    assert last is not None
    raise last


# ---- the comparison
_Config = list[tuple[int, frozenset[str] | None, frozenset[str] | None, tuple[str, ...]]]
_CONFIGS: dict[str, _Config] = {
    "strict": [(0, frozenset({ISSUER}), frozenset({AUDIENCE}), DEFAULT_ALGORITHMS)],
    "open": [(0, None, None, DEFAULT_ALGORITHMS)],
    "two": [
        (0, frozenset({ISSUER}), frozenset({AUDIENCE}), ("ES256",)),
        (1, None, frozenset({AUDIENCE, "x"}), ("ES256", "ES384", "RS256", "EdDSA")),
    ],
}


def _trusted(paths: list[Path], config: str) -> list[TrustedIssuer]:
    return [
        TrustedIssuer(Jwks(f"file://{paths[i]}"), issuers, audiences, algs)
        for i, issuers, audiences, algs in _CONFIGS[config]
    ]


async def _verdict(verifying: Any) -> tuple[str, Any]:
    try:
        principal, expires = await verifying
    except CredentialError as error:
        return "refused", (error.message, error.unavailable)
    return "admitted", (principal, expires)


async def _compare(paths: list[Path], config: str, tokens: list[str], rotate: bool) -> int:
    new = JwtVerifier(_trusted(paths, config))
    old = _trusted(paths, config)
    for trusted in [*new.trusted, *old]:
        await trusted.jwks.refresh()
    admitted = 0
    for i, token in enumerate(tokens):
        if rotate and i == len(tokens) // 2:  # the identity provider rotates its keys
            paths[0].write_bytes(orjson.dumps(_JWKS[1]))
        now = time.time()
        got = await _verdict(new._verify(token, now))
        want = await _verdict(_old_verify(old, token, now))
        assert got == want, token
        admitted += got[0] == "admitted"
    return admitted


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    config=st.sampled_from(sorted(_CONFIGS)),
    tokens=st.lists(_tokens(), min_size=1, max_size=6),
    rotate=st.booleans(),
)
def test_generated_tokens_get_the_verdict_joserfc_gives(
    tmp_path: Path, config: str, tokens: list[str], rotate: bool
) -> None:
    paths = [tmp_path / "jwks-a.json", tmp_path / "jwks-b.json"]
    paths[0].write_bytes(orjson.dumps(_JWKS[0]))
    paths[1].write_bytes(orjson.dumps(_JWKS[1]))
    asyncio.run(_compare(paths, config, tokens, rotate))


def test_the_generator_reaches_admissions_and_each_kind_of_refusal(tmp_path: Path) -> None:
    """The comparison above is not vacuous: plain valid tokens are admitted (by the fast
    path: no call of joserfc's jwt.decode) and the refusals it compares are of every kind."""
    paths = [tmp_path / "jwks-a.json", tmp_path / "jwks-b.json"]
    paths[0].write_bytes(orjson.dumps(_JWKS[0]))
    paths[1].write_bytes(orjson.dumps(_JWKS[1]))
    seen: dict[str, int] = {}

    @settings(max_examples=400, deadline=None, database=None, derandomize=True)
    @given(config=st.sampled_from(sorted(_CONFIGS)), token=_tokens())
    def collect(config: str, token: str) -> None:
        async def one() -> None:
            verifier = JwtVerifier(_trusted(paths, config))
            for trusted in verifier.trusted:
                await trusted.jwks.refresh()
            kind, detail = await _verdict(verifier._verify(token, time.time()))
            label = kind if kind == "admitted" else detail[0].split(":")[0].split("'")[0]
            seen[label] = seen.get(label, 0) + 1

        asyncio.run(one())

    collect()
    assert seen.get("admitted", 0) >= 25, seen
    for refusal in (
        "the token is not a well-formed JWT",
        "the token has expired; refresh it",
        "the token",  # a claim not accepted, lacking, or the algorithm
        "no key ",
        "the token was refused",
    ):
        assert seen.get(refusal, 0) >= 3, (refusal, seen)


async def test_a_plain_valid_token_skips_joserfcs_decode(tmp_path: Path, monkeypatch: Any) -> None:
    path = tmp_path / "jwks.json"
    path.write_bytes(orjson.dumps(_JWKS[0]))
    verifier = JwtVerifier(_trusted([path, path], "strict"))
    await verifier.trusted[0].jwks.refresh()
    claims = {"sub": "42", "exp": NOW + 600, "iss": ISSUER, "aud": AUDIENCE, "scope": "a b"}
    token = jwt.encode({"alg": "ES256", "kid": "ec256"}, claims, _KEYS["ec256"])
    calls: list[str] = []
    original = jwt.decode

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append("decode")
        return original(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting)
    principal = await verifier.verify(token)
    assert (principal.user_id, principal.scopes, calls) == ("42", frozenset({"a", "b"}), [])
    # a bad signature goes through joserfc's path, which refuses it
    head, body, _ = token.split(".")
    forged = jwt.encode({"alg": "ES256", "kid": "ec256"}, claims, _KEYS["rogue"])
    try:
        await verifier.verify(f"{head}.{body}.{forged.split('.')[2]}")
    except CredentialError as error:
        assert error.message == "the token's signature does not verify"
    else:
        raise AssertionError("a forged signature was accepted")
    assert calls == ["decode"]
