"""TLS settings end to end on loopback: trust, host name, expiry, pinning, protocol version,
mutual TLS."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import ssl
import warnings
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from paywire.errors import ConfigError
from paywire.transport import TransportError, client_context
from paywire.transport.tls import check_pin
from tests.fixtures.metrics import metric
from tests.fixtures.settings import given_each_way
from tests.fixtures.tls import (
    LOOPBACK,
    SERVER_NAME,
    StartReceiver,
    TLSFiles,
    assert_acked,
    gateway_settings,
)
from tests.transport.support import first_attempt


def test_client_context_always_verifies(tls_files: TLSFiles) -> None:
    context = client_context(gateway_settings(tls_files, 1))
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2
    assert context.options & ssl.OP_NO_RENEGOTIATION, "a pin checked once holds for good"
    assert len(context.get_ca_certs()) == 1, "only the configured CA, not the system store"


async def test_client_context_without_ca_file_uses_the_system_store(
    tls_files: TLSFiles, start_receiver: StartReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OpenSSL's system store, pointed (as an operator's trust store would be) at the CA that
    issued the receiver's certificate: the handshake is verified against it."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files.ca_file))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    receiver = await start_receiver()
    settings = gateway_settings(tls_files, receiver.port, pool_size=1, receiver_ca_file="")
    assert client_context(settings).verify_mode is ssl.CERT_REQUIRED
    await assert_acked(settings, "STORE-1")


def test_client_context_minimum_13(tls_files: TLSFiles) -> None:
    context = client_context(gateway_settings(tls_files, 1, tls_min_version="1.3"))
    assert context.minimum_version is ssl.TLSVersion.TLSv1_3


def test_missing_ca_file_is_a_config_error(tls_files: TLSFiles) -> None:
    settings = gateway_settings(tls_files, 1, receiver_ca_file=tls_files.ca_file.with_name("no"))
    with pytest.raises(ConfigError, match="PAYWIRE_RECEIVER_CA_FILE"):
        client_context(settings)


@pytest.mark.parametrize("content", ["", "hello\n", "the key"])
def test_a_ca_file_without_a_pem_certificate_is_refused_saying_what_it_should_hold(
    tls_files: TLSFiles, tmp_path: Path, content: str
) -> None:
    """It was OpenSSL's "[X509: NO_CERTIFICATE_OR_CRL_FOUND] no certificate or crl found"."""
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(tls_files.key_file.read_text() if content == "the key" else content)
    with pytest.raises(ConfigError) as refused:
        client_context(gateway_settings(tls_files, 1, receiver_ca_file=ca_file))
    assert refused.value.message == (
        f"PAYWIRE_RECEIVER_CA_FILE='{ca_file}' holds no PEM certificate; give the CA certificate in"
        " PEM form (-----BEGIN CERTIFICATE-----)"
    )


NO_CERTIFICATE = (
    "PAYWIRE_CLIENT_CERT_FILE='{cert}' holds no PEM certificate; give the client certificate in"
    " PEM form (-----BEGIN CERTIFICATE-----)"
)
NO_KEY = (
    "PAYWIRE_CLIENT_KEY_FILE='{key}' holds no PEM private key, or not the key of the certificate"
    " in PAYWIRE_CLIENT_CERT_FILE='{cert}'; give that certificate's private key in PEM form,"
    " unencrypted"
)


@pytest.mark.parametrize(
    ("cert", "key", "says"),
    [
        ("junk", "client_key_file", NO_CERTIFICATE),
        ("empty", "client_key_file", NO_CERTIFICATE),
        ("client_cert_file", "junk", NO_KEY),
        ("client_cert_file", "other_host_key_file", NO_KEY),
    ],
    ids=["junk-cert", "empty-cert", "junk-key", "key-of-another-certificate"],
)
def test_a_client_certificate_or_key_that_is_not_one_is_refused_naming_which(
    tls_files: TLSFiles, tmp_path: Path, cert: str, key: str, says: str
) -> None:
    """Which of the two files was wrong, and why, OpenSSL did not say: "[SSL] PEM lib" for
    either, "key values mismatch" for a key of another certificate."""
    files = {"junk": tmp_path / "junk.pem", "empty": tmp_path / "empty.pem"}
    files["junk"].write_text("hello\n")
    files["empty"].write_text("")
    for path in files.values():
        path.chmod(0o600)
    cert_file = files.get(cert) or getattr(tls_files, cert)
    key_file = files.get(key) or getattr(tls_files, key)
    settings = gateway_settings(tls_files, 1, client_cert_file=cert_file, client_key_file=key_file)
    with pytest.raises(ConfigError) as refused:
        client_context(settings)
    assert refused.value.message == says.format(cert=cert_file, key=key_file)


