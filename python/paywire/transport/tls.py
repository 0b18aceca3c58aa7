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


def client_context(
    settings: Settings, *, ca_setting: str = "PAYWIRE_RECEIVER_CA_FILE"
) -> ssl.SSLContext:
    """A context that trusts `receiver_ca_file` (else the system store), refuses anything older
    than `tls_min_version` and presents the client certificate when one is configured. A CA
    file it cannot load is named by `ca_setting`, where the user gave it (`bench --receiver-ca`)."""
    ca_file = settings.receiver_ca_file
    try:
        # Without a CA file, create_default_context loads the system trust store.
        context = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH, cafile=str(ca_file) if ca_file else None
        )
    except OSError as exc:  # ssl.SSLError is one
        assert ca_file is not None  # loading the system store ignores its errors
        raise pem_refusal(exc, "the CA certificate", (ca_setting, ca_file)) from None
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    context.minimum_version = TLS_MIN_VERSIONS[settings.tls_min_version]
    if settings.client_cert_file is not None and settings.client_key_file is not None:
        _check_private(settings.client_key_file)
        try:
            context.load_cert_chain(settings.client_cert_file, settings.client_key_file)
        except OSError as exc:
            raise pem_refusal(
                exc,
                "the client certificate",
                ("PAYWIRE_CLIENT_CERT_FILE", settings.client_cert_file),
                ("PAYWIRE_CLIENT_KEY_FILE", settings.client_key_file),
            ) from None
    return context


def _check_private(key_file: Path) -> None:
    """Refuse a client key any account on the machine may read or change: whoever reads it can
    present themselves to the receiver as this bank. A group may read it (a volume shared with
    a pod's fsGroup), as ssh allows for its keys."""
    try:
        mode = stat.S_IMODE(os.stat(key_file).st_mode)
    except OSError as exc:
        raise ConfigError(f"PAYWIRE_CLIENT_KEY_FILE={key_file}: cannot read: {exc}") from None
    if mode & 0o007:
        raise ConfigError(
            f"PAYWIRE_CLIENT_KEY_FILE={key_file} is open to every account on the machine (mode "
            f"{mode:04o}); restrict it to the gateway's account: chmod 600 {key_file}"
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
