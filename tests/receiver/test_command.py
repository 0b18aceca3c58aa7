"""`paywire receiver` as a subprocess: free port, answers, log, clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import ssl
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import orjson
import pytest

from paywire.wire import parse_answer
from tests.fixtures.tls import LOOPBACK, SERVER_NAME, TLSFiles, pacs008
from tests.fixtures.waiting import finished
from tests.receiver.wire_client import WireClient

# An empty u32be frame: a heartbeat, which the receiver echoes.
HEARTBEAT = bytes(4)
# What a client that never reads sends the receiver.
FLOOD_MIB = 64


async def read_until_listening(process: asyncio.subprocess.Process) -> dict[str, str]:
    """The `key: value` lines printed before `listening on HOST:PORT`, plus `listening` (the
    address) and `port`."""
    assert process.stdout is not None
    seen: dict[str, str] = {}
    async with asyncio.timeout(20):
        while True:
            line = (await process.stdout.readline()).decode().strip()
            assert line, "the receiver exited before listening"
            if line.startswith("listening on "):
                seen["listening"] = line.removeprefix("listening on ")
                seen["port"] = line.rsplit(":", 1)[1]
                return seen
            key, _, value = line.partition(": ")
            seen[key] = value


@asynccontextmanager
async def running(
    *options: str,
) -> AsyncIterator[tuple[asyncio.subprocess.Process, dict[str, str]]]:
    """`paywire receiver` started with `options` and listening, with what it printed; it does
    not outlive the test, whatever failed before the test stopped it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "paywire.cli", "receiver", "--port", "0", "--progress-s", "0",
        *options,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        yield process, await read_until_listening(process)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def stopped(process: asyncio.subprocess.Process) -> bytes:
    """SIGTERM, and what the receiver said on stderr; it must stop cleanly."""
    process.send_signal(signal.SIGTERM)
    _, stderr = await finished(process, 10)
    assert process.returncode == 0, stderr
    return stderr


async def test_cli_receiver_prints_an_ipv6_address_it_listens_on_in_brackets(
    tmp_path: Path,
) -> None:
    """`::1:PORT` read as ::1 port PORT or as an address without a port; bracketed, it is what
    `bench --receiver` takes."""
    async with running("--data-dir", str(tmp_path), "--host", "::1") as (process, printed):
        assert printed["listening"] == f"[::1]:{printed['port']}"
        await stopped(process)


async def test_cli_receiver_runs_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    log_file = tmp_path / "receiver.jsonl"
    options = ("--data-dir", str(tmp_path), "--log", str(log_file))
    async with running(*options, "--nack-creditor-bic", "DEUTDEFF") as (process, printed):
        assert Path(printed["ca-file"]) == (tmp_path / "tls" / "ca.pem").resolve()
        client = await WireClient.open(int(printed["port"]), Path(printed["ca-file"]))
        await client.send(pacs008("CLI1"), pacs008("CLI2", creditor_bic="DEUTDEFFXXX"))
        answers = [parse_answer(frame) for frame in await client.read(2)]
        assert [(a.msg_id, a.kind) for a in answers] == [("CLI1", "ACK"), ("CLI2", "NACK")]
        await client.close()
        assert b"stopped: connections 1, received 2" in await stopped(process)
    events = [orjson.loads(line)["event"] for line in log_file.read_bytes().splitlines()]
    assert events.count("received") == 2
    assert events.count("answer") == 2


