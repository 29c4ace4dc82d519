"""Sign in with OpenID Connect through the router, against a real provider process:
authorization code flow with PKCE, state and nonce, ID tokens verified against its JWKS."""

from __future__ import annotations

import uuid

import httpx

from tests.identity.conftest import LOG_IN, REDIRECT_URI, START, IdentityApi, new_subject
from tests.support.client import PASSWORD

ME = """{ me { id username email role hasPassword identityProviders } }"""
PROVIDERS = "{ oidcProviders { name displayName } }"
REFRESH = """mutation($t: String!) { refreshSession(refreshToken: $t) {
  session { accessToken } errors { code } } }"""


def _codes(body: dict) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


async def test_the_providers_are_listed(api: IdentityApi) -> None:
    data = await api.data(PROVIDERS)
    assert data["oidcProviders"] == [
        {"name": "publicid", "displayName": "Publicid"},
        {"name": "testid", "displayName": "Test ID"},
    ]


async def test_the_authorization_url_asks_for_the_code_flow_with_pkce_state_and_nonce(
    api: IdentityApi,
) -> None:
    started = await api.start_oidc()
    url = httpx.URL(started["authorizationUrl"])
    assert str(url).startswith(api.provider.issuer + "/authorize")
    params = url.params
    assert params["response_type"] == "code"
    assert params["client_id"] == "puppies"
    assert params["redirect_uri"] == REDIRECT_URI
    assert set(params["scope"].split()) == {"openid", "email", "profile"}
    assert params["state"] == started["state"] and len(started["state"]) >= 20
    assert len(params["nonce"]) >= 20
    assert params["code_challenge_method"] == "S256"
    # a SHA-256 challenge: 43 base64url characters, never the verifier itself
    assert len(params["code_challenge"]) == 43
    # every flow is fresh
    again = httpx.URL((await api.start_oidc())["authorizationUrl"]).params
    assert again["state"] != params["state"] and again["nonce"] != params["nonce"]
    assert again["code_challenge"] != params["code_challenge"]


async def test_a_new_identity_makes_an_account_and_signs_in_again_later(api: IdentityApi) -> None:
    sub = new_subject()
    email = f"{sub}@mail.example"
    api.provider.add_user(sub, email=email, name="Ada Lovelace", preferred_username="ada.l")
    first = await api.oidc_sign_in(sub)
    assert first["errors"] == [] and first["outcome"] == "CREATED", first
    session = first["session"]
    user = session["user"]
    assert user["username"].startswith("ada_l")
    assert user["displayName"] == "Ada Lovelace"
    me = (await api.data(ME, token=session["accessToken"]))["me"]
    assert me == {
        "id": user["id"],
        "username": user["username"],
        "email": email,
        "role": "USER",
        "hasPassword": False,
        "identityProviders": ["testid"],
    }
    # our own session: the refresh token rotates as a password session's does
    refreshed = (await api.data(REFRESH, {"t": session["refreshToken"]}))["refreshSession"]
    assert refreshed["errors"] == [] and refreshed["session"]["accessToken"]

    second = await api.oidc_sign_in(sub)
    assert second["outcome"] == "SIGNED_IN", second
    assert second["session"]["user"]["id"] == user["id"]
    # no password: a password log-in with anything fails
    body = await api.data(LOG_IN, {"l": email, "p": PASSWORD})
    assert body["logIn"]["errors"][0]["code"] == "INVALID_CREDENTIALS"


async def test_a_public_client_signs_in_with_pkce_alone(api: IdentityApi) -> None:
    sub = new_subject("pub")
    api.provider.add_user(sub, email=f"{sub}@mail.example")
    payload = await api.oidc_sign_in(sub, provider="publicid")
    assert payload["outcome"] == "CREATED", payload


async def test_a_verified_email_links_the_existing_account_and_the_owner_takes_it_over(
    api: IdentityApi,
) -> None:
    account = await api.account("linkme")
    sub = new_subject("link")
    api.provider.add_user(sub, email=account.email.upper(), email_verified=True)
    payload = await api.oidc_sign_in(sub)
    assert payload["errors"] == [], payload
    assert payload["outcome"] == "LINKED"
    assert payload["session"]["user"]["id"] == account.id
    # the address had never been proved: whoever set the password may not own it
    assert payload["passwordRemoved"] is True
    body = await api.data(LOG_IN, {"l": account.username, "p": PASSWORD})
    assert body["logIn"]["errors"][0]["code"] == "INVALID_CREDENTIALS"
    refreshed = await api.gql(REFRESH, {"t": account.refresh})
    assert _codes(refreshed) == ["UNAUTHENTICATED"], refreshed
    me = (await api.data(ME, token=payload["session"]["accessToken"]))["me"]
    assert me["identityProviders"] == ["testid"] and me["hasPassword"] is False

    # a second provider with the same, now proved, address links without taking anything
    other = new_subject("link2")
    api.provider.add_user(other, email=account.email)
    again = await api.oidc_sign_in(other, provider="publicid")
    assert again["outcome"] == "LINKED" and again["passwordRemoved"] is False, again
    assert again["session"]["user"]["id"] == account.id
    me = (await api.data(ME, token=again["session"]["accessToken"]))["me"]
    assert me["identityProviders"] == ["publicid", "testid"]


