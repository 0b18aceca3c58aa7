"""The reference receiver's TLS server context.

Optionally demands a client certificate from a given CA (mutual TLS).
"""

from __future__ import annotations

import ssl
from pathlib import Path

_MIN_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def server_context(
    cert_file: Path, key_file: Path, *, client_ca_file: Path | None, min_version: str
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = _MIN_VERSIONS[min_version]
    context.load_cert_chain(cert_file, key_file)
    if client_ca_file is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=client_ca_file)
    return context
