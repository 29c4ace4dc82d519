"""OpenID Connect pieces that need no provider: settings, the signed client secret (Sign in
with Apple), usernames for new accounts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from puppies.errors import ConfigError
from puppies.settings import Settings, load_settings
from resolvers.users.oidc import Purpose, VerifiedIdentity, signed_client_secret
from resolvers.users.oidc_accounts import username_candidates


def _env_settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    """Settings as a process reads them: OIDC_PROVIDERS and OIDC_REDIRECT_URIS as JSON."""
    for name, value in env.items():
        monkeypatch.setenv(name.upper(), value)
    return load_settings()


def _identity(**over: object) -> VerifiedIdentity:
    base: dict[str, object] = {
        "provider": "google",
        "issuer": "https://accounts.google.com",
        "subject": "1234",
        "email": "ada@example.com",
        "email_verified": True,
        "name": None,
        "preferred_username": None,
        "auth_time": None,
        "purpose": Purpose.SIGN_IN,
        "flow_user_id": None,
    }
    base.update(over)
    return VerifiedIdentity(**base)  # type: ignore[arg-type]


def test_google_and_apple_as_documented_are_valid_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = tmp_path / "AuthKey_ABC123.p8"
    key.write_bytes(ECKey.generate_key("P-256").as_pem(private=True))
    settings = _env_settings(
        monkeypatch,
        oidc_providers=json.dumps(
            {
                "google": {
                    "issuer": "https://accounts.google.com",
                    "client_id": "123.apps.googleusercontent.com",
                    "client_secret": "GOCSPX-secret",
                    "display_name": "Google",
                },
                "apple": {
                    "issuer": "https://appleid.apple.com",
                    "client_id": "dev.puppies.signin",
                    "signed_client_secret": {
                        "team_id": "TEAM123456",
                        "key_id": "ABC123",
                        "private_key_file": str(key),
                    },
                    "scopes": ["openid", "email", "name"],
                    "response_mode": "form_post",
                    "token_endpoint_auth_method": "client_secret_post",
                },
            }
        ),
        oidc_redirect_uris='["https://app.puppies.dev/auth/callback", "dev.puppies.app:/oauth"]',
    )
    google = settings.oidc_providers["google"]
    assert google.discovery_url == "https://accounts.google.com/.well-known/openid-configuration"
    apple = settings.oidc_providers["apple"]
    assert apple.signed_client_secret is not None
    assert settings.oidc_redirect_uris[1] == "dev.puppies.app:/oauth"


@pytest.mark.parametrize(
    ("providers", "message"),
    [
        (
            {"x": {"issuer": "http://idp.example", "client_id": "c", "client_secret": "s"}},
            "https://",
        ),
        ({"x": {"issuer": "https://idp.example", "client_id": "c"}}, "client_secret"),
        (
            {
                "x": {
                    "issuer": "https://i.example",
                    "client_id": "c",
                    "client_secret": "s",
                    "scopes": ["email"],
                }
            },
            "openid",
        ),
        (
            {"a b": {"issuer": "https://i.example", "client_id": "c", "client_secret": "s"}},
            "provider name",
        ),
        (
            {
                "x": {
                    "issuer": "https://i.example",
                    "client_id": "c",
                    "client_secret": "s",
                    "colour": "blue",
                }
            },
            "(?i)colour",
        ),
    ],
)
def test_bad_provider_settings_stop_start_up_saying_why(
    providers: dict, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match=message):
        _env_settings(monkeypatch, oidc_providers=json.dumps(providers))


def test_redirect_uris_are_absolute_and_https_except_on_localhost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ConfigError, match="only on localhost"):
        _env_settings(monkeypatch, oidc_redirect_uris='["http://app.example/cb"]')
    with pytest.raises(ConfigError, match="fragment"):
        _env_settings(monkeypatch, oidc_redirect_uris='["https://app.example/cb#x"]')
    ok = _env_settings(monkeypatch, oidc_redirect_uris='["http://127.0.0.1:3000/cb"]')
    assert ok.oidc_redirect_uris == ["http://127.0.0.1:3000/cb"]


def test_the_signed_client_secret_is_what_apple_asks_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private = ECKey.generate_key("P-256")
    path = tmp_path / "key.p8"
    path.write_bytes(private.as_pem(private=True))
    settings = _env_settings(
        monkeypatch,
        oidc_providers=json.dumps(
            {
                "apple": {
                    "issuer": "https://appleid.apple.com",
                    "client_id": "dev.puppies.signin",
                    "signed_client_secret": {
                        "team_id": "TEAM123456",
                        "key_id": "KEY1",
                        "private_key_file": str(path),
                        "ttl_seconds": 600,
                    },
                }
            }
        ),
    )
    token = signed_client_secret(settings.oidc_providers["apple"], now=1_800_000_000)
    public = ECKey.import_key(private.as_dict(private=False))
    decoded = jwt.decode(token, public, algorithms=["ES256"])
    assert (decoded.header["alg"], decoded.header["kid"]) == ("ES256", "KEY1")
    assert decoded.claims == {
        "iss": "TEAM123456",
        "iat": 1_800_000_000,
        "exp": 1_800_000_600,
        "aud": "https://appleid.apple.com",
        "sub": "dev.puppies.signin",
    }


def test_usernames_come_from_the_identity_and_stay_valid() -> None:
    assert username_candidates(_identity(preferred_username="ada.l"))[0] == "ada_l"
    assert username_candidates(_identity())[0] == "ada"
    assert username_candidates(_identity(email="x@e.com", name="Grace B. Hopper"))[0] == (
        "Grace_B_Hopper"
    )
    assert username_candidates(_identity(email="é@e.com"))[0] == "pup"
    # a reserved name is never tried as it is
    reserved = username_candidates(_identity(email="admin@example.com"))
    assert all(c.startswith("admin_") for c in reserved)
    for candidate in username_candidates(_identity(name="a" * 80, email=None)):
        assert 3 <= len(candidate) <= 30
        assert candidate.replace("_", "").isalnum()
