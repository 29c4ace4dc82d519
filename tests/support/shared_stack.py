"""One whole stack for the test session, shared by the end-to-end packages (tests/e2e,
tests/social, tests/identity): the router in front of the four subgraphs and the worker, each
a real `puppies ...` process (tests/support/stack.py), with a real SMTP server
(tests/support/smtp.py) and a real OpenID Connect provider (tests/support/oidc_provider.py).

Started once (per pytest-xdist worker: each is a session of its own), the first time a test
asks for `running`, and stopped at the end of the session. Tests never see each other's data
because each makes its own accounts (and provider subjects); none truncates tables or flushes
Redis under these processes. The fixtures are imported by tests/conftest.py, so every package
can use them; a package that needs another configuration starts a stack of its own with
`running_stack`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.support.oidc_provider import RunningProvider, running_provider
from tests.support.smtp import SmtpServer, smtp_server
from tests.support.stack import RunningStack, running_stack

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")

# The OpenID Connect clients the provider knows and the router's configuration for them.
REDIRECT_URI = "http://127.0.0.1:3000/auth/callback"
CLIENT_SECRET = "test-client-secret-0123456789"
OIDC_CLIENTS: list[dict[str, Any]] = [
    {
        "client_id": "puppies",
        "client_secret": CLIENT_SECRET,
        "redirect_uris": [REDIRECT_URI],
    },
    {
        "client_id": "puppies-public",
        "client_secret": "",
        "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": "none",
    },
]

# Every test request reaches the users subgraph from the router's address, so the per-IP
# password-reset throttle is lifted here (it is tested in-process, tests/resolvers/users/).
STACK_ENV = {"PASSWORD_RESET_MAX_PER_IP": "100000"}


def oidc_env(provider: RunningProvider) -> dict[str, str]:
    return {
        "OIDC_PROVIDERS": json.dumps(
            {
                "testid": {
                    "issuer": provider.issuer,
                    "client_id": "puppies",
                    "client_secret": CLIENT_SECRET,
                    "display_name": "Test ID",
                },
                "publicid": {
                    "issuer": provider.issuer,
                    "client_id": "puppies-public",
                    "token_endpoint_auth_method": "none",
                },
            }
        ),
        "OIDC_REDIRECT_URIS": json.dumps([REDIRECT_URI]),
    }


@pytest.fixture(scope="session")
def smtp() -> Iterator[SmtpServer]:
    """The mail server the shared stack sends to (each test reads its own addresses)."""
    with smtp_server() as server:
        yield server


@pytest.fixture(scope="session")
def provider() -> Iterator[RunningProvider]:
    """The OpenID Connect provider the shared stack signs in with (`testid`, `publicid`)."""
    with running_provider(OIDC_CLIENTS) as running:
        yield running


@pytest.fixture(scope="session")
def running(
    service_env: dict[str, str], smtp: SmtpServer, provider: RunningProvider
) -> Iterator[RunningStack]:
    """The shared stack (module docstring)."""
    env = {**smtp.env, **oidc_env(provider), **STACK_ENV}
    with running_stack(service_env, ROOT, extra_env=env) as stack:
        yield stack
