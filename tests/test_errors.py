"""How messages show an address: the form a user writes and can paste back."""

from __future__ import annotations

import pytest

from paywire.errors import host_port


@pytest.mark.parametrize(
    ("host", "port", "shown"),
    [
        ("127.0.0.1", 7000, "127.0.0.1:7000"),
        ("receiver.example", 443, "receiver.example:443"),
        ("::1", 7000, "[::1]:7000"),
        ("2001:db8::7", 443, "[2001:db8::7]:443"),
        # A port out of range, shown as the URL wrote it.
        ("::1", "99999", "[::1]:99999"),
    ],
)
def test_an_ipv6_address_is_shown_in_brackets(host: str, port: int | str, shown: str) -> None:
    """`::1:7000` was ::1 port 7000 or ::1:7000 without a port, and `bench --receiver` refuses
    it in that form."""
    assert host_port(host, port) == shown
