"""``client_ip``: the client's address, which anonymous rate limits are keyed by and the
router tells subgraphs (``X-Forwarded-For``, e.g. for the login throttle).

The address is the connection's peer, unless the peer is one of ``trusted_proxies`` (a load
balancer in front of the router): then ``header`` (``X-Forwarded-For``) is read from the
right, skipping trusted proxies, and the first address that is not one is the client. A
client cannot choose its address by sending the header itself: entries left of the first
untrusted address are never believed.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from pydantic import Field, field_validator

from graph.plugins.base import StrictModel

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ClientIpConfig(StrictModel):
    trusted_proxies: list[str] = Field(default_factory=list)
    header: str = "x-forwarded-for"

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network (CIDR)") from None
        return value


class ClientAddress:
    def __init__(self, config: ClientIpConfig) -> None:
        self.networks: tuple[Network, ...] = tuple(
            ipaddress.ip_network(n, strict=False) for n in config.trusted_proxies
        )
        self.header = config.header.lower().encode("latin-1")
        self._trusted = lru_cache(maxsize=4096)(self._is_trusted)

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def of(self, peer: str | None, headers: list[tuple[bytes, bytes]]) -> str | None:
        """The client's address for a connection from ``peer`` with these headers."""
        if peer is None or not self.networks or not self._trusted(peer):
            return peer
        chain: list[str] = []
        for name, value in headers:
            if name == self.header:
                chain += [p.strip() for p in value.decode("latin-1").split(",") if p.strip()]
        for address in reversed(chain):
            if not self._trusted(address):
                return address
        return chain[0] if chain else peer
