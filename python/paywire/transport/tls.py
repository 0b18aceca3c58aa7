"""TLS client contexts for the connections to the receiver, and the certificate pin check.

Verification is not configurable: a context from here always checks the chain and the host name.
"""

from __future__ import annotations

import hashlib
import os
import ssl
import stat
from collections.abc import Collection
from pathlib import Path

from paywire.config import TLS_MIN_VERSIONS, Settings
from paywire.errors import ConfigError, pem_refusal
from paywire.transport.errors import TransportError


def client_context(settings: Settings, *, ca_setting: str | None = None) -> ssl.SSLContext:
    """A context that trusts `receiver_ca_file` (else the system store), refuses anything older
    than `tls_min_version` and presents the client certificate when one is configured. A file
    it cannot load is named where the user gave it: the CA file by `ca_setting` when an option
    gave it (`bench --receiver-ca`), every other by its key and the --config file or its
    variable (`Settings.named_value`)."""
    ca_file = settings.receiver_ca_file
    try:
        # Without a CA file, create_default_context loads the system trust store.
        context = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH, cafile=str(ca_file) if ca_file else None
        )
    except OSError as exc:  # ssl.SSLError is one
        assert ca_file is not None  # loading the system store ignores its errors
        ca_named = (
            settings.named_value("receiver_ca_file")
            if ca_setting is None
            else f"{ca_setting}={ca_file}"
        )
        raise pem_refusal(exc, "the CA certificate", (ca_named, ca_file)) from None
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    context.minimum_version = TLS_MIN_VERSIONS[settings.tls_min_version]
    # The pin is checked on the certificate of the handshake; a TLS 1.2 renegotiation could
    # present another that the CA signed but the pin does not allow.
    context.options |= ssl.OP_NO_RENEGOTIATION
    cert_file, key_file = settings.client_cert_file, settings.client_key_file
    if cert_file is not None and key_file is not None:
        key = (settings.named_value("client_key_file"), key_file)
        _check_private(*key)
        try:
            context.load_cert_chain(cert_file, key_file)
        except OSError as exc:
            cert = (settings.named_value("client_cert_file"), cert_file)
            raise pem_refusal(exc, "the client certificate", cert, key) from None
    return context


def _check_private(named: str, key_file: Path) -> None:
    """Refuse a client key any account on the machine may read or change: whoever reads it can
    present themselves to the receiver as this bank. A group may read it (a volume shared with
    a pod's fsGroup), as ssh allows for its keys. `named` is the key file as refusals name it."""
    try:
        mode = stat.S_IMODE(os.stat(key_file).st_mode)
    except OSError as exc:
        raise ConfigError(f"{named}: cannot read: {exc}") from None
    if mode & 0o007:
        raise ConfigError(
            f"{named} is open to every account on the machine (mode {mode:04o}); restrict it to"
            f" the gateway's account: chmod 600 {key_file}"
        )


def fingerprint_sha256(der: bytes) -> str:
    """The SHA-256 fingerprint of a DER certificate as 64 lower-case hex digits (no colons)."""
    return hashlib.sha256(der).hexdigest()


def check_pin(ssl_object: ssl.SSLObject | ssl.SSLSocket | None, pins: Collection[str]) -> None:
    """Refuse the peer unless its leaf certificate matches one of `pins` (none: no pinning).

    Runs after the handshake, which has already verified the chain and host name; pinning only
    narrows what is accepted.
    """
    if not pins:
        return
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    if der is None:
        raise TransportError("pin", "certificate pin check failed: the peer sent no certificate")
    seen = fingerprint_sha256(der)
    if seen not in pins:
        raise TransportError(
            "pin",
            f"certificate pin mismatch: the receiver's certificate has SHA-256 {seen}, "
            f"which is not in PAYWIRE_RECEIVER_PIN_SHA256",
        )
