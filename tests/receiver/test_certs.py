"""Generated certificates: written once and reused, or made anew on demand (the demo's), and
good enough for a real handshake."""

from __future__ import annotations

import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from paywire.config import load_settings
from paywire.receiver import Receiver, ReceiverConfig, ensure_certificates
from paywire.receiver.certs import generate_certificates
from tests.fixtures.tls import LOOPBACK, assert_acked


def test_files_are_written_with_private_keys_owner_only(tmp_path: Path) -> None:
    files = ensure_certificates(tmp_path / "tls")
    for key in (files.key_file, files.client_key_file):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert files.ca_file.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


def test_existing_files_are_reused(tmp_path: Path) -> None:
    first = ensure_certificates(tmp_path)
    ca = first.ca_file.read_bytes()
    assert ensure_certificates(tmp_path).ca_file.read_bytes() == ca


def test_a_set_generated_replaces_a_usable_one(tmp_path: Path) -> None:
    """`paywire demo`'s: a new CA every start, though the one there would still do."""
    ca = ensure_certificates(tmp_path).ca_file.read_bytes()
    files = generate_certificates(tmp_path)
    assert files.ca_file.read_bytes() != ca
    assert ensure_certificates(tmp_path).ca_file.read_bytes() == files.ca_file.read_bytes()


def test_missing_host_name_regenerates(tmp_path: Path) -> None:
    ca = ensure_certificates(tmp_path, ["localhost"]).ca_file.read_bytes()
    assert ensure_certificates(tmp_path, ["localhost", "receiver.test"]).ca_file.read_bytes() != ca


async def test_gateway_and_receiver_agree_with_generated_certificates(tmp_path: Path) -> None:
    files = ensure_certificates(tmp_path)
    async with Receiver(
        ReceiverConfig(
            cert_file=files.cert_file, key_file=files.key_file, client_ca_file=files.ca_file
        )
    ) as receiver:
        settings = load_settings(
            environ={},
            receiver_host=LOOPBACK,
            receiver_port=receiver.port,
            receiver_ca_file=files.ca_file,
            client_cert_file=files.client_cert_file,
            client_key_file=files.client_key_file,
            pool_size=1,
        )
        await assert_acked(settings, "G1")


def test_a_set_left_half_written_is_made_afresh(tmp_path: Path) -> None:
    """A run killed between writing a certificate and its key left the key of an older set."""
    old = ensure_certificates(tmp_path / "old")
    files = ensure_certificates(tmp_path / "tls")
    first_ca = files.ca_file.read_bytes()
    files.client_key_file.write_bytes(old.client_key_file.read_bytes())
    ensure_certificates(tmp_path / "tls")
    second_ca = files.ca_file.read_bytes()
    assert second_ca != first_ca
    client_key = serialization.load_pem_private_key(files.client_key_file.read_bytes(), None)
    client_cert = x509.load_pem_x509_certificate(files.client_cert_file.read_bytes())
    assert client_key.public_key() == client_cert.public_key()
    # A receiver certificate and key from another CA are no better.
    files.cert_file.write_bytes(old.cert_file.read_bytes())
    files.key_file.write_bytes(old.key_file.read_bytes())
    ensure_certificates(tmp_path / "tls")
    assert files.ca_file.read_bytes() != second_ca
