"""Trusted-header sign-in: an authenticating proxy (e.g. oauth2-proxy) names the user.

Pure: only the standard library. The header is believed only when the TCP peer is
one of the configured proxy addresses; from anywhere else it is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Sequence[str]) -> list[Network]:
    """``10.0.0.5`` or ``10.0.0.0/24`` each; a bad one is an error naming it."""
    networks: list[Network] = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(
                f"LIVEGRID_AUTH_TRUSTED_PROXIES: {value!r} is not an IP address or network"
            ) from None
    return networks


def from_trusted_proxy(remote_ip: str | None, networks: Sequence[Network]) -> bool:
    if not remote_ip:
        return False
    try:
        address = ipaddress.ip_address(remote_ip)
    except ValueError:
        return False
    return any(address in network for network in networks)
