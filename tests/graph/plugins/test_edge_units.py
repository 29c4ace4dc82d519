"""Pure parts of the edge plugins: the client address behind trusted proxies, the
authentication config, the signed principal's claims."""

from __future__ import annotations

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from graph.authentication.principal_token import PrincipalSigner, key_id
from graph.config import config_from_mapping
from graph.errors import ConfigError
from graph.plugins.client_ip import ClientAddress, ClientIpConfig
from graph.serving.request import Principal

XFF = b"x-forwarded-for"


def test_client_address_is_the_peer_unless_the_peer_is_a_trusted_proxy() -> None:
    plain = ClientAddress(ClientIpConfig())
    assert plain.of("203.0.113.9", [(XFF, b"1.2.3.4")]) == "203.0.113.9"
    behind = ClientAddress(ClientIpConfig(trusted_proxies=["10.0.0.0/8", "192.0.2.1"]))
    assert behind.of("10.1.2.3", [(XFF, b"198.51.100.7")]) == "198.51.100.7"
    # a client-sent entry left of the real client is never believed
    assert behind.of("10.1.2.3", [(XFF, b"6.6.6.6, 198.51.100.7, 192.0.2.1")]) == "198.51.100.7"
    assert behind.of("10.1.2.3", []) == "10.1.2.3"
    assert behind.of("203.0.113.9", [(XFF, b"1.2.3.4")]) == "203.0.113.9"  # untrusted peer
    with pytest.raises(ConfigError, match="not an IP address or network"):
        config_from_mapping({"client_ip": {"trusted_proxies": ["ten.0.0.0/8"]}})


def test_authentication_config_is_checked() -> None:
    jwks = {"url": "http://127.0.0.1:4001/.well-known/jwks.json"}
    ok = config_from_mapping(
        {
            "authentication": {
                "router": {
                    "jwt": {
                        "jwks": [{**jwks, "issuers": ["a"], "algorithms": ["ES256"]}],
                        "sources": [{"type": "cookie", "name": "authz"}],
                        "on_error": "Continue",
                    }
                }
            }
        }
    )
    assert ok.authentication.enabled
    for bad, message in (
        ({"jwt": {"jwks": []}}, "at least 1"),
        ({"jwt": {"jwks": [{**jwks, "algorithms": ["HS256"]}]}}, "unsupported algorithms"),
        ({"jwt": {"jwks": [{"url": "ftp://x"}]}}, "not an http"),
        ({"jwt": {"jwks": [jwks], "on_error": "Ignore"}}, "on_error"),
        ({"api_keys": {"verify_url": "x"}}, "not an http"),
    ):
        with pytest.raises(ConfigError, match=message):
            config_from_mapping({"authentication": {"router": bad}})
    with pytest.raises(ConfigError, match="at least 32 characters"):
        config_from_mapping({"authentication": {"subgraph": {"principal": {"secret": "short"}}}})


def test_the_signed_principal_says_who_and_is_reused_for_half_its_life() -> None:
    secret = "s" * 40
    signer = PrincipalSigner(secret, ttl=60)
    principal = Principal(
        "api_key", "7", "42", "pro", frozenset({"read:posts", "write:posts"}), "acme"
    )
    token = signer.token_for(principal)
    assert signer.token_for(principal) is token  # cached
    decoded = jwt.decode(token, OctKey.import_key(secret.encode()), algorithms=["HS256"])
    assert decoded.header["kid"] == key_id(secret)
    claims = decoded.claims
    assert claims["iss"] == "puppies-router" and claims["aud"] == "puppies-subgraphs"
    assert (claims["kind"], claims["sub"], claims["uid"], claims["tier"]) == (
        "api_key",
        "7",
        "42",
        "pro",
    )
    assert claims["scope"] == "read:posts write:posts" and claims["client"] == "acme"
    assert claims["exp"] - claims["iat"] == 60
    anonymous = jwt.decode(
        signer.token_for(Principal()), OctKey.import_key(secret.encode()), algorithms=["HS256"]
    ).claims
    assert anonymous["kind"] == "anonymous" and "sub" not in anonymous


def test_the_signed_principal_is_what_joserfc_signs_byte_for_byte() -> None:
    """The signer makes the JWS itself (hmac); joserfc's jwt.encode of the same header and
    claims gives the same token, for principals of every kind, non-ASCII text included."""
    secret = "r" * 40
    signer = PrincipalSigner(secret, ttl=60)
    key = OctKey.import_key(secret.encode())
    principals = [
        Principal(),
        Principal("user", "5", "5", session_id="sess-1"),
        Principal("api_key", "7", "42", "pro", frozenset({"b", "a"}), 'acmé ☃ "q"'),
        Principal("router", "router"),
    ]
    for principal in principals:
        now = 1_700_000_000.7
        token = signer._sign(principal, now)
        claims = jwt.decode(token, key, algorithms=["HS256"]).claims
        header = {"alg": "HS256", "kid": key_id(secret), "typ": "JWT"}
        assert token == jwt.encode(header, claims, key, algorithms=["HS256"]), principal
        assert claims["iat"] == 1_700_000_000 and claims["exp"] == 1_700_000_060


def test_rate_limit_config_is_checked() -> None:
    redis = {"urls": ["redis://127.0.0.1:6379/0"]}
    ok = config_from_mapping({"rate_limits": {"enabled": True, "redis": redis}})
    assert ok.rate_limits.tiers["free"].limit == 60
    assert ok.rate_limits.tiers["enterprise"].daily_quota == 100_000
    for bad, message in (
        ({"enabled": True}, "needs rate_limits.redis.urls"),
        ({"redis": redis, "default_tier": "gold"}, "not one of the tiers"),
        ({"redis": redis, "root_fields": {"createPost": {"limit": 1}}}, "Type.field"),
        ({"redis": {"urls": ["http://x"]}}, "redis://"),
        ({"redis": redis, "tiers": {"free": {"limit": 0}}}, "greater than 0"),
    ):
        with pytest.raises(ConfigError, match=message):
            config_from_mapping({"rate_limits": bad})


def test_root_fields_are_counted_through_fragments_but_not_denied_ones() -> None:
    from graph.planning.operation import OpField, OpFragment
    from graph.plugins.rate_limits import root_fields

    selections = (
        OpField("a", "createPost"),
        OpField("b", "createPost"),
        OpFragment(None, (OpField("me", "me"), OpField("__typename", "__typename"))),
        OpField("hidden", "apiKeys", denied=True),
    )
    assert root_fields(selections, "Mutation") == {"Mutation.createPost": 2, "Mutation.me": 1}
