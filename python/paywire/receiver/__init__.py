"""The reference receiver: the other end of SPEC §4, for tests, demos and chaos runs.

`Receiver` runs in-process; `paywire receiver` runs it as a command.
"""

from paywire.receiver.certs import CertificateFiles, ensure_certificates
from paywire.receiver.config import Faults, ReceiverConfig
from paywire.receiver.rules import Rules
from paywire.receiver.server import Receiver, ReceiverStats

__all__ = [
    "CertificateFiles",
    "Faults",
    "Receiver",
    "ReceiverConfig",
    "ReceiverStats",
    "Rules",
    "ensure_certificates",
]
