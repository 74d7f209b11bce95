"""The client address: X-Forwarded-For is believed from trusted proxies (and in-process
peers) only, read from the right."""

from __future__ import annotations

from ipaddress import ip_network

import pytest
from starlette.requests import Request

from securevote.client_address import client_address
from securevote.config import ConfigurationError, Settings

TRUSTED = (ip_network("10.0.0.0/8"), ip_network("2001:db8::/32"))


def _request(peer: str | None, *forwarded: str, server: str = "127.0.0.1") -> Request:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [(b"x-forwarded-for", value.encode()) for value in forwarded],
        "client": (peer, 1234) if peer is not None else None,
        "server": (server, 8000),
    }
    return Request(scope)


def test_the_header_of_an_untrusted_peer_is_ignored() -> None:
    assert client_address(_request("203.0.113.9", "198.51.100.1"), TRUSTED) == "203.0.113.9"
    assert client_address(_request("203.0.113.9", "198.51.100.1"), ()) == "203.0.113.9"


def test_nobody_is_trusted_by_default() -> None:
    assert Settings().trusted_proxies == ()
    spoofed = _request("10.0.0.2", "198.51.100.1")
    assert client_address(spoofed, Settings().trusted_proxies) == "10.0.0.2"


def test_a_trusted_proxy_names_the_client() -> None:
    assert client_address(_request("10.0.0.2", "198.51.100.1"), TRUSTED) == "198.51.100.1"


def test_the_client_is_the_first_untrusted_hop_from_the_right() -> None:
    # The client wrote "192.0.2.66" itself; the proxies appended what they saw.
    request = _request("10.0.0.2", "192.0.2.66, 198.51.100.1", "10.1.1.1")
    assert client_address(request, TRUSTED) == "198.51.100.1"


def test_a_malformed_hop_ends_the_walk() -> None:
    request = _request("10.0.0.2", "198.51.100.1, not-an-address, 10.0.0.7")
    assert client_address(request, TRUSTED) == "10.0.0.7"
    assert client_address(_request("2001:db8::1", "2001:db8::5"), TRUSTED) == "2001:db8::5"


def test_only_trusted_hops_give_the_leftmost() -> None:
    assert client_address(_request("10.0.0.2", "10.9.9.9"), TRUSTED) == "10.9.9.9"
    assert client_address(_request("10.0.0.2"), TRUSTED) == "10.0.0.2"
    assert client_address(_request(None), TRUSTED) == "unknown"


def test_an_in_process_peer_is_believed() -> None:
    request = _request("127.0.0.1", "198.51.100.1", server="auth.in-process")
    assert client_address(request, ()) == "198.51.100.1"
    # A network client cannot choose scope["server"]: a Host header does not count.
    assert client_address(_request("127.0.0.1", "198.51.100.1"), ()) == "127.0.0.1"


def test_the_setting_is_a_list_of_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECUREVOTE_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7,2001:db8::/32")
    assert Settings().trusted_proxies == (
        ip_network("10.0.0.0/8"),
        ip_network("192.0.2.7/32"),
        ip_network("2001:db8::/32"),
    )
    monkeypatch.setenv("SECUREVOTE_TRUSTED_PROXIES", "10.0.0.1/8")
    with pytest.raises(ConfigurationError, match="TRUSTED_PROXIES"):
        Settings()
    monkeypatch.setenv("SECUREVOTE_TRUSTED_PROXIES", "")
    assert Settings().trusted_proxies == ()
