"""The reference receiver's TLS server context.

Optionally demands a client certificate from a given CA (mutual TLS).
"""

from __future__ import annotations

import ssl
from pathlib import Path

from paywire.config import TLS_MIN_VERSIONS
from paywire.errors import pem_refusal


def server_context(
    cert_file: Path, key_file: Path, *, client_ca_file: Path | None, min_version: str
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = TLS_MIN_VERSIONS[min_version]
    try:
        context.load_cert_chain(cert_file, key_file)
    except OSError as exc:  # ssl.SSLError is one
        cert, key = (f"--cert={cert_file}", cert_file), (f"--key={key_file}", key_file)
        raise pem_refusal(exc, "the receiver's certificate", cert, key) from None
    if client_ca_file is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        try:
            context.load_verify_locations(cafile=client_ca_file)
        except OSError as exc:
            ca = (f"--client-ca={client_ca_file}", client_ca_file)
            raise pem_refusal(exc, "the CA certificate of the clients", ca) from None
    return context