async def refused(*options: str) -> bytes:
    """What `paywire receiver` says on stderr when it refuses to start (exit status 2)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "paywire.cli", "receiver", *options,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await finished(process, 20)
    assert process.returncode == 2, stderr
    return stderr


async def test_cli_receiver_refuses_to_start_without_certificates() -> None:
    assert b"--cert and --key, or --data-dir" in await refused()


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (("--config", "receiver.toml"), "the receiver reads no settings file"),
        (("--nack-rate", "abc"), "not a rate: 'abc' (a number between 0 and 1)"),
        (("--no-answer-rate", "1.5"), "not a rate: '1.5' (a number between 0 and 1)"),
    ],
)
async def test_cli_receiver_says_what_is_wrong_with_an_option(
    tmp_path: Path, options: tuple[str, ...], says: str
) -> None:
    """A --config was taken and ignored, and a rate that is no number was "invalid _rate
    value", the name of a function."""
    stderr = await refused("--data-dir", str(tmp_path), *options)
    assert says.encode() in stderr
    assert not (tmp_path / "tls").exists(), "refused before anything is made"


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--heartbeat-s", "-1", "--heartbeat-s must not be negative"),
        ("--ack-delay-ms", "nan", "--ack-delay-ms must not be negative"),
        ("--max-frame-bytes", "0", "--max-frame-bytes must be at least 8192"),
        ("--max-frame-bytes", "100", "--max-frame-bytes must be at least 8192"),
        ("--port", "80000", "port 80000 is not a TCP port (0-65535)"),
        (
            "--host",
            "[::1]",
            "--host [::1]: an IPv6 address is written without brackets here (::1); the port is"
            " --port",
        ),
        (
            "--host",
            "127.0.0.1:7000",
            "--host 127.0.0.1:7000: a host name or address without a port; the port is --port",
        ),
        ("--client-ca", "{tmp}/ca.pem", "--client-ca {tmp}/ca.pem: no such file"),
    ],
)
async def test_cli_receiver_refuses_options_it_would_misbehave_with(
    tmp_path: Path, option: str, value: str, says: str
) -> None:
    """Before it makes anything: no certificates generated, none of their paths printed."""
    value, says = value.format(tmp=tmp_path), says.format(tmp=tmp_path)
    assert says.encode() in await refused("--data-dir", str(tmp_path), option, value)
    assert not (tmp_path / "tls").exists()


async def test_cli_receiver_trusts_the_ca_its_data_dir_makes_on_a_first_start(
    tmp_path: Path,
) -> None:
    """As the runbook's staging receiver and the Compose file start it, on an empty volume:
    refused as "no such file", it restarted for ever and never made its certificates."""
    ca_file = tmp_path / "tls" / "ca.pem"
    options = ("--data-dir", str(tmp_path), "--client-ca", str(ca_file))
    async with running(*options) as (process, printed):
        assert Path(printed["ca-file"]) == ca_file.resolve()
        await stopped(process)


@pytest.mark.parametrize(
    ("cert", "key", "client_ca", "says"),
    [
        (
            "missing",
            "missing",
            None,
            "--cert={missing}: cannot read: No such file or directory; give a file this account"
            " can read",
        ),
        (
            "junk",
            "key",
            None,
            "--cert={junk} holds no PEM certificate; give the receiver's certificate in PEM form"
            " (-----BEGIN CERTIFICATE-----)",
        ),
        (
            "cert",
            "empty",
            None,
            "--key={empty} holds no PEM private key, or not the key of the certificate in"
            " --cert={cert}; give that certificate's private key in PEM form, unencrypted",
        ),
        (
            "cert",
            "key",
            "junk",
            "--client-ca={junk} holds no PEM certificate; give the CA certificate of the clients"
            " in PEM form (-----BEGIN CERTIFICATE-----)",
        ),
    ],
    ids=["missing", "junk-cert", "empty-key", "junk-client-ca"],
)
async def test_cli_receiver_names_a_certificate_it_cannot_load_and_what_it_should_hold(
    tls_files: TLSFiles,
    tmp_path: Path,
    cert: str,
    key: str,
    client_ca: str | None,
    says: str,
) -> None:
    """One line naming the option and the file; for a file that is there but holds no PEM
    certificate or key, it was OpenSSL's "[SSL] PEM lib" or "no certificate or crl found"."""
    files = {
        "missing": tmp_path / "nowhere.pem",
        "junk": tmp_path / "junk.pem",
        "empty": tmp_path / "empty.pem",
        "cert": tls_files.cert_file,
        "key": tls_files.key_file,
    }
    files["junk"].write_text("hello\n")
    files["empty"].write_text("")
    options = ["--cert", str(files[cert]), "--key", str(files[key])]
    if client_ca is not None:
        options += ["--client-ca", str(files[client_ca])]
    expected = says.format(**files)
    assert (await refused(*options)).decode().splitlines() == [f"paywire: {expected}"]


@pytest.mark.parametrize("port", ["70000", "taken"])
async def test_cli_receiver_refuses_a_port_it_cannot_listen_on(tmp_path: Path, port: str) -> None:
    holder = await asyncio.start_server(lambda _r, _w: None, "127.0.0.1", 0)
    try:
        taken = str(holder.sockets[0].getsockname()[1])
        says = await refused(
            "--data-dir", str(tmp_path), "--port", taken if port == "taken" else port
        )
    finally:
        holder.close()
        await holder.wait_closed()
    expected = (
        b"is not a TCP port" if port == "70000" else f"cannot listen on 127.0.0.1:{taken}".encode()
    )
    assert expected in says
    assert b"Traceback" not in says