def test_a_ca_file_is_named_where_it_was_set(tls_files: TLSFiles, tmp_path: Path) -> None:
    """One the --config file set was refused as PAYWIRE_RECEIVER_CA_FILE, which the environment
    did not hold: it is named by its key and the file, one from the environment by its variable,
    and one `bench --receiver-ca` gave by that option."""
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text("hello\n")
    why = " holds no PEM certificate; give the CA certificate in PEM form (-----BEGIN CERTIFICATE"
    for settings, name, where in given_each_way(tmp_path, receiver_ca_file=ca_file):
        with pytest.raises(ConfigError) as refused:
            client_context(settings)
        assert refused.value.message.startswith(
            f"{name('receiver_ca_file')}='{ca_file}'{where}{why}"
        )
        with pytest.raises(ConfigError) as refused:
            client_context(settings, ca_setting="--receiver-ca")
        assert refused.value.message.startswith(f"--receiver-ca={ca_file}{why}")


@pytest.mark.parametrize(
    ("junk", "mode", "says"),
    [
        (
            True,
            0o600,
            "{key} holds no PEM private key, or not the key of the certificate in {cert}; give"
            " that certificate's private key in PEM form, unencrypted",
        ),
        (
            False,
            0o604,
            "{key} is open to every account on the machine (mode 0604); restrict it to the"
            " gateway's account: chmod 600 {key_file}",
        ),
    ],
    ids=["not-a-key", "open-to-all"],
)
def test_a_client_certificate_and_key_are_named_where_they_were_set(
    tls_files: TLSFiles, tmp_path: Path, junk: bool, mode: int, says: str
) -> None:
    """Both were refused by their variables, though the --config file set them: each is named
    by its key and the file, or by its variable when the environment set it."""
    cert_file, key_file = tls_files.client_cert_file, tmp_path / "client-key.pem"
    key_file.write_bytes(b"hello\n" if junk else tls_files.client_key_file.read_bytes())
    key_file.chmod(mode)
    files = {"client_cert_file": cert_file, "client_key_file": key_file}
    for settings, name, where in given_each_way(tmp_path, **files):
        with pytest.raises(ConfigError) as refused:
            client_context(settings)
        assert refused.value.message == says.format(
            key=f"{name('client_key_file')}='{key_file}'{where}",
            cert=f"{name('client_cert_file')}='{cert_file}'{where}",
            key_file=key_file,
        )


def rsa_certificate(directory: Path, bits: int) -> tuple[Path, Path]:
    """A self-signed RSA certificate of `bits` and its key (mode 0600), as PEM files."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gateway")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    cert_file, key_file = directory / f"rsa{bits}.pem", directory / f"rsa{bits}-key.pem"
    cert_file.write_bytes(certificate.public_bytes(pem))
    key_file.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_file.chmod(0o600)
    return cert_file, key_file


def test_a_client_certificate_openssl_refuses_for_itself_is_not_blamed_on_its_key(
    tls_files: TLSFiles, tmp_path: Path
) -> None:
    """A 1024-bit key with its own certificate was answered "holds no PEM private key, or not
    the key of the certificate", and sent the operator to a key that was fine."""
    cert_file, key_file = rsa_certificate(tmp_path, 1024)
    settings = gateway_settings(tls_files, 1, client_cert_file=cert_file, client_key_file=key_file)
    with pytest.raises(ConfigError) as refused:
        client_context(settings)
    assert refused.value.message == (
        f"PAYWIRE_CLIENT_CERT_FILE='{cert_file}' with its key PAYWIRE_CLIENT_KEY_FILE='{key_file}':"
        " refused by OpenSSL: [SSL: EE_KEY_TOO_SMALL] ee key too small; give the client"
        " certificate and its key as this OpenSSL accepts them"
    )


def test_a_key_of_another_type_is_the_wrong_key(tls_files: TLSFiles, tmp_path: Path) -> None:
    """An RSA certificate with an EC key: OpenSSL says "no certificate assigned"."""
    cert_file, _ = rsa_certificate(tmp_path, 2048)
    key_file = tls_files.client_key_file
    settings = gateway_settings(tls_files, 1, client_cert_file=cert_file, client_key_file=key_file)
    with pytest.raises(ConfigError) as refused:
        client_context(settings)
    assert refused.value.message == NO_KEY.format(cert=cert_file, key=key_file)