async def test_an_unverified_email_neither_links_nor_creates(api: IdentityApi) -> None:
    account = await api.account("victim")
    sub = new_subject("unverified")
    api.provider.add_user(sub, email=account.email, email_verified=False)
    payload = await api.oidc_sign_in(sub)
    assert payload["session"] is None and payload["outcome"] is None
    assert [e["code"] for e in payload["errors"]] == ["EMAIL_NOT_VERIFIED"]
    # the account is untouched
    body = await api.data(LOG_IN, {"l": account.username, "p": PASSWORD})
    assert body["logIn"]["errors"] == []

    lonely = new_subject("noemail")
    api.provider.add_user(lonely, email=None)
    payload = await api.oidc_sign_in(lonely)
    assert [e["code"] for e in payload["errors"]] == ["EMAIL_NOT_VERIFIED"]


async def test_a_state_works_once_and_only_with_its_own_code(api: IdentityApi) -> None:
    sub = new_subject("once")
    api.provider.add_user(sub, email=f"{sub}@mail.example")
    started = await api.start_oidc()
    code, state = await api.provider_redirect(started["authorizationUrl"], sub)
    assert (await api.complete_oidc(state, code))["outcome"] == "CREATED"
    replay = await api.complete_oidc(state, code)
    assert [e["code"] for e in replay["errors"]] == ["OIDC_STATE_INVALID"]
    assert replay["errors"][0]["field"] == "state"
    unknown = await api.complete_oidc("no-such-state-" + uuid.uuid4().hex, code)
    assert [e["code"] for e in unknown["errors"]] == ["OIDC_STATE_INVALID"]


async def test_pkce_binds_the_code_to_the_flow_that_asked_for_it(api: IdentityApi) -> None:
    """A code stolen from one flow is refused in another: the provider checks our code
    verifier against the challenge of the flow the code was issued to."""
    sub = new_subject("pkce")
    api.provider.add_user(sub, email=f"{sub}@mail.example")
    victim = await api.start_oidc()
    stolen_code, _ = await api.provider_redirect(victim["authorizationUrl"], sub)
    attacker = await api.start_oidc()
    payload = await api.complete_oidc(attacker["state"], stolen_code)
    assert [e["code"] for e in payload["errors"]] == ["OIDC_CODE_REJECTED"]
    assert "invalid_grant" in payload["errors"][0]["message"]
    # a made-up code is refused the same way
    other = await api.start_oidc()
    payload = await api.complete_oidc(other["state"], "not-a-code")
    assert [e["code"] for e in payload["errors"]] == ["OIDC_CODE_REJECTED"]


async def _with_tampered_token(
    api: IdentityApi, claims: dict | None = None, rogue: bool = False
) -> dict:
    sub = new_subject("tamper")
    api.provider.add_user(sub, email=f"{sub}@mail.example")
    api.provider.tamper(claims, rogue_key=rogue)
    try:
        return await api.oidc_sign_in(sub)
    finally:
        api.provider.tamper()


async def test_id_tokens_that_do_not_verify_are_refused(api: IdentityApi) -> None:
    cases: dict[str, dict] = {
        "nonce": {"nonce": "replayed-nonce-from-another-flow"},
        "aud": {"aud": ["someone-else"]},
        "iss": {"iss": "http://127.0.0.1:1/evil"},
        "exp": {"exp": 1_000_000_000, "iat": 999_999_000},
    }
    for name, claims in cases.items():
        payload = await _with_tampered_token(api, claims)
        assert payload["session"] is None, (name, payload)
        assert [e["code"] for e in payload["errors"]] == ["OIDC_ID_TOKEN_INVALID"], (name, payload)
    forged = await _with_tampered_token(api, rogue=True)
    assert [e["code"] for e in forged["errors"]] == ["OIDC_ID_TOKEN_INVALID"], forged
    # and nothing was made for any of them
    ok = await _with_tampered_token(api)
    assert ok["outcome"] == "CREATED", ok


async def test_a_rotated_provider_key_is_fetched_when_a_token_names_it(api: IdentityApi) -> None:
    sub = new_subject("rotate")
    api.provider.add_user(sub, email=f"{sub}@mail.example")
    assert (await api.oidc_sign_in(sub))["outcome"] == "CREATED"
    api.provider.rotate_key()
    assert (await api.oidc_sign_in(sub))["outcome"] == "SIGNED_IN"


async def test_bad_input_is_a_graphql_error_that_says_what_to_fix(api: IdentityApi) -> None:
    body = await api.gql(START, {"p": "nosuch", "r": REDIRECT_URI})
    assert _codes(body) == ["BAD_USER_INPUT"]
    assert "publicid" in body["errors"][0]["message"] and "testid" in body["errors"][0]["message"]
    body = await api.gql(START, {"p": "testid", "r": "https://evil.example/callback"})
    assert _codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "redirectUri"
    # a confirmation needs a logged-in session
    body = await api.gql(START, {"p": "testid", "r": REDIRECT_URI, "purpose": "CONFIRM"})
    assert _codes(body) == ["UNAUTHENTICATED"]


async def test_a_confirmation_flow_is_not_a_sign_in(api: IdentityApi) -> None:
    account = await api.account("confirm")
    sub = new_subject("confirm")
    api.provider.add_user(sub, email=f"{sub}@mail.example")
    started = await api.start_oidc(purpose="CONFIRM", token=account.token)
    params = httpx.URL(started["authorizationUrl"]).params
    assert params["prompt"] == "login" and params["max_age"] == "300"
    code, state = await api.provider_redirect(started["authorizationUrl"], sub)
    payload = await api.complete_oidc(state, code)
    assert [e["code"] for e in payload["errors"]] == ["OIDC_STATE_INVALID"]
    assert "deleteAccount" in payload["errors"][0]["message"]
