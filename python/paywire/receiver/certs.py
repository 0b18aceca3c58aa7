"""A private CA with a receiver (server) and a gateway (client) certificate, for demos and tests.

`ensure_certificates` writes them into a directory once and reuses them while they stay valid
(a staging receiver, whose CA its gateways trust from one start to the next);
`generate_certificates` makes a new set every time (`paywire demo`, whose CA nothing else trusts).
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import os
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from paywire.errors import ConfigError

DEFAULT_HOSTNAMES = ("localhost", "127.0.0.1", "::1")
_VALID_DAYS = 397
_RENEW_BEFORE = datetime.timedelta(days=7)


@dataclasses.dataclass(frozen=True, slots=True)
class CertificateFiles:
    ca_file: Path
    cert_file: Path  # the receiver's certificate
    key_file: Path
    client_cert_file: Path  # the gateway's certificate for mutual TLS
    client_key_file: Path

    @classmethod
    def in_directory(cls, directory: Path) -> CertificateFiles:
        return cls(
            ca_file=directory / "ca.pem",
            cert_file=directory / "receiver.pem",
            key_file=directory / "receiver-key.pem",
            client_cert_file=directory / "gateway.pem",
            client_key_file=directory / "gateway-key.pem",
        )


def ensure_certificates(
    directory: Path, hostnames: Sequence[str] = DEFAULT_HOSTNAMES
) -> CertificateFiles:
    """The certificates in `directory`, generated afresh unless all are there, cover
    `hostnames` and stay valid for another week."""
    files = CertificateFiles.in_directory(directory)
    if _usable(files, hostnames):
        return files
    return generate_certificates(directory, hostnames)


def generate_certificates(
    directory: Path, hostnames: Sequence[str] = DEFAULT_HOSTNAMES
) -> CertificateFiles:
    """A new CA and certificates in `directory`, replacing any there; the CA's key is not kept."""
    files = CertificateFiles.in_directory(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot make the certificates' directory {directory}: {exc.strerror or exc};"
            " choose a writable directory"
        ) from None
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "paywire demo CA")])
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_cert(files.ca_file, ca_cert)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        _leaf(ca_cert, ca_key, "paywire demo receiver", server_key, now)
        .add_extension(x509.SubjectAlternativeName(_names(hostnames)), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_cert(files.cert_file, server_cert)
    _write_key(files.key_file, server_key)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client_cert = (
        _leaf(ca_cert, ca_key, "paywire demo gateway", client_key, now)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_cert(files.client_cert_file, client_cert)
    _write_key(files.client_key_file, client_key)
    # The CA key is not kept: nothing else is ever issued from this CA.
    return files


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime.datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_VALID_DAYS))
    )


def _leaf(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    common_name: str,
    key: ec.EllipticCurvePrivateKey,
    now: datetime.datetime,
) -> x509.CertificateBuilder:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    return (
        _builder(subject, ca_cert.subject, key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
    )


def _names(hostnames: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hostnames:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _usable(files: CertificateFiles, hostnames: Sequence[str]) -> bool:
    """All files there, each key the one of its certificate, both certificates issued by the CA,
    the receiver's naming `hostnames` and valid for another week. A run killed while writing
    them leaves a set that fails one of these, and the next run makes a fresh set."""
    try:
        ca = x509.load_pem_x509_certificate(files.ca_file.read_bytes())
        server = _pair(files.cert_file, files.key_file)
        client = _pair(files.client_cert_file, files.client_key_file)
        for cert in (server, client):
            cert.verify_directly_issued_by(ca)
        covered = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    fresh = server.not_valid_after_utc - _RENEW_BEFORE > datetime.datetime.now(datetime.UTC)
    return fresh and all(name in covered for name in _names(hostnames))


def _pair(cert_file: Path, key_file: Path) -> x509.Certificate:
    """The certificate in `cert_file`, once the key in `key_file` is shown to be its own."""
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    if key.public_key() != cert.public_key():
        raise ValueError(f"{key_file.name} is not the key of {cert_file.name}")
    return cert


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    # Created owner-only from the start, never world-readable for a moment.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a file left by an earlier run may have had another mode
    with os.fdopen(fd, "wb") as fh:
        fh.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