@pytest.mark.parametrize("with_key", [False, True], ids=["ca-file", "certificate-chain"])
def test_a_file_with_a_corrupt_certificate_after_a_good_one_says_so(
    tls_files: TLSFiles, tmp_path: Path, with_key: bool
) -> None:
    """It was "holds no PEM certificate", of a file that holds one."""
    path = tmp_path / "certificates.pem"
    good = tls_files.client_cert_file if with_key else tls_files.ca_file
    broken = "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n"
    path.write_text(good.read_text() + broken)
    if with_key:
        files = {"client_cert_file": path, "client_key_file": tls_files.client_key_file}
        setting, what = "PAYWIRE_CLIENT_CERT_FILE", "the client certificate"
    else:
        files, setting, what = (
            {"receiver_ca_file": path},
            "PAYWIRE_RECEIVER_CA_FILE",
            "the CA certificate",
        )
    with pytest.raises(ConfigError) as refused:
        client_context(gateway_settings(tls_files, 1, **files))
    message = refused.value.message
    assert message.startswith(f"{setting}='{path}': a certificate in it cannot be read (OpenSSL: [")
    assert message.endswith(f"); give {what} in PEM form")
    assert "_ssl.c" not in message


@pytest.mark.parametrize("mode", [0o604, 0o602])
def test_a_client_key_open_to_every_account_is_refused(
    tls_files: TLSFiles, tmp_path: Path, mode: int
) -> None:
    key = tmp_path / "client-key.pem"
    key.write_bytes(tls_files.client_key_file.read_bytes())
    mutual = {"client_cert_file": tls_files.client_cert_file, "client_key_file": key}
    key.chmod(mode)
    with pytest.raises(ConfigError, match=f"PAYWIRE_CLIENT_KEY_FILE='.*mode {mode:04o}.*chmod 600"):
        client_context(gateway_settings(tls_files, 1, **mutual))
    key.chmod(0o640)
    assert client_context(gateway_settings(tls_files, 1, **mutual)).verify_mode is ssl.CERT_REQUIRED


def test_check_pin_without_pins_accepts_anything() -> None:
    check_pin(None, ())


def test_check_pin_without_certificate_refuses() -> None:
    with pytest.raises(TransportError, match="no certificate"):
        check_pin(None, ("ab" * 32,))


async def test_connects_with_matching_pin(
    tls_files: TLSFiles, start_receiver: StartReceiver
) -> None:
    receiver = await start_receiver()
    slot = await first_attempt(tls_files, receiver.port, receiver_pin_sha256=tls_files.pin)
    assert slot["connects"] == 1
    assert slot["last_error"] is None


async def test_pin_mismatch_is_refused(tls_files: TLSFiles, start_receiver: StartReceiver) -> None:
    receiver = await start_receiver()
    before = metric("tls_connection_errors_total", reason="pin")
    slot = await first_attempt(tls_files, receiver.port, receiver_pin_sha256="00" * 32)
    assert slot["connects"] == 0
    assert "certificate pin mismatch" in slot["last_error"]
    assert tls_files.pin in slot["last_error"]
    assert metric("tls_connection_errors_total", reason="pin") == before + 1


async def test_unknown_ca_is_refused(tls_files: TLSFiles, start_receiver: StartReceiver) -> None:
    receiver = await start_receiver()
    before = metric("tls_connection_errors_total", reason="tls")
    slot = await first_attempt(tls_files, receiver.port, receiver_ca_file=tls_files.other_ca_file)
    assert slot["connects"] == 0
    assert "certificate verify failed" in slot["last_error"]
    assert metric("tls_connection_errors_total", reason="tls") == before + 1


async def test_wrong_host_name_is_refused(
    tls_files: TLSFiles, start_receiver: StartReceiver
) -> None:
    receiver = await start_receiver(
        cert_file=tls_files.other_host_cert_file, key_file=tls_files.other_host_key_file
    )
    slot = await first_attempt(tls_files, receiver.port)
    assert slot["connects"] == 0
    assert "Hostname mismatch" in slot["last_error"]
    assert "'localhost'" in slot["last_error"]


async def test_server_below_minimum_version_is_refused(
    tls_files: TLSFiles, start_receiver: StartReceiver
) -> None:
    receiver = await start_receiver()  # offers TLS 1.2 and 1.3; pin it to 1.2 below
    server = await _server_with_max_version(tls_files, ssl.TLSVersion.TLSv1_2)
    async with server:
        port = server.sockets[0].getsockname()[1]
        slot = await first_attempt(tls_files, port, tls_min_version="1.3")
    assert slot["connects"] == 0
    assert "TLS with 127.0.0.1" in slot["last_error"]
    assert "version" in slot["last_error"].lower()
    ok = await first_attempt(tls_files, receiver.port, tls_min_version="1.3")
    assert ok["connects"] == 1


