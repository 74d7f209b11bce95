"""The address of the client behind a request, believing ``X-Forwarded-For`` only from
proxies the operator trusts (``SECUREVOTE_TRUSTED_PROXIES``; none by default).

Anyone can send ``X-Forwarded-For``, so the header is read only when the direct peer is a
trusted proxy, and then from the right: each trusted hop appended the address it saw, so the
first address from the right that is not a trusted proxy is the client. A malformed hop ends
the walk (the last good one is the answer). This is the one place the header is
interpreted; uvicorn's own proxy handling is off (``proxy_headers=False``).

A request from another service of the same process (all-in-one mode, the frontend calling
the auth service through :func:`securevote.clients.service_client`) comes over an in-process
transport no network client can use, so its ``X-Forwarded-For`` is believed too: that is how
the console passes on the browser's address.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from starlette.requests import HTTPConnection

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address
# service_client's in-process base URL is http://{service}.in-process; ASGI's scope["server"]
# is the listening socket for a real connection, so a network client cannot claim it.
IN_PROCESS_SUFFIX = ".in-process"
UNKNOWN = "unknown"


def _parse(value: str) -> Address | None:
    try:
        return ip_address(value.strip())
    except ValueError:
        return None


def _is_trusted(address: Address | None, trusted: Sequence[Network]) -> bool:
    return address is not None and any(address in network for network in trusted)


def _in_process(connection: HTTPConnection) -> bool:
    server = connection.scope.get("server") or ("", None)
    return str(server[0]).endswith(IN_PROCESS_SUFFIX)


def forwarded_hops(connection: HTTPConnection) -> list[str]:
    """The addresses of every ``X-Forwarded-For`` header, left to right."""
    return [
        hop.strip()
        for value in connection.headers.getlist("x-forwarded-for")
        for hop in value.split(",")
        if hop.strip()
    ]


def client_address(connection: HTTPConnection, trusted: Sequence[Network]) -> str:
    """The client's address (``"unknown"`` when there is no peer at all)."""
    peer = connection.client.host if connection.client else ""
    if not (_in_process(connection) or _is_trusted(_parse(peer), trusted)):
        return peer or UNKNOWN
    address = peer or UNKNOWN
    for hop in reversed(forwarded_hops(connection)):
        parsed = _parse(hop)
        if parsed is None:
            break
        address = str(parsed)
        if not _is_trusted(parsed, trusted):
            break
    return address
