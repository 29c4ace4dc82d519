"""router.yaml -> GatewayOptions: timeouts, error passing, URL overrides, request sharing."""

from __future__ import annotations

import pytest

from graph.config import RouterConfig, config_from_mapping
from graph.errors import ConfigError
from graph.options import gateway_options


def _config(data: dict) -> RouterConfig:
    return RouterConfig.model_validate(data)


def test_defaults_share_requests() -> None:
    options = gateway_options(_config({}))
    assert options.deduplicate_requests is True
    assert options.default.deduplicate is True
    assert options.default.url is None


def test_sharing_can_be_turned_off_globally_and_per_subgraph() -> None:
    options = gateway_options(
        _config(
            {
                "traffic_shaping": {
                    "router": {"deduplicate_requests": False},
                    "all": {"deduplicate_query": False},
                    "subgraphs": {"posts": {"deduplicate_query": True, "timeout": "2s"}},
                },
            }
        )
    )
    assert options.deduplicate_requests is False
    assert options.default.deduplicate is False
    posts = options.for_subgraph("posts")
    assert posts.deduplicate is True and posts.timeout == 2.0
    assert options.for_subgraph("users").deduplicate is False


def test_override_subgraph_url() -> None:
    options = gateway_options(
        _config(
            {
                "override_subgraph_url": {"users": "http://127.0.0.1:5001/graphql"},
                "include_subgraph_errors": {"all": True},
            }
        )
    )
    users = options.for_subgraph("users")
    assert users.url == "http://127.0.0.1:5001/graphql"
    assert users.include_errors is True
    assert options.for_subgraph("posts").url is None


def test_override_subgraph_url_must_be_http() -> None:
    with pytest.raises(ConfigError, match=r"override_subgraph_url.*users"):
        config_from_mapping({"override_subgraph_url": {"users": "ftp://nope"}})