async def test_cli_receiver_shows_an_ipv6_address_it_cannot_listen_on_in_brackets(
    tmp_path: Path,
) -> None:
    """It was `::1:PORT`, which reads as ::1 port PORT or as an address without a port."""
    holder = await asyncio.start_server(lambda _r, _w: None, "::1", 0)
    try:
        taken = holder.sockets[0].getsockname()[1]
        says = await refused("--data-dir", str(tmp_path), "--host", "::1", "--port", str(taken))
    finally:
        holder.close()
        await holder.wait_closed()
    assert says.decode().startswith(f"paywire: cannot listen on [::1]:{taken}: address already")


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        # TEST-NET-1: binding it fails at once (EADDRNOTAVAIL), nothing is sent.
        ("192.0.2.1", "192.0.2.1 is not an address of this machine; set --host to one"),
        # glibc refuses a name with a space without asking DNS; `.invalid` would ask it.
        ("no such host", "no such host does not resolve; set --host to an address"),
    ],
)
async def test_cli_receiver_refuses_a_host_not_of_this_machine_without_blaming_a_port(
    tmp_path: Path, host: str, expected: str
) -> None:
    says = (await refused("--data-dir", str(tmp_path), "--host", host)).decode()
    assert says.startswith(f"paywire: cannot listen on {host}:0: {expected}")
    assert says.count("\n") == 1
    assert "holds the port" not in says


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        (
            "--data-dir",
            "{tmp}/a-file",
            "cannot make the certificates' directory {tmp}/a-file/tls: Not a directory;"
            " choose a writable directory",
        ),
        (
            "--log",
            "/proc/nope/x.log",
            "cannot open the message log /proc/nope/x.log: No such file or directory;"
            " choose a writable file",
        ),
        (
            "--log",
            "{tmp}",
            "cannot open the message log {tmp}: Is a directory; choose a writable file",
        ),
    ],
)
async def test_cli_receiver_refuses_a_directory_or_log_it_cannot_write_before_it_says_it_started(
    tmp_path: Path, option: str, value: str, says: str
) -> None:
    """One line naming the path, not a traceback; and before the certificates' paths are
    printed, which scripts read as a receiver that had started."""
    (tmp_path / "a-file").write_text("")
    value, says = value.format(tmp=tmp_path), says.format(tmp=tmp_path)
    data_dir = () if option == "--data-dir" else ("--data-dir", str(tmp_path / "receiver"))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "paywire.cli", "receiver", "--port", "0", "--progress-s", "0",
        *data_dir, option, value,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await finished(process, 20)
    assert process.returncode == 2, err
    assert err.decode().splitlines() == [f"paywire: {says}"]
    assert out == b""


def rss_mib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) >> 10
    raise AssertionError(f"no VmRSS for {pid}")


def flood_without_reading(port: int, ca_file: Path, mebibytes: int) -> ssl.SSLSocket:
    """Heartbeats sent as fast as they are taken, their echoes never read, until `mebibytes`
    went or the receiver took nothing for a second; the connection is left open."""
    context = ssl.create_default_context(cafile=str(ca_file))
    raw = socket.create_connection((LOOPBACK, port))
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    tls = context.wrap_socket(raw, server_hostname=SERVER_NAME)
    tls.settimeout(1)
    chunk = HEARTBEAT * (1 << 16)
    with contextlib.suppress(TimeoutError):
        for _ in range((mebibytes << 20) // len(chunk)):
            tls.sendall(chunk)
    return tls


async def test_cli_receiver_stops_reading_a_client_that_does_not_read_its_answers(
    tmp_path: Path,
) -> None:
    """Heartbeats are echoed: a client sending them and reading nothing made the receiver
    buffer every echo, growing by what it was sent (64 MiB sent, 61 MiB grown). It stops
    reading such a client while its echoes wait to leave."""
    async with running("--data-dir", str(tmp_path)) as (process, printed):
        before = rss_mib(process.pid)
        tls = await asyncio.to_thread(
            flood_without_reading, int(printed["port"]), Path(printed["ca-file"]), FLOOD_MIB
        )
        try:
            grown = rss_mib(process.pid) - before
        finally:
            tls.close()
        await stopped(process)
    assert grown < FLOOD_MIB // 4, f"the receiver grew by {grown} MiB"