@pytest.mark.parametrize("offered", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
async def test_tls_10_and_11_servers_are_refused(
    tls_files: TLSFiles, offered: ssl.TLSVersion
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        server = await _server_with_max_version(tls_files, offered)
    async with server:
        port = server.sockets[0].getsockname()[1]
        # The control: this OpenSSL still speaks the old version, so the refusal below is ours.
        assert await _version_with_a_permissive_client(tls_files, port) == OLD_VERSIONS[offered]
        slot = await first_attempt(tls_files, port)
    assert slot["connects"] == 0
    assert "version" in slot["last_error"].lower()


OLD_VERSIONS = {ssl.TLSVersion.TLSv1: "TLSv1", ssl.TLSVersion.TLSv1_1: "TLSv1.1"}


async def _version_with_a_permissive_client(tls_files: TLSFiles, port: int) -> str | None:
    """The protocol version a client that accepts TLS 1.0 and every cipher negotiates."""
    context = ssl.create_default_context(cafile=tls_files.ca_file)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    _, writer = await asyncio.open_connection(
        LOOPBACK, port, ssl=context, server_hostname=SERVER_NAME
    )
    try:
        version: str | None = writer.get_extra_info("ssl_object").version()
        return version
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await writer.wait_closed()


async def test_mutual_tls(tls_files: TLSFiles, start_receiver: StartReceiver) -> None:
    receiver = await start_receiver(client_ca_file=tls_files.ca_file)
    settings = gateway_settings(
        tls_files,
        receiver.port,
        pool_size=1,
        client_cert_file=tls_files.client_cert_file,
        client_key_file=tls_files.client_key_file,
    )
    await assert_acked(settings, "MTLS-1")


@pytest.mark.parametrize("tls_min_version", ["1.2", "1.3"])
async def test_client_without_certificate_is_refused_by_mtls_receiver(
    tls_files: TLSFiles, start_receiver: StartReceiver, tls_min_version: str
) -> None:
    # With TLS 1.3 the server checks the client certificate after the client's handshake has
    # finished; the opening heartbeat is what turns that into a failed attempt.
    receiver = await start_receiver(client_ca_file=tls_files.ca_file)
    slot = await first_attempt(tls_files, receiver.port, tls_min_version=tls_min_version)
    assert slot["connects"] == 0
    assert slot["last_error"].startswith("TLS")
    assert "certificate" in slot["last_error"]


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("expired", "certificate has expired"), ("self-signed", "self-signed certificate")],
)
async def test_expired_or_self_signed_receiver_certificate_is_refused(
    tls_files: TLSFiles, start_receiver: StartReceiver, tmp_path: Path, kind: str, reason: str
) -> None:
    """Trusted issuer and right name, but expired; or right name, but signed by itself."""
    ca_file, cert_file, key_file = _issue_localhost(tmp_path, kind)
    receiver = await start_receiver(cert_file=cert_file, key_file=key_file)
    slot = await first_attempt(tls_files, receiver.port, receiver_ca_file=ca_file)
    assert slot["connects"] == 0
    assert reason in slot["last_error"]


def _issue_localhost(directory: Path, kind: str) -> tuple[Path, Path, Path]:
    """A CA file the gateway trusts and a receiver certificate for localhost that is either
    expired (issued by that CA) or self-signed (the CA file holds an unrelated CA)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "paywire test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=30))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_NAME)])
    expired = kind == "expired"
    leaf = (
        x509.CertificateBuilder()
        .subject_name(leaf_name)
        .issuer_name(ca_name if expired else leaf_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=10))
        .not_valid_after(
            now - datetime.timedelta(days=1) if expired else now + datetime.timedelta(days=1)
        )
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(SERVER_NAME), x509.IPAddress(ipaddress.ip_address(LOOPBACK))]
            ),
            critical=False,
        )
        .sign(ca_key if expired else key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_file, cert_file, key_file = (directory / n for n in ("ca.pem", "cert.pem", "key.pem"))
    ca_file.write_bytes(ca.public_bytes(pem))
    cert_file.write_bytes(leaf.public_bytes(pem))
    key_file.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_file, cert_file, key_file


async def test_with_heartbeats_off_a_receiver_need_not_answer_one(tls_files: TLSFiles) -> None:
    """PAYWIRE_HEARTBEAT_S=0 sends no heartbeat, the opening one included: a receiver that
    never answers them (here, one that never says anything) still gets its connection."""
    server = await _server_with_max_version(tls_files, ssl.TLSVersion.TLSv1_3)
    try:
        slot = await first_attempt(tls_files, server.sockets[0].getsockname()[1], heartbeat_s=0)
    finally:
        server.close()
    assert (slot["state"], slot["connects"], slot["last_error"]) == ("OPEN", 1, None)


async def _server_with_max_version(tls_files: TLSFiles, version: ssl.TLSVersion) -> asyncio.Server:
    """A bare TLS server (no protocol) that offers nothing newer than `version`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls_files.cert_file, tls_files.key_file)
    context.maximum_version = version
    if version < ssl.TLSVersion.TLSv1_2:
        context.minimum_version = version
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    loop = asyncio.get_running_loop()
    return await loop.create_server(asyncio.Protocol, LOOPBACK, 0, ssl=context)
