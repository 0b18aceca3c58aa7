"""The error hierarchy shared by every layer; `listen_refusal`, what a server says when it
cannot listen, `pem_refusal`, what a TLS context says of a file it cannot load, and `host_port`,
how every message shows an address.

Each error carries a stable `code`; the HTTP layer maps classes to status codes in one place.
"""

from __future__ import annotations

import errno
import os
import re
import socket
import ssl
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class PaywireError(Exception):
    """Base of every error paywire raises on purpose."""

    code = "INTERNAL"

    def __init__(self, message: str, *, details: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details)


class ConfigError(PaywireError):
    """Settings are missing or invalid; the process must not start."""

    code = "CONFIG"


class ValidationError(PaywireError):
    """Input that cannot be accepted; `details` lists `{"field", "message"}` items."""

    code = "VALIDATION"


class AuthenticationError(PaywireError):
    """No valid credentials or token."""

    code = "UNAUTHENTICATED"


class PermissionDenied(PaywireError):
    """The operator lacks the role, or the four-eyes rule forbids the action."""

    code = "FORBIDDEN"


class PasswordChangeRequired(PermissionDenied):
    """The operator's password was chosen by an ADMIN: they choose their own before anything
    else (`POST /api/v1/auth/password`)."""

    code = "PASSWORD_CHANGE_REQUIRED"


class NotFound(PaywireError):
    code = "NOT_FOUND"


class Conflict(PaywireError):
    """The entity is not in a state that allows the action, or an idempotency key clashes."""

    code = "CONFLICT"


class UnsupportedMediaType(PaywireError):
    """A body sent as anything but JSON. Text, forms and multipart are what a page of any other
    site may POST from an operator's browser without a CORS preflight; JSON needs one, which the
    gateway never grants."""

    code = "UNSUPPORTED_MEDIA_TYPE"


class Throttled(PaywireError):
    """Too many attempts; the caller must wait."""

    code = "THROTTLED"


class DatabaseUnavailable(PaywireError):
    """The database could not be opened: not running, unreachable, or refusing these credentials.
    A command ends with exit code 2 on it, never with 1, which says what it found in the data."""

    code = "DATABASE_UNAVAILABLE"


def listen_refusal(
    exc: OSError, host: str, port: int, *, host_setting: str, port_setting: str
) -> ConfigError:
    """The refusal of a server that could not listen on `host`:`port`, with what to change,
    named by the setting that changes it (`PAYWIRE_HTTP_HOST`, `--host`). The advice depends on
    why: an address of another machine was answered "stop what holds the port", which sent the
    operator looking for a process that was not there."""
    return ConfigError(
        f"cannot listen on {host_port(host, port)}: "
        f"{_why_not(exc, host, host_setting, port_setting)}"
    )


def host_port(host: str, port: int | str) -> str:
    """`host:port` as a user writes it, an IPv6 address in brackets (`[::1]:7000`), as URLs and
    `bench --receiver` take it: bare, `::1:7000` reads as ::1 port 7000 or as ::1:7000 without a
    port, and cannot be pasted back. Only an IPv6 address holds a colon."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _why_not(exc: OSError, host: str, host_setting: str, port_setting: str) -> str:
    if isinstance(exc, socket.gaierror):
        return (
            f"{host} does not resolve; set {host_setting} to an address of this machine, "
            "e.g. 127.0.0.1"
        )
    if exc.errno == errno.EADDRINUSE:
        return (
            f"address already in use; stop what holds the port or set {port_setting} to a free one"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return (
            f"{host} is not an address of this machine; set {host_setting} to one of its "
            "addresses, e.g. 127.0.0.1"
        )
    if exc.errno == errno.EACCES:
        return (
            f"permission denied; a port below 1024 needs privileges: set {port_setting} to "
            "1024 or above"
        )
    # asyncio's own message repeats the address; the system's alone says what failed.
    return os.strerror(exc.errno) if exc.errno else str(exc)


def pem_refusal(
    exc: OSError, what: str, cert: tuple[str, Path], key: tuple[str, Path] | None = None
) -> ConfigError:
    """The refusal of a TLS context that could not load `cert` (and `key`), each given as the
    refusal names it, by the setting or option that set it and where, with its value
    (`receiver_ca_file='/etc/ca.pem' in paywire.toml`, `--cert=cert.pem`), and as its path;
    `what` is the certificate `cert` should hold ("the CA certificate"). OpenSSL's own words
    ("[SSL] PEM lib", "no certificate or crl found") name neither the file nor what it should
    hold, so the files are looked at again: one that cannot be read, else a certificate file
    without a certificate, else the key. What OpenSSL refuses for another reason (a key too
    small, a weak signature, a certificate block it cannot read) is named with its reason, not
    blamed on a file that is fine."""
    for named, path in [cert] if key is None else [cert, key]:
        if (why := _unreadable(path)) is not None:
            return ConfigError(f"{named}: cannot read: {why}; give a file this account can read")
    reason = exc.reason if isinstance(exc, ssl.SSLError) else None
    named, path = cert
    if key is None and reason not in (None, _NO_CERTIFICATE):
        return ConfigError(f"{named}: refused by OpenSSL: {_openssl(exc)}; give {what} in PEM form")
    if key is None or not _holds_certificate(path):
        if _has_certificate_block(path):
            # A block it could not decode ("PEM lib", "bad base64 decode"), perhaps after a
            # good one: the file is not without a certificate, one in it is broken.
            return ConfigError(
                f"{named}: a certificate in it cannot be read (OpenSSL: {_openssl(exc)});"
                f" give {what} in PEM form"
            )
        return ConfigError(
            f"{named} holds no PEM certificate; give {what} in PEM form "
            "(-----BEGIN CERTIFICATE-----)"
        )
    if reason not in _NOT_THE_KEY:
        return ConfigError(
            f"{named} with its key {key[0]}: refused by OpenSSL:"
            f" {_openssl(exc)}; give {what} and its key as this OpenSSL accepts them"
        )
    # An encrypted key ends here too, unless a terminal answered OpenSSL's pass-phrase prompt.
    return ConfigError(
        f"{key[0]} holds no PEM private key, or not the key of the certificate in {named};"
        " give that certificate's private key in PEM form, unencrypted"
    )


_NO_CERTIFICATE = "NO_CERTIFICATE_OR_CRL_FOUND"
# What OpenSSL says of a certificate loaded with a key that is not its own or not a key at all:
# None is "PEM lib" (no key could be read), the others a key of another certificate or type.
_NOT_THE_KEY = (
    None,
    "KEY_VALUES_MISMATCH",
    "NO_CERTIFICATE_ASSIGNED",
    "KEY_TYPE_MISMATCH",
    "UNKNOWN_KEY_TYPE",
)
_CERTIFICATE_BLOCK = b"-----BEGIN CERTIFICATE-----"
_SOURCE_LOCATION = re.compile(r" \(_ssl\.c:\d+\)$")


def _openssl(exc: OSError) -> str:
    """OpenSSL's words, which an operator may search for, without the interpreter's source
    location (`(_ssl.c:3926)`), which only says where Python met them."""
    return _SOURCE_LOCATION.sub("", str(exc))


def _has_certificate_block(path: Path) -> bool:
    try:
        return _CERTIFICATE_BLOCK in path.read_bytes()
    except OSError:  # gone or replaced since OpenSSL read it
        return False


def _unreadable(path: Path) -> str | None:
    try:
        path.open("rb").close()
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _holds_certificate(path: Path) -> bool:
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=path)
    except OSError:  # ssl.SSLError is one
        return False
    return True
